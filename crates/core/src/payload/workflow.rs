//! The `workflow_run` and `workflow_job` payloads. The object's `status` is the truth, never
//! the delivery's `action` (GitHub's own examples send action `completed` with status
//! `queued`).

use super::common::{Actor, RepositoryRef};
use serde::Deserialize;

/// A `workflow_run` delivery (`requested`, `in_progress`, `completed`).
#[derive(Debug, Deserialize)]
pub struct WorkflowRunEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub workflow_run: WorkflowRun<'a>,
    #[serde(borrow)]
    pub repository: RepositoryRef<'a>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// A workflow run attempt as webhooks (and the REST list) carry it.
#[derive(Debug, Deserialize)]
pub struct WorkflowRun<'a> {
    pub id: i64,
    /// Required: a re-run keeps `id` and increments it, so a row is (id, attempt).
    pub run_attempt: i64,
    pub workflow_id: i64,
    #[serde(borrow, default)]
    pub name: Option<&'a str>,
    #[serde(borrow, default)]
    pub path: Option<&'a str>,
    #[serde(borrow)]
    pub event: &'a str,
    #[serde(borrow)]
    pub head_sha: &'a str,
    #[serde(borrow, default)]
    pub head_branch: Option<&'a str>,
    #[serde(borrow)]
    pub status: &'a str,
    #[serde(borrow, default)]
    pub conclusion: Option<&'a str>,
    pub run_number: i64,
    #[serde(borrow, default)]
    pub actor: Option<Actor<'a>>,
    #[serde(borrow)]
    pub created_at: &'a str,
    #[serde(borrow, default)]
    pub run_started_at: Option<&'a str>,
    #[serde(borrow)]
    pub updated_at: &'a str,
    #[serde(default)]
    pub pull_requests: Vec<PullRequestRef>,
}

/// A pull request a run belongs to: only its number is stored.
#[derive(Debug, Deserialize)]
pub struct PullRequestRef {
    pub number: i64,
}

/// A `workflow_job` delivery (`queued`, `waiting`, `in_progress`, `completed`).
#[derive(Debug, Deserialize)]
pub struct WorkflowJobEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub workflow_job: WorkflowJob<'a>,
    /// Present when the job targets an environment (a deployment job).
    #[serde(borrow, default)]
    pub deployment: Option<JobDeployment<'a>>,
    #[serde(borrow)]
    pub repository: RepositoryRef<'a>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// The deployment a job's delivery names: only its environment is stored.
#[derive(Debug, Deserialize)]
pub struct JobDeployment<'a> {
    #[serde(borrow, default)]
    pub environment: Option<&'a str>,
}

/// A job of a workflow run attempt.
#[derive(Debug, Deserialize)]
pub struct WorkflowJob<'a> {
    pub id: i64,
    pub run_id: i64,
    /// Some early payloads omit it: then the first attempt.
    #[serde(default)]
    pub run_attempt: Option<i64>,
    #[serde(borrow)]
    pub name: &'a str,
    #[serde(borrow, default)]
    pub workflow_name: Option<&'a str>,
    #[serde(borrow, default)]
    pub head_sha: Option<&'a str>,
    #[serde(borrow)]
    pub status: &'a str,
    #[serde(borrow, default)]
    pub conclusion: Option<&'a str>,
    #[serde(borrow, default)]
    pub started_at: Option<&'a str>,
    #[serde(borrow, default)]
    pub completed_at: Option<&'a str>,
}
