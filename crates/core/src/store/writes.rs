//! One event's write in as few round trips as its consistency allows.
//!
//! An event is its claim (the `events` row, see [`super::events`]) and its entity writes
//! (the pull request, issue, review or commit statements, each an [`EntityWrite`]). The
//! claim and the writes are composed into one statement of CTEs; each write reads its row
//! `FROM claim`, so a duplicate delivery (no claim row) writes nothing and everything
//! commits together. Then:
//!
//! - an event whose people all mapped from the caches runs as that one statement, its own
//!   transaction: one round trip for the whole event;
//! - any other runs in a transaction begun with the shared link barrier
//!   (`BEGIN; SELECT pg_advisory_xact_lock_shared(…)`, one round trip), then the claim with
//!   the first write, each further write on its own, then `COMMIT`.
//!
//! Why the split: a statement's snapshot is taken before it runs, so a lock taken inside it
//! cannot order what it reads. Reads that must see a concurrent link (an unmapped person's
//! fallback lookup in `users`, see [`super::authors`]) need the barrier taken by an earlier
//! statement. A statement whose people are all mapped reads no such thing: its writes are
//! decided by `ON CONFLICT` against the latest committed rows, whatever its snapshot. The
//! one read left, a review's pull request, is covered in `reviews::pull_request_id`: when
//! the snapshot cannot answer it the statement fails, writes nothing, and the event runs as
//! a transaction instead.

use super::connections::{worth_another_connection, Connections};
use super::events::{self, EventRecord};
use super::statement::{
    execute_alone, max_param, replace_params, Args, EntityWrite, Gate, StatementText, Table,
};
use crate::error::Result;
use crate::result::RecordCounts;
use crate::time::Timestamp;
use sqlx::{Connection, PgConnection};
use std::sync::{LazyLock, Mutex};

/// What an event's write did.
#[derive(Debug)]
pub enum Written {
    Processed {
        event_id: String,
        records: RecordCounts,
    },
    /// The delivery was already processed: nothing written.
    Duplicate,
}

/// Writes composed into one event statement at most: two, for a review after its pull
/// request. A push's commits come in batches of `commits::BATCH` to bound a statement's
/// size, so a push of more than two batches runs as a transaction, a statement per batch.
const MAX_COMPOSED: usize = 2;

/// The event's statement: the claim as a CTE, then each entity write as a CTE reading
/// `FROM claim` (and the one before it, for a write that needs its row). The entities'
/// values come first, in order, each renumbered past the ones before; the claim's last. It
/// returns the claim's id (`NULL` for a duplicate) and the rows each write inserted or
/// changed.
fn compose(texts: &[&StatementText]) -> String {
    let mut ctes = Vec::with_capacity(texts.len() + 1);
    let mut counts = Vec::with_capacity(texts.len());
    let mut offset = 0;
    for (i, text) in texts.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| format!("step{p}"));
        let own = (text.build)(Some(Gate {
            from: "claim",
            previous: previous.as_deref(),
        }));
        ctes.push(format!(
            "step{i} AS ({} RETURNING id)",
            shift_params(&own, offset)
        ));
        counts.push(format!("(SELECT count(*) FROM step{i})"));
        offset += max_param(&own);
    }
    let claim = shift_params(events::CLAIM, offset);
    let ctes: String = ctes.iter().map(|c| format!(", {c}")).collect();
    format!(
        "WITH claim AS ({claim} RETURNING id){ctes} \
         SELECT (SELECT id FROM claim), ARRAY[{}]::int8[]",
        counts.join(", ")
    )
}

/// [`compose`]d statements, built once each: an event's statement is one of a few shapes.
static COMPOSED: Mutex<Vec<(Vec<usize>, &'static str)>> = Mutex::new(Vec::new());

fn event_statement(texts: &[&'static StatementText]) -> &'static str {
    let key = |t: &&'static StatementText| *t as *const StatementText as usize;
    let mut composed = COMPOSED.lock().expect("composed statements");
    if let Some((_, sql)) = composed
        .iter()
        .find(|(k, _)| k.iter().copied().eq(texts.iter().map(key)))
    {
        return sql;
    }
    // Leaked once per shape (a handful), like a `static`.
    let sql: &'static str = Box::leak(compose(texts).into_boxed_str());
    composed.push((texts.iter().map(key).collect(), sql));
    sql
}

/// `BEGIN` and the shared link barrier in one round trip (a simple query: the key is a
/// constant, not a value).
pub(crate) static BEGIN_WITH_BARRIER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "BEGIN; SELECT pg_advisory_xact_lock_shared({})",
        super::authors::LINK_BARRIER_LOCK
    )
});

