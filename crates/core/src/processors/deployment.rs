//! `DeploymentProcessor`: `deployment` and `deployment_status` deliveries. Both upsert the
//! deployment (a status embeds the whole deployment, so a status that arrives first is never
//! an orphan); a status is also stored; then the deployment's derived fields are recomputed
//! from its stored statuses (`store::deployments`), so any order of deliveries ends in the
//! same row. State comes from the objects, never the `action`.

use super::people::{ActivityLog, Person};
use super::{fields, MappedActivity, WriteContext};
use crate::error::Result;
use crate::payload::{Deployment, DeploymentEvent, DeploymentStatus, DeploymentStatusEvent};
use crate::store::deployments::{self, DeploymentRow, StatusRow};
use crate::store::statement::EntityWrite;
use crate::text::strip_nul;
use crate::time::Timestamp;
use crate::users::{Identity, UserMap};
use std::borrow::Cow;

/// Plans `deployment` and `deployment_status` deliveries.
pub struct DeploymentProcessor;

/// The states GitHub gives a deployment status.
pub const STATUS_STATES: [&str; 7] = [
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

/// The default of the `productionEnvironments` option: the environments whose name is
/// `prod`, `production` or `live`, alone or followed by a separator and more
/// (`production-eu`, `prod/api`), case-insensitive (PostgreSQL's `~*`).
pub const DEFAULT_PRODUCTION_ENVIRONMENTS: &str = "^(prod|production|live)([-_ ./].*)?$";

/// A validated deployment as one payload describes it.
#[derive(Debug, Clone)]
pub struct DeploymentFields<'a> {
    pub github_id: i64,
    pub sha: Cow<'a, str>,
    pub git_ref: Cow<'a, str>,
    pub task: Cow<'a, str>,
    pub environment: Cow<'a, str>,
    pub original_environment: Cow<'a, str>,
    pub production_environment: Option<bool>,
    pub transient_environment: Option<bool>,
    pub description: Option<Cow<'a, str>>,
    pub creator: Person<'a>,
    pub workflow_run_id: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A validated deployment status.
#[derive(Debug, Clone)]
pub struct StatusFields<'a> {
    pub github_id: i64,
    pub state: &'static str,
    pub environment: Option<Cow<'a, str>>,
    pub environment_url: Option<Cow<'a, str>>,
    pub log_url: Option<Cow<'a, str>>,
    pub description: Option<Cow<'a, str>>,
    pub creator_login: Option<Cow<'a, str>>,
    pub created_at: Timestamp,
}

/// What a `deployment` or `deployment_status` delivery writes.
#[derive(Debug, Clone)]
pub struct DeploymentPlan<'a> {
    pub deployment: DeploymentFields<'a>,
    pub status: Option<StatusFields<'a>>,
}

