//! The `deployments` and `deployment_statuses` tables (docs/dora.md).
//!
//! A deployment's own fields come from whichever payload carries it (a `deployment`
//! delivery, or the copy every `deployment_status` embeds), by the convergent rule: the
//! newest `updated_at` wins, then a fixed order on content. Statuses are GitHub's immutable
//! objects: fixed at first sight (a fixed order on content decides if two payloads of one
//! status ever differ). The fields derived from statuses (`state`, `firstSuccessAt`,
//! `failedAt`, `finishedAt`, `environment`) and the production decision are recomputed
//! from the stored statuses by [`refresh`], which every event touching the deployment runs
//! as its last statement: any order of deliveries ends in the same row.
//!
//! Concurrency: every writer of a deployment's statuses first upserts the deployment under
//! a transaction-level advisory lock on its GitHub id, so the writers of one deployment
//! serialise; [`refresh`] is a later statement of the same transaction, whose snapshot
//! (READ COMMITTED: one per statement) holds every status committed before the lock was
//! granted, plus its own.

use super::converge::{ConvergentUpsert, EntityLock, FieldGroup, Merge};
use super::statement::{EntityWrite, StatementText, Table};
use crate::time::Timestamp;

/// What one payload says about a deployment; creator id already mapped.
#[derive(Debug, Clone)]
pub struct DeploymentRow<'a> {
    pub github_id: i64,
    pub sha: &'a str,
    pub git_ref: &'a str,
    pub task: &'a str,
    /// The payload's `environment` (stored as `deploymentEnvironment`).
    pub environment: &'a str,
    pub original_environment: &'a str,
    pub production_environment: Option<bool>,
    pub transient_environment: Option<bool>,
    pub description: Option<&'a str>,
    pub creator_id: Option<&'a str>,
    pub creator_github_id: Option<i64>,
    pub creator_login: Option<&'a str>,
    pub creator_is_bot: bool,
    pub workflow_run_id: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Advisory lock class of deployments (see [`EntityLock`]).
const LOCK_CLASS: i32 = 0x6470_7204;

