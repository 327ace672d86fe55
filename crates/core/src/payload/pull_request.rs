//! The `pull_request` payload, and the pull request object that `pull_request_review`
//! embeds.
//!
//! One type serves both forms. The full form (`opened`, `closed`, `edited`, …) carries line
//! counts and `merged`; other actions (`synchronize`, `labeled`, …) may omit the counts, and
//! the slim form inside a review omits the counts, `merged` and sometimes `draft`. Those
//! fields are therefore optional: absent means "this payload does not say", never zero.

use super::common::{Actor, RepositoryRef};
use serde::Deserialize;

/// A `pull_request` delivery. Every action carries the pull request as of that moment.
#[derive(Debug, Deserialize)]
pub struct PullRequestEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub pull_request: PullRequest<'a>,
    #[serde(borrow)]
    pub repository: RepositoryRef<'a>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// A pull request as a webhook embeds it (full or slim form).
#[derive(Debug, Deserialize)]
pub struct PullRequest<'a> {
    pub id: i64,
    pub number: i64,
    #[serde(borrow)]
    pub title: &'a str,
    /// `open` or `closed`; a merged pull request is `closed` with `merged_at` set.
    #[serde(borrow)]
    pub state: &'a str,
    #[serde(default)]
    pub draft: Option<bool>,
    /// The author; `null` only for accounts GitHub no longer resolves.
    #[serde(borrow, default)]
    pub user: Option<Actor<'a>>,
    #[serde(borrow)]
    pub created_at: &'a str,
    #[serde(borrow)]
    pub updated_at: &'a str,
    #[serde(borrow, default)]
    pub closed_at: Option<&'a str>,
    #[serde(borrow, default)]
    pub merged_at: Option<&'a str>,
    /// Absent from the slim form: merged is then derived from `merged_at`.
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub additions: Option<i64>,
    #[serde(default)]
    pub deletions: Option<i64>,
    #[serde(default)]
    pub changed_files: Option<i64>,
    /// GitHub's merge commit (the test merge while open); null until computed.
    #[serde(borrow, default)]
    pub merge_commit_sha: Option<&'a str>,
    #[serde(borrow)]
    pub head: BranchRef<'a>,
    #[serde(borrow)]
    pub base: BranchRef<'a>,
}

/// The `head` / `base` side of a pull request: the branch name, and the head's commit.
#[derive(Debug, Deserialize)]
pub struct BranchRef<'a> {
    #[serde(rename = "ref", borrow)]
    pub name: &'a str,
    #[serde(borrow, default)]
    pub sha: Option<&'a str>,
}
