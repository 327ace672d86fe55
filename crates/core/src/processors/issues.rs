//! `IssueProcessor`: every `issues` action upserts the issue as the payload shows it; the
//! store keeps whichever payload is newest (see `store::issues`), so deliveries may arrive
//! in any order.
//!
//! `deleted` and `transferred` remove the issue from the repository: the row is kept with
//! `deletedAt` (the delivery's received time; payloads carry no deletion time), and
//! removal is terminal. A transferred issue reappears in its new repository under a new
//! id. `resolutionTimeSeconds` is set while an issue is closed and cleared on reopen.

use super::people::{ActivityLog, Person};
use super::{fields, MappedActivity, WriteContext};
use crate::error::{ProcessingError, Result};
use crate::payload::{Issue, IssuesEvent};
use crate::store::issues::{self, IssueRow, IssueState};
use crate::store::statement::EntityWrite;
use crate::text::strip_nul;
use crate::time::{seconds_between, Timestamp};
use crate::users::{Identity, UserMap};
use std::borrow::Cow;

/// Plans `issues` deliveries.
pub struct IssueProcessor;

/// Actions after which the issue is no longer in the repository.
const REMOVAL_ACTIONS: [&str; 2] = ["deleted", "transferred"];

/// A validated issue as one payload describes it.
#[derive(Debug, Clone)]
pub struct IssuePlan<'a> {
    pub github_id: i64,
    pub number: i32,
    pub title: Cow<'a, str>,
    pub state: IssueState,
    pub state_reason: Option<Cow<'a, str>>,
    pub author: Person<'a>,
    pub closed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The delivery removes the issue from the repository.
    pub removed: bool,
    /// Label names, in GitHub's order; `None` when the payload carries no `labels`.
    pub labels: Option<Vec<Cow<'a, str>>>,
}

impl IssueProcessor {
    /// Validates the payload's issue. Every action is accepted.
    pub fn plan<'a>(event: &IssuesEvent<'a>) -> Result<IssuePlan<'a>> {
        Self::plan_issue(&event.issue, REMOVAL_ACTIONS.contains(&event.action))
    }

    /// Validates an issue object (a webhook's `issue`, or an item of the REST issues
    /// list); `removed` when the delivery removes it from the repository.
    pub fn plan_issue<'a>(issue: &Issue<'a>, removed: bool) -> Result<IssuePlan<'a>> {
        let closed_at = fields::optional_time("issue.closed_at", issue.closed_at)?;
        let state = match (issue.state, closed_at) {
            (Some("open"), _) => IssueState::Open,
            (Some("closed"), _) => IssueState::Closed,
            (None, Some(_)) => IssueState::Closed,
            (None, None) => IssueState::Open,
            (Some(other), _) => {
                return Err(ProcessingError::InvalidPayload(format!(
                    "issue.state is not an issue state: {}",
                    fields::quoted(other)
                )))
            }
        };
        Ok(IssuePlan {
            github_id: issue.id,
            number: fields::number("issue.number", issue.number)?,
            title: strip_nul(issue.title),
            state,
            state_reason: issue.state_reason.map(strip_nul),
            author: Person::from_actor(issue.user.as_ref()),
            closed_at,
            created_at: fields::time("issue.created_at", issue.created_at)?,
            updated_at: fields::time("issue.updated_at", issue.updated_at)?,
            removed,
            labels: issue
                .labels
                .as_ref()
                .map(|ls| ls.iter().map(|l| strip_nul(l.name)).collect()),
        })
    }
}