const DEPLOYMENT: ConvergentUpsert = ConvergentUpsert {
    target: r#"deployments AS t
               (id, "repoId", "githubId", sha, ref, task, environment, "originalEnvironment",
                "deploymentEnvironment", "productionEnvironment", "transientEnvironment",
                description, "creatorId", "creatorGithubId", "creatorLogin", "creatorIsBot",
                "workflowRunId", "createdAt", "updatedAt")"#,
    values: r#"$1, $2, $3, $4, $5, $6, $7, $8, $7, $9, $10, $11,
               COALESCE($12, (SELECT u.id FROM users u WHERE u."githubId" = $13)),
               $13, $14, $15, $16, $17, $18"#,
    conflict: r#""githubId""#,
    lock: Some(EntityLock {
        class: LOCK_CLASS,
        id_param: "$3",
    }),
    groups: &[FieldGroup {
        as_of: None,
        key: &[
            r#"{side}."updatedAt""#,
            r#"{side}.sha COLLATE "C""#,
            r#"{side}.ref COLLATE "C""#,
            r#"{side}.task COLLATE "C""#,
            r#"{side}."deploymentEnvironment" COLLATE "C""#,
            r#"{side}."originalEnvironment" COLLATE "C""#,
            r#"COALESCE({side}."productionEnvironment"::int, -1)"#,
            r#"COALESCE({side}."transientEnvironment"::int, -1)"#,
            r#"COALESCE({side}.description, '') COLLATE "C""#,
            r#"COALESCE({side}."creatorLogin", '') COLLATE "C""#,
            r#"COALESCE({side}."creatorGithubId", -1)"#,
            r#"{side}."creatorIsBot""#,
            r#"{side}."createdAt""#,
        ],
        columns: &[
            "sha",
            "ref",
            "task",
            r#""deploymentEnvironment""#,
            r#""originalEnvironment""#,
            r#""productionEnvironment""#,
            r#""transientEnvironment""#,
            "description",
            r#""creatorGithubId""#,
            r#""creatorLogin""#,
            r#""creatorIsBot""#,
            r#""createdAt""#,
            r#""updatedAt""#,
        ],
    }],
    merges: &[
        Merge::Fill(r#""creatorId""#),
        Merge::Least(r#""workflowRunId""#),
    ],
};

static DEPLOYMENT_UPSERT: StatementText =
    StatementText::new(|gate| DEPLOYMENT.sql(gate.map(|g| g.from)));

/// Inserts the deployment or folds the payload's copy into the stored row (its own fields
/// only; [`refresh`] derives the rest). Counts 1 when inserted or changed.
pub fn upsert<'a>(repo_id: &'a str, d: DeploymentRow<'a>) -> EntityWrite<'a> {
    let looks_up_users = d.creator_id.is_none() && d.creator_github_id.is_some();
    EntityWrite::new(
        &DEPLOYMENT_UPSERT,
        Table::Deployments,
        looks_up_users,
        move |args| {
            args.add(super::new_id())
                .add(repo_id)
                .add(d.github_id)
                .add(d.sha)
                .add(d.git_ref)
                .add(d.task)
                .add(d.environment)
                .add(d.original_environment)
                .add(d.production_environment)
                .add(d.transient_environment)
                .add(d.description)
                .add(d.creator_id)
                .add(d.creator_github_id)
                .add(d.creator_login)
                .add(d.creator_is_bot)
                .add(d.workflow_run_id)
                .add(d.created_at)
                .add(d.updated_at);
        },
    )
}

/// One status as its payload carries it.
#[derive(Debug, Clone)]
pub struct StatusRow<'a> {
    pub github_id: i64,
    pub deployment_github_id: i64,
    pub state: &'a str,
    pub environment: Option<&'a str>,
    pub environment_url: Option<&'a str>,
    pub log_url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub creator_login: Option<&'a str>,
    pub created_at: Timestamp,
}

const STATUS: ConvergentUpsert = ConvergentUpsert {
    target: r#"deployment_statuses AS t
               (id, "githubId", "repoId", "deploymentId", state, environment, "environmentUrl",
                "logUrl", description, "creatorLogin", "createdAt")"#,
    values: r#"$1, $2, $3, (SELECT d.id FROM deployments d WHERE d."githubId" = $4),
               $5, $6, $7, $8, $9, $10, $11"#,
    conflict: r#""githubId""#,
    lock: None,
    groups: &[FieldGroup {
        as_of: None,
        key: &[
            r#"{side}."createdAt""#,
            r#"{side}.state COLLATE "C""#,
            r#"COALESCE({side}.environment, '') COLLATE "C""#,
            r#"COALESCE({side}."environmentUrl", '') COLLATE "C""#,
            r#"COALESCE({side}."logUrl", '') COLLATE "C""#,
            r#"COALESCE({side}.description, '') COLLATE "C""#,
            r#"COALESCE({side}."creatorLogin", '') COLLATE "C""#,
        ],
        columns: &[
            "state",
            "environment",
            r#""environmentUrl""#,
            r#""logUrl""#,
            "description",
            r#""creatorLogin""#,
            r#""createdAt""#,
        ],
    }],
    merges: &[],
};

static STATUS_UPSERT: StatementText = StatementText::new(|gate| STATUS.sql(gate.map(|g| g.from)));

/// Inserts the status (after its deployment's [`upsert`], in a later statement: it reads
/// the deployment's row id).
pub fn upsert_status<'a>(repo_id: &'a str, s: StatusRow<'a>) -> EntityWrite<'a> {
    EntityWrite::new(
        &STATUS_UPSERT,
        Table::DeploymentStatuses,
        false,
        move |args| {
            args.add(super::new_id())
                .add(s.github_id)
                .add(repo_id)
                .add(s.deployment_github_id)
                .add(s.state)
                .add(s.environment)
                .add(s.environment_url)
                .add(s.log_url)
                .add(s.description)
                .add(s.creator_login)
                .add(s.created_at);
        },
    )
    .separate()
}

/// The derived fields, recomputed from the stored statuses: the latest status (by
/// `createdAt`, then `githubId`) gives `state`; the latest that names an environment gives
/// `environment` (else the deployment's own); `firstSuccessAt` is the earliest `success`,
/// `failedAt` the earliest `failure` or `error`, `finishedAt` the first of those that
/// exists; production is GitHub's flag when sent, else the environment matching the
/// `productionEnvironments` pattern (`$2`, case-insensitive, PostgreSQL's regular
/// expressions), with the reason. Only writes when something changed.
const REFRESH_SQL: &str = r#"
WITH x AS (
  SELECT d.id, d."productionEnvironment" AS flag,
    COALESCE((SELECT s.environment FROM deployment_statuses s
              WHERE s."deploymentId" = d.id AND s.environment IS NOT NULL
              ORDER BY s."createdAt" DESC, s."githubId" DESC LIMIT 1),
             d."deploymentEnvironment") AS env,
    (SELECT s.state FROM deployment_statuses s WHERE s."deploymentId" = d.id
     ORDER BY s."createdAt" DESC, s."githubId" DESC LIMIT 1) AS state,
    (SELECT min(s."createdAt") FROM deployment_statuses s
     WHERE s."deploymentId" = d.id AND s.state = 'success') AS first_success,
    (SELECT min(s."createdAt") FROM deployment_statuses s
     WHERE s."deploymentId" = d.id AND s.state IN ('failure', 'error')) AS failed
  FROM deployments d WHERE d."githubId" = $1
), y AS (
  SELECT x.*, COALESCE(x.flag, x.env ~* $2) AS production,
    CASE WHEN x.flag THEN 'github_flag'
         WHEN x.flag IS NULL AND x.env ~* $2 THEN 'environment_pattern' END AS reason
  FROM x
)
UPDATE deployments AS d SET environment = y.env, state = y.state,
  "firstSuccessAt" = y.first_success, "failedAt" = y.failed,
  "finishedAt" = COALESCE(y.first_success, y.failed),
  "isProduction" = y.production, "productionReason" = y.reason
FROM y
WHERE d.id = y.id
  AND (d.environment, d.state, d."firstSuccessAt", d."failedAt", d."isProduction", d."productionReason")
      IS DISTINCT FROM (y.env, y.state, y.first_success, y.failed, y.production, y.reason)"#;

static REFRESH: StatementText = StatementText::new(|gate| match gate {
    None => REFRESH_SQL.to_owned(),
    // Never composed (a separate statement), but a gate must still mean "only when claimed".
    Some(g) => REFRESH_SQL.replace("FROM y\n", &format!("FROM y, {}\n", g.from)),
});

/// Recomputes the deployment's derived fields from its stored statuses; a separate, last
/// statement of the event (see the module doc). Not counted in the records.
pub fn refresh<'a>(deployment_github_id: i64, production_pattern: &'a str) -> EntityWrite<'a> {
    EntityWrite::new(&REFRESH, Table::Derived, false, move |args| {
        args.add(deployment_github_id).add(production_pattern);
    })
    .separate()
}
