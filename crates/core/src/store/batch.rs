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

use super::writes::{execute_alone, Args, EntityWrite, StatementText};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};
use sqlx::{Encode, PgConnection, Postgres, Type};
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

/// The values of a multi-row statement being bound: one array per position, encoded in
/// PostgreSQL's binary array format as the rows come.
#[derive(Default)]
pub(crate) struct Columns {
    columns: Vec<Column>,
    /// The position the next value binds, within the current row.
    at: usize,
    rows: usize,
}

struct Column {
    element: Oid,
    /// Each element: its length (`-1` for NULL) and bytes.
    elements: Vec<u8>,
    has_null: bool,
}

impl Columns {
    pub(crate) fn add<'q, T>(&mut self, value: T) -> std::result::Result<(), BoxDynError>
    where
        T: Encode<'q, Postgres> + Type<Postgres>,
    {
        let element = value
            .produces()
            .unwrap_or_else(T::type_info)
            .oid()
            .ok_or("a multi-row statement binds built-in types only")?;
        let mut buf = PgArgumentBuffer::default();
        let null = matches!(value.encode(&mut buf)?, IsNull::Yes);
        if self.rows == 0 {
            self.columns.push(Column {
                element,
                elements: Vec::new(),
                has_null: false,
            });
        }
        let column = self
            .columns
            .get_mut(self.at)
            .ok_or("a row binds more values than the first row")?;
        if column.element != element {
            return Err("a row binds another type than the first row at the same position".into());
        }
        if null {
            column.elements.extend_from_slice(&(-1i32).to_be_bytes());
            column.has_null = true;
        } else {
            let len = i32::try_from(buf.len()).map_err(|_| "a value too large to bind")?;
            column.elements.extend_from_slice(&len.to_be_bytes());
            column.elements.extend_from_slice(&buf);
        }
        self.at += 1;
        Ok(())
    }

    pub(crate) fn end_row(&mut self) -> std::result::Result<(), BoxDynError> {
        if self.at != self.columns.len() {
            return Err("a row binds fewer values than the first row".into());
        }
        self.at = 0;
        self.rows += 1;
        Ok(())
    }

    /// One array per position, in `$n` order.
    pub(crate) fn finish(
        self,
    ) -> impl Iterator<Item = std::result::Result<EncodedArray, BoxDynError>> {
        let rows = i32::try_from(self.rows).unwrap_or(i32::MAX);
        self.columns.into_iter().map(move |c| {
            let array = array_of(c.element)
                .ok_or("a multi-row statement binds a type without a known array type")?;
            let mut bytes = Vec::with_capacity(20 + c.elements.len());
            for word in [1, i32::from(c.has_null), c.element.0 as i32, rows, 1] {
                // dimensions, has-NULL flag, element type, length, lower bound
                bytes.extend_from_slice(&word.to_be_bytes());
            }
            bytes.extend_from_slice(&c.elements);
            Ok(EncodedArray {
                type_info: PgTypeInfo::with_oid(array),
                bytes,
            })
        })
    }
}

/// The array type of the built-in element types the entity statements bind.
fn array_of(element: Oid) -> Option<Oid> {
    const ARRAYS: [(u32, u32); 7] = [
        (16, 1000),   // bool
        (20, 1016),   // int8
        (21, 1005),   // int2
        (23, 1007),   // int4
        (25, 1009),   // text
        (1114, 1115), // timestamp
        (1184, 1185), // timestamptz
    ];
    ARRAYS
        .iter()
        .find(|(e, _)| *e == element.0)
        .map(|(_, a)| Oid(*a))
}

/// A one-dimensional array already in PostgreSQL's binary format.
pub(crate) struct EncodedArray {
    type_info: PgTypeInfo,
    bytes: Vec<u8>,
}

impl Type<Postgres> for EncodedArray {
    fn type_info() -> PgTypeInfo {
        // Each value says its own type (`produces`); this is never used.
        <Vec<String> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for EncodedArray {
    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> std::result::Result<IsNull, BoxDynError> {
        buf.extend_from_slice(&self.bytes);
        Ok(IsNull::No)
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(self.type_info.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writes::Table;

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

    #[test]
    fn columns_are_binary_arrays_of_each_position() {
        let mut columns = Columns::default();
        for (id, name) in [(7i64, Some("x")), (8, None)] {
            columns.add(id).unwrap();
            columns.add(name).unwrap();
            columns.end_row().unwrap();
        }
        let arrays: Vec<EncodedArray> = columns.finish().map(Result::unwrap).collect();
        assert_eq!(arrays.len(), 2);
        assert_eq!(arrays[0].type_info.oid(), Some(Oid(1016)));
        assert_eq!(arrays[1].type_info.oid(), Some(Oid(1009)));
        let words = |b: &[u8]| -> Vec<i32> {
            b.chunks(4)
                .take(5)
                .map(|w| i32::from_be_bytes(w.try_into().unwrap()))
                .collect()
        };
        assert_eq!(words(&arrays[0].bytes), vec![1, 0, 20, 2, 1]);
        assert_eq!(words(&arrays[1].bytes), vec![1, 1, 25, 2, 1]);
        // "x" (length 1), then NULL.
        assert_eq!(
            &arrays[1].bytes[20..],
            &[0, 0, 0, 1, b'x', 255, 255, 255, 255]
        );
    }

    #[test]
    fn rows_must_bind_the_same_shape() {
        let mut columns = Columns::default();
        columns.add(1i64).unwrap();
        columns.end_row().unwrap();
        assert!(columns.add("text").is_err());
        let mut columns = Columns::default();
        columns.add(1i64).unwrap();
        columns.add(2i64).unwrap();
        columns.end_row().unwrap();
        columns.add(1i64).unwrap();
        assert!(columns.end_row().is_err());
    }
}
