//! Follow-ups: API work a processed push leaves, for the worker to queue on the `github`
//! queue. Each carries a job id derived from what it is about, so a redelivery of the same
//! push (same `X-GitHub-Delivery`), or its `duplicate` answer re-deriving them, queues no
//! second job while the first is kept (Bull drops an add whose job id exists).

use crate::payload::{DeploymentStatusEvent, PushEvent};
use crate::processors::push::is_commit_sha;
use crate::repos::RepoInfo;
use std::collections::BTreeSet;

/// GitHub lists at most this many commits in a push payload; a push that lists exactly as
/// many may have more.
pub const PUSH_COMMIT_LIMIT: usize = 2048;

/// What a follow-up asks the `github` worker to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpKind {
    /// Fetch the line counts of `shas` (GraphQL, up to 100 a request).
    CommitStats,
    /// Insert the commits of `before...after` that the table lacks (compare API).
    CompletePush,
    /// Record what a successful production deployment shipped (compare API against the
    /// previous one): `deployment_id`.
    DeploymentChanges,
    /// Fetch the history of a repository auto-registration has just registered (the worker
    /// queues it only when the backend asks for backfills: `autoBackfill`).
    Backfill,
}

impl FollowUpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpKind::CommitStats => "commitStats",
            FollowUpKind::CompletePush => "completePush",
            FollowUpKind::DeploymentChanges => "deploymentChanges",
            FollowUpKind::Backfill => "backfill",
        }
    }
}

/// One job for the `github` queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub kind: FollowUpKind,
    /// Bull job id: `commitStats:<repoId>:<deliveryId>`,
    /// `completePush:<repoId>:<before>:<after>` or
    /// `deploymentChanges:<repoId>:<deployment GitHub id>` or `backfill:<repoId>:registered`.
    pub job_id: String,
    pub repo_id: String,
    /// `owner/name`, as the payload names the repository.
    pub repository: String,
    /// The commits the push listed, sorted, unique: CommitStats fetches their counts;
    /// CompletePush fetches them only if GitHub no longer has the range.
    pub shas: Vec<String>,
    /// CompletePush: the range's ends.
    pub before: Option<String>,
    pub after: Option<String>,
    /// CompletePush: the payload's `forced` (None when it lacks it). `Some(false)` says
    /// `before` is an ancestor of `after`, so the job can size the range from the two
    /// commits' history counts instead of asking compare; not part of the job id.
    pub forced: Option<bool>,
    /// DeploymentChanges: the deployment's GitHub id (decimal text); None otherwise.
    pub deployment_id: Option<String>,
}

/// The follow-up of a repository auto-registration has just registered: fetch its history.
/// One job id per repository row, so a redelivery of the registering delivery (which
/// registers nothing new) or a second registering delivery queues no second backfill.
pub fn of_registered(repo_id: &str, full_name: &str) -> FollowUp {
    FollowUp {
        kind: FollowUpKind::Backfill,
        job_id: format!("backfill:{repo_id}:registered"),
        repo_id: repo_id.to_owned(),
        repository: full_name.to_owned(),
        shas: Vec::new(),
        before: None,
        after: None,
        forced: None,
        deployment_id: None,
    }
}

/// The follow-up of a production deployment that has succeeded: record what it shipped.
/// One job id per deployment, so every later status of it, a redelivery or a reprocess
/// queues nothing new while the first is kept.
pub fn of_deployment(repo: &RepoInfo, repository: &str, deployment_github_id: i64) -> FollowUp {
    FollowUp {
        kind: FollowUpKind::DeploymentChanges,
        job_id: format!("deploymentChanges:{}:{deployment_github_id}", repo.id),
        repo_id: repo.id.clone(),
        repository: repository.to_owned(),
        shas: Vec::new(),
        before: None,
        after: None,
        forced: None,
        deployment_id: Some(deployment_github_id.to_string()),
    }
}

/// The follow-up of a `deployment_status` delivery: a `success` status of a deployment that
/// may be production records what it shipped. Whether it is production is decided when the
/// job runs, from the stored row (GitHub's flag, else the `productionEnvironments` pattern,
/// which only the database applies); a deployment GitHub flags as not production is left
/// out here already. The job id is per deployment, so its later statuses, a redelivery or a
/// `duplicate` re-deriving the follow-up queue no second job.
pub fn of_deployment_status(event: &DeploymentStatusEvent<'_>, repo: &RepoInfo) -> Vec<FollowUp> {
    let Some(repository) = event.repository.full_name.filter(|n| n.contains('/')) else {
        return Vec::new();
    };
    if !event
        .deployment_status
        .state
        .eq_ignore_ascii_case("success")
        || event.deployment.production_environment == Some(false)
    {
        return Vec::new();
    }
    vec![of_deployment(repo, repository, event.deployment.id)]
}

/// The follow-up of a push: counts for the commits it lists, or, for a truncated push, the
/// completion of its range (whose job then asks for the counts of the whole range). None for a push without commits (tag pushes, branch deletes) or whose
/// payload names no `repository.full_name` (nothing to ask GitHub about). A truncated push
/// with an all-zero `before` (a new branch) has no range: the listed commits stand.
pub fn of_push<'a>(event: &PushEvent<'a>, repo: &RepoInfo, delivery_id: &str) -> Vec<FollowUp> {
    let Some(repository) = event.repository.full_name.filter(|n| n.contains('/')) else {
        return Vec::new();
    };
    let shas: BTreeSet<&str> = event
        .commits
        .iter()
        .map(|c| c.id)
        .filter(|s| is_commit_sha(s))
        .collect();
    if shas.is_empty() {
        return Vec::new();
    }
    let shas: Vec<String> = shas.into_iter().map(str::to_owned).collect();
    let real = |s: Option<&'a str>| s.filter(|s| is_commit_sha(s) && s.bytes().any(|b| b != b'0'));
    if event.commits.len() >= PUSH_COMMIT_LIMIT {
        if let (Some(before), Some(after)) = (real(event.before), real(event.after)) {
            // The range holds the listed commits too: its job fetches all their counts
            // afterwards (or the listed ones', should GitHub no longer have the range), so
            // no second job asks for the same commits.
            return vec![FollowUp {
                kind: FollowUpKind::CompletePush,
                job_id: format!("completePush:{}:{before}:{after}", repo.id),
                repo_id: repo.id.clone(),
                repository: repository.to_owned(),
                shas,
                before: Some(before.to_owned()),
                after: Some(after.to_owned()),
                forced: event.forced,
                deployment_id: None,
            }];
        }
    }
    vec![FollowUp {
        kind: FollowUpKind::CommitStats,
        job_id: format!("commitStats:{}:{delivery_id}", repo.id),
        repo_id: repo.id.clone(),
        repository: repository.to_owned(),
        shas,
        before: None,
        after: None,
        forced: None,
        deployment_id: None,
    }]
}
