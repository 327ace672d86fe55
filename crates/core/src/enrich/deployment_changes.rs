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
//!   whose own base is now stale (D arrived after them), and D itself when a predecessor
//!   stored while D's job ran has become D's previous deployment: their jobs run again.

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
    let previous: Option<(String, i64)> = sqlx::query_as(
        r#"SELECT sha, "githubId" FROM deployments
           WHERE "repoId" = $1 AND environment = $2 AND "isProduction"
             AND "firstSuccessAt" < $3 AND sha <> $4
           ORDER BY "firstSuccessAt" DESC, "githubId" DESC LIMIT 1"#,
    )
    .bind(repo_id)
    .bind(&d.environment)
    .bind(first_success_at)
    .bind(&d.sha)
    .fetch_optional(&mut *tx)
    .await?;
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
/// `behind`, and the deployment keeps no rows) and returns the deployments whose stored base
/// is stale: the later ones, and this one when a predecessor stored while its job ran has
/// changed its previous deployment. Nothing is marked when the base changed meanwhile
/// (`false`).
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
    let marked: Option<(String, String, Option<Timestamp>)> = sqlx::query_as(
        r#"UPDATE deployments SET "changesCompletedAt" = $4, "isRollback" = $5
           WHERE "repoId" = $1 AND "githubId" = $2
             AND "changesBaseSha" IS NOT DISTINCT FROM $3 AND "changesCompletedAt" IS NULL
           RETURNING id, environment, "firstSuccessAt""#,
    )
    .bind(repo_id)
    .bind(deployment_github_id)
    .bind(base_sha)
    .bind(now)
    .bind(rollback)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, environment, first_success_at)) = marked else {
        tx.commit().await?;
        return Ok((false, Vec::new()));
    };
    if rollback {
        sqlx::query(r#"DELETE FROM deployment_changes WHERE "deploymentId" = $1"#)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    }
    // The later deployments, and this one: a deployment stored while this job compared
    // (its predecessor, arrived late) may have finished its own job before this one was
    // complete, so no one else names this deployment stale.
    let stale: Vec<(i64, Option<String>)> = sqlx::query_as(
        r#"WITH later AS (
               (SELECT n."githubId", n.sha, n."firstSuccessAt", n."changesBaseSha",
                       n."changesCompletedAt"
                FROM deployments n
                WHERE n."repoId" = $1 AND n.environment = $2 AND n."isProduction"
                  AND n."firstSuccessAt" > $3
                ORDER BY n."firstSuccessAt", n."githubId" LIMIT $4)
               UNION ALL
               SELECT d."githubId", d.sha, d."firstSuccessAt", d."changesBaseSha",
                      d."changesCompletedAt"
               FROM deployments d WHERE d.id = $5
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
    .bind(&id)
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
