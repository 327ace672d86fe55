//! The `workflow_runs` and `workflow_jobs` tables (docs/dora.md).
//!
//! A run attempt is one row per (GitHub id, `runAttempt`): a re-run keeps the id and
//! increments the attempt, so it is a new row. Runs and jobs never go back: their status
//! ranks `requested`/`queued`/`waiting`/`pending` < `in_progress` < `completed`, and a payload
//! replaces the row only when its (rank, time) is greater (for runs GitHub's `updated_at`,
//! for jobs `completed_at` then `started_at`, which is all a job carries), then a fixed
//! order on content. The status comes from the object, never the delivery's `action`.
//! `workflow_runs.completedAt` is the `updated_at` of the earliest payload that says
//! `completed` (runs carry no completion time), so it too is a property of the set.

use super::converge::{ConvergentUpsert, FieldGroup, Merge};
use super::statement::{EntityWrite, StatementText, Table};
use crate::time::Timestamp;

/// The rank of a run or job status, as SQL over `{side}.status`.
const RANK: &str =
    r#"CASE {side}.status WHEN 'completed' THEN 2 WHEN 'in_progress' THEN 1 ELSE 0 END"#;

/// What one payload says about a run attempt; actor id already mapped.
#[derive(Debug, Clone)]
pub struct RunRow<'a> {
    pub github_id: i64,
    pub run_attempt: i32,
    pub workflow_id: i64,
    pub name: &'a str,
    pub path: Option<&'a str>,
    pub event: &'a str,
    pub head_sha: &'a str,
    pub head_branch: Option<&'a str>,
    pub status: &'a str,
    pub conclusion: Option<&'a str>,
    pub run_number: i32,
    pub actor_id: Option<&'a str>,
    pub actor_github_id: Option<i64>,
    pub actor_login: Option<&'a str>,
    pub actor_is_bot: bool,
    pub created_at: Timestamp,
    pub run_started_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    /// `updated_at` when the payload's status is `completed`.
    pub completed_at: Option<Timestamp>,
    pub pull_request_numbers: Vec<i32>,
}

