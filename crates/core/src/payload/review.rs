//! The `pull_request_review` payload: the review and the slim pull request it belongs to.
//!
//! A review has no `updated_at` and no `dismissed_at`; `review.state` is lowercase here
//! (uppercase in REST and GraphQL); `review.user` and `submitted_at` can be null.

use super::common::{Actor, RepositoryRef};
use super::pull_request::PullRequest;
use serde::Deserialize;

/// A `pull_request_review` delivery (`submitted`, `edited`, `dismissed`).
#[derive(Debug, Deserialize)]
pub struct PullRequestReviewEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub review: Review<'a>,
    /// The slim form: no line counts, no `merged`, sometimes no `draft`.
    #[serde(borrow)]
    pub pull_request: PullRequest<'a>,
    #[serde(borrow)]
    pub repository: RepositoryRef<'a>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// A review as the webhook embeds it.
#[derive(Debug, Deserialize)]
pub struct Review<'a> {
    pub id: i64,
    #[serde(borrow, default)]
    pub user: Option<Actor<'a>>,
    /// `approved`, `changes_requested`, `commented` or `dismissed`.
    #[serde(borrow)]
    pub state: &'a str,
    #[serde(borrow, default)]
    pub commit_id: Option<&'a str>,
    #[serde(borrow, default)]
    pub submitted_at: Option<&'a str>,
}
