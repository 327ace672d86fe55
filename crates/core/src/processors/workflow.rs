//! `WorkflowProcessor`: `workflow_run` and `workflow_job` deliveries. Each upserts its
//! object as the payload shows it; the store keeps the most advanced (`store::workflows`).
//! The status comes from the object, never the delivery's `action`.

use super::people::{ActivityLog, Person};
use super::{fields, MappedActivity, WriteContext};
use crate::error::Result;
use crate::payload::{WorkflowJob, WorkflowJobEvent, WorkflowRun, WorkflowRunEvent};
use crate::store::statement::EntityWrite;
use crate::store::workflows::{self, JobRow, RunRow};
use crate::text::strip_nul;
use crate::time::Timestamp;
use crate::users::{Identity, UserMap};
use std::borrow::Cow;

/// Plans `workflow_run` and `workflow_job` deliveries.
pub struct WorkflowProcessor;

/// The statuses GitHub gives runs and jobs (`requested`, `queued`, `waiting` and `pending`
/// rank lowest, then `in_progress`, then `completed`).
pub const STATUSES: [&str; 6] = [
    "requested",
    "queued",
    "waiting",
    "pending",
    "in_progress",
    "completed",
];

/// A validated run attempt as one payload describes it.
#[derive(Debug, Clone)]
pub struct RunPlan<'a> {
    pub github_id: i64,
    pub run_attempt: i32,
    pub workflow_id: i64,
    pub name: Cow<'a, str>,
    pub path: Option<Cow<'a, str>>,
    pub event: Cow<'a, str>,
    pub head_sha: Cow<'a, str>,
    pub head_branch: Option<Cow<'a, str>>,
    pub status: &'static str,
    pub conclusion: Option<Cow<'a, str>>,
    pub run_number: i32,
    pub actor: Person<'a>,
    pub created_at: Timestamp,
    pub run_started_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    pub pull_request_numbers: Vec<i32>,
}

/// A validated job as one payload describes it.
#[derive(Debug, Clone)]
pub struct JobPlan<'a> {
    pub github_id: i64,
    pub run_github_id: i64,
    pub run_attempt: i32,
    pub name: Cow<'a, str>,
    pub workflow_name: Option<Cow<'a, str>>,
    pub head_sha: Option<Cow<'a, str>>,
    pub status: &'static str,
    pub conclusion: Option<Cow<'a, str>>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub environment: Option<Cow<'a, str>>,
}

impl WorkflowProcessor {
    /// A `workflow_run` delivery.
    pub fn plan_run<'a>(event: &WorkflowRunEvent<'a>) -> Result<RunPlan<'a>> {
        Self::plan_run_object(&event.workflow_run, "workflow_run")
    }

    /// Validates a run object (a webhook's, or an item of the REST list).
    pub fn plan_run_object<'a>(r: &WorkflowRun<'a>, path: &str) -> Result<RunPlan<'a>> {
        let at = |f: &str| format!("{path}.{f}");
        let pull_request_numbers = r
            .pull_requests
            .iter()
            .enumerate()
            .map(|(i, p)| fields::number(&at(&format!("pull_requests[{i}].number")), p.number))
            .collect::<Result<Vec<i32>>>()?;
        Ok(RunPlan {
            github_id: fields::github_id(&at("id"), r.id)?,
            run_attempt: fields::number(&at("run_attempt"), r.run_attempt)?,
            workflow_id: fields::github_id(&at("workflow_id"), r.workflow_id)?,
            name: strip_nul(r.name.unwrap_or("")),
            path: r.path.map(strip_nul),
            event: strip_nul(r.event),
            head_sha: strip_nul(r.head_sha),
            head_branch: r.head_branch.map(strip_nul),
            status: fields::one_of(&at("status"), r.status, &STATUSES)?,
            conclusion: r.conclusion.map(strip_nul),
            run_number: fields::number(&at("run_number"), r.run_number)?,
            actor: Person::from_actor(r.actor.as_ref()),
            created_at: fields::time(&at("created_at"), r.created_at)?,
            run_started_at: fields::optional_time(&at("run_started_at"), r.run_started_at)?,
            updated_at: fields::time(&at("updated_at"), r.updated_at)?,
            pull_request_numbers,
        })
    }

    /// A `workflow_job` delivery.
    pub fn plan_job<'a>(event: &WorkflowJobEvent<'a>) -> Result<JobPlan<'a>> {
        let j: &WorkflowJob<'a> = &event.workflow_job;
        Ok(JobPlan {
            github_id: fields::github_id("workflow_job.id", j.id)?,
            run_github_id: fields::github_id("workflow_job.run_id", j.run_id)?,
            run_attempt: fields::number("workflow_job.run_attempt", j.run_attempt.unwrap_or(1))?,
            name: strip_nul(j.name),
            workflow_name: j.workflow_name.map(strip_nul),
            head_sha: j.head_sha.map(strip_nul),
            status: fields::one_of("workflow_job.status", j.status, &STATUSES)?,
            conclusion: j.conclusion.map(strip_nul),
            started_at: fields::optional_time("workflow_job.started_at", j.started_at)?,
            completed_at: fields::optional_time("workflow_job.completed_at", j.completed_at)?,
            environment: event
                .deployment
                .as_ref()
                .and_then(|d| d.environment)
                .map(strip_nul),
        })
    }
}

