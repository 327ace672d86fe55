//! An entity write as a value: its statement's text ([`StatementText`], built once), the
//! table it counts rows in, and the binder of its values ([`Args`]). Shared by the one-event
//! path (`super::writes`, with the claim of `super::events`) and the batched path
//! (`super::batch`), and by the per-table modules that define the statements; it depends on
//! none of them (only on `super::columns`, the multi-row binding).

use super::columns::Columns;
use crate::result::RecordCounts;
use sqlx::error::BoxDynError;
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, Encode, PgConnection, Postgres, Type};
use std::sync::OnceLock;

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
}

impl Table {
    pub(crate) fn add(self, counts: &mut RecordCounts, rows: u64) {
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

/// Where a composed entity statement reads from: `from` is the relation whose row means
/// "write" (the event's claim), `previous` the CTE of the write before it, if any (its
/// `RETURNING id`), for a write that needs that row (a review's pull request).
#[derive(Debug, Clone, Copy)]
pub struct Gate<'s> {
    pub from: &'s str,
    pub previous: Option<&'s str>,
}

/// The text of one entity statement: built once per process on its own, and on demand
/// inside an event's statement (`super::writes`).
pub struct StatementText {
    /// Builds the statement: with `None` it writes unconditionally; with a gate, once per
    /// row of `gate.from` (so not at all when the delivery was a duplicate).
    pub(crate) build: fn(Option<Gate<'_>>) -> String,
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
    pub(crate) fn alone(&self) -> &str {
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
    pub(crate) looks_up_users: bool,
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
            key: None,
        }
    }

    /// The entity's conflict key, for a statement with a multi-row form.
    pub fn keyed(mut self, key: i64) -> Self {
        self.key = Some(key);
        self
    }
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

/// The highest `$n` in a statement.
pub(crate) fn max_param(sql: &str) -> usize {
    params(sql).map(|(_, _, n)| n).max().unwrap_or(0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_to_their_table() {
        let mut counts = RecordCounts::default();
        Table::Commits.add(&mut counts, 3);
        Table::Commits.add(&mut counts, 2);
        Table::Reviews.add(&mut counts, 1);
        assert_eq!((counts.commits, counts.reviews, counts.issues), (5, 1, 0));
    }
}
