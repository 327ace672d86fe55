//! The `pull_request_reviews` table. Reviews have no `updated_at`: a review's fields are
//! fixed at first sight, except that a dismissal is terminal and takes over (state
//! DISMISSED and the dismissal payload's fields). `dismissedAt` keeps the earliest
//! dismissal received, `reviewerId` is filled once a mapping is known.

use super::converge::{for_rows, ConvergentUpsert, FieldGroup, Merge};
use super::statement::{EntityWrite, Gate, StatementText, Table};
use crate::time::Timestamp;

/// `"ReviewState"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    Dismissed,
}

impl ReviewState {
    /// The state of a webhook's `review.state` (lowercase there, uppercase in REST).
    pub fn from_github(state: &str) -> Option<Self> {
        const STATES: [(&str, ReviewState); 4] = [
            ("approved", ReviewState::Approved),
            ("changes_requested", ReviewState::ChangesRequested),
            ("commented", ReviewState::Commented),
            ("dismissed", ReviewState::Dismissed),
        ];
        STATES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(state))
            .map(|(_, s)| *s)
    }

    /// The enum label in the database.
    pub fn as_sql(self) -> &'static str {
        match self {
            ReviewState::Approved => "APPROVED",
            ReviewState::ChangesRequested => "CHANGES_REQUESTED",
            ReviewState::Commented => "COMMENTED",
            ReviewState::Dismissed => "DISMISSED",
        }
    }
}

/// What one payload says about a review; reviewer id already mapped.
#[derive(Debug, Clone)]
pub struct ReviewRow<'a> {
    pub github_id: i64,
    /// GitHub id of the pull request, whose row the same transaction upserted first.
    pub pull_request_github_id: i64,
    pub reviewer_id: Option<&'a str>,
    pub reviewer_github_id: Option<i64>,
    pub reviewer_login: Option<&'a str>,
    pub reviewer_is_bot: bool,
    pub state: ReviewState,
    pub commit_id: Option<&'a str>,
    pub submitted_at: Option<Timestamp>,
    /// Received time of a dismissal delivery; `None` for other deliveries.
    pub dismissed_at: Option<Timestamp>,
    pub turnaround_seconds: Option<i32>,
}

/// The upsert's one definition; both forms are built from it (`{pull_request}` is filled
/// in by [`pull_request_id`]).
const DEFINITION: ConvergentUpsert = ConvergentUpsert {
    target: r#"pull_request_reviews AS t
               (id, "githubId", "repoId", "pullRequestId", "reviewerId", "reviewerGithubId",
                "reviewerLogin", "reviewerIsBot", state, "commitId", "submittedAt", "dismissedAt",
                "turnaroundSeconds")"#,
    values: r#"$1, $2, $3, {pull_request},
               -- A user linked after this event's lookup still attributes the row
               -- (see store::authors).
               COALESCE($5, (SELECT u.id FROM users u WHERE u."githubId" = $6)),
               $6, $7, $8, $9::"ReviewState", $10, $11, $12, $13"#,
    conflict: r#""githubId""#,
    // The only unique index is the conflict target, which PostgreSQL arbitrates; and
    // writers of one review already hold its pull request's lock.
    lock: None,
    groups: &[FieldGroup {
        as_of: None,
        key: &["{side}.state = 'DISMISSED'"],
        columns: &[
            r#""reviewerGithubId""#,
            r#""reviewerLogin""#,
            r#""reviewerIsBot""#,
            "state",
            r#""commitId""#,
            r#""submittedAt""#,
            r#""turnaroundSeconds""#,
        ],
    }],
    merges: &[
        Merge::Earliest(r#""dismissedAt""#),
        Merge::Fill(r#""reviewerId""#),
    ],
};

static UPSERT: StatementText = StatementText::with_rows(
    |gate| {
        DEFINITION
            .sql(gate.map(|g| g.from))
            .replace("{pull_request}", &pull_request_id(gate))
    },
    // A later statement than its pull request's upsert (`store::batch`): the lookup finds it.
    || {
        DEFINITION
            .sql_rows()
            .replace("{pull_request}", &for_rows(PULL_REQUEST_LOOKUP))
    },
);

/// The review's `pullRequestId`. On its own the review is a later statement of the event's
/// transaction than its pull request's upsert, so a lookup finds the row. Composed after
/// that upsert in one statement, the upsert's `RETURNING id` has it when the upsert wrote;
/// when it did not (the stored row knew better), the row existed, and the statement's
/// snapshot has it unless another transaction committed it after the snapshot was taken:
/// then the value is `NULL`, the column's `NOT NULL` fails the statement, and the event
/// runs again as a transaction (`store::writes`).
fn pull_request_id(gate: Option<Gate<'_>>) -> String {
    match gate.and_then(|g| g.previous) {
        None => PULL_REQUEST_LOOKUP.to_owned(),
        Some(previous) => format!("COALESCE((SELECT id FROM {previous}), {PULL_REQUEST_LOOKUP})"),
    }
}

/// The pull request's row id, by its GitHub id (`$4`).
const PULL_REQUEST_LOOKUP: &str = r#"(SELECT p.id FROM pull_requests p WHERE p."githubId" = $4)"#;

/// The write that inserts the review or folds the payload into the stored row; it counts 1
/// when the row was inserted or changed. It must follow the upsert of its pull request
/// (see [`pull_request_id`]).
pub fn upsert<'a>(repo_id: &'a str, review: ReviewRow<'a>) -> EntityWrite<'a> {
    let looks_up_users = review.reviewer_id.is_none();
    let key = review.github_id;
    EntityWrite::new(&UPSERT, Table::Reviews, looks_up_users, move |args| {
        args.add(super::new_id())
            .add(review.github_id)
            .add(repo_id)
            .add(review.pull_request_github_id)
            .add(review.reviewer_id)
            .add(review.reviewer_github_id)
            .add(review.reviewer_login)
            .add(review.reviewer_is_bot)
            .add(review.state.as_sql())
            .add(review.commit_id)
            .add(review.submitted_at)
            .add(review.dismissed_at)
            .add(review.turnaround_seconds);
    })
    .keyed(key)
}

#[cfg(test)]
mod tests {
    use super::ReviewState;

    #[test]
    fn webhook_states_are_lowercase_rest_states_uppercase() {
        assert_eq!(
            ReviewState::from_github("approved"),
            Some(ReviewState::Approved)
        );
        assert_eq!(
            ReviewState::from_github("CHANGES_REQUESTED"),
            Some(ReviewState::ChangesRequested)
        );
        assert_eq!(ReviewState::from_github("pending"), None);
    }
}
