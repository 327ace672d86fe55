//! napi surface of the GitHub API enrichment (`webhook_core::enrich`): the follow-ups a
//! delivery leaves, and the methods the `github` worker hands GitHub's answers to.

use crate::{error, MetricJob, NativeProcessor};
use napi_derive::napi;
use webhook_core as core;

/// API work a delivery leaves for the `github` queue; queue it with `jobId` as Bull's jobId.
#[napi(object)]
pub struct FollowUp {
    /// `commitStats` (fetch line counts of `shas`), `completePush` (insert what
    /// `before...after` holds that the table lacks) or `deploymentChanges` (record what the
    /// production deployment `deploymentId` shipped) or `backfill` (fetch the history of a
    /// repository auto-registration has just registered; queued only with `autoBackfill`).
    #[napi(ts_type = "'commitStats' | 'completePush' | 'deploymentChanges' | 'backfill'")]
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
    /// deploymentChanges: the deployment's GitHub id, as decimal text.
    pub deployment_id: Option<String>,
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
            deployment_id: f.deployment_id,
        })
        .collect()
}

/// Where the `deploymentChanges` job starts (`deploymentChangesStart`).
#[napi(object)]
pub struct DeploymentChangesStart {
    /// DevMetrics id of the deployment.
    pub deployment_id: String,
    /// The deployed commit.
    pub sha: String,
    pub environment: String,
    /// False when the deployment is not a successful production deployment: nothing to do.
    pub eligible: bool,
    /// The previous successful production deployment's sha (the compare base); null when
    /// none came before.
    pub base_sha: Option<String>,
    /// Its GitHub id.
    pub base_github_id: Option<i64>,
    /// The stored changes are complete for this base: nothing to ask.
    pub complete: bool,
    /// Rows computed against another base were deleted now (a deployment arrived late).
    pub reset: bool,
}

/// What `applyDeploymentChanges` wrote for one compare page.
#[napi(object)]
pub struct DeploymentChangesPage {
    /// Compare's `status`: `ahead`, `behind` (a rollback), `diverged` or `identical`.
    pub status: String,
    /// `deployment_changes` rows inserted or corrected.
    pub changes: u32,
    /// False when another run changed the deployment's base meanwhile: nothing written.
    pub current: bool,
    /// Commits the table lacked, now inserted.
    pub inserted: u32,
    /// Metric jobs of the inserted commits' authors and dates.
    pub metric_jobs: Vec<MetricJob>,
    /// The page's commits whose line counts are still unknown: the commitStats work to queue.
    pub shas_needing_stats: Vec<String>,
}

/// A later deployment whose changes must be computed again (`finishDeploymentChanges`).
#[napi(object)]
pub struct StaleDeployment {
    /// Its GitHub id.
    pub github_id: i64,
    /// The compare base it must use now; null when it has no previous deployment.
    pub base_sha: Option<String>,
}

/// What `finishDeploymentChanges` did.
#[napi(object)]
pub struct DeploymentChangesFinish {
    /// False when the deployment's base changed meanwhile (another run owns it), or its
    /// previous deployment did while it ran (`stale` then names it with the base to use).
    pub marked: bool,
    /// Deployments of the environment whose stored base is now stale (see
    /// `finishDeploymentChanges`).
    pub stale: Vec<StaleDeployment>,
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

    /// The deploymentChanges job's start for a deployment (by GitHub id); null when the
    /// repository has no such deployment.
    #[napi]
    pub async fn deployment_changes_start(
        &self,
        repo_id: String,
        deployment_github_id: i64,
    ) -> napi::Result<Option<DeploymentChangesStart>> {
        let s = error::guarded(
            self.inner
                .deployment_changes_start(&repo_id, deployment_github_id),
        )
        .await?;
        Ok(s.map(|s| DeploymentChangesStart {
            deployment_id: s.deployment_id,
            sha: s.sha,
            environment: s.environment,
            eligible: s.eligible,
            base_sha: s.base_sha,
            base_github_id: s.base_github_id,
            complete: s.complete,
            reset: s.reset,
        }))
    }

    /// Writes one compare page (`baseSha...deployment`) of a deployment's changes.
    #[napi]
    pub async fn apply_deployment_changes(
        &self,
        repo_id: String,
        deployment_github_id: i64,
        base_sha: String,
        page: String,
    ) -> napi::Result<DeploymentChangesPage> {
        let p = error::guarded(self.inner.apply_deployment_changes(
            &repo_id,
            deployment_github_id,
            &base_sha,
            page.as_bytes(),
        ))
        .await?;
        Ok(DeploymentChangesPage {
            status: p.status,
            changes: p.changes,
            current: p.current,
            inserted: p.commits.inserted,
            metric_jobs: crate::convert::metric_jobs(p.commits.metric_jobs),
            shas_needing_stats: p.commits.shas_needing_stats,
        })
    }

    /// Marks a deployment's changes complete for `baseSha` and names the deployments whose
    /// base is now stale (the later ones, and this one when a predecessor stored while its
    /// job ran has become its previous deployment).
    #[napi]
    pub async fn finish_deployment_changes(
        &self,
        repo_id: String,
        deployment_github_id: i64,
        base_sha: Option<String>,
        rollback: bool,
    ) -> napi::Result<DeploymentChangesFinish> {
        let (marked, stale) = error::guarded(self.inner.finish_deployment_changes(
            &repo_id,
            deployment_github_id,
            base_sha.as_deref(),
            rollback,
        ))
        .await?;
        Ok(DeploymentChangesFinish {
            marked,
            stale: stale
                .into_iter()
                .map(|s| StaleDeployment {
                    github_id: s.github_id,
                    base_sha: s.base_sha,
                })
                .collect(),
        })
    }

    /// GitHub ids of the repository's successful production deployments whose changes are
    /// not complete, oldest first.
    #[napi]
    pub async fn deployments_lacking_changes(&self, repo_id: String) -> napi::Result<Vec<i64>> {
        error::guarded(self.inner.deployments_lacking_changes(&repo_id)).await
    }

    /// The GitHub App installation id stored on the repository's row; null when none is
    /// stored or the repository is unknown.
    #[napi]
    pub async fn repository_installation(&self, repo_id: String) -> napi::Result<Option<i64>> {
        error::guarded(self.inner.repository_installation(&repo_id)).await
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
