//! `PullRequestReviewProcessor`: a review delivery upserts the slim pull request it embeds
//! (so every review links to a row, whatever arrived first) and then the review.
//!
//! The pull request's `firstReviewAt` is the earliest `submitted_at` of any review not by
//! the pull request's author and not by a bot: each delivery offers its review as a
//! candidate and the store keeps the least, which no order changes. `turnaroundSeconds`
//! is submitted − pull request created. A dismissal is stamped with the delivery's
//! received time, since GitHub's review object has no `dismissed_at`.

use super::people::{ActivityLog, Person};
use super::pull_request::PlannedPullRequest;
use super::{fields, MappedActivity, WriteContext};
use crate::error::{ProcessingError, Result};
use crate::payload::{PullRequest, PullRequestReviewEvent, Review};
use crate::store::reviews::{self, ReviewRow, ReviewState};
use crate::store::statement::EntityWrite;
use crate::text::strip_nul;
use crate::time::{seconds_between, Timestamp};
use crate::users::{Identity, UserMap};
use std::borrow::Cow;

/// Plans `pull_request_review` deliveries.
pub struct PullRequestReviewProcessor;

/// A validated review as one payload describes it.
#[derive(Debug, Clone)]
pub struct PlannedReview<'a> {
    pub github_id: i64,
    pub reviewer: Person<'a>,
    pub state: ReviewState,
    pub commit_id: Option<Cow<'a, str>>,
    pub submitted_at: Option<Timestamp>,
}

/// The slim pull request and the review of one delivery.
#[derive(Debug)]
pub struct ReviewPlan<'a> {
    /// Carries this review as its `firstReviewAt` candidate when the review counts.
    pub pull_request: PlannedPullRequest<'a>,
    pub review: PlannedReview<'a>,
    /// A dismissal is stamped with the delivery's received time; a review read from the
    /// REST API was not received at its dismissal, so it leaves `dismissedAt` to a
    /// dismissal delivery.
    pub dismissal_received: bool,
}

impl PullRequestReviewProcessor {
    /// Validates the review and its pull request.
    pub fn plan<'a>(event: &PullRequestReviewEvent<'a>) -> Result<ReviewPlan<'a>> {
        Self::plan_review(&event.pull_request, &event.review, "review")
    }

    /// Validates a review (a webhook's `review`, or an item of the REST reviews list at
    /// `path`) and the pull request it belongs to. The state is read in either case.
    pub fn plan_review<'a>(
        pull_request: &PullRequest<'a>,
        r: &Review<'a>,
        path: &str,
    ) -> Result<ReviewPlan<'a>> {
        let mut pull_request = PlannedPullRequest::from_payload("pull_request", pull_request)?;
        let state = ReviewState::from_github(r.state).ok_or_else(|| {
            ProcessingError::InvalidPayload(format!(
                "{path}.state is not a review state: {}",
                fields::quoted(r.state)
            ))
        })?;
        let review = PlannedReview {
            github_id: r.id,
            reviewer: Person::from_actor(r.user.as_ref()),
            state,
            commit_id: r.commit_id.map(strip_nul),
            submitted_at: fields::optional_time(&format!("{path}.submitted_at"), r.submitted_at)?,
        };
        if !review.reviewer.is_bot && !review.reviewer.same_account(&pull_request.author) {
            pull_request.first_review_at = review.submitted_at;
        }
        Ok(ReviewPlan {
            pull_request,
            review,
            dismissal_received: true,
        })
    }
}

