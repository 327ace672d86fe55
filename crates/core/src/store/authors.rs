//! Author and reviewer columns across the entity tables: the back-fill a link runs, and the
//! barrier that makes it safe while other workers keep writing.
//!
//! Every event that may write an unmapped row takes [`LINK_BARRIER_LOCK`] in shared mode
//! when its transaction begins (see `store::writes`); a link's back-fill takes it
//! exclusively, so it starts only after every such event transaction that began before the
//! link committed has committed, and sees their rows. Event statements that run after the
//! link see the new `users` row through the exact-match fallback in their author columns
//! (see `commits::insert`), so no row can be written unmapped after its back-fill. Events
//! whose people all mapped write no unmapped row and skip the barrier.

use crate::error::Result;
use crate::result::RecordCounts;
use crate::time::Timestamp;
use sqlx::PgConnection;

/// Advisory lock key shared by event transactions and exclusive to back-fills ("dmlink").
pub const LINK_BARRIER_LOCK: i64 = 0x646d_6c69_6e6b;

/// What identifies a person's earlier rows.
#[derive(Debug, Clone, Copy)]
pub struct AuthorKeys<'a> {
    pub github_id: Option<i64>,
    pub login: Option<&'a str>,
    pub email: Option<&'a str>,
}

/// Rows a back-fill attributed, and the activity times they carry (for metric jobs).
#[derive(Debug, Default)]
pub struct Backfill {
    pub records: RecordCounts,
    pub activity: Vec<Timestamp>,
}

/// Rows one back-fill statement attributes at most. A link attributes a person's earlier
/// rows in passes of at most this many rows per table, each its own short transaction,
/// before it takes the barrier; under the barrier only the rows written meanwhile are left.
pub const BATCH_ROWS: i64 = 1000;

impl Backfill {
    /// Adds another pass's rows to these.
    pub fn add(&mut self, other: Backfill) {
        let r = &mut self.records;
        r.commits = r.commits.saturating_add(other.records.commits);
        r.pull_requests = r.pull_requests.saturating_add(other.records.pull_requests);
        r.issues = r.issues.saturating_add(other.records.issues);
        r.reviews = r.reviews.saturating_add(other.records.reviews);
        r.deployments = r.deployments.saturating_add(other.records.deployments);
        r.workflow_runs = r.workflow_runs.saturating_add(other.records.workflow_runs);
        r.releases = r.releases.saturating_add(other.records.releases);
        self.activity.extend(other.activity);
    }

    /// Whether some table filled a whole batch, so more rows may be left.
    fn full(&self) -> bool {
        let r = &self.records;
        [
            r.commits,
            r.pull_requests,
            r.issues,
            r.reviews,
            r.deployments,
            r.workflow_runs,
            r.releases,
        ]
        .iter()
        .any(|&n| i64::from(n) >= BATCH_ROWS)
    }
}

/// Attributes the keys' committed unattributed rows in bounded passes, each statement its
/// own transaction, without the barrier: events go on meanwhile. Call [`backfill`]
/// afterwards for the rows in-flight events are writing.
pub async fn backfill_committed(
    conn: &mut PgConnection,
    user_id: &str,
    keys: AuthorKeys<'_>,
) -> Result<Backfill> {
    let mut total = Backfill::default();
    loop {
        let pass = backfill_pass(conn, user_id, keys).await?;
        let more = pass.full();
        total.add(pass);
        if !more {
            return Ok(total);
        }
    }
}

/// Sets `user_id` on every unattributed row the keys identify, under the exclusive barrier.
/// Runs in the caller's transaction; the lock is released at its commit. After
/// [`backfill_committed`] only the rows written since are left, found through the partial
/// indexes of unattributed rows (migrations `20261130120000_link_backfill_indexes` and
/// `20261207130000_delivery_link_backfill_indexes`), so the
/// time the barrier is held depends on those rows, not on the size of the tables.
pub async fn backfill(
    conn: &mut PgConnection,
    user_id: &str,
    keys: AuthorKeys<'_>,
) -> Result<Backfill> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LINK_BARRIER_LOCK)
        .execute(&mut *conn)
        .await?;
    let mut total = Backfill::default();
    loop {
        let pass = backfill_pass(conn, user_id, keys).await?;
        let more = pass.full();
        total.add(pass);
        if !more {
            return Ok(total);
        }
    }
}

/// The commits back-fill: a commit is its author's by login (`author.username`) or email,
/// case-insensitively, as new commits map (see `docs/user-mapping.md`). `$4` bounds the rows.
pub const BACKFILL_COMMITS: &str = r#"UPDATE commits SET "authorId" = $1
           WHERE id IN (SELECT id FROM commits
                        WHERE "authorId" IS NULL
                          AND (lower("authorLogin") = lower($2) OR lower("authorEmail") = lower($3))
                        LIMIT $4)
             AND "authorId" IS NULL
           RETURNING "committedAt""#;