const RUN: ConvergentUpsert = ConvergentUpsert {
    target: r#"workflow_runs AS t
               (id, "repoId", "githubId", "runAttempt", "workflowId", name, path, event,
                "headSha", "headBranch", status, conclusion, "runNumber", "actorId",
                "actorGithubId", "actorLogin", "actorIsBot", "createdAt", "runStartedAt",
                "updatedAt", "completedAt", "pullRequestNumbers")"#,
    values: r#"$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
               COALESCE($14, (SELECT u.id FROM users u WHERE u."githubId" = $15)),
               $15, $16, $17, $18, $19, $20, $21, $22"#,
    conflict: r#""githubId", "runAttempt""#,
    lock: None,
    groups: &[FieldGroup {
        as_of: None,
        key: &[
            RANK,
            r#"{side}."updatedAt""#,
            r#"{side}.status COLLATE "C""#,
            r#"COALESCE({side}.conclusion, '') COLLATE "C""#,
            r#"COALESCE({side}."runStartedAt", '-infinity')"#,
            r#"{side}.name COLLATE "C""#,
            r#"COALESCE({side}.path, '') COLLATE "C""#,
            r#"{side}.event COLLATE "C""#,
            r#"{side}."headSha" COLLATE "C""#,
            r#"COALESCE({side}."headBranch", '') COLLATE "C""#,
            r#"{side}."runNumber""#,
            r#"{side}."workflowId""#,
            r#"COALESCE({side}."actorLogin", '') COLLATE "C""#,
            r#"COALESCE({side}."actorGithubId", -1)"#,
            r#"{side}."actorIsBot""#,
            r#"{side}."createdAt""#,
            r#"COALESCE({side}."pullRequestNumbers", '{}')"#,
        ],
        columns: &[
            r#""workflowId""#,
            "name",
            "path",
            "event",
            r#""headSha""#,
            r#""headBranch""#,
            "status",
            "conclusion",
            r#""runNumber""#,
            r#""actorGithubId""#,
            r#""actorLogin""#,
            r#""actorIsBot""#,
            r#""createdAt""#,
            r#""runStartedAt""#,
            r#""updatedAt""#,
            r#""pullRequestNumbers""#,
        ],
    }],
    merges: &[
        Merge::Earliest(r#""completedAt""#),
        Merge::Fill(r#""actorId""#),
    ],
};

static RUN_UPSERT: StatementText = StatementText::new(|gate| RUN.sql(gate.map(|g| g.from)));

/// Inserts the run attempt or folds the payload into it; counts 1 when inserted or changed.
pub fn upsert_run<'a>(repo_id: &'a str, r: RunRow<'a>) -> EntityWrite<'a> {
    let looks_up_users = r.actor_id.is_none() && r.actor_github_id.is_some();
    EntityWrite::new(
        &RUN_UPSERT,
        Table::WorkflowRuns,
        looks_up_users,
        move |args| {
            args.add(super::new_id())
                .add(repo_id)
                .add(r.github_id)
                .add(r.run_attempt)
                .add(r.workflow_id)
                .add(r.name)
                .add(r.path)
                .add(r.event)
                .add(r.head_sha)
                .add(r.head_branch)
                .add(r.status)
                .add(r.conclusion)
                .add(r.run_number)
                .add(r.actor_id)
                .add(r.actor_github_id)
                .add(r.actor_login)
                .add(r.actor_is_bot)
                .add(r.created_at)
                .add(r.run_started_at)
                .add(r.updated_at)
                .add(r.completed_at)
                .add(r.pull_request_numbers);
        },
    )
}

/// What one payload says about a job.
#[derive(Debug, Clone)]
pub struct JobRow<'a> {
    pub github_id: i64,
    pub run_github_id: i64,
    pub run_attempt: i32,
    pub name: &'a str,
    pub workflow_name: Option<&'a str>,
    pub head_sha: Option<&'a str>,
    pub status: &'a str,
    pub conclusion: Option<&'a str>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub environment: Option<&'a str>,
}

const JOB: ConvergentUpsert = ConvergentUpsert {
    target: r#"workflow_jobs AS t
               (id, "repoId", "githubId", "runGithubId", "runAttempt", name, "workflowName",
                "headSha", status, conclusion, "startedAt", "completedAt", environment)"#,
    values: r#"$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13"#,
    conflict: r#""githubId""#,
    lock: None,
    groups: &[FieldGroup {
        as_of: None,
        key: &[
            RANK,
            r#"COALESCE({side}."completedAt", '-infinity')"#,
            r#"COALESCE({side}."startedAt", '-infinity')"#,
            r#"{side}.status COLLATE "C""#,
            r#"COALESCE({side}.conclusion, '') COLLATE "C""#,
            r#"{side}.name COLLATE "C""#,
            r#"COALESCE({side}."workflowName", '') COLLATE "C""#,
            r#"COALESCE({side}."headSha", '') COLLATE "C""#,
            r#"{side}."runGithubId""#,
            r#"{side}."runAttempt""#,
        ],
        columns: &[
            r#""runGithubId""#,
            r#""runAttempt""#,
            "name",
            r#""workflowName""#,
            r#""headSha""#,
            "status",
            "conclusion",
            r#""startedAt""#,
            r#""completedAt""#,
        ],
    }],
    // Only some deliveries of a deployment job name its environment; the least one is kept,
    // so the row does not depend on which arrived first.
    merges: &[Merge::Least("environment")],
};

static JOB_UPSERT: StatementText = StatementText::new(|gate| JOB.sql(gate.map(|g| g.from)));

/// Inserts the job or folds the payload into it; counts 1 when inserted or changed.
pub fn upsert_job<'a>(repo_id: &'a str, j: JobRow<'a>) -> EntityWrite<'a> {
    EntityWrite::new(&JOB_UPSERT, Table::WorkflowJobs, false, move |args| {
        args.add(super::new_id())
            .add(repo_id)
            .add(j.github_id)
            .add(j.run_github_id)
            .add(j.run_attempt)
            .add(j.name)
            .add(j.workflow_name)
            .add(j.head_sha)
            .add(j.status)
            .add(j.conclusion)
            .add(j.started_at)
            .add(j.completed_at)
            .add(j.environment);
    })
}