impl RunPlan<'_> {
    /// The actor, to map by GitHub id.
    pub fn identities(&self) -> Vec<Identity> {
        self.actor.identity().into_iter().collect()
    }

    /// The run attempt's upsert.
    pub fn writes<'s>(&'s self, ctx: &'s WriteContext<'_>) -> Vec<EntityWrite<'s>> {
        let row = RunRow {
            github_id: self.github_id,
            run_attempt: self.run_attempt,
            workflow_id: self.workflow_id,
            name: &self.name,
            path: self.path.as_deref(),
            event: &self.event,
            head_sha: &self.head_sha,
            head_branch: self.head_branch.as_deref(),
            status: self.status,
            conclusion: self.conclusion.as_deref(),
            run_number: self.run_number,
            actor_id: self.actor.user_id(ctx.users),
            actor_github_id: self.actor.github_id,
            actor_login: self.actor.login.as_deref(),
            actor_is_bot: self.actor.is_bot,
            created_at: self.created_at,
            run_started_at: self.run_started_at,
            updated_at: self.updated_at,
            completed_at: (self.status == "completed").then_some(self.updated_at),
            pull_request_numbers: self.pull_request_numbers.clone(),
        };
        vec![workflows::upsert_run(&ctx.repo.id, row)]
    }

    /// The actor's activity at the payload's `updated_at`.
    pub fn activities(&self, users: &UserMap) -> MappedActivity {
        let mut log = ActivityLog::default();
        log.acted(&self.actor, self.updated_at, users);
        log.finish()
    }
}

impl JobPlan<'_> {
    /// Jobs name no person.
    pub fn identities(&self) -> Vec<Identity> {
        Vec::new()
    }

    /// The job's upsert.
    pub fn writes<'s>(&'s self, ctx: &'s WriteContext<'_>) -> Vec<EntityWrite<'s>> {
        let row = JobRow {
            github_id: self.github_id,
            run_github_id: self.run_github_id,
            run_attempt: self.run_attempt,
            name: &self.name,
            workflow_name: self.workflow_name.as_deref(),
            head_sha: self.head_sha.as_deref(),
            status: self.status,
            conclusion: self.conclusion.as_deref(),
            started_at: self.started_at,
            completed_at: self.completed_at,
            environment: self.environment.as_deref(),
        };
        vec![workflows::upsert_job(&ctx.repo.id, row)]
    }

    /// The repository's team, at the job's completion (else its start): a job has no actor.
    pub fn activities(&self, users: &UserMap) -> MappedActivity {
        let mut log = ActivityLog::default();
        if let Some(at) = self.completed_at.or(self.started_at) {
            log.acted(&Person::default(), at, users);
        }
        log.finish()
    }
}