/// One pass: at most [`BATCH_ROWS`] rows of each table.
async fn backfill_pass(
    conn: &mut PgConnection,
    user_id: &str,
    keys: AuthorKeys<'_>,
) -> Result<Backfill> {
    let commits: Vec<Timestamp> = if keys.login.is_some() || keys.email.is_some() {
        sqlx::query_scalar(BACKFILL_COMMITS)
            .bind(user_id)
            .bind(keys.login)
            .bind(keys.email)
            .bind(BATCH_ROWS)
            .fetch_all(&mut *conn)
            .await?
    } else {
        Vec::new()
    };
    let pull_requests = backfill_account(conn, &PULL_REQUEST_AUTHORS, user_id, keys).await?;
    let issues = backfill_account(conn, &ISSUE_AUTHORS, user_id, keys).await?;
    let reviews = backfill_account(conn, &REVIEWERS, user_id, keys).await?;
    let deployments = backfill_account(conn, &DEPLOYMENT_CREATORS, user_id, keys).await?;
    let workflow_runs = backfill_account(conn, &WORKFLOW_RUN_ACTORS, user_id, keys).await?;
    let releases = backfill_account(conn, &RELEASE_AUTHORS, user_id, keys).await?;
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Backfill {
        records: RecordCounts {
            commits: count(commits.len()),
            pull_requests: count(pull_requests.len()),
            issues: count(issues.len()),
            reviews: count(reviews.len()),
            deployments: count(deployments.len()),
            workflow_runs: count(workflow_runs.len()),
            releases: count(releases.len()),
            ..RecordCounts::default()
        },
        activity: commits
            .into_iter()
            .chain(pull_requests.into_iter().flatten())
            .chain(issues.into_iter().flatten())
            .chain(reviews.into_iter().flatten())
            .chain(deployments.into_iter().flatten())
            .chain(workflow_runs.into_iter().flatten())
            .chain(releases.into_iter().flatten())
            .collect(),
    })
}

/// A table whose person columns are keyed by GitHub account (id, login), unlike commits.
struct AccountColumns {
    table: &'static str,
    /// The mapped user id column, and the account's GitHub id column.
    user_id: &'static str,
    github_id: &'static str,
    /// The activity time of a row, for the metric jobs a back-fill triggers.
    activity: &'static str,
}

const PULL_REQUEST_AUTHORS: AccountColumns = AccountColumns {
    table: "pull_requests",
    user_id: r#""authorId""#,
    github_id: r#""authorGithubId""#,
    activity: r#""updatedAt""#,
};

const ISSUE_AUTHORS: AccountColumns = AccountColumns {
    table: "issues",
    user_id: r#""authorId""#,
    github_id: r#""authorGithubId""#,
    activity: r#""updatedAt""#,
};

const REVIEWERS: AccountColumns = AccountColumns {
    table: "pull_request_reviews",
    user_id: r#""reviewerId""#,
    github_id: r#""reviewerGithubId""#,
    activity: r#""submittedAt""#,
};

const DEPLOYMENT_CREATORS: AccountColumns = AccountColumns {
    table: "deployments",
    user_id: r#""creatorId""#,
    github_id: r#""creatorGithubId""#,
    activity: r#""updatedAt""#,
};

const WORKFLOW_RUN_ACTORS: AccountColumns = AccountColumns {
    table: "workflow_runs",
    user_id: r#""actorId""#,
    github_id: r#""actorGithubId""#,
    activity: r#""updatedAt""#,
};

/// A release's activity is its publication, else its creation (as `processors::release`).
const RELEASE_AUTHORS: AccountColumns = AccountColumns {
    table: "releases",
    user_id: r#""authorId""#,
    github_id: r#""authorGithubId""#,
    activity: r#"COALESCE("publishedAt", "createdAt")"#,
};

/// The back-fill statement of an account table: `$1` the user, `$2` the GitHub id, `$3`
/// the bound on rows.
fn account_statement(columns: &AccountColumns) -> String {
    let AccountColumns {
        table,
        user_id,
        github_id,
        activity,
    } = columns;
    format!(
        r#"UPDATE {table} SET {user_id} = $1
           WHERE id IN (SELECT id FROM {table} WHERE {user_id} IS NULL AND {github_id} = $2 LIMIT $3)
             AND {user_id} IS NULL
           RETURNING {activity}"#
    )
}

/// Every back-fill statement (commits, pull requests, issues, reviews, deployments,
/// workflow runs, releases), for tests that check their plans.
pub fn backfill_statements() -> Vec<String> {
    let mut all = vec![BACKFILL_COMMITS.to_owned()];
    all.extend(
        [
            &PULL_REQUEST_AUTHORS,
            &ISSUE_AUTHORS,
            &REVIEWERS,
            &DEPLOYMENT_CREATORS,
            &WORKFLOW_RUN_ACTORS,
            &RELEASE_AUTHORS,
        ]
        .into_iter()
        .map(account_statement),
    );
    all
}

/// Attributes one table's unattributed rows of the account, by GitHub id only: pull
/// requests, issues, reviews, deployments, workflow runs and releases map by GitHub id when they are written, so earlier rows do
/// too (one rule, `docs/user-mapping.md`). Returns each row's activity time (`None` for a
/// review never submitted). The SQL is built from the static column names above only;
/// values are bound.
async fn backfill_account(
    conn: &mut PgConnection,
    columns: &AccountColumns,
    user_id: &str,
    keys: AuthorKeys<'_>,
) -> Result<Vec<Option<Timestamp>>> {
    let Some(github_id) = keys.github_id else {
        return Ok(Vec::new());
    };
    Ok(sqlx::query_scalar(&account_statement(columns))
        .bind(user_id)
        .bind(github_id)
        .bind(BATCH_ROWS)
        .fetch_all(&mut *conn)
        .await?)
}
