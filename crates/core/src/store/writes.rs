//! One event's write in as few round trips as its consistency allows.
//!
//! An event is its claim (the `events` row, see [`super::events`]) and its entity writes
//! (the pull request, issue, review or commit statements, each an [`EntityWrite`]). The
//! claim is composed into the first entity write as a CTE, and the entity's rows are read
//! `FROM claim`, so a duplicate delivery (no claim row) writes nothing and the two commit
//! together. Then:
//!
//! - one statement whose people all mapped from the caches runs alone, as its own
//!   transaction: one round trip for the whole event;
//! - anything else runs in a transaction begun with the shared link barrier
//!   (`BEGIN; SELECT pg_advisory_xact_lock_shared(…)`, one round trip), then its statements,
//!   then `COMMIT`.
//!
//! Why the split: a statement's snapshot is taken before it runs, so a lock taken inside it
//! cannot order what it reads. Reads that must see a concurrent link (an unmapped person's
//! fallback lookup in `users`, see [`super::authors`]) need the barrier taken by an earlier
//! statement; and a second entity write (a review after its pull request) must see the
//! first one's row, which a CTE of the same statement would not. A statement whose people
//! are all mapped reads neither: its writes are decided by `ON CONFLICT` against the latest
//! committed rows, whatever its snapshot.

use super::connections::{worth_another_connection, Connections};
use super::events::{self, EventRecord};
use crate::error::Result;
use crate::result::RecordCounts;
use crate::time::Timestamp;
use sqlx::error::BoxDynError;
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, Connection, Encode, PgConnection, Postgres, Type};
use std::sync::{LazyLock, OnceLock};

/// Bound values of one statement, in `$n` order. Remembers the first value that failed to
/// encode, so building reads as a list of `add`s.
#[derive(Default)]
pub struct Args {
    values: PgArguments,
    error: Option<BoxDynError>,
}

impl Args {
    /// Binds the next `$n`.
    pub fn add<'q, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'q, Postgres> + Type<Postgres> + 'q,
    {
        if self.error.is_none() {
            if let Err(e) = Arguments::add(&mut self.values, value) {
                self.error = Some(e);
            }
        }
        self
    }

    fn finish(self) -> std::result::Result<PgArguments, sqlx::Error> {
        match self.error {
            None => Ok(self.values),
            Some(e) => Err(sqlx::Error::Encode(e)),
        }
    }
}

/// The table an entity write counts its rows in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Commits,
    PullRequests,
    Issues,
    Reviews,
}

impl Table {
    fn add(self, counts: &mut RecordCounts, rows: u64) {
        let rows = u32::try_from(rows).unwrap_or(u32::MAX);
        let field = match self {
            Table::Commits => &mut counts.commits,
            Table::PullRequests => &mut counts.pull_requests,
            Table::Issues => &mut counts.issues,
            Table::Reviews => &mut counts.reviews,
        };
        *field = field.saturating_add(rows);
    }
}

/// The text of one entity statement, built once per process in its two forms.
pub struct StatementText {
    /// Builds the statement; with `Some(gate)` it writes one row set per row of the
    /// relation `gate` (none when the gate is empty), with `None` unconditionally.
    build: fn(Option<&str>) -> String,
    alone: OnceLock<String>,
    after_claim: OnceLock<String>,
}

impl StatementText {
    pub const fn new(build: fn(Option<&str>) -> String) -> Self {
        StatementText {
            build,
            alone: OnceLock::new(),
            after_claim: OnceLock::new(),
        }
    }

    /// The statement on its own, with its `$1…` values.
    fn alone(&self) -> &str {
        self.alone.get_or_init(|| (self.build)(None))
    }

    /// The claim and this statement as one: its own values first, then the claim's.
    fn after_claim(&self) -> &str {
        self.after_claim
            .get_or_init(|| claim_and((self.build)(Some("claim"))))
    }
}

/// One statement writing one table, with its values bound.
pub struct EntityWrite {
    text: &'static StatementText,
    args: Args,
    table: Table,
    looks_up_users: bool,
}

impl EntityWrite {
    /// `looks_up_users`: the statement falls back to a `users` lookup for a person the
    /// caches did not map, so it must run after the link barrier (see the module doc).
    pub fn new(
        text: &'static StatementText,
        args: Args,
        table: Table,
        looks_up_users: bool,
    ) -> Self {
        EntityWrite {
            text,
            args,
            table,
            looks_up_users,
        }
    }
}

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

/// The claim composed before an entity statement: the entity's values are `$1…$n`, the
/// claim's follow (renumbered past `n`), and the result is the claim's id (`NULL` for a
/// duplicate) and the entity rows inserted or changed.
fn claim_and(entity: String) -> String {
    let claim = shift_params(events::CLAIM, max_param(&entity));
    format!(
        "WITH claim AS ({claim} RETURNING id), step AS ({entity} RETURNING 1) \
         SELECT (SELECT id FROM claim), (SELECT count(*) FROM step)"
    )
}

/// The claim alone, for an event with nothing else to write (a push without commits).
static CLAIM_ALONE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH claim AS ({} RETURNING id) SELECT (SELECT id FROM claim), 0::int8",
        events::CLAIM
    )
});

