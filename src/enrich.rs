//! napi surface of the GitHub API enrichment (`webhook_core::enrich`): the follow-ups a
//! delivery leaves, and the methods the `github` worker hands GitHub's answers to.

use crate::{error, MetricJob, NativeProcessor};
use napi_derive::napi;
use webhook_core as core;

/// API work a delivery leaves for the `github` queue; queue it with `jobId` as Bull's jobId.
#[napi(object)]
pub struct FollowUp {
    /// `commitStats` (fetch line counts of `shas`) or `completePush` (insert what
    /// `before...after` holds that the table lacks).
    #[napi(ts_type = "'commitStats' | 'completePush'")]
    pub kind: String,
    /// Stable Bull jobId: a redelivery of the same push adds no second job.
    pub job_id: String,
    /// DevMetrics repository id.
    pub repo_id: String,
    /// `owner/name`.
    pub repository: String,
    /// The commits the push listed, sorted and unique (completePush: fetched only if
    /// GitHub no longer has the range; the range's counts follow its completion).
    pub shas: Vec<String>,
    /// completePush: the range's ends.
    pub before: Option<String>,
    pub after: Option<String>,
    /// completePush: the push payload's `forced` (null for commitStats, or a payload
    /// without it). `false`: `before` is an ancestor of `after`, and the job sizes the range
    /// from the two commits' history counts in its first GraphQL request instead of compare.
    pub forced: Option<bool>,
}

/// What `applyCommitStats` wrote.
#[napi(object)]
pub struct CommitStatsResult {
    /// Commits whose counts were written (`statsFetchedAt` set).
    pub updated: u32,
    /// Commits GitHub could not resolve, marked `statsMissing`; never asked for again.
    pub missing: u32,
    /// Answers for commits the repository has no row for, or `null` for a commit whose counts
    /// were fetched before (kept): nothing written for them.
    pub unknown: u32,
    /// Metric jobs of the updated commits' authors and dates, for the metrics queue.
    pub metric_jobs: Vec<MetricJob>,
}

/// What `completePush` wrote for one compare page.
#[napi(object)]
pub struct CompletePushResult {
    /// Commits the table lacked, now inserted.
    pub inserted: u32,
    /// Metric jobs of the page's commits' authors and dates.
    pub metric_jobs: Vec<MetricJob>,
    /// The page's commits whose counts are still unknown: the commitStats work to queue.
    pub shas_needing_stats: Vec<String>,
    /// Commit authors not linked to a user.
    pub unmapped_users: Vec<String>,
}

pub fn follow_ups(f: Vec<core::FollowUp>) -> Vec<FollowUp> {
    f.into_iter()
        .map(|f| FollowUp {
            kind: f.kind.as_str().to_owned(),
            job_id: f.job_id,
            repo_id: f.repo_id,
            repository: f.repository,
            shas: f.shas,
            before: f.before,
            after: f.after,
            forced: f.forced,
        })
        .collect()
}

#[napi]
impl NativeProcessor {
    /// Writes GitHub's GraphQL answer of commit line counts (aliases `c<sha>`) for a
    /// repository in one statement; `INVALID_PAYLOAD` for an answer it cannot trust, and
    /// then nothing is written.
    #[napi]
    pub async fn apply_commit_stats(
        &self,
        repo_id: String,
        response: String,
    ) -> napi::Result<CommitStatsResult> {
        let o =
            error::guarded(self.inner.apply_commit_stats(&repo_id, response.as_bytes())).await?;
        Ok(CommitStatsResult {
            updated: o.updated,
            missing: o.missing,
            unknown: o.unknown,
            metric_jobs: crate::convert::metric_jobs(o.metric_jobs),
        })
    }

    /// Inserts the commits of one compare page (the comparison object or its `commits`
    /// array) that the repository lacks, mapped like a push's.
    #[napi]
    pub async fn complete_push(
        &self,
        repo_id: String,
        page: String,
    ) -> napi::Result<CompletePushResult> {
        let o = error::guarded(self.inner.complete_push(&repo_id, page.as_bytes())).await?;
        Ok(CompletePushResult {
            inserted: o.inserted,
            metric_jobs: crate::convert::metric_jobs(o.metric_jobs),
            shas_needing_stats: o.shas_needing_stats,
            unmapped_users: o.unmapped_users,
        })
    }

    /// Of `shas`, those of the repository whose counts are still unknown, sorted.
    #[napi]
    pub async fn commits_lacking_stats(
        &self,
        repo_id: String,
        shas: Vec<String>,
    ) -> napi::Result<Vec<String>> {
        error::guarded(self.inner.commits_lacking_stats(&repo_id, &shas)).await
    }
}
