//! The `issues` table: one convergent upsert per payload (see [`super::converge`]).
//!
//! The issue's fields form one group ordered by (removed, `updatedAt`, state, `closedAt`,
//! `stateReason`, title, author): a removed issue (deleted, or transferred away) comes
//! first, so removal is terminal; then GitHub's `updated_at`; on equal timestamps CLOSED
//! beats OPEN and then the greater content wins. `deletedAt` keeps the earliest removal,
//! `authorId` is filled once a mapping is known.

use super::converge::{changed, ConvergentUpsert, EntityLock, FieldGroup, Merge};
use crate::error::Result;
use crate::time::Timestamp;
use sqlx::PgConnection;
use std::sync::LazyLock;

/// `"IssueState"`: declared OPEN, CLOSED, which is also the tie-break order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueState {
    Open,
    Closed,
}

impl IssueState {
    /// The enum label in the database.
    pub fn as_sql(self) -> &'static str {
        match self {
            IssueState::Open => "OPEN",
            IssueState::Closed => "CLOSED",
        }
    }
}

/// What one payload says about an issue; author id already mapped.
#[derive(Debug, Clone)]
pub struct IssueRow<'a> {
    pub github_id: i64,
    pub number: i32,
    pub title: &'a str,
    pub state: IssueState,
    pub state_reason: Option<&'a str>,
    pub author_id: Option<&'a str>,
    pub author_github_id: Option<i64>,
    pub author_login: Option<&'a str>,
    pub author_is_bot: bool,
    pub closed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub resolution_time_seconds: Option<i32>,
    /// When the issue left the repository, for deliveries that say so.
    pub deleted_at: Option<Timestamp>,
}

/// Advisory lock class of issues (see [`EntityLock`]).
const LOCK_CLASS: i32 = 0x6470_7202;

static UPSERT: LazyLock<String> = LazyLock::new(|| {
    ConvergentUpsert {
        target: r#"issues AS t
               (id, "repoId", "githubId", number, title, state, "stateReason", "authorId",
                "authorGithubId", "authorLogin", "authorIsBot", "closedAt", "createdAt",
                "updatedAt", "resolutionTimeSeconds", "deletedAt")"#,
        values: r#"$1, $2, $3, $4, $5, $6::"IssueState", $7,
               -- A user linked after this event's lookup still attributes the row
               -- (see store::authors).
               COALESCE($8, (SELECT u.id FROM users u WHERE u."githubId" = $9)),
               $9, $10, $11, $12, $13, $14, $15, $16"#,
        conflict: r#""githubId""#,
        lock: Some(EntityLock {
            class: LOCK_CLASS,
            id_param: "$3",
        }),
        groups: &[FieldGroup {
            as_of: None,
            key: &[
                r#"{side}."deletedAt" IS NOT NULL"#,
                r#"{side}."updatedAt""#,
                "{side}.state",
                r#"COALESCE({side}."closedAt", '-infinity')"#,
                r#"COALESCE({side}."stateReason", '') COLLATE "C""#,
                r#"{side}.title COLLATE "C""#,
                r#"COALESCE({side}."authorLogin", '') COLLATE "C""#,
                r#"COALESCE({side}."authorGithubId", -1)"#,
                r#"{side}."authorIsBot""#,
            ],
            columns: &[
                "title",
                "state",
                r#""stateReason""#,
                r#""authorGithubId""#,
                r#""authorLogin""#,
                r#""authorIsBot""#,
                r#""closedAt""#,
                r#""createdAt""#,
                r#""updatedAt""#,
                r#""resolutionTimeSeconds""#,
            ],
        }],
        merges: &[
            Merge::Earliest(r#""deletedAt""#),
            Merge::Fill(r#""authorId""#),
        ],
    }
    .sql()
});

/// Inserts the issue or folds the payload into the stored row. Returns 1 when the row was
/// inserted or changed, 0 when the stored row already knew better.
pub async fn upsert(conn: &mut PgConnection, repo_id: &str, issue: &IssueRow<'_>) -> Result<u32> {
    let result = sqlx::query(&UPSERT)
        .bind(super::new_id())
        .bind(repo_id)
        .bind(issue.github_id)
        .bind(issue.number)
        .bind(issue.title)
        .bind(issue.state.as_sql())
        .bind(issue.state_reason)
        .bind(issue.author_id)
        .bind(issue.author_github_id)
        .bind(issue.author_login)
        .bind(issue.author_is_bot)
        .bind(issue.closed_at)
        .bind(issue.created_at)
        .bind(issue.updated_at)
        .bind(issue.resolution_time_seconds)
        .bind(issue.deleted_at)
        .execute(conn)
        .await?;
    Ok(changed(result.rows_affected()))
}
