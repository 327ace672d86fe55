//! REST list pages (`GET /repos/{o}/{r}/pulls`, `…/pulls/{n}/reviews`, `…/issues`,
//! `…/commits`), read from the same tape as webhook payloads.
//!
//! A REST pull request is the webhook's `pull_request` object without `merged` and without
//! line counts (the list endpoint's "pull-request-simple"), so it reads as the webhook's
//! [`PullRequest`]. A REST review is the webhook's review with the state in upper case
//! (and `PENDING` for a review not yet submitted). The issues list also lists pull
//! requests, each marked by a `pull_request` key. A REST commit nests its message and
//! author under `commit`, and names the GitHub account in `author` (with a numeric id).
//! Deployments, deployment statuses and workflow runs are the objects webhooks embed; the
//! runs list wraps its page in an object (`workflow_runs`).

use super::common::Actor;
use super::{parse_as, path_error, Original};
use crate::error::Result;
use serde::de::IgnoredAny;
use serde::Deserialize;

pub use super::deployment::{Deployment, DeploymentStatus};
pub use super::issues::Issue;
pub use super::pull_request::PullRequest;
pub use super::review::Review;
pub use super::workflow::WorkflowRun;

/// An item of `GET /repos/{owner}/{repo}/issues`: an issue, or a pull request when
/// `pull_request` is present.
#[derive(Debug, Deserialize)]
pub struct RestIssue<'a> {
    pub id: i64,
    pub number: i64,
    #[serde(borrow)]
    pub title: &'a str,
    #[serde(borrow, default)]
    pub state: Option<&'a str>,
    #[serde(borrow, default)]
    pub state_reason: Option<&'a str>,
    #[serde(borrow, default)]
    pub user: Option<Actor<'a>>,
    #[serde(borrow)]
    pub created_at: &'a str,
    #[serde(borrow)]
    pub updated_at: &'a str,
    #[serde(borrow, default)]
    pub closed_at: Option<&'a str>,
    #[serde(borrow, default)]
    pub labels: Option<Vec<super::issues::Label<'a>>>,
    /// Present (an object) exactly when the item is a pull request.
    #[serde(default)]
    pub pull_request: Option<IgnoredAny>,
}

impl<'a> RestIssue<'a> {
    /// Whether the item is a pull request listed by the issues endpoint.
    pub fn is_pull_request(&self) -> bool {
        self.pull_request.is_some()
    }

    /// The issue as a webhook would embed it.
    pub fn into_issue(self) -> Issue<'a> {
        Issue {
            id: self.id,
            number: self.number,
            title: self.title,
            state: self.state,
            state_reason: self.state_reason,
            user: self.user,
            created_at: self.created_at,
            updated_at: self.updated_at,
            closed_at: self.closed_at,
            labels: self.labels,
        }
    }
}

/// An item of `GET /repos/{owner}/{repo}/commits`.
#[derive(Debug, Deserialize)]
pub struct RestCommit<'a> {
    #[serde(borrow)]
    pub sha: &'a str,
    #[serde(borrow)]
    pub commit: GitCommit<'a>,
    /// The GitHub account of the author; `null` when the author's email maps to none.
    #[serde(borrow, default)]
    pub author: Option<Actor<'a>>,
}

/// The git object of a REST commit.
#[derive(Debug, Deserialize)]
pub struct GitCommit<'a> {
    #[serde(borrow)]
    pub message: &'a str,
    /// Git's author (name, email, date); `null` in rare malformed commits.
    #[serde(borrow, default)]
    pub author: Option<GitPerson<'a>>,
}

/// Git's author of a commit.
#[derive(Debug, Deserialize)]
pub struct GitPerson<'a> {
    #[serde(borrow, default)]
    pub name: Option<&'a str>,
    #[serde(borrow, default)]
    pub email: Option<&'a str>,
    /// The author date, in UTC (`2024-01-01T10:00:00Z`).
    #[serde(borrow, default)]
    pub date: Option<&'a str>,
}

/// Parses one REST list page (a JSON array). `INVALID_PAYLOAD` names the offending
/// item's path (`[3].created_at: …`).
macro_rules! page_parser {
    ($(#[$doc:meta])* $name:ident, $item:ident) => {
        $(#[$doc])*
        pub fn $name<'a>(scratch: &'a mut [u8], original: impl Original) -> Result<Vec<$item<'a>>> {
            parse_as(scratch, original, |b| path_error::<Vec<$item>>(b))
        }
    };
}

page_parser!(
    /// A page of `GET /repos/{owner}/{repo}/pulls`.
    parse_pulls,
    PullRequest
);
page_parser!(
    /// A page of `GET /repos/{owner}/{repo}/pulls/{number}/reviews`.
    parse_reviews,
    Review
);
page_parser!(
    /// A page of `GET /repos/{owner}/{repo}/issues`.
    parse_issues,
    RestIssue
);
page_parser!(
    /// A page of `GET /repos/{owner}/{repo}/commits`.
    parse_commits,
    RestCommit
);

page_parser!(
    /// A page of `GET /repos/{owner}/{repo}/deployments`.
    parse_deployments,
    Deployment
);
page_parser!(
    /// A page of `GET /repos/{owner}/{repo}/deployments/{id}/statuses`.
    parse_deployment_statuses,
    DeploymentStatus
);

/// A page of `GET /repos/{owner}/{repo}/actions/runs`: an object, the runs under
/// `workflow_runs`.
#[derive(Debug, Deserialize)]
pub struct WorkflowRunsPage<'a> {
    #[serde(borrow)]
    pub workflow_runs: Vec<WorkflowRun<'a>>,
}

/// A page of `GET /repos/{owner}/{repo}/actions/runs`.
pub fn parse_workflow_runs<'a>(
    scratch: &'a mut [u8],
    original: impl Original,
) -> Result<WorkflowRunsPage<'a>> {
    parse_as(scratch, original, |b| path_error::<WorkflowRunsPage>(b))
}

/// One REST deployment (the one a statuses page belongs to).
pub fn parse_deployment<'a>(
    scratch: &'a mut [u8],
    original: impl Original,
) -> Result<Deployment<'a>> {
    parse_as(scratch, original, |b| path_error::<Deployment>(b))
}

/// One REST pull request (the one a reviews page belongs to).
pub fn parse_pull_request<'a>(
    scratch: &'a mut [u8],
    original: impl Original,
) -> Result<PullRequest<'a>> {
    parse_as(scratch, original, |b| path_error::<PullRequest>(b))
}
