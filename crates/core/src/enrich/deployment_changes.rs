//! What a successful production deployment shipped (DESIGN.md, third part).
//!
//! A deployment names one commit; what it shipped is every commit it holds that the
//! deployment before it did not: `GET /repos/{o}/{r}/compare/{P.sha}...{D.sha}`, where P is
//! the previous successful production deployment of the same repository and environment
//! (latest `firstSuccessAt` before D's, another sha). GitHub's answer `behind` (D older than
//! P) is a rollback: D shipped nothing, and P counts as failed. The first production
//! deployment of an environment has no P and ships nothing we can name.
//!
//! The `deploymentChanges` job (lib/github/jobs/deployment-changes.js) asks GitHub; this
//! module keeps its progress on the deployment row and writes what it brings:
//!
//! - [`start`] finds P now (deliveries arrive in any order, so P can change after a first
//!   run) and compares it with the base the stored rows were computed against
//!   (`changesBaseSha`): a different base deletes the rows and starts over, the same base
//!   with `changesCompletedAt` set means done (no request, no write), else the job resumes.
//! - [`apply_page`] inserts the page's commits the table lacks, through the complete-push
//!   path (same mapping, same statement), and writes one `deployment_changes` row per
//!   commit in one statement, guarded by the base so a run overtaken by another base writes
//!   nothing.
//! - [`finish`] marks the rows complete and the rollback, and names the later deployments
//!   whose own base is now stale (D arrived after them): their jobs run again. Finishes of
//!   one environment take turns (an advisory lock) and each checks its base is still the
//!   previous deployment, so a late success landing while a later job pages is never missed
//!   (that job is named stale itself). A finish of a complete deployment marks nothing and
//!   names the stale ones again (a run that finished may have lost its answer).

use super::complete_push::{self, CompletePushOutcome};
use crate::error::{ProcessingError, Result};
use crate::payload;
use crate::repos::RepoInfo;
use crate::store::connections::Connections;
use crate::time::Timestamp;
use crate::users::UserDirectory;
use serde::Deserialize;
use sqlx::Connection;

/// How many later deployments [`finish`] looks at for a stale base. A deployment that
/// arrives late can only become the previous one of the deployments right after it (the
/// run up to the next sha that differs from both), so a short window is enough.
const SUCCESSOR_WINDOW: i64 = 20;

/// The job's starting point, from [`start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesStart {
    /// DevMetrics id of the deployment.
    pub deployment_id: String,
    pub sha: String,
    pub environment: String,
    /// False when the deployment is not (or no longer) a successful production deployment:
    /// nothing to do.
    pub eligible: bool,
    /// The previous successful production deployment's sha and GitHub id; `None`: none
    /// came before (nothing shipped that we can name).
    pub base_sha: Option<String>,
    pub base_github_id: Option<i64>,
    /// The stored changes are complete for this base: nothing to ask, nothing to write.
    pub complete: bool,
    /// The stored rows were computed against another base and were deleted now.
    pub reset: bool,
}

/// What one compare page wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangesPage {
    /// Compare's `status`: `ahead`, `behind`, `diverged` or `identical`.
    pub status: String,
    /// `deployment_changes` rows inserted or corrected.
    pub changes: u32,
    /// False when another run changed the deployment's base meanwhile: nothing written.
    pub current: bool,
    /// The commits the page inserted, their metric jobs and the counts still to fetch.
    pub commits: CompletePushOutcome,
}

/// A later deployment whose stored changes were compared against a base that is no longer
/// its previous deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleSuccessor {
    pub github_id: i64,
    /// The sha its changes must now be compared against (`None`: it has no previous one).
    pub base_sha: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DeploymentRow {
    id: String,
    sha: String,
    environment: String,
    #[sqlx(rename = "isProduction")]
    is_production: bool,
    #[sqlx(rename = "firstSuccessAt")]
    first_success_at: Option<Timestamp>,
    #[sqlx(rename = "changesBaseSha")]
    changes_base_sha: Option<String>,
    #[sqlx(rename = "changesCompletedAt")]
    changes_completed_at: Option<Timestamp>,
}

