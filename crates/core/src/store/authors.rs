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

/// Sets `user_id` on every unattributed row the keys identify, under the exclusive barrier.
/// Runs in the caller's transaction; the lock is released at its commit.
pub async fn backfill(
    conn: &mut PgConnection,
    user_id: &str,
    keys: AuthorKeys<'_>,
) -> Result<Backfill> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LINK_BARRIER_LOCK)
        .execute(&mut *conn)
        .await?;
    let commits: Vec<Timestamp> = sqlx::query_scalar(
        r#"UPDATE commits SET "authorId" = $1
           WHERE "authorId" IS NULL AND (lower("authorLogin") = lower($2) OR lower("authorEmail") = lower($3))
           RETURNING "committedAt""#,
    )
    .bind(user_id)
    .bind(keys.login)
    .bind(keys.email)
    .fetch_all(&mut *conn)
    .await?;
    let pull_requests = backfill_account(conn, &PULL_REQUEST_AUTHORS, user_id, keys).await?;
    let issues = backfill_account(conn, &ISSUE_AUTHORS, user_id, keys).await?;
    let reviews = backfill_account(conn, &REVIEWERS, user_id, keys).await?;
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Backfill {
        records: RecordCounts {
            commits: count(commits.len()),
            pull_requests: count(pull_requests.len()),
            issues: count(issues.len()),
            reviews: count(reviews.len()),
        },
        activity: commits
            .into_iter()
            .chain(pull_requests.into_iter().flatten())
            .chain(issues.into_iter().flatten())
            .chain(reviews.into_iter().flatten())
            .collect(),
    })
}

/// A table whose person columns are keyed by GitHub account (id, login), unlike commits.
struct AccountColumns {
    table: &'static str,
    /// The mapped user id column, and the account's GitHub id and login columns.
    user_id: &'static str,
    github_id: &'static str,
    login: &'static str,
    /// The activity time of a row, for the metric jobs a back-fill triggers.
    activity: &'static str,
}

const PULL_REQUEST_AUTHORS: AccountColumns = AccountColumns {
    table: "pull_requests",
    user_id: r#""authorId""#,
    github_id: r#""authorGithubId""#,
    login: r#""authorLogin""#,
    activity: r#""updatedAt""#,
};

const ISSUE_AUTHORS: AccountColumns = AccountColumns {
    table: "issues",
    user_id: r#""authorId""#,
    github_id: r#""authorGithubId""#,
    login: r#""authorLogin""#,
    activity: r#""updatedAt""#,
};

const REVIEWERS: AccountColumns = AccountColumns {
    table: "pull_request_reviews",
    user_id: r#""reviewerId""#,
    github_id: r#""reviewerGithubId""#,
    login: r#""reviewerLogin""#,
    activity: r#""submittedAt""#,
};

/// Attributes one table's unattributed rows of the account; returns each row's activity
/// time (`None` for a review never submitted). The SQL is built from the static column
/// names above only; values are bound.
async fn backfill_account(
    conn: &mut PgConnection,
    columns: &AccountColumns,
    user_id: &str,
    keys: AuthorKeys<'_>,
) -> Result<Vec<Option<Timestamp>>> {
    let AccountColumns {
        table,
        user_id: user_col,
        github_id,
        login,
        activity,
    } = columns;
    let sql = format!(
        r#"UPDATE {table} SET {user_col} = $1
           WHERE {user_col} IS NULL AND ({github_id} = $2 OR lower({login}) = lower($3))
           RETURNING {activity}"#
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(user_id)
        .bind(keys.github_id)
        .bind(keys.login)
        .fetch_all(&mut *conn)
        .await?)
}