/// The statement with every `$n` renumbered `$(n + by)`.
fn shift_params(sql: &str, by: usize) -> String {
    replace_params(sql, |n| format!("${}", n + by))
}

/// How an event's statements run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One statement, its own transaction.
    OneStatement,
    /// `BEGIN` with the link barrier, the claim with the first write, the other writes,
    /// `COMMIT`.
    Transaction,
}

/// Writes one event: its claim and the entity writes `build` returns (called again for each
/// try). A connection that broke under a try fails it, and the event is tried again on
/// another, at most once per connection the processor may hold: nothing of the failed try
/// is left, since it ran in one transaction, and a try that did commit before the
/// connection broke reads as a duplicate.
pub async fn write_event<'w, F>(
    db: &Connections,
    ev: &EventRecord<'_>,
    now: Timestamp,
    build: F,
) -> Result<Written>
where
    F: Fn() -> Vec<EntityWrite<'w>>,
{
    let mut tries = 0;
    let mut one_statement_allowed = true;
    loop {
        tries += 1;
        let writes = build();
        let shape = if one_statement_allowed
            && writes.len() <= MAX_COMPOSED
            && !writes.iter().any(|w| w.looks_up_users)
        {
            Shape::OneStatement
        } else {
            Shape::Transaction
        };
        let mut conn = db.lease().await?;
        let result = try_write(&mut conn, ev, now, writes, shape).await;
        match conn.finish(result) {
            Ok(Some(written)) => return Ok(written),
            // See `try_write`: the same event as a transaction.
            Ok(None) => one_statement_allowed = false,
            Err(e) if worth_another_connection(&e) && tries <= db.max_connections() => {
                tracing::debug!(error = %crate::text::redact_credentials(&e.to_string()), "took another connection");
            }
            Err(e) => return Err(e),
        }
    }
}

/// One try. `Ok(None)`: the one statement found no pull request for a review because the
/// pull request's row was committed by another transaction after the statement's snapshot
/// and this payload did not change it, so neither its own upsert nor its snapshot returned
/// the id (`pullRequestId` is `NOT NULL`). Nothing was written; as a transaction the review
/// is a later statement that sees the row.
async fn try_write(
    conn: &mut PgConnection,
    ev: &EventRecord<'_>,
    now: Timestamp,
    writes: Vec<EntityWrite<'_>>,
    shape: Shape,
) -> std::result::Result<Option<Written>, sqlx::Error> {
    if shape == Shape::OneStatement {
        return match event_statement_run(conn, ev, now, writes).await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(NOT_NULL_VIOLATION) => {
                Ok(None)
            }
            other => other.map(Some),
        };
    }
    let mut writes = writes.into_iter();
    let first: Vec<EntityWrite> = writes.next().into_iter().collect();
    let mut tx = conn.begin_with(&**BEGIN_WITH_BARRIER).await?;
    let mut outcome = event_statement_run(&mut tx, ev, now, first).await?;
    let Written::Processed { records, .. } = &mut outcome else {
        tx.rollback().await?;
        return Ok(Some(Written::Duplicate));
    };
    for write in writes {
        let table = write.table;
        let rows = execute_alone(&mut tx, write).await?;
        table.add(records, rows);
    }
    tx.commit().await?;
    Ok(Some(outcome))
}

const NOT_NULL_VIOLATION: &str = "23502";

/// Writes entity rows that no delivery carried (rows from GitHub's API: a backfill page,
/// commit counts, a completed push): no claim, no `events` row, each statement on its own,
/// all in one transaction, begun with the shared link barrier when a write may fall back to
/// a `users` lookup (see the module doc). The same convergent statements as an event's, so
/// the rows end as the webhooks alone would leave them. A connection that broke is replaced
/// as in [`write_event`]; nothing of a failed try is left.
pub async fn write_entities<'w, F>(db: &Connections, build: F) -> Result<RecordCounts>
where
    F: Fn() -> Vec<EntityWrite<'w>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let writes = build();
        let mut conn = db.lease().await?;
        let result = entities_in_transaction(&mut conn, writes).await;
        match conn.finish(result) {
            Ok(records) => return Ok(records),
            Err(e) if worth_another_connection(&e) && tries <= db.max_connections() => {
                tracing::debug!(error = %crate::text::redact_credentials(&e.to_string()), "took another connection");
            }
            Err(e) => return Err(e),
        }
    }
}

