//! `PullRequestProcessor`: every `pull_request` action upserts the pull request as the
//! payload shows it; the store keeps whichever payload is newest (see
//! `store::pull_requests` for the order), so deliveries may arrive in any order.
//!
//! The planned pull request is shared with the review processor, which upserts the slim
//! pull request a review payload embeds.

use super::people::{ActivityLog, Person};
use super::{fields, MappedActivity, WriteContext};
use crate::error::{ProcessingError, Result};
use crate::payload::{PullRequest, PullRequestEvent};
use crate::store::pull_requests::{self, LineCounts, PrState, PullRequestRow};
use crate::store::statement::EntityWrite;
use crate::text::strip_nul;
use crate::time::{seconds_between, Timestamp};
use crate::users::{Identity, UserMap};
use std::borrow::Cow;

/// Plans `pull_request` deliveries.
pub struct PullRequestProcessor;

/// A validated pull request as one payload describes it.
#[derive(Debug, Clone)]
pub struct PlannedPullRequest<'a> {
    pub github_id: i64,
    pub number: i32,
    pub title: Cow<'a, str>,
    pub state: PrState,
    /// `None` when the payload omits the flag (some slim forms).
    pub draft: Option<bool>,
    pub author: Person<'a>,
    pub head_ref: Cow<'a, str>,
    pub base_ref: Cow<'a, str>,
    /// `None` when the payload omits them (`synchronize`, `labeled`, the slim form).
    pub counts: Option<LineCounts>,
    pub merged_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// A candidate for the earliest review, set by the review processor.
    pub first_review_at: Option<Timestamp>,
}

impl<'a> PlannedPullRequest<'a> {
    /// Validates a pull request object found at `path` in the payload.
    pub fn from_payload(path: &str, pr: &PullRequest<'a>) -> Result<Self> {
        let at = |field: &str| format!("{path}.{field}");
        let merged_at = fields::optional_time(&at("merged_at"), pr.merged_at)?;
        // The slim form has no `merged`: a merge time says the same.
        let merged = pr.merged == Some(true) || merged_at.is_some();
        let state = match (pr.state, merged) {
            (_, true) => PrState::Merged,
            ("open", false) => PrState::Open,
            ("closed", false) => PrState::Closed,
            (other, false) => {
                return Err(ProcessingError::InvalidPayload(format!(
                    "{} is not a pull request state: {}",
                    at("state"),
                    fields::quoted(other)
                )))
            }
        };
        let counts = match (pr.additions, pr.deletions, pr.changed_files) {
            (Some(a), Some(d), Some(f)) => Some(LineCounts {
                additions: fields::count(&at("additions"), a)?,
                deletions: fields::count(&at("deletions"), d)?,
                files_changed: fields::count(&at("changed_files"), f)?,
            }),
            // Counts are one group: a payload with only some of them does not say.
            _ => None,
        };
        Ok(PlannedPullRequest {
            github_id: pr.id,
            number: fields::number(&at("number"), pr.number)?,
            title: strip_nul(pr.title),
            state,
            draft: pr.draft,
            author: Person::from_actor(pr.user.as_ref()),
            head_ref: strip_nul(pr.head.name),
            base_ref: strip_nul(pr.base.name),
            counts,
            merged_at,
            closed_at: fields::optional_time(&at("closed_at"), pr.closed_at)?,
            created_at: fields::time(&at("created_at"), pr.created_at)?,
            updated_at: fields::time(&at("updated_at"), pr.updated_at)?,
            first_review_at: None,
        })
    }

    /// Seconds from creation to merge, for merged pull requests.
    pub fn cycle_time_seconds(&self) -> Option<i32> {
        match self.state {
            PrState::Merged => self.merged_at.map(|m| seconds_between(self.created_at, m)),
            _ => None,
        }
    }

    /// The row this payload offers, with the author mapped.
    pub fn row<'s>(&'s self, users: &'s UserMap) -> PullRequestRow<'s> {
        PullRequestRow {
            github_id: self.github_id,
            number: self.number,
            title: &self.title,
            state: self.state,
            draft: self.draft,
            author_id: self.author.user_id(users),
            author_github_id: self.author.github_id,
            author_login: self.author.login.as_deref(),
            author_is_bot: self.author.is_bot,
            head_ref: &self.head_ref,
            base_ref: &self.base_ref,
            counts: self.counts,
            merged_at: self.merged_at,
            closed_at: self.closed_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            first_review_at: self.first_review_at,
            cycle_time_seconds: self.cycle_time_seconds(),
        }
    }

    /// The statement that upserts the pull request.
    pub fn upsert<'s>(&'s self, ctx: &'s WriteContext<'_>) -> EntityWrite<'s> {
        pull_requests::upsert(&ctx.repo.id, self.row(ctx.users))
    }
}

/// The pull request of one `pull_request` delivery.
#[derive(Debug)]
pub struct PullRequestPlan<'a> {
    /// The pull request as this delivery shows it.
    pub pull_request: PlannedPullRequest<'a>,
}

impl PullRequestProcessor {
    /// Validates the payload's pull request. Every action is accepted: each carries the
    /// pull request as of its `updated_at`.
    pub fn plan<'a>(event: &PullRequestEvent<'a>) -> Result<PullRequestPlan<'a>> {
        Ok(PullRequestPlan {
            pull_request: PlannedPullRequest::from_payload("pull_request", &event.pull_request)?,
        })
    }
}