/// Finds the deployment and its previous one, and settles the stored rows' base (see the
/// module doc). `None` when the repository has no deployment with that GitHub id.
pub async fn start(
    db: &Connections,
    repo_id: &str,
    deployment_github_id: i64,
) -> Result<Option<ChangesStart>> {
    let mut tries = db.tries();
    loop {
        let mut conn = tries.lease().await?;
        let result = start_once(&mut conn, repo_id, deployment_github_id).await;
        if let Some(v) = tries.finish(conn, result)? {
            return Ok(v);
        }
    }
}

async fn start_once(
    conn: &mut sqlx::PgConnection,
    repo_id: &str,
    deployment_github_id: i64,
) -> std::result::Result<Option<ChangesStart>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let row: Option<DeploymentRow> = sqlx::query_as(
        r#"SELECT id, sha, environment, "isProduction", "firstSuccessAt", "changesBaseSha",
                  "changesCompletedAt"
           FROM deployments WHERE "repoId" = $1 AND "githubId" = $2 FOR UPDATE"#,
    )
    .bind(repo_id)
    .bind(deployment_github_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(d) = row else {
        return Ok(None);
    };
    let Some(first_success_at) = d.first_success_at.filter(|_| d.is_production) else {
        tx.commit().await?;
        return Ok(Some(ChangesStart {
            deployment_id: d.id,
            sha: d.sha,
            environment: d.environment,
            eligible: false,
            base_sha: None,
            base_github_id: None,
            complete: false,
            reset: false,
        }));
    };
    let previous = previous_of(&mut tx, repo_id, &d.environment, first_success_at, &d.sha).await?;
    let base_sha = previous.as_ref().map(|(s, _)| s.clone());
    let reset = d.changes_base_sha != base_sha;
    if reset {
        sqlx::query(r#"DELETE FROM deployment_changes WHERE "deploymentId" = $1"#)
            .bind(&d.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            r#"UPDATE deployments SET "changesBaseSha" = $2, "changesCompletedAt" = NULL,
                      "isRollback" = false
               WHERE id = $1"#,
        )
        .bind(&d.id)
        .bind(&base_sha)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some(ChangesStart {
        deployment_id: d.id,
        sha: d.sha,
        environment: d.environment,
        eligible: true,
        complete: !reset && d.changes_completed_at.is_some(),
        reset: reset && d.changes_base_sha.is_some(),
        base_github_id: previous.map(|(_, g)| g),
        base_sha,
    }))
}

/// The previous successful production deployment (sha, GitHub id) of a deployment of `sha`
/// that first succeeded at `first_success_at` in `environment`: the latest before it with
/// another sha.
async fn previous_of(
    tx: &mut sqlx::PgConnection,
    repo_id: &str,
    environment: &str,
    first_success_at: Timestamp,
    sha: &str,
) -> std::result::Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT sha, "githubId" FROM deployments
           WHERE "repoId" = $1 AND environment = $2 AND "isProduction"
             AND "firstSuccessAt" < $3 AND sha <> $4
           ORDER BY "firstSuccessAt" DESC, "githubId" DESC LIMIT 1"#,
    )
    .bind(repo_id)
    .bind(environment)
    .bind(first_success_at)
    .bind(sha)
    .fetch_optional(tx)
    .await
}

async fn previous_sha(
    tx: &mut sqlx::PgConnection,
    repo_id: &str,
    environment: &str,
    first_success_at: Timestamp,
    sha: &str,
) -> std::result::Result<Option<String>, sqlx::Error> {
    Ok(previous_of(tx, repo_id, environment, first_success_at, sha)
        .await?
        .map(|(s, _)| s))
}

#[derive(Deserialize)]
struct CompareStatus<'a> {
    #[serde(borrow, default)]
    status: Option<&'a str>,
}

/// Writes one compare page of `base_sha...D.sha` (see the module doc).
pub async fn apply_page(
    db: &Connections,
    users: &UserDirectory,
    repo: &RepoInfo,
    deployment_github_id: i64,
    base_sha: &str,
    page: &[u8],
    now: Timestamp,
) -> Result<ChangesPage> {
    let mut scratch = page.to_vec();
    let status = payload::parse_as::<CompareStatus>(&mut scratch, page, |b| {
        payload::path_error::<CompareStatus>(b)
    })?
    .status
    .ok_or_else(|| ProcessingError::InvalidPayload("the comparison has no status".into()))?
    .to_owned();
    if !matches!(
        status.as_str(),
        "ahead" | "behind" | "diverged" | "identical"
    ) {
        return Err(ProcessingError::InvalidPayload(format!(
            "unknown comparison status {status:?}"
        )));
    }
    let commits = complete_push::apply(db, users, repo, page, now).await?;
    let mut tries = db.tries();
    let written = loop {
        let mut conn = tries.lease().await?;
        let result = write_changes(
            &mut conn,
            &repo.id,
            deployment_github_id,
            base_sha,
            &commits.shas,
        )
        .await;
        if let Some(v) = tries.finish(conn, result)? {
            break v;
        }
    };
    Ok(ChangesPage {
        status,
        changes: written.map_or(0, |n| n as u32),
        current: written.is_some(),
        commits,
    })
}