async fn entities_in_transaction(
    conn: &mut PgConnection,
    writes: Vec<EntityWrite<'_>>,
) -> std::result::Result<RecordCounts, sqlx::Error> {
    let mut records = RecordCounts::default();
    if writes.is_empty() {
        return Ok(records);
    }
    let mut tx = if writes.iter().any(|w| w.looks_up_users) {
        conn.begin_with(&**BEGIN_WITH_BARRIER).await?
    } else {
        conn.begin().await?
    };
    for write in writes {
        let table = write.table;
        table.add(&mut records, execute_alone(&mut tx, write).await?);
    }
    tx.commit().await?;
    Ok(records)
}

/// The claim and `writes` as one statement.
async fn event_statement_run(
    conn: &mut PgConnection,
    ev: &EventRecord<'_>,
    now: Timestamp,
    writes: Vec<EntityWrite<'_>>,
) -> std::result::Result<Written, sqlx::Error> {
    let texts: Vec<&'static StatementText> = writes.iter().map(|w| w.text).collect();
    let tables: Vec<Table> = writes.iter().map(|w| w.table).collect();
    let mut args = Args::default();
    for write in writes {
        (write.bind)(&mut args);
    }
    events::claim_args(&mut args, ev, now);
    let (event_id, rows): (Option<String>, Vec<i64>) =
        sqlx::query_as_with(event_statement(&texts), args.finish()?)
            .fetch_one(conn)
            .await?;
    let Some(event_id) = event_id else {
        return Ok(Written::Duplicate);
    };
    let mut records = RecordCounts::default();
    for (table, rows) in tables.into_iter().zip(rows) {
        table.add(&mut records, u64::try_from(rows).unwrap_or(0));
    }
    Ok(Written::Processed { event_id, records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbers_every_placeholder_and_nothing_else() {
        let sql = "SELECT $1, $10, '$' || $2::text, x$ FROM t WHERE a = $3";
        assert_eq!(max_param(sql), 10);
        assert_eq!(
            shift_params(sql, 16),
            "SELECT $17, $26, '$' || $18::text, x$ FROM t WHERE a = $19"
        );
        assert_eq!(shift_params("no params", 3), "no params");
    }

    static FIRST: StatementText = StatementText::new(|gate| match gate {
        Some(g) => format!("INSERT INTO x SELECT $1, $2 FROM {}", g.from),
        None => "INSERT INTO x VALUES ($1, $2)".to_owned(),
    });
    static SECOND: StatementText = StatementText::new(|gate| match gate {
        Some(g) => format!(
            "INSERT INTO y SELECT $1, (SELECT id FROM {}) FROM {}",
            g.previous.expect("a previous write"),
            g.from
        ),
        None => "INSERT INTO y VALUES ($1, NULL)".to_owned(),
    });

    #[test]
    fn the_entities_values_come_first_then_the_claims() {
        let claim_params = max_param(events::CLAIM);
        let one = compose(&[&FIRST]);
        assert_eq!(max_param(&one), 2 + claim_params);
        assert!(
            one.starts_with("WITH claim AS (INSERT INTO events"),
            "{one}"
        );
        assert!(one.contains("VALUES ($3, $4,"), "{one}");
        assert!(one.contains(", step0 AS (INSERT INTO x SELECT $1, $2 FROM claim RETURNING id)"));
        assert!(one.ends_with(
            "SELECT (SELECT id FROM claim), ARRAY[(SELECT count(*) FROM step0)]::int8[]"
        ));

        let two = compose(&[&FIRST, &SECOND]);
        assert_eq!(max_param(&two), 3 + claim_params);
        assert!(two.contains("step1 AS (INSERT INTO y SELECT $3, (SELECT id FROM step0) FROM claim RETURNING id)"), "{two}");
        assert!(two.contains("VALUES ($4, $5,"), "{two}");

        let none = compose(&[]);
        assert!(
            none.ends_with("SELECT (SELECT id FROM claim), ARRAY[]::int8[]"),
            "{none}"
        );
        assert_eq!(max_param(&none), claim_params);
    }

    #[test]
    fn each_shape_is_composed_once() {
        let a = event_statement(&[&FIRST, &SECOND]);
        let b = event_statement(&[&FIRST, &SECOND]);
        assert!(std::ptr::eq(a, b));
        assert_ne!(event_statement(&[&FIRST]), a);
    }
}