/// `BEGIN` and the shared link barrier in one round trip (a simple query: the key is a
/// constant, not a value).
static BEGIN_WITH_BARRIER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "BEGIN; SELECT pg_advisory_xact_lock_shared({})",
        super::authors::LINK_BARRIER_LOCK
    )
});

/// The highest `$n` in a statement.
fn max_param(sql: &str) -> usize {
    params(sql).map(|(_, _, n)| n).max().unwrap_or(0)
}

/// The statement with every `$n` renumbered `$(n + by)`. Our statements hold no string
/// literal or dollar-quoted text with a `$` in it, so every `$` followed by digits is a
/// placeholder.
fn shift_params(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut last = 0;
    for (start, end, n) in params(sql) {
        out.push_str(&sql[last..start]);
        out.push_str(&format!("${}", n + by));
        last = end;
    }
    out.push_str(&sql[last..]);
    out
}

/// Each placeholder's byte range and number.
fn params(sql: &str) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let bytes = sql.as_bytes();
    bytes.iter().enumerate().filter_map(move |(i, &b)| {
        if b != b'$' {
            return None;
        }
        let digits = bytes[i + 1..]
            .iter()
            .take_while(|d| d.is_ascii_digit())
            .count();
        let n = sql.get(i + 1..i + 1 + digits)?.parse().ok()?;
        Some((i, i + 1 + digits, n))
    })
}

/// Writes one event: its claim and the entity writes `build` returns (called again for each
/// try). A connection that broke under a try fails it, and the event is tried again on
/// another, at most once per connection the processor may hold: nothing of the failed try is left, since it ran in one
/// transaction, and a try that did commit before the connection broke reads as a duplicate.
pub async fn write_event<F>(
    db: &Connections,
    ev: &EventRecord<'_>,
    now: Timestamp,
    build: F,
) -> Result<Written>
where
    F: Fn() -> Vec<EntityWrite>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let mut conn = db.lease().await?;
        let result = try_write(&mut conn, ev, now, build()).await;
        match conn.finish(result.map_err(Into::into)) {
            Err(e) if worth_another_connection(&e) && tries <= db.max_connections() => {
                tracing::debug!(error = %crate::text::redact_credentials(&e.to_string()), "took another connection");
            }
            other => return other,
        }
    }
}

async fn try_write(
    conn: &mut PgConnection,
    ev: &EventRecord<'_>,
    now: Timestamp,
    writes: Vec<EntityWrite>,
) -> std::result::Result<Written, sqlx::Error> {
    let mut writes = writes.into_iter();
    let first = writes.next();
    let rest: Vec<EntityWrite> = writes.collect();
    let alone = rest.is_empty() && !first.as_ref().is_some_and(|w| w.looks_up_users);
    if alone {
        return first_statement(conn, ev, now, first).await;
    }
    let mut tx = conn.begin_with(&**BEGIN_WITH_BARRIER).await?;
    let mut outcome = first_statement(&mut tx, ev, now, first).await?;
    let Written::Processed { records, .. } = &mut outcome else {
        tx.rollback().await?;
        return Ok(Written::Duplicate);
    };
    for write in rest {
        let result = sqlx::query_with(write.text.alone(), write.args.finish()?)
            .execute(&mut *tx)
            .await?;
        write.table.add(records, result.rows_affected());
    }
    tx.commit().await?;
    Ok(outcome)
}

/// The claim and the first entity write (if any) as one statement.
async fn first_statement(
    conn: &mut PgConnection,
    ev: &EventRecord<'_>,
    now: Timestamp,
    first: Option<EntityWrite>,
) -> std::result::Result<Written, sqlx::Error> {
    let (sql, mut args, table) = match first {
        Some(w) => (w.text.after_claim(), w.args, Some(w.table)),
        None => (CLAIM_ALONE.as_str(), Args::default(), None),
    };
    events::claim_args(&mut args, ev, now);
    let (event_id, rows): (Option<String>, i64) = sqlx::query_as_with(sql, args.finish()?)
        .fetch_one(conn)
        .await?;
    let Some(event_id) = event_id else {
        return Ok(Written::Duplicate);
    };
    let mut records = RecordCounts::default();
    if let Some(table) = table {
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

    #[test]
    fn the_claim_follows_the_entity_values() {
        let composed = claim_and("INSERT INTO x SELECT $1, $2 FROM claim".to_owned());
        let claim_params = max_param(events::CLAIM);
        assert_eq!(max_param(&composed), 2 + claim_params);
        assert!(composed.starts_with("WITH claim AS (INSERT INTO events"));
        assert!(composed.contains("step AS (INSERT INTO x SELECT $1, $2 FROM claim RETURNING 1)"));
        assert!(composed.contains("VALUES ($3, $4,"), "{composed}");
    }

    #[test]
    fn counts_add_to_their_table() {
        let mut counts = RecordCounts::default();
        Table::Commits.add(&mut counts, 3);
        Table::Commits.add(&mut counts, 2);
        Table::Reviews.add(&mut counts, 1);
        assert_eq!((counts.commits, counts.reviews, counts.issues), (5, 1, 0));
    }
}
