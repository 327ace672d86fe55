//! The `pull_requests` table: one convergent upsert per payload (see [`super::converge`]).
//!
//! Groups and their order:
//! - the pull request's own fields (title, state, refs, author, times, cycle time), by
//!   (merged, `updatedAt`, state, `mergedAt`, `closedAt`, title, refs, author): MERGED
//!   comes first, so it is terminal; then GitHub's `updated_at`; on equal timestamps the
//!   later state wins (OPEN < CLOSED < MERGED) and then the greater content, so equal
//!   timestamps still pick one winner whatever the order;
//! - line counts, by (`countsUpdatedAt`, additions, deletions, filesChanged), only from
//!   payloads that carry them;
//! - the draft flag, by (`draftUpdatedAt`, draft), only from payloads that carry it;
//! - `firstReviewAt`, the earliest candidate any review delivery offered;
//! - `authorId`, filled once a mapping is known.

use super::converge::{ConvergentUpsert, EntityLock, FieldGroup, Merge};
use super::statement::{EntityWrite, StatementText, Table};
use crate::time::Timestamp;

/// `"PRState"`: declared OPEN, CLOSED, MERGED, which is also the tie-break order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrState {
    Open,
    Closed,
    Merged,
}

impl PrState {
    /// The enum label in the database.
    pub fn as_sql(self) -> &'static str {
        match self {
            PrState::Open => "OPEN",
            PrState::Closed => "CLOSED",
            PrState::Merged => "MERGED",
        }
    }
}

/// Line counts of a pull request, from payloads that carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCounts {
    pub additions: i32,
    pub deletions: i32,
    pub files_changed: i32,
}

/// What one payload says about a pull request; author id already mapped.
#[derive(Debug, Clone)]
pub struct PullRequestRow<'a> {
    pub github_id: i64,
    pub number: i32,
    pub title: &'a str,
    pub state: PrState,
    /// `None` when the payload does not carry the flag.
    pub draft: Option<bool>,
    pub author_id: Option<&'a str>,
    pub author_github_id: Option<i64>,
    pub author_login: Option<&'a str>,
    pub author_is_bot: bool,
    pub head_ref: &'a str,
    pub base_ref: &'a str,
    /// `None` when the payload does not carry them.
    pub counts: Option<LineCounts>,
    pub merged_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// A review delivery's candidate for the earliest review; `None` otherwise.
    pub first_review_at: Option<Timestamp>,
    pub cycle_time_seconds: Option<i32>,
}

/// Advisory lock class of pull requests (see [`EntityLock`]).
const LOCK_CLASS: i32 = 0x6470_7201;

/// The upsert's one definition; both forms are built from it.
const DEFINITION: ConvergentUpsert = ConvergentUpsert {
    target: r#"pull_requests AS t
               (id, "repoId", "githubId", number, title, state, draft, "draftUpdatedAt",
                "authorId", "authorGithubId", "authorLogin", "authorIsBot", "headRef", "baseRef",
                additions, deletions, "filesChanged", "countsUpdatedAt", "mergedAt", "closedAt",
                "createdAt", "updatedAt", "firstReviewAt", "cycleTimeSeconds")"#,
    values: r#"$1, $2, $3, $4, $5, $6::"PRState", $7, $8,
               -- A user linked after this event's lookup still attributes the row
               -- (see store::authors).
               COALESCE($9, (SELECT u.id FROM users u WHERE u."githubId" = $10)),
               $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24"#,
    conflict: r#""githubId""#,
    lock: Some(EntityLock {
        class: LOCK_CLASS,
        id_param: "$3",
    }),
    groups: &[
        FieldGroup {
            as_of: None,
            key: &[
                "{side}.state = 'MERGED'",
                r#"{side}."updatedAt""#,
                "{side}.state",
                r#"COALESCE({side}."mergedAt", '-infinity')"#,
                r#"COALESCE({side}."closedAt", '-infinity')"#,
                r#"{side}.title COLLATE "C""#,
                r#"COALESCE({side}."headRef", '') COLLATE "C""#,
                r#"COALESCE({side}."baseRef", '') COLLATE "C""#,
                r#"COALESCE({side}."authorLogin", '') COLLATE "C""#,
                r#"COALESCE({side}."authorGithubId", -1)"#,
                r#"{side}."authorIsBot""#,
            ],
            columns: &[
                "title",
                "state",
                r#""authorGithubId""#,
                r#""authorLogin""#,
                r#""authorIsBot""#,
                r#""headRef""#,
                r#""baseRef""#,
                r#""mergedAt""#,
                r#""closedAt""#,
                r#""createdAt""#,
                r#""updatedAt""#,
                r#""cycleTimeSeconds""#,
            ],
        },
        FieldGroup {
            as_of: Some(r#""countsUpdatedAt""#),
            key: &[
                r#"{side}."countsUpdatedAt""#,
                "{side}.additions",
                "{side}.deletions",
                r#"{side}."filesChanged""#,
            ],
            columns: &[
                "additions",
                "deletions",
                r#""filesChanged""#,
                r#""countsUpdatedAt""#,
            ],
        },
        FieldGroup {
            as_of: Some(r#""draftUpdatedAt""#),
            key: &[r#"{side}."draftUpdatedAt""#, "{side}.draft"],
            columns: &["draft", r#""draftUpdatedAt""#],
        },
    ],
    merges: &[
        Merge::Earliest(r#""firstReviewAt""#),
        Merge::Fill(r#""authorId""#),
    ],
};

static UPSERT: StatementText = StatementText::with_rows(
    |gate| DEFINITION.sql(gate.map(|g| g.from)),
    || DEFINITION.sql_rows(),
);

/// The write that inserts the pull request or folds the payload into the stored row; it
/// counts 1 when the row was inserted or changed, 0 when the stored row already knew better.
pub fn upsert<'a>(repo_id: &'a str, pr: PullRequestRow<'a>) -> EntityWrite<'a> {
    let looks_up_users = pr.author_id.is_none();
    let key = pr.github_id;
    EntityWrite::new(&UPSERT, Table::PullRequests, looks_up_users, move |args| {
        let counts = pr.counts;
        args.add(super::new_id())
            .add(repo_id)
            .add(pr.github_id)
            .add(pr.number)
            .add(pr.title)
            .add(pr.state.as_sql())
            .add(pr.draft.unwrap_or(false))
            .add(pr.draft.map(|_| pr.updated_at))
            .add(pr.author_id)
            .add(pr.author_github_id)
            .add(pr.author_login)
            .add(pr.author_is_bot)
            .add(pr.head_ref)
            .add(pr.base_ref)
            .add(counts.map_or(0, |c| c.additions))
            .add(counts.map_or(0, |c| c.deletions))
            .add(counts.map_or(0, |c| c.files_changed))
            .add(counts.map(|_| pr.updated_at))
            .add(pr.merged_at)
            .add(pr.closed_at)
            .add(pr.created_at)
            .add(pr.updated_at)
            .add(pr.first_review_at)
            .add(pr.cycle_time_seconds);
    })
    .keyed(key)
}
