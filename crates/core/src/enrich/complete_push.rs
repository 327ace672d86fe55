//! A truncated push completed from GitHub's compare API.
//!
//! A push payload lists at most 2048 commits; the rest of `before...after` come from
//! `GET /repos/{owner}/{repo}/compare/{before}...{after}`, paginated. Each page (the
//! comparison object, or its `commits` array) goes through the push path itself: its
//! commits become a push plan (`PushProcessor::plan`: the same validation, NUL stripping,
//! bot flags and login-then-email author mapping) and are inserted by the same statement
//! (`store::commits::insert`, `ON CONFLICT ("repoId", sha) DO NOTHING`), so whichever 2048
//! commits the payload listed, the range ends with one row per commit, and a page applied
//! twice inserts nothing. Compare lists no per-commit files, so these rows get
//! `filesChanged` 0 until their counts arrive (`commit_stats`).

use super::{epoch_minute, lacking_stats};
use crate::error::{ProcessingError, Result};
use crate::metrics::{derive_jobs, MetricJob};
use crate::payload::push::{CommitAuthor, FileCount};
use crate::payload::{self, PushCommit, PushEvent, RepositoryRef};
use crate::processors::PushProcessor;
use crate::repos::RepoInfo;
use crate::store::connections::Connections;
use crate::store::writes;
use crate::time::Timestamp;
use crate::users::UserDirectory;
use serde::Deserialize;

/// What one page changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompletePushOutcome {
    /// Commits of the page the table lacked, now inserted.
    pub inserted: u32,
    /// Developer and team metric jobs of the page's commits' authors and dates.
    pub metric_jobs: Vec<MetricJob>,
    /// The page's commits whose counts are still unknown (new or not), sorted: the
    /// `commitStats` work that follows. A retried page reports them again.
    pub shas_needing_stats: Vec<String>,
    /// Unmapped authors (logins, or emails without one), as `process` reports them.
    pub unmapped_users: Vec<String>,
    /// Every commit of the page (inserted now or before), sorted and unique.
    pub shas: Vec<String>,
}

#[derive(Deserialize)]
struct Comparison<'a> {
    #[serde(borrow)]
    commits: Vec<CompareCommit<'a>>,
}

/// An item of compare's `commits` (`components["schemas"]["commit"]`).
#[derive(Deserialize)]
struct CompareCommit<'a> {
    sha: &'a str,
    #[serde(borrow)]
    commit: GitCommit<'a>,
    /// The GitHub account GitHub matched to the author email, if any.
    #[serde(borrow, default)]
    author: Option<Account<'a>>,
}

#[derive(Deserialize)]
struct GitCommit<'a> {
    message: &'a str,
    #[serde(borrow, default)]
    author: Option<GitActor<'a>>,
    #[serde(borrow, default)]
    committer: Option<GitActor<'a>>,
}

#[derive(Deserialize)]
struct GitActor<'a> {
    #[serde(borrow, default)]
    name: Option<&'a str>,
    #[serde(borrow, default)]
    email: Option<&'a str>,
    #[serde(borrow, default)]
    date: Option<&'a str>,
}

#[derive(Deserialize)]
struct Account<'a> {
    login: &'a str,
}

/// A compare page as push commits: the author as a push payload names it (name, email,
/// the account's login as `username`), the author date as `timestamp`.
fn as_push_commits<'a>(page: Vec<CompareCommit<'a>>) -> Result<Vec<PushCommit<'a>>> {
    page.into_iter()
        .enumerate()
        .map(|(i, c)| {
            let git_author = c.commit.author.as_ref();
            let timestamp = git_author
                .and_then(|a| a.date)
                .or_else(|| c.commit.committer.as_ref().and_then(|a| a.date))
                .ok_or_else(|| {
                    ProcessingError::InvalidPayload(format!(
                        "commits[{i}].commit has no author or committer date"
                    ))
                })?;
            Ok(PushCommit {
                id: c.sha,
                message: c.commit.message,
                timestamp,
                author: CommitAuthor {
                    name: git_author.and_then(|a| a.name).unwrap_or(""),
                    email: git_author.and_then(|a| a.email),
                    username: c.author.map(|a| a.login),
                },
                added: FileCount(0),
                removed: FileCount(0),
                modified: FileCount(0),
            })
        })
        .collect()
}

/// Inserts the commits of one compare page that the repository lacks (see the module doc).
pub async fn apply(
    db: &Connections,
    users: &UserDirectory,
    repo: &RepoInfo,
    page: &[u8],
    now: Timestamp,
) -> Result<CompletePushOutcome> {
    let mut scratch = page.to_vec();
    let is_array = page.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let listed: Vec<CompareCommit> = if is_array {
        payload::parse_as(&mut scratch, page, |b| {
            payload::path_error::<Vec<CompareCommit>>(b)
        })?
    } else {
        payload::parse_as::<Comparison>(&mut scratch, page, |b| {
            payload::path_error::<Comparison>(b)
        })?
        .commits
    };
    let event = PushEvent {
        git_ref: "",
        deleted: false,
        before: None,
        after: None,
        forced: None,
        commits: as_push_commits(listed)?,
        repository: RepositoryRef {
            id: repo.github_id,
            full_name: None,
        },
        sender: None,
    };
    let plan = PushProcessor::plan(&event)?;
    let identities = plan.identities();
    let mut mapped = users.resolve(&identities).await?;
    let mut tries = 0;
    let records = loop {
        tries += 1;
        match writes::write_entities(db, || plan.writes(repo, &mapped)).await {
            // A cached user deleted since: map the commits' authors from the database again.
            Err(e) if e.is_stale_user() && tries < 3 => {
                mapped = users.refresh(&identities).await?;
            }
            other => break other?,
        }
    };
    let activity = plan.activities(&mapped);
    let shas: Vec<String> = plan.commits.iter().map(|c| c.sha.to_owned()).collect();
    Ok(CompletePushOutcome {
        inserted: records.commits,
        metric_jobs: derive_jobs(
            &activity.activities,
            repo.team_id.as_deref(),
            epoch_minute(now),
        ),
        shas_needing_stats: lacking_stats(db, &repo.id, &shas).await?,
        unmapped_users: activity.unmapped,
        shas,
    })
}