/// One statement: a row per commit with its time and pull request, upserted; `None` when
/// the deployment's base is no longer `base_sha` (or its changes are complete).
async fn write_changes(
    conn: &mut sqlx::PgConnection,
    repo_id: &str,
    deployment_github_id: i64,
    base_sha: &str,
    shas: &[String],
) -> std::result::Result<Option<u64>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    // The row lock orders this write after (or before) a `start` that changes the base.
    let current: Option<String> = sqlx::query_scalar(
        r#"SELECT id FROM deployments
           WHERE "repoId" = $1 AND "githubId" = $2 AND "changesBaseSha" = $3
             AND "changesCompletedAt" IS NULL
           FOR SHARE"#,
    )
    .bind(repo_id)
    .bind(deployment_github_id)
    .bind(base_sha)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(deployment_id) = current else {
        tx.commit().await?;
        return Ok(None);
    };
    // The pull request: the one whose merge commit this is, else the one whose head it is
    // (a merged one first), by GitHub id for a fixed choice.
    let written = sqlx::query(
        r#"INSERT INTO deployment_changes
               ("deploymentId", "commitSha", "repoId", "committedAt", "pullRequestId")
           SELECT $1, c.sha, c."repoId", c."committedAt", pr.id
           FROM commits c
           LEFT JOIN LATERAL (
               SELECT p.id FROM pull_requests p
               WHERE p."repoId" = c."repoId"
                 AND (p."mergeCommitSha" = c.sha OR p."headSha" = c.sha)
               ORDER BY (p."mergeCommitSha" IS NOT DISTINCT FROM c.sha) DESC,
                        (p.state = 'MERGED') DESC, p."githubId"
               LIMIT 1
           ) pr ON true
           WHERE c."repoId" = $2 AND c.sha = ANY($3::text[])
           ORDER BY c.sha
           ON CONFLICT ("deploymentId", "commitSha") DO UPDATE
             SET "committedAt" = EXCLUDED."committedAt", "pullRequestId" = EXCLUDED."pullRequestId"
             WHERE (deployment_changes."committedAt", deployment_changes."pullRequestId")
                   IS DISTINCT FROM (EXCLUDED."committedAt", EXCLUDED."pullRequestId")"#,
    )
    .bind(&deployment_id)
    .bind(repo_id)
    .bind(shas)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Some(written))
}

/// Marks the deployment's changes complete for `base_sha` (`rollback`: compare said
/// `behind`, and the deployment keeps no rows) and returns the later deployments whose
/// stored base is stale. Nothing is marked when the base changed meanwhile (`false`), nor
/// when the deployment's previous one is no longer `base_sha` (a late success landed while
/// the job paged): then the deployment itself is named stale, with the base to use.
pub async fn finish(
    db: &Connections,
    repo_id: &str,
    deployment_github_id: i64,
    base_sha: Option<&str>,
    rollback: bool,
    now: Timestamp,
) -> Result<(bool, Vec<StaleSuccessor>)> {
    let mut tries = db.tries();
    loop {
        let mut conn = tries.lease().await?;
        let result = finish_once(
            &mut conn,
            repo_id,
            deployment_github_id,
            base_sha,
            rollback,
            now,
        )
        .await;
        if let Some(v) = tries.finish(conn, result)? {
            return Ok(v);
        }
    }
}

