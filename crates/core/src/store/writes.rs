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

use super::batch::Columns;
use super::connections::{worth_another_connection, Connections};
use super::events::{self, EventRecord};
use crate::error::Result;
use crate::result::RecordCounts;
use crate::time::Timestamp;
use sqlx::error::BoxDynError;
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, Connection, Encode, PgConnection, Postgres, Type};
use std::sync::{LazyLock, Mutex, OnceLock};

/// Bound values of one statement, in `$n` order. Remembers the first value that failed to
/// encode, so building reads as a list of `add`s.
///
/// The same binders also fill a multi-row statement (`store::batch`): in columns mode each
/// `add` appends the value to the array of its position, and `$n` is that array.
#[derive(Default)]
pub struct Args {
    values: PgArguments,
    columns: Option<Columns>,
    error: Option<BoxDynError>,
}

impl Args {
    /// Values for a multi-row statement: call [`Self::end_row`] after each row's binder.
    pub(crate) fn columns() -> Self {
        Args {
            columns: Some(Columns::default()),
            ..Args::default()
        }
    }

    /// Binds the next `$n`.
    pub fn add<'q, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'q, Postgres> + Type<Postgres> + 'q,
    {
        if self.error.is_none() {
            let added = match &mut self.columns {
                None => Arguments::add(&mut self.values, value),
                Some(columns) => columns.add(value),
            };
            if let Err(e) = added {
                self.error = Some(e);
            }
        }
        self
    }

    /// Columns mode: the row's values are all bound.
    pub(crate) fn end_row(&mut self) {
        if let Some(columns) = &mut self.columns {
            if let Err(e) = columns.end_row() {
                self.error.get_or_insert(e);
            }
        }
    }

    pub(crate) fn finish(mut self) -> std::result::Result<PgArguments, sqlx::Error> {
        if let (None, Some(columns)) = (&self.error, self.columns.take()) {
            for array in columns.finish() {
                if let Err(e) = array.and_then(|a| Arguments::add(&mut self.values, a)) {
                    self.error = Some(e);
                    break;
                }
            }
        }
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
    Deployments,
    DeploymentStatuses,
    WorkflowRuns,
    WorkflowJobs,
    Releases,
    /// Fields derived from other rows (a deployment's, from its statuses): not counted, the
    /// row's own upsert is.
    Derived,
}

impl Table {
    fn add(self, counts: &mut RecordCounts, rows: u64) {
        let rows = u32::try_from(rows).unwrap_or(u32::MAX);
        let field = match self {
            Table::Commits => &mut counts.commits,
            Table::PullRequests => &mut counts.pull_requests,
            Table::Issues => &mut counts.issues,
            Table::Reviews => &mut counts.reviews,
            Table::Deployments => &mut counts.deployments,
            Table::DeploymentStatuses => &mut counts.deployment_statuses,
            Table::WorkflowRuns => &mut counts.workflow_runs,
            Table::WorkflowJobs => &mut counts.workflow_jobs,
            Table::Releases => &mut counts.releases,
            Table::Derived => return,
        };
        *field = field.saturating_add(rows);
    }
}

/// Where a composed entity statement reads from: `from` is the relation whose row means
/// "write" (the event's claim), `previous` the CTE of the write before it, if any (its
/// `RETURNING id`), for a write that needs that row (a review's pull request).
#[derive(Debug, Clone, Copy)]
pub struct Gate<'s> {
    pub from: &'s str,
    pub previous: Option<&'s str>,
}