impl DeploymentProcessor {
    /// A `deployment` delivery: the deployment alone.
    pub fn plan<'a>(event: &DeploymentEvent<'a>) -> Result<DeploymentPlan<'a>> {
        Ok(DeploymentPlan {
            deployment: Self::plan_deployment(
                &event.deployment,
                "deployment",
                event.workflow_run.as_ref().map(|r| r.id),
            )?,
            status: None,
        })
    }

    /// A `deployment_status` delivery: the embedded deployment and the status.
    pub fn plan_status<'a>(event: &DeploymentStatusEvent<'a>) -> Result<DeploymentPlan<'a>> {
        Ok(DeploymentPlan {
            deployment: Self::plan_deployment(
                &event.deployment,
                "deployment",
                event.workflow_run.as_ref().map(|r| r.id),
            )?,
            status: Some(Self::plan_status_object(
                &event.deployment_status,
                "deployment_status",
            )?),
        })
    }

    /// Validates a deployment object (a webhook's, or an item of the REST list); `path` names
    /// it in errors.
    pub fn plan_deployment<'a>(
        d: &Deployment<'a>,
        path: &str,
        workflow_run_id: Option<i64>,
    ) -> Result<DeploymentFields<'a>> {
        let at = |f: &str| format!("{path}.{f}");
        Ok(DeploymentFields {
            github_id: fields::github_id(&at("id"), d.id)?,
            sha: strip_nul(d.sha),
            git_ref: strip_nul(d.git_ref),
            task: strip_nul(d.task),
            environment: strip_nul(d.environment),
            original_environment: strip_nul(d.original_environment.unwrap_or(d.environment)),
            production_environment: d.production_environment,
            transient_environment: d.transient_environment,
            description: d.description.map(strip_nul),
            creator: Person::from_actor(d.creator.as_ref()),
            workflow_run_id: workflow_run_id
                .map(|id| fields::github_id("workflow_run.id", id))
                .transpose()?,
            created_at: fields::time(&at("created_at"), d.created_at)?,
            updated_at: fields::time(&at("updated_at"), d.updated_at)?,
        })
    }

    /// Validates a status object; an unknown `state` is `INVALID_PAYLOAD`.
    pub fn plan_status_object<'a>(
        s: &DeploymentStatus<'a>,
        path: &str,
    ) -> Result<StatusFields<'a>> {
        let at = |f: &str| format!("{path}.{f}");
        Ok(StatusFields {
            github_id: fields::github_id(&at("id"), s.id)?,
            state: fields::one_of(&at("state"), s.state, &STATUS_STATES)?,
            environment: s.environment.map(strip_nul),
            environment_url: s.environment_url.filter(|u| !u.is_empty()).map(strip_nul),
            log_url: s
                .log_url
                .or(s.target_url)
                .filter(|u| !u.is_empty())
                .map(strip_nul),
            description: s.description.map(strip_nul),
            creator_login: s.creator.as_ref().map(|c| strip_nul(c.login)),
            created_at: fields::time(&at("created_at"), s.created_at)?,
        })
    }
}

impl DeploymentFields<'_> {
    /// The row as this payload describes it.
    pub fn row<'s>(&'s self, users: &'s UserMap) -> DeploymentRow<'s> {
        DeploymentRow {
            github_id: self.github_id,
            sha: &self.sha,
            git_ref: &self.git_ref,
            task: &self.task,
            environment: &self.environment,
            original_environment: &self.original_environment,
            production_environment: self.production_environment,
            transient_environment: self.transient_environment,
            description: self.description.as_deref(),
            creator_id: self.creator.user_id(users),
            creator_github_id: self.creator.github_id,
            creator_login: self.creator.login.as_deref(),
            creator_is_bot: self.creator.is_bot,
            workflow_run_id: self.workflow_run_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl StatusFields<'_> {
    /// The status row, for the deployment with GitHub id `deployment`.
    pub fn row(&self, deployment: i64) -> StatusRow<'_> {
        StatusRow {
            github_id: self.github_id,
            deployment_github_id: deployment,
            state: self.state,
            environment: self.environment.as_deref(),
            environment_url: self.environment_url.as_deref(),
            log_url: self.log_url.as_deref(),
            description: self.description.as_deref(),
            creator_login: self.creator_login.as_deref(),
            created_at: self.created_at,
        }
    }
}

impl DeploymentPlan<'_> {
    /// The deployment's creator, to map by GitHub id.
    pub fn identities(&self) -> Vec<Identity> {
        self.deployment.creator.identity().into_iter().collect()
    }

    /// The deployment's upsert, the status's, then the derived fields' refresh.
    pub fn writes<'s>(&'s self, ctx: &'s WriteContext<'_>) -> Vec<EntityWrite<'s>> {
        let d = &self.deployment;
        let mut writes = vec![deployments::upsert(&ctx.repo.id, d.row(ctx.users))];
        if let Some(s) = &self.status {
            writes.push(deployments::upsert_status(&ctx.repo.id, s.row(d.github_id)));
        }
        writes.push(deployments::refresh(d.github_id, ctx.production_pattern));
        writes
    }

    /// The creator's activity: at the status's time for a status, else the deployment's
    /// `updated_at`.
    pub fn activities(&self, users: &UserMap) -> MappedActivity {
        let at = self
            .status
            .as_ref()
            .map_or(self.deployment.updated_at, |s| s.created_at);
        let mut log = ActivityLog::default();
        log.acted(&self.deployment.creator, at, users);
        log.finish()
    }
}