impl PullRequestPlan<'_> {
    /// The author, to map by GitHub id.
    pub fn identities(&self) -> Vec<Identity> {
        self.pull_request.author.identity().into_iter().collect()
    }

    /// The statement that upserts the pull request row.
    pub fn writes<'s>(&'s self, ctx: &'s WriteContext<'_>) -> Vec<EntityWrite<'s>> {
        vec![self.pull_request.upsert(ctx)]
    }

    /// The author's activity at the payload's `updated_at`.
    pub fn activities(&self, users: &UserMap) -> MappedActivity {
        let mut log = ActivityLog::default();
        let pr = &self.pull_request;
        log.acted(&pr.author, pr.updated_at, users);
        log.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{parse_tracked, EventKind, TrackedPayload};

    /// A `pull_request` payload; `extra` is spliced into the pull request object.
    pub(crate) fn payload(action: &str, extra: &str) -> String {
        format!(
            r#"{{"action":"{action}","number":7,"repository":{{"id":1}},
                "sender":{{"id":5,"login":"mona"}},
                "pull_request":{{"id":900,"number":7,"title":"Fix\u0000 it","state":"open",
                  "user":{{"id":5,"login":"mona","type":"User"}},
                  "created_at":"2024-01-01T10:00:00Z","updated_at":"2024-01-02T10:00:00+02:00",
                  "closed_at":null,"merged_at":null,
                  "head":{{"ref":"fix"}},"base":{{"ref":"main"}}{extra}}}}}"#
        )
    }

    fn plan_of(json: &str) -> Result<PullRequestPlan<'static>> {
        let original = json.as_bytes().to_vec();
        let scratch = Box::leak(original.clone().into_boxed_slice());
        let TrackedPayload::PullRequest(event) =
            parse_tracked(EventKind::PullRequest, scratch, &original)?
        else {
            unreachable!("a pull_request payload")
        };
        PullRequestProcessor::plan(&event)
    }

    #[test]
    fn opened_with_counts() {
        let plan = plan_of(&payload(
            "opened",
            r#","draft":true,"merged":false,"additions":10,"deletions":2,"changed_files":3"#,
        ))
        .unwrap();
        let pr = &plan.pull_request;
        assert_eq!(pr.state, PrState::Open);
        assert_eq!(pr.title, "Fix it");
        assert_eq!(pr.draft, Some(true));
        assert_eq!(pr.updated_at.to_string(), "2024-01-02 08:00:00");
        assert_eq!(
            pr.counts,
            Some(LineCounts {
                additions: 10,
                deletions: 2,
                files_changed: 3
            })
        );
        assert_eq!(pr.cycle_time_seconds(), None);
        assert_eq!(plan.identities(), [Identity::GithubId(5)]);
        let activity = plan.activities(&UserMap::default());
        assert_eq!(activity.unmapped, ["mona"]);
        assert_eq!(activity.activities[0].at, pr.updated_at);
    }

    #[test]
    fn labeled_without_counts_says_nothing_about_them() {
        let plan = plan_of(&payload("labeled", r#","additions":10"#)).unwrap();
        assert_eq!(plan.pull_request.counts, None);
        assert_eq!(plan.pull_request.draft, None);
    }

    #[test]
    fn merged_from_the_flag_or_from_merged_at() {
        let merged = payload(
            "closed",
            r#","merged":true,"merged_at":"2024-01-01T12:00:00Z""#,
        )
        .replace(r#""state":"open""#, r#""state":"closed""#)
        .replace(r#""merged_at":null,"#, "");
        let pr = plan_of(&merged).unwrap().pull_request;
        assert_eq!(pr.state, PrState::Merged);
        assert_eq!(pr.cycle_time_seconds(), Some(7200));

        let slim = payload("closed", "")
            .replace(r#""state":"open""#, r#""state":"closed""#)
            .replace(
                r#""merged_at":null"#,
                r#""merged_at":"2024-01-01T11:00:00Z""#,
            );
        assert_eq!(plan_of(&slim).unwrap().pull_request.state, PrState::Merged);

        let closed = payload("closed", r#","merged":false"#)
            .replace(r#""state":"open""#, r#""state":"closed""#);
        assert_eq!(
            plan_of(&closed).unwrap().pull_request.state,
            PrState::Closed
        );
    }

    #[test]
    fn bad_values_name_their_path() {
        let err = |json: String| plan_of(&json).unwrap_err().to_string();
        assert_eq!(
            err(payload("opened", "").replace(r#""state":"open""#, r#""state":"gone""#)),
            "invalid payload: pull_request.state is not a pull request state: \"gone\""
        );
        assert_eq!(
            err(payload("opened", "").replace("2024-01-01T10:00:00Z", "x")),
            "invalid payload: pull_request.created_at is not an RFC 3339 time"
        );
        assert!(
            err(payload("opened", "").replace(r#""number":7,"title""#, r#""title""#))
                .starts_with("invalid payload: pull_request")
        );
        assert_eq!(
            err(payload(
                "opened",
                r#","additions":-1,"deletions":0,"changed_files":0"#
            )),
            "invalid payload: pull_request.additions is negative"
        );
    }
}
