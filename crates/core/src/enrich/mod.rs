//! What webhooks leave out, filled in from GitHub's API (DESIGN.md, "GitHub's API").
//!
//! A push payload carries no line counts, and lists at most 2048 commits. The addon does
//! not talk to GitHub: `process` reports what a push leaves to do as [`FollowUp`]s (the
//! worker queues them on the `github` queue), the JavaScript `github` worker asks GitHub,
//! and hands the response text back here, where it is parsed (simd-json, typed) and
//! written with one statement per batch:
//!
//! - [`commit_stats`]: a GraphQL answer of `additions`/`deletions`/`changedFilesIfAvailable`
//!   per commit onto the existing rows, `statsFetchedAt` set; a commit GitHub cannot
//!   resolve is marked `statsMissing` and never asked for again.
//! - [`complete_push`]: a page of `compare before...after` into the same `commits` rows
//!   with the same author mapping as the webhook path (the push processor's plan and the
//!   commits store), idempotently.
//! - [`deployment_changes`]: what a successful production deployment shipped, from compare
//!   `previous...this` pages, into `deployment_changes` (commits the table lacks inserted as
//!   complete-push does), with the job's progress and the rollback mark on the deployment.

pub mod commit_stats;
pub mod complete_push;
pub mod deployment_changes;
pub mod follow_ups;

pub use commit_stats::CommitStatsOutcome;
pub use complete_push::CompletePushOutcome;
pub use deployment_changes::{ChangesPage, ChangesStart, StaleSuccessor};
pub use follow_ups::{FollowUp, FollowUpKind};

use crate::error::Result;
use crate::store::connections::Connections;

/// Of `shas`, those whose row in the repository still lacks counts (`statsFetchedAt` NULL),
/// sorted. A sha with no row is left out too: there is nothing to write its counts to.
pub async fn lacking_stats(
    db: &Connections,
    repo_id: &str,
    shas: &[String],
) -> Result<Vec<String>> {
    let mut conn = db.lease().await?;
    let rows = sqlx::query_scalar(
        r#"SELECT sha FROM commits
           WHERE "repoId" = $1 AND sha = ANY($2::text[]) AND "statsFetchedAt" IS NULL
           ORDER BY sha"#,
    )
    .bind(repo_id)
    .bind(shas)
    .fetch_all(&mut *conn)
    .await;
    conn.finish(rows)
}

/// The GitHub App installation stored on a repository's row (`repositories.installationId`),
/// whose token its API calls use; `None` when none is stored or the repository is unknown.
pub async fn repository_installation(db: &Connections, repo_id: &str) -> Result<Option<i64>> {
    let mut conn = db.lease().await?;
    let found: std::result::Result<Option<Option<i64>>, sqlx::Error> =
        sqlx::query_scalar(r#"SELECT "installationId" FROM repositories WHERE id = $1"#)
            .bind(repo_id)
            .fetch_optional(&mut *conn)
            .await;
    conn.finish(found.map(Option::flatten))
}

/// The coalescing window of metric job ids (see `metrics`).
pub(crate) fn epoch_minute(t: crate::time::Timestamp) -> i64 {
    t.and_utc().timestamp() / 60
}
