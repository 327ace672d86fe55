//! Many entity writes as few statements: the shape of a reprocessed batch
//! (`crate::reprocess`).
//!
//! Writes whose statement has a multi-row form (the convergent upserts,
//! [`super::converge::ConvergentUpsert::sql_rows`]) are bound column by column by their own
//! binders ([`Args::columns`]) and run as one `INSERT … SELECT … FROM UNNEST(…) ON CONFLICT
//! … DO UPDATE … WHERE <guard>` per statement and *round*: PostgreSQL refuses to upsert one
//! conflict key twice in a statement, so a key's first write goes to round 0, its second to
//! round 1, and so on. Each row is decided exactly as its single-row statement would decide
//! it (same text, same guard, against the row as the earlier rounds left it), and the rows
//! converge whatever the order, so the rounds give the rows the writes one by one give.
//!
//! Order, for locks: the caller passes the writes in a fixed order of entities (see
//! `reprocess::sort_key`). Statements run in the order their first write appears, each
//! statement's rounds one after another, the rows of a round in the callers' order. Every
//! lock a batch takes it takes in round 0 of some statement, in that order; later rounds
//! only upsert rows the transaction already holds. A review's pull request is upserted in
//! round 0 of the pull request statement, which comes before the review statement (a
//! review's writes start with its pull request), so the review's `pullRequestId` lookup,
//! a later statement, finds the row. Writes without a multi-row form (commits) run alone
//! afterwards, in their order.

use super::statement::{execute_alone, Args, EntityWrite, StatementText};
use sqlx::PgConnection;
use std::collections::HashMap;

/// Runs `writes` (in the caller's lock order) in the caller's transaction, as described in
/// the module doc; the rows inserted or changed.
pub async fn execute_batch(
    conn: &mut PgConnection,
    writes: Vec<EntityWrite<'_>>,
) -> std::result::Result<u64, sqlx::Error> {
    let (statements, alone) = rounds(writes);
    let mut rows = 0;
    for (text, rounds) in statements {
        let sql = text.rows().expect("a statement with a multi-row form");
        for round in rounds {
            let mut args = Args::columns();
            for write in round {
                (write.bind)(&mut args);
                args.end_row();
            }
            rows += sqlx::query_with(sql, args.finish()?)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        }
    }
    for write in alone {
        rows += execute_alone(conn, write).await?;
    }
    Ok(rows)
}

/// Statements with a multi-row form in order of first appearance, each with its rounds (a
/// key's n-th write in round n); then the writes that run alone.
type Rounds<'a> = Vec<(&'static StatementText, Vec<Vec<EntityWrite<'a>>>)>;

fn rounds(writes: Vec<EntityWrite<'_>>) -> (Rounds<'_>, Vec<EntityWrite<'_>>) {
    let mut statements: Rounds<'_> = Vec::new();
    let mut alone = Vec::new();
    let mut seen: HashMap<(usize, i64), usize> = HashMap::new();
    for write in writes {
        let Some(key) = write.key.filter(|_| write.text.rows().is_some()) else {
            alone.push(write);
            continue;
        };
        let at = statements
            .iter()
            .position(|(t, _)| std::ptr::eq(*t, write.text))
            .unwrap_or_else(|| {
                statements.push((write.text, Vec::new()));
                statements.len() - 1
            });
        let round = seen.entry((at, key)).or_insert(0);
        let rounds = &mut statements[at].1;
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(write);
        *round += 1;
    }
    (statements, alone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::statement::Table;

    static A: StatementText = StatementText::with_rows(|_| "a".into(), || "a rows".into());
    static B: StatementText = StatementText::with_rows(|_| "b".into(), || "b rows".into());
    static ALONE: StatementText = StatementText::new(|_| "alone".into());

    fn write(text: &'static StatementText, key: i64) -> EntityWrite<'static> {
        EntityWrite::new(text, Table::PullRequests, false, |_| {}).keyed(key)
    }

    #[test]
    fn a_key_written_twice_goes_to_a_later_round_and_statements_keep_their_first_order() {
        let writes = vec![
            write(&A, 1),
            write(&B, 1),
            write(&A, 1),
            write(&A, 2),
            EntityWrite::new(&ALONE, Table::Commits, false, |_| {}),
            write(&A, 1),
            write(&B, 2),
        ];
        let (statements, alone) = rounds(writes);
        assert_eq!(alone.len(), 1);
        let shape: Vec<(&str, Vec<Vec<Option<i64>>>)> = statements
            .iter()
            .map(|(t, rounds)| {
                (
                    t.rows().unwrap(),
                    rounds
                        .iter()
                        .map(|r| r.iter().map(|w| w.key).collect())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (
                    "a rows",
                    vec![vec![Some(1), Some(2)], vec![Some(1)], vec![Some(1)]]
                ),
                ("b rows", vec![vec![Some(1), Some(2)]]),
            ]
        );
    }
}