impl IssuePlan<'_> {
    /// Seconds from creation to closing, while the issue is closed.
    pub fn resolution_time_seconds(&self) -> Option<i32> {
        match self.state {
            IssueState::Closed => self.closed_at.map(|c| seconds_between(self.created_at, c)),
            IssueState::Open => None,
        }
    }

    /// The author, to map by GitHub id.
    pub fn identities(&self) -> Vec<Identity> {
        self.author.identity().into_iter().collect()
    }

    /// The statement that upserts the issue row.
    pub fn writes<'s>(&'s self, ctx: &'s WriteContext<'_>) -> Vec<EntityWrite<'s>> {
        let row = IssueRow {
            github_id: self.github_id,
            number: self.number,
            title: &self.title,
            state: self.state,
            state_reason: self.state_reason.as_deref(),
            author_id: self.author.user_id(ctx.users),
            author_github_id: self.author.github_id,
            author_login: self.author.login.as_deref(),
            author_is_bot: self.author.is_bot,
            closed_at: self.closed_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            resolution_time_seconds: self.resolution_time_seconds(),
            deleted_at: self.removed.then_some(ctx.received_at),
            // A removal always says what the labels are (its own list, none if it lists
            // none): removal comes first in the labels' order too, so a removal that left
            // the stored labels would keep whichever it found, which depends on the order.
            labels: match &self.labels {
                Some(ls) => Some(
                    serde_json::to_string(&ls.iter().map(|l| l.as_ref()).collect::<Vec<&str>>())
                        .unwrap_or_else(|_| "[]".to_owned()),
                ),
                None if self.removed => Some("[]".to_owned()),
                None => None,
            },
        };
        vec![issues::upsert(&ctx.repo.id, row)]
    }

    /// The author's activity at the payload's `updated_at`.
    pub fn activities(&self, users: &UserMap) -> MappedActivity {
        let mut log = ActivityLog::default();
        log.acted(&self.author, self.updated_at, users);
        log.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{parse_tracked, EventKind, TrackedPayload};

    fn payload(action: &str, state: &str, closed_at: &str) -> String {
        format!(
            r#"{{"action":"{action}","repository":{{"id":1}},
                "issue":{{"id":77,"number":3,"title":"Crash","state":{state},
                  "state_reason":null,"user":{{"id":9,"login":"dependabot[bot]","type":"Bot"}},
                  "created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-03T00:00:00Z",
                  "closed_at":{closed_at}}}}}"#
        )
    }

    fn plan_of(json: &str) -> Result<IssuePlan<'static>> {
        let original = json.as_bytes().to_vec();
        let scratch = Box::leak(original.clone().into_boxed_slice());
        let TrackedPayload::Issues(event) = parse_tracked(EventKind::Issues, scratch, &original)?
        else {
            unreachable!("an issues payload")
        };
        IssueProcessor::plan(&event)
    }

    #[test]
    fn closed_issues_have_a_resolution_time_open_ones_none() {
        let closed = plan_of(&payload(
            "closed",
            r#""closed""#,
            r#""2024-01-02T00:00:00Z""#,
        ))
        .unwrap();
        assert_eq!(closed.state, IssueState::Closed);
        assert_eq!(closed.resolution_time_seconds(), Some(86_400));
        assert!(!closed.removed);
        let reopened = plan_of(&payload("reopened", r#""open""#, "null")).unwrap();
        assert_eq!(reopened.resolution_time_seconds(), None);
    }

    #[test]
    fn a_missing_state_follows_closed_at() {
        let pinned = plan_of(&payload("pinned", "null", "null")).unwrap();
        assert_eq!(pinned.state, IssueState::Open);
        let closed = plan_of(&payload("pinned", "null", r#""2024-01-02T00:00:00Z""#)).unwrap();
        assert_eq!(closed.state, IssueState::Closed);
    }

    #[test]
    fn deleted_and_transferred_remove_the_issue() {
        for action in ["deleted", "transferred"] {
            assert!(
                plan_of(&payload(action, r#""open""#, "null"))
                    .unwrap()
                    .removed
            );
        }
    }

    #[test]
    fn bots_are_not_reported_unmapped() {
        let plan = plan_of(&payload("opened", r#""open""#, "null")).unwrap();
        assert!(plan.author.is_bot);
        let activity = plan.activities(&UserMap::default());
        assert!(activity.unmapped.is_empty());
        assert_eq!(activity.activities.len(), 1);
    }

    #[test]
    fn bad_values_name_their_path() {
        let err = |json: String| plan_of(&json).unwrap_err().to_string();
        assert_eq!(
            err(payload("opened", r#""merged""#, "null")),
            "invalid payload: issue.state is not an issue state: \"merged\""
        );
        assert_eq!(
            err(payload("opened", r#""open""#, r#""never""#)),
            "invalid payload: issue.closed_at is not an RFC 3339 time"
        );
        assert!(err(payload("opened", "5", "null")).starts_with("invalid payload: issue.state: "));
    }
}
