//! The `issues` table: one convergent upsert per payload (see [`super::converge`]).
//!
//! The issue's fields form one group ordered by (removed, `updatedAt`, state, `closedAt`,
//! `stateReason`, title, author): a removed issue (deleted, or transferred away) comes
//! first, so removal is terminal; then GitHub's `updated_at`; on equal timestamps CLOSED
//! beats OPEN and then the greater content wins. `deletedAt` keeps the earliest removal,
//! `authorId` is filled once a mapping is known.

use super::converge::{ConvergentUpsert, EntityLock, FieldGroup, Merge};
use super::statement::{EntityWrite, StatementText, Table};
use crate::time::Timestamp;

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

/// The upsert's one definition; both forms are built from it.
const DEFINITION: ConvergentUpsert = ConvergentUpsert {
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
};

static UPSERT: StatementText = StatementText::with_rows(
    |gate| DEFINITION.sql(gate.map(|g| g.from)),
    || DEFINITION.sql_rows(),
);

/// The write that inserts the issue or folds the payload into the stored row; it counts 1
/// when the row was inserted or changed, 0 when the stored row already knew better.
pub fn upsert<'a>(repo_id: &'a str, issue: IssueRow<'a>) -> EntityWrite<'a> {
    let looks_up_users = issue.author_id.is_none();
    let key = issue.github_id;
    EntityWrite::new(&UPSERT, Table::Issues, looks_up_users, move |args| {
        args.add(super::new_id())
            .add(repo_id)
            .add(issue.github_id)
            .add(issue.number)
            .add(issue.title)
            .add(issue.state.as_sql())
            .add(issue.state_reason)
            .add(issue.author_id)
            .add(issue.author_github_id)
            .add(issue.author_login)
            .add(issue.author_is_bot)
            .add(issue.closed_at)
            .add(issue.created_at)
            .add(issue.updated_at)
            .add(issue.resolution_time_seconds)
            .add(issue.deleted_at);
    })
    .keyed(key)
}