impl ReviewPlan<'_> {
    /// The reviewer and the pull request's author, to map by GitHub id.
    pub fn identities(&self) -> Vec<Identity> {
        let mut ids: Vec<Identity> = [&self.review.reviewer, &self.pull_request.author]
            .into_iter()
            .filter_map(Person::identity)
            .collect();
        ids.dedup();
        ids
    }

    /// Upserts the pull request, then the review that links to it: two statements.
    pub fn writes<'s>(&'s self, ctx: &'s WriteContext<'_>) -> Vec<EntityWrite<'s>> {
        let review = &self.review;
        let row = ReviewRow {
            github_id: review.github_id,
            pull_request_github_id: self.pull_request.github_id,
            reviewer_id: review.reviewer.user_id(ctx.users),
            reviewer_github_id: review.reviewer.github_id,
            reviewer_login: review.reviewer.login.as_deref(),
            reviewer_is_bot: review.reviewer.is_bot,
            state: review.state,
            commit_id: review.commit_id.as_deref(),
            submitted_at: review.submitted_at,
            dismissed_at: (self.dismissal_received && review.state == ReviewState::Dismissed)
                .then_some(ctx.received_at),
            turnaround_seconds: review
                .submitted_at
                .map(|s| seconds_between(self.pull_request.created_at, s)),
        };
        vec![
            self.pull_request.upsert(ctx),
            reviews::upsert(&ctx.repo.id, row),
        ]
    }

    /// The reviewer's activity at `submitted_at`; the pull request's author is reported
    /// if unmapped, since the delivery writes their row too.
    pub fn activities(&self, users: &UserMap) -> MappedActivity {
        let mut log = ActivityLog::default();
        match self.review.submitted_at {
            Some(at) => log.acted(&self.review.reviewer, at, users),
            None => log.named(&self.review.reviewer, users),
        }
        log.named(&self.pull_request.author, users);
        log.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{parse_tracked, EventKind, TrackedPayload};
    use crate::store::pull_requests::PrState;

    /// A review payload: reviewer account JSON, review state, submitted_at JSON.
    fn payload(reviewer: &str, state: &str, submitted_at: &str) -> String {
        format!(
            r#"{{"action":"submitted","repository":{{"id":1}},
                "review":{{"id":31,"user":{reviewer},"state":"{state}","commit_id":"abc",
                  "submitted_at":{submitted_at}}},
                "pull_request":{{"id":900,"number":7,"title":"T","state":"closed",
                  "user":{{"id":5,"login":"mona"}},
                  "created_at":"2024-01-01T10:00:00Z","updated_at":"2024-01-01T12:00:00Z",
                  "closed_at":"2024-01-01T12:00:00Z","merged_at":"2024-01-01T12:00:00Z",
                  "head":{{"ref":"fix"}},"base":{{"ref":"main"}}}}}}"#
        )
    }

    fn plan_of(json: &str) -> Result<ReviewPlan<'static>> {
        let original = json.as_bytes().to_vec();
        let scratch = Box::leak(original.clone().into_boxed_slice());
        let TrackedPayload::PullRequestReview(event) =
            parse_tracked(EventKind::PullRequestReview, scratch, &original)?
        else {
            unreachable!("a pull_request_review payload")
        };
        PullRequestReviewProcessor::plan(&event)
    }

    const HUBOT: &str = r#"{"id":6,"login":"hubot"}"#;
    const AT: &str = r#""2024-01-01T11:00:00Z""#;

    #[test]
    fn a_review_by_someone_else_is_a_first_review_candidate() {
        let plan = plan_of(&payload(HUBOT, "approved", AT)).unwrap();
        assert_eq!(plan.review.state, ReviewState::Approved);
        assert_eq!(plan.pull_request.first_review_at, plan.review.submitted_at);
        // The slim form: merged derives from merged_at; no counts, no draft.
        assert_eq!(plan.pull_request.state, PrState::Merged);
        assert_eq!(plan.pull_request.counts, None);
        assert_eq!(plan.pull_request.draft, None);
        assert_eq!(
            plan.identities(),
            [Identity::GithubId(6), Identity::GithubId(5)]
        );
        let activity = plan.activities(&UserMap::default());
        assert_eq!(activity.unmapped, ["hubot", "mona"]);
        assert_eq!(activity.activities.len(), 1);
    }

    #[test]
    fn self_reviews_bots_and_unsubmitted_reviews_are_not_candidates() {
        let own = plan_of(&payload(r#"{"id":5,"login":"mona"}"#, "commented", AT)).unwrap();
        assert_eq!(own.pull_request.first_review_at, None);
        let bot = plan_of(&payload(
            r#"{"id":8,"login":"x[bot]","type":"Bot"}"#,
            "commented",
            AT,
        ))
        .unwrap();
        assert_eq!(bot.pull_request.first_review_at, None);
        let unsubmitted = plan_of(&payload(HUBOT, "commented", "null")).unwrap();
        assert_eq!(unsubmitted.pull_request.first_review_at, None);
        assert!(unsubmitted
            .activities(&UserMap::default())
            .activities
            .is_empty());
    }

    #[test]
    fn a_deleted_reviewer_is_null() {
        let plan = plan_of(&payload("null", "dismissed", AT)).unwrap();
        assert_eq!(plan.review.state, ReviewState::Dismissed);
        assert_eq!(plan.review.reviewer, Person::default());
        assert_eq!(plan.identities(), [Identity::GithubId(5)]);
    }

    #[test]
    fn unknown_states_are_invalid() {
        assert_eq!(
            plan_of(&payload(HUBOT, "pending", AT))
                .unwrap_err()
                .to_string(),
            "invalid payload: review.state is not a review state: \"pending\""
        );
    }
}
