//! The `deployment` and `deployment_status` payloads. A `deployment_status` delivery embeds
//! the whole deployment as of that moment, so either event can create the deployment row.

use super::common::{Actor, RepositoryRef};
use serde::Deserialize;

/// A `deployment` delivery (action `created`).
#[derive(Debug, Deserialize)]
pub struct DeploymentEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub deployment: Deployment<'a>,
    /// The run that created the deployment, when a workflow did.
    #[serde(default)]
    pub workflow_run: Option<RunRef>,
    #[serde(borrow)]
    pub repository: RepositoryRef<'a>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// A `deployment_status` delivery (action `created`). `deployment` is required: a status
/// without its deployment cannot be stored (`INVALID_PAYLOAD`).
#[derive(Debug, Deserialize)]
pub struct DeploymentStatusEvent<'a> {
    #[serde(borrow)]
    pub action: &'a str,
    #[serde(borrow)]
    pub deployment_status: DeploymentStatus<'a>,
    #[serde(borrow)]
    pub deployment: Deployment<'a>,
    #[serde(default)]
    pub workflow_run: Option<RunRef>,
    #[serde(borrow)]
    pub repository: RepositoryRef<'a>,
    #[serde(borrow, default)]
    pub sender: Option<Actor<'a>>,
}

/// A workflow run a deployment names: only its id is stored.
#[derive(Debug, Deserialize)]
pub struct RunRef {
    pub id: i64,
}

/// A deployment as webhooks (and the REST list) carry it.
#[derive(Debug, Deserialize)]
pub struct Deployment<'a> {
    pub id: i64,
    #[serde(borrow)]
    pub sha: &'a str,
    #[serde(rename = "ref", borrow)]
    pub git_ref: &'a str,
    #[serde(borrow)]
    pub task: &'a str,
    #[serde(borrow)]
    pub environment: &'a str,
    /// Absent from some payloads: then the deployment's `environment`.
    #[serde(borrow, default)]
    pub original_environment: Option<&'a str>,
    /// GitHub's flag as sent; absent from older payloads.
    #[serde(default)]
    pub production_environment: Option<bool>,
    #[serde(default)]
    pub transient_environment: Option<bool>,
    #[serde(borrow, default)]
    pub description: Option<&'a str>,
    #[serde(borrow, default)]
    pub creator: Option<Actor<'a>>,
    #[serde(borrow)]
    pub created_at: &'a str,
    #[serde(borrow)]
    pub updated_at: &'a str,
}

/// One status of a deployment.
#[derive(Debug, Deserialize)]
pub struct DeploymentStatus<'a> {
    pub id: i64,
    #[serde(borrow)]
    pub state: &'a str,
    #[serde(borrow, default)]
    pub environment: Option<&'a str>,
    #[serde(borrow, default)]
    pub environment_url: Option<&'a str>,
    #[serde(borrow, default)]
    pub log_url: Option<&'a str>,
    /// Older payloads name the log `target_url` only.
    #[serde(borrow, default)]
    pub target_url: Option<&'a str>,
    #[serde(borrow, default)]
    pub description: Option<&'a str>,
    #[serde(borrow, default)]
    pub creator: Option<Actor<'a>>,
    #[serde(borrow)]
    pub created_at: &'a str,
}