/// The text of one entity statement: built once per process on its own, and on demand
/// inside an event's statement (see [`event_statement`]).
pub struct StatementText {
    /// Builds the statement: with `None` it writes unconditionally; with a gate, once per
    /// row of `gate.from` (so not at all when the delivery was a duplicate).
    build: fn(Option<Gate<'_>>) -> String,
    alone: OnceLock<String>,
    /// Builds the multi-row form, for statements that have one (the convergent upserts,
    /// [`super::converge::ConvergentUpsert::sql_rows`]): `$n` is an array of every row's
    /// `$n`, as [`Args::columns`] binds them.
    build_rows: Option<fn() -> String>,
    rows: OnceLock<String>,
}

impl StatementText {
    pub const fn new(build: fn(Option<Gate<'_>>) -> String) -> Self {
        StatementText {
            build,
            alone: OnceLock::new(),
            build_rows: None,
            rows: OnceLock::new(),
        }
    }

    /// A statement that also has a multi-row form.
    pub const fn with_rows(build: fn(Option<Gate<'_>>) -> String, rows: fn() -> String) -> Self {
        StatementText {
            build,
            alone: OnceLock::new(),
            build_rows: Some(rows),
            rows: OnceLock::new(),
        }
    }

    /// The statement on its own, with its `$1…` values.
    fn alone(&self) -> &str {
        self.alone.get_or_init(|| (self.build)(None))
    }

    /// The multi-row form, if the statement has one.
    pub(crate) fn rows(&self) -> Option<&str> {
        let build = self.build_rows?;
        Some(self.rows.get_or_init(build))
    }
}

/// Binds an entity statement's values, in `$n` order, after what `Args` already holds.
type Binder<'a> = Box<dyn FnOnce(&mut Args) + Send + 'a>;

/// One statement writing one table, and how to bind its values.
pub struct EntityWrite<'a> {
    pub(crate) text: &'static StatementText,
    pub(crate) bind: Binder<'a>,
    pub(crate) table: Table,
    looks_up_users: bool,
    /// The statement must see the rows of the writes before it, so it runs as a statement
    /// of its own in the event's transaction, never composed (see [`Self::separate`]).
    separate: bool,
    /// The entity's conflict key (its GitHub id), for statements with a multi-row form: two
    /// writes of one key never share a multi-row statement (`store::batch`).
    pub(crate) key: Option<i64>,
}

impl<'a> EntityWrite<'a> {
    /// `looks_up_users`: the statement falls back to a `users` lookup for a person the
    /// caches did not map, so it must run after the link barrier (see the module doc).
    pub fn new(
        text: &'static StatementText,
        table: Table,
        looks_up_users: bool,
        bind: impl FnOnce(&mut Args) + Send + 'a,
    ) -> Self {
        EntityWrite {
            text,
            bind: Box::new(bind),
            table,
            looks_up_users,
            separate: false,
            key: None,
        }
    }

    /// The write reads what the writes before it wrote (a status its deployment's row, a
    /// deployment's derived fields its statuses): the event runs as a transaction, this
    /// write a later statement. Such a write has no multi-row form either, so batched
    /// reprocessing runs it alone, in order, after the multi-row statements.
    pub fn separate(mut self) -> Self {
        self.separate = true;
        self
    }

    /// The entity's conflict key, for a statement with a multi-row form.
    pub fn keyed(mut self, key: i64) -> Self {
        self.key = Some(key);
        self
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

/// The highest `$n` in a statement.
pub(crate) fn max_param(sql: &str) -> usize {
    params(sql).map(|(_, _, n)| n).max().unwrap_or(0)
}

/// The statement with every `$n` renumbered `$(n + by)`.
fn shift_params(sql: &str, by: usize) -> String {
    replace_params(sql, |n| format!("${}", n + by))
}

/// The statement with every `$n` replaced by `with(n)`. Our statements hold no string
/// literal or dollar-quoted text with a `$` in it, so every `$` followed by digits is a
/// placeholder.
pub(crate) fn replace_params(sql: &str, with: impl Fn(usize) -> String) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut last = 0;
    for (start, end, n) in params(sql) {
        out.push_str(&sql[last..start]);
        out.push_str(&with(n));
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
            && !writes.iter().any(|w| w.looks_up_users || w.separate)
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

/// Runs one entity write as its own statement on `conn` (inside the caller's transaction,
/// after the link barrier if the write looks up users) and returns the rows it inserted
/// or changed. Batched reprocessing runs the writes without a multi-row form with it
/// (`store::batch`).
pub async fn execute_alone(
    conn: &mut PgConnection,
    write: EntityWrite<'_>,
) -> std::result::Result<u64, sqlx::Error> {
    let mut args = Args::default();
    (write.bind)(&mut args);
    let result = sqlx::query_with(write.text.alone(), args.finish()?)
        .execute(conn)
        .await?;
    Ok(result.rows_affected())
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

    #[test]
    fn counts_add_to_their_table() {
        let mut counts = RecordCounts::default();
        Table::Commits.add(&mut counts, 3);
        Table::Commits.add(&mut counts, 2);
        Table::Reviews.add(&mut counts, 1);
        assert_eq!((counts.commits, counts.reviews, counts.issues), (5, 1, 0));
    }
}