async fn finish_once(
    conn: &mut sqlx::PgConnection,
    repo_id: &str,
    deployment_github_id: i64,
    base_sha: Option<&str>,
    rollback: bool,
    now: Timestamp,
) -> std::result::Result<(bool, Vec<StaleSuccessor>), sqlx::Error> {
    let mut tx = conn.begin().await?;
    let row: Option<DeploymentRow> = sqlx::query_as(
        r#"SELECT id, sha, environment, "isProduction", "firstSuccessAt", "changesBaseSha",
                  "changesCompletedAt"
           FROM deployments WHERE "repoId" = $1 AND "githubId" = $2 FOR UPDATE"#,
    )
    .bind(repo_id)
    .bind(deployment_github_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(d) = row.filter(|d| d.changes_base_sha.as_deref() == base_sha) else {
        tx.commit().await?;
        return Ok((false, Vec::new()));
    };
    // Finishes of one environment take turns, so a deployment whose success landed while this
    // job was paging is seen here (it is then this deployment's previous one), or its own
    // finish, after ours, sees this deployment complete with a stale base: either way the
    // run against the base that is no longer the previous one is compared again.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 7))")
        .bind(repo_id)
        .bind(&d.environment)
        .execute(&mut *tx)
        .await?;
    let Some(first_success_at) = d.first_success_at.filter(|_| d.is_production) else {
        tx.commit().await?;
        return Ok((false, Vec::new()));
    };
    let now_previous =
        previous_sha(&mut tx, repo_id, &d.environment, first_success_at, &d.sha).await?;
    if now_previous.as_deref() != base_sha {
        tx.commit().await?;
        return Ok((
            false,
            vec![StaleSuccessor {
                github_id: deployment_github_id,
                base_sha: now_previous,
            }],
        ));
    }
    let (id, environment) = (d.id, d.environment);
    // Already complete for this base (an earlier run finished, and its answer or the queueing
    // of its stale successors was lost): nothing to mark, the successors are named again
    // (their jobs' ids dedupe).
    let newly_marked = d.changes_completed_at.is_none();
    if newly_marked {
        sqlx::query(
            r#"UPDATE deployments SET "changesCompletedAt" = $2, "isRollback" = $3 WHERE id = $1"#,
        )
        .bind(&id)
        .bind(now)
        .bind(rollback)
        .execute(&mut *tx)
        .await?;
    }
    if rollback && newly_marked {
        sqlx::query(r#"DELETE FROM deployment_changes WHERE "deploymentId" = $1"#)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    }
    let stale: Vec<(i64, Option<String>)> = sqlx::query_as(
        r#"WITH later AS (
               SELECT n."githubId", n.sha, n."firstSuccessAt", n."changesBaseSha",
                      n."changesCompletedAt"
               FROM deployments n
               WHERE n."repoId" = $1 AND n.environment = $2 AND n."isProduction"
                 AND n."firstSuccessAt" > $3
               ORDER BY n."firstSuccessAt", n."githubId" LIMIT $4
           )
           SELECT later."githubId", prev.sha FROM later
           LEFT JOIN LATERAL (
               SELECT p.sha FROM deployments p
               WHERE p."repoId" = $1 AND p.environment = $2 AND p."isProduction"
                 AND p."firstSuccessAt" < later."firstSuccessAt" AND p.sha <> later.sha
               ORDER BY p."firstSuccessAt" DESC, p."githubId" DESC LIMIT 1
           ) prev ON true
           WHERE later."changesCompletedAt" IS NOT NULL
             AND later."changesBaseSha" IS DISTINCT FROM prev.sha
           ORDER BY later."firstSuccessAt", later."githubId""#,
    )
    .bind(repo_id)
    .bind(&environment)
    .bind(first_success_at)
    .bind(SUCCESSOR_WINDOW)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        true,
        stale
            .into_iter()
            .map(|(github_id, base_sha)| StaleSuccessor {
                github_id,
                base_sha,
            })
            .collect(),
    ))
}

/// GitHub ids of the repository's successful production deployments whose changes are not
/// complete (never computed, or interrupted), oldest first: what a backfill queues jobs for.
pub async fn lacking(db: &Connections, repo_id: &str) -> Result<Vec<i64>> {
    let mut tries = db.tries();
    loop {
        let mut conn = tries.lease().await?;
        let rows = sqlx::query_scalar(
            r#"SELECT "githubId" FROM deployments
               WHERE "repoId" = $1 AND "isProduction" AND "firstSuccessAt" IS NOT NULL
                 AND "changesCompletedAt" IS NULL
               ORDER BY "firstSuccessAt", "githubId""#,
        )
        .bind(repo_id)
        .fetch_all(&mut *conn)
        .await;
        if let Some(v) = tries.finish(conn, rows)? {
            return Ok(v);
        }
    }
}
