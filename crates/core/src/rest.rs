//! REST list pages through the webhooks' write paths: what a backfill reads from GitHub's
//! API ends in the same rows, by the same convergent upserts, as the deliveries that
//! described the same objects, so backfill and live deliveries may interleave in any order.
//!
//! Differences between the REST shapes and the webhook shapes, and how each is handled:
//! - pull requests: the list endpoint omits `merged` (MERGED follows `merged_at`, as for
//!   the slim form a review delivery embeds) and the line counts (`additions`, `deletions`,
//!   `changed_files`): absent, so the counts group is left as it is, never set to 0;
//! - reviews: the state is upper case (read case-insensitively); `PENDING` reviews (not
//!   submitted, never delivered by a webhook) are skipped; a review has no dismissal time,
//!   so a dismissed review leaves `dismissedAt` to a dismissal delivery;
//! - issues: the list includes pull requests (items with a `pull_request` key): skipped;
//! - commits: message and author under `commit`, the date is `commit.author.date`, the
//!   account's login is `author.login`; authors map by login, then email, as push commit
//!   authors do; the list carries no file lists, so `filesChanged` is 0 where the commit is
//!   new (a push delivered later does not change a stored commit, as between two pushes).
//!
//! A page writes no `events` row: there was no delivery, and `events` lists deliveries
//! only. It writes in one transaction (all of the page or none of it).

use crate::error::{ProcessingError, Result};
use crate::metrics::{derive_jobs, Activity, MetricJob};
use crate::payload::common::is_bot_login;
use crate::payload::rest::{self, RestCommit};
use crate::processors::issues::{IssuePlan, IssueProcessor};
use crate::processors::pull_request::{PlannedPullRequest, PullRequestPlan};
use crate::processors::push::{is_commit_sha, PlannedCommit, PushPlan};
use crate::processors::review::{PullRequestReviewProcessor, ReviewPlan};
use crate::processors::{MappedActivity, WriteContext};
use crate::repos::RepoInfo;
use crate::result::RecordCounts;
use crate::store::connections::Connections;
use crate::store::statement::EntityWrite;
use crate::store::writes;
use crate::text::strip_nul;
use crate::time;
use crate::users::{Identity, UserDirectory, UserMap};
use std::collections::BTreeSet;

/// Which list a page comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestKind {
    /// `GET /repos/{owner}/{repo}/pulls`
    Pulls,
    /// `GET /repos/{owner}/{repo}/pulls/{number}/reviews`, with the pull request.
    Reviews,
    /// `GET /repos/{owner}/{repo}/issues`
    Issues,
    /// `GET /repos/{owner}/{repo}/commits`
    Commits,
}

impl RestKind {
    /// The kind for its name (`pulls`, `reviews`, `issues`, `commits`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pulls" => Some(RestKind::Pulls),
            "reviews" => Some(RestKind::Reviews),
            "issues" => Some(RestKind::Issues),
            "commits" => Some(RestKind::Commits),
            _ => None,
        }
    }
}

/// One page to apply.
#[derive(Debug, Clone)]
pub struct RestPage {
    /// DevMetrics `repositories.id` the page belongs to.
    pub repo_id: String,
    pub kind: RestKind,
    /// The page's body: a JSON array.
    pub body: Vec<u8>,
    /// For [`RestKind::Reviews`]: the pull request the reviews belong to, as the pulls list
    /// (or `GET /pulls/{number}`) returned it.
    pub pull_request: Option<Vec<u8>>,
}

/// What applying a page did.
#[derive(Debug, Default)]
pub struct RestPageResult {
    /// Items the page listed.
    pub items: u32,
    /// Items left out: pull requests in the issues list, pending reviews.
    pub skipped: u32,
    /// Rows inserted or changed.
    pub records: RecordCounts,
    pub metric_jobs: Vec<MetricJob>,
    /// Logins (or emails without a login) that map to no user, sorted and unique.
    pub unmapped_users: Vec<String>,
}

/// The validated items of one page.
enum PagePlan<'a> {
    Pulls(Vec<PullRequestPlan<'a>>),
    Reviews(Vec<ReviewPlan<'a>>),
    Issues(Vec<IssuePlan<'a>>),
    Commits(PushPlan<'a>),
}

/// Applies one page: parse, plan, map users, write in one transaction.
pub async fn apply_page(
    db: &Connections,
    repo: &RepoInfo,
    users: &UserDirectory,
    page: RestPage,
) -> Result<RestPageResult> {
    let mut scratch = page.body.clone();
    let mut pr_scratch = page.pull_request.clone().unwrap_or_default();
    let (plan, items, skipped) = plan_page(
        page.kind,
        &mut scratch,
        &page.body,
        &mut pr_scratch,
        page.pull_request.as_ref(),
    )?;
    let identities = plan.identities();
    let mut mapped = users.resolve(&identities).await?;
    let received_at = time::now();
    let mut tries = 0;
    let records = loop {
        tries += 1;
        let ctx = WriteContext {
            repo,
            users: &mapped,
            received_at,
        };
        match writes::write_entities(db, || plan.writes(&ctx)).await {
            // A concurrent writer inserted the same entity first: the upserts converge.
            Err(e) if e.is_concurrent_insert() && tries < 3 => continue,
            // A cached user deleted since: map the page's people from the database again.
            Err(e) if e.is_stale_user() && tries < 3 => {
                mapped = users.refresh(&identities).await?;
            }
            other => break other?,
        }
    };
    let activity = plan.activities(&mapped);
    let now = time::now();
    Ok(RestPageResult {
        items,
        skipped,
        records,
        metric_jobs: derive_jobs(
            &activity.activities,
            repo.team_id.as_deref(),
            now.and_utc().timestamp() / 60,
        ),
        unmapped_users: activity.unmapped,
    })
}

/// Parses and validates a page: the plan, the number of items listed and skipped.
fn plan_page<'a>(
    kind: RestKind,
    scratch: &'a mut [u8],
    original: &'a Vec<u8>,
    pr_scratch: &'a mut [u8],
    pr_original: Option<&'a Vec<u8>>,
) -> Result<(PagePlan<'a>, u32, u32)> {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    match kind {
        RestKind::Pulls => {
            let items = rest::parse_pulls(scratch, original)?;
            let plans = items
                .iter()
                .enumerate()
                .map(|(i, pr)| {
                    Ok(PullRequestPlan {
                        pull_request: PlannedPullRequest::from_payload(&format!("[{i}]"), pr)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((PagePlan::Pulls(plans), count(items.len()), 0))
        }
        RestKind::Reviews => {
            let Some(pr_original) = pr_original else {
                return Err(ProcessingError::InvalidJob(
                    "a reviews page needs its pullRequest".into(),
                ));
            };
            let pull_request = rest::parse_pull_request(pr_scratch, pr_original)?;
            let items = rest::parse_reviews(scratch, original)?;
            let mut plans = Vec::with_capacity(items.len());
            for (i, review) in items.iter().enumerate() {
                if review.state.eq_ignore_ascii_case("pending") {
                    continue;
                }
                let mut plan = PullRequestReviewProcessor::plan_review(
                    &pull_request,
                    review,
                    &format!("[{i}]"),
                )?;
                plan.dismissal_received = false;
                plans.push(plan);
            }
            let skipped = items.len() - plans.len();
            Ok((PagePlan::Reviews(plans), count(items.len()), count(skipped)))
        }
        RestKind::Issues => {
            let items = rest::parse_issues(scratch, original)?;
            let total = items.len();
            let mut plans = Vec::with_capacity(total);
            for (i, item) in items.into_iter().enumerate() {
                if item.is_pull_request() {
                    continue;
                }
                let plan = IssueProcessor::plan_issue(&item.into_issue(), false);
                plans.push(plan.map_err(|e| at_item(i, e))?);
            }
            let skipped = total - plans.len();
            Ok((PagePlan::Issues(plans), count(total), count(skipped)))
        }
        RestKind::Commits => {
            let items = rest::parse_commits(scratch, original)?;
            let commits = items
                .iter()
                .enumerate()
                .map(|(i, c)| plan_commit(i, c))
                .collect::<Result<Vec<_>>>()?;
            Ok((
                PagePlan::Commits(PushPlan::from_commits(commits)),
                count(items.len()),
                0,
            ))
        }
    }
}

/// An item's validation error, naming the item (the issue planner names its fields
/// `issue.…`, as in a delivery).
fn at_item(i: usize, error: ProcessingError) -> ProcessingError {
    match error {
        ProcessingError::InvalidPayload(m) => {
            ProcessingError::InvalidPayload(format!("[{i}]: {m}"))
        }
        other => other,
    }
}

/// A REST commit as a push commit: login from the account, name, email and date from git's
/// author; no file lists in the list endpoint.
fn plan_commit<'a>(i: usize, c: &RestCommit<'a>) -> Result<PlannedCommit<'a>> {
    if !is_commit_sha(c.sha) {
        return Err(ProcessingError::InvalidPayload(format!(
            "[{i}].sha is not a commit SHA"
        )));
    }
    let git_author = c.commit.author.as_ref();
    let date = git_author.and_then(|a| a.date).ok_or_else(|| {
        ProcessingError::InvalidPayload(format!("[{i}].commit.author.date is missing"))
    })?;
    let committed_at = time::parse_github_time(date).ok_or_else(|| {
        ProcessingError::InvalidPayload(format!("[{i}].commit.author.date is not an RFC 3339 time"))
    })?;
    let login = c
        .author
        .as_ref()
        .map(|a| a.login)
        .filter(|l| !l.is_empty())
        .map(strip_nul);
    let email = strip_nul(git_author.and_then(|a| a.email).unwrap_or(""));
    let account_is_bot = c.author.as_ref().is_some_and(|a| a.is_bot());
    Ok(PlannedCommit {
        sha: c.sha,
        message: strip_nul(c.commit.message),
        is_bot: account_is_bot
            || login.as_deref().is_some_and(is_bot_login)
            || email.contains("[bot]@"),
        login,
        name: strip_nul(git_author.and_then(|a| a.name).unwrap_or("")),
        email,
        files_changed: 0,
        committed_at,
    })
}

impl PagePlan<'_> {
    fn identities(&self) -> Vec<Identity> {
        let set: BTreeSet<Identity> = match self {
            PagePlan::Pulls(p) => p.iter().flat_map(|p| p.identities()).collect(),
            PagePlan::Reviews(p) => p.iter().flat_map(|p| p.identities()).collect(),
            PagePlan::Issues(p) => p.iter().flat_map(|p| p.identities()).collect(),
            PagePlan::Commits(p) => p.identities().into_iter().collect(),
        };
        set.into_iter().collect()
    }

    fn writes<'s>(&'s self, ctx: &'s WriteContext<'_>) -> Vec<EntityWrite<'s>> {
        match self {
            PagePlan::Pulls(p) => p.iter().flat_map(|p| p.writes(ctx)).collect(),
            PagePlan::Reviews(p) => p.iter().flat_map(|p| p.writes(ctx)).collect(),
            PagePlan::Issues(p) => p.iter().flat_map(|p| p.writes(ctx)).collect(),
            PagePlan::Commits(p) => p.writes(ctx.repo, ctx.users),
        }
    }

    fn activities(&self, users: &UserMap) -> MappedActivity {
        let each: Vec<MappedActivity> = match self {
            PagePlan::Pulls(p) => p.iter().map(|p| p.activities(users)).collect(),
            PagePlan::Reviews(p) => p.iter().map(|p| p.activities(users)).collect(),
            PagePlan::Issues(p) => p.iter().map(|p| p.activities(users)).collect(),
            PagePlan::Commits(p) => vec![p.activities(users)],
        };
        let mut activities: Vec<Activity> = Vec::new();
        let mut unmapped = BTreeSet::new();
        for a in each {
            activities.extend(a.activities);
            unmapped.extend(a.unmapped);
        }
        MappedActivity {
            activities,
            unmapped: unmapped.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(kind: RestKind, body: &str, pr: Option<&str>) -> Result<(u32, u32, Vec<String>)> {
        let original = body.as_bytes().to_vec();
        let mut scratch = original.clone();
        let pr_original = pr.map(|p| p.as_bytes().to_vec());
        let mut pr_scratch = pr_original.clone().unwrap_or_default();
        let (plan, items, skipped) = plan_page(
            kind,
            &mut scratch,
            &original,
            &mut pr_scratch,
            pr_original.as_ref(),
        )?;
        let described = match &plan {
            PagePlan::Pulls(p) => p
                .iter()
                .map(|p| format!("{:?} {:?}", p.pull_request.state, p.pull_request.counts))
                .collect(),
            PagePlan::Reviews(p) => p
                .iter()
                .map(|p| format!("{:?} {}", p.review.state, p.dismissal_received))
                .collect(),
            PagePlan::Issues(p) => p.iter().map(|i| format!("#{}", i.number)).collect(),
            PagePlan::Commits(p) => p
                .commits
                .iter()
                .map(|c| {
                    format!(
                        "{} {:?} {} {} {}",
                        &c.sha[..4],
                        c.login,
                        c.email,
                        c.files_changed,
                        c.committed_at
                    )
                })
                .collect(),
        };
        Ok((items, skipped, described))
    }

    const PR: &str = r#"{"id":900,"number":7,"title":"T","state":"closed","draft":false,
        "user":{"id":5,"login":"mona","type":"User"},
        "created_at":"2024-01-01T10:00:00Z","updated_at":"2024-01-02T10:00:00Z",
        "closed_at":"2024-01-02T10:00:00Z","merged_at":"2024-01-02T10:00:00Z",
        "head":{"ref":"fix"},"base":{"ref":"main"}}"#;

    #[test]
    fn a_pulls_page_has_no_line_counts_and_merged_follows_merged_at() {
        let (items, skipped, plans) = plan(RestKind::Pulls, &format!("[{PR}]"), None).unwrap();
        assert_eq!((items, skipped), (1, 0));
        assert_eq!(plans, ["Merged None"]);
    }

    #[test]
    fn reviews_are_read_in_upper_case_pending_ones_skipped_dismissals_not_stamped() {
        let page = r#"[{"id":1,"user":{"id":6,"login":"hubot"},"state":"APPROVED","submitted_at":"2024-01-01T11:00:00Z"},
                       {"id":2,"user":{"id":6,"login":"hubot"},"state":"PENDING"},
                       {"id":3,"user":null,"state":"DISMISSED","submitted_at":"2024-01-01T12:00:00Z"}]"#;
        let (items, skipped, plans) = plan(RestKind::Reviews, page, Some(PR)).unwrap();
        assert_eq!((items, skipped), (3, 1));
        assert_eq!(plans, ["Approved false", "Dismissed false"]);
        let err = plan(RestKind::Reviews, page, None).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidJob);
    }

    #[test]
    fn the_issues_list_leaves_its_pull_requests_out() {
        let page = r#"[{"id":1,"number":3,"title":"Bug","state":"open","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"},
                       {"id":2,"number":4,"title":"PR","state":"open","pull_request":{"url":"x"},"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"}]"#;
        let (items, skipped, plans) = plan(RestKind::Issues, page, None).unwrap();
        assert_eq!((items, skipped), (2, 1));
        assert_eq!(plans, ["#3"]);
    }

    #[test]
    fn rest_commits_map_like_push_commits() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let page = format!(
            r#"[{{"sha":"{sha}","commit":{{"message":"m","author":{{"name":"Mona","email":"mona@x.example","date":"2024-01-01T10:00:00Z"}}}},
                 "author":{{"id":5,"login":"mona","type":"User"}}}}]"#
        );
        let (items, _, plans) = plan(RestKind::Commits, &page, None).unwrap();
        assert_eq!(items, 1);
        assert_eq!(
            plans,
            ["0123 Some(\"mona\") mona@x.example 0 2024-01-01 10:00:00"]
        );
    }

    #[test]
    fn a_page_that_is_not_its_list_is_invalid_and_names_the_item() {
        let err = plan(RestKind::Pulls, r#"[{"id":1}]"#, None).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidPayload);
        assert!(err.to_string().contains("[0]"), "{err}");
        let err = plan(
            RestKind::Commits,
            r#"[{"sha":"nope","commit":{"message":"m"}}]"#,
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid payload: [0].sha is not a commit SHA"
        );
        assert!(plan(RestKind::Issues, "{}", None).is_err());
    }
}
