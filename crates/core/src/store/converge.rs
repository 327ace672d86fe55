//! Convergent upserts: the one SQL shape behind every entity that many deliveries
//! describe in no particular order (pull requests, issues, reviews).
//!
//! A row's columns are split into groups. Each group has an order (a key) over the
//! payloads that carry it; an upsert replaces a group's columns only when the payload's
//! key is greater than the stored one, so whatever the order of arrival the row ends with
//! each group's maximum, which is a property of the set of payloads alone. A group that
//! some payloads omit (line counts, the draft flag) has its own as-of column: a payload
//! without the group leaves it alone, and an older payload that has it can still fill it
//! in. Columns that merge commutatively (the earliest review, an author id found late)
//! are combined outside the groups.
//!
//! Everything is decided by PostgreSQL in one `INSERT … ON CONFLICT DO UPDATE … WHERE`,
//! against the latest committed row under its row lock, so concurrent deliveries
//! serialise per entity and still converge. The statement only touches the row when some
//! group or merge changes it, so its affected-row count is "inserted or changed".
//!
//! Entities with a second unique index (`[repoId, number]`) first take a transaction-level
//! advisory lock on their GitHub id, in the same statement. Without it, two transactions
//! inserting the same new entity can each enter one of the two unique indexes and then
//! wait for each other (PostgreSQL only arbitrates the conflict target; the other index
//! waits for the other transaction): a deadlock, or at best a unique violation to retry.

/// Side placeholder in key expressions: replaced by `EXCLUDED` (the payload) and `t` (the
/// stored row).
const SIDE: &str = "{side}";

/// Columns a payload replaces together when it wins the group's order.
#[derive(Debug)]
pub struct FieldGroup {
    /// The group's as-of column, for groups some payloads omit: `NULL` in a payload means
    /// "absent", and a stored `NULL` loses to any payload that has the group. The key
    /// must start with it (after a terminal flag, if the group has one). `None` for the
    /// group every payload carries.
    pub as_of: Option<&'static str>,
    /// The order, most significant first: SQL expressions over `{side}` that are never
    /// NULL (wrap nullable columns in `COALESCE`), compared as one row.
    pub key: &'static [&'static str],
    /// Quoted column names the group replaces.
    pub columns: &'static [&'static str],
}

/// A column combined the same way whatever the order of payloads.
#[derive(Debug, Clone, Copy)]
pub enum Merge {
    /// The earliest non-NULL value seen (`LEAST` ignores NULL).
    Earliest(&'static str),
    /// Set once from the first non-NULL value, then kept (a mapping found later fills a
    /// gap; it never replaces a mapping already made).
    Fill(&'static str),
    /// The least non-NULL value seen, for a column only some deliveries carry and that
    /// GitHub should not change: a rule of the set of deliveries, so arrival order never
    /// decides it (`Fill` would keep whichever came first).
    Least(&'static str),
}

/// A transaction-level advisory lock that serialises writers of one entity.
#[derive(Debug, Clone, Copy)]
pub struct EntityLock {
    /// The lock class (first key of the two-key form, which never overlaps the one-key
    /// form other locks use): one per table.
    pub class: i32,
    /// The bound parameter holding the entity's GitHub id (`$3`), hashed to the second key.
    /// Hash collisions only serialise two unrelated entities; a transaction takes at most
    /// one lock per class, classes in a fixed order, so they cannot deadlock.
    pub id_param: &'static str,
}

/// One entity's upsert.
#[derive(Debug)]
pub struct ConvergentUpsert {
    /// `<table> AS t (<columns>)`: the alias must be `t`.
    pub target: &'static str,
    /// The bound values, in column order (`$1, $2, …`).
    pub values: &'static str,
    /// The conflict target (the entity's GitHub id).
    pub conflict: &'static str,
    /// Set for entities with unique indexes besides the conflict target.
    pub lock: Option<EntityLock>,
    /// The ordered column groups.
    pub groups: &'static [FieldGroup],
    /// The commutatively merged columns.
    pub merges: &'static [Merge],
}

impl FieldGroup {
    /// SQL that is true when the payload wins this group.
    fn wins(&self) -> String {
        let side = |name: &str| {
            self.key
                .iter()
                .map(|k| k.replace(SIDE, name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let newer = format!("ROW({}) > ROW({})", side("EXCLUDED"), side("t"));
        match self.as_of {
            None => newer,
            Some(col) => format!("(EXCLUDED.{col} IS NOT NULL AND (t.{col} IS NULL OR {newer}))"),
        }
    }
}

impl Merge {
    fn column(self) -> &'static str {
        match self {
            Merge::Earliest(c) | Merge::Fill(c) | Merge::Least(c) => c,
        }
    }

    fn value(self) -> String {
        match self {
            Merge::Earliest(c) | Merge::Least(c) => format!("LEAST(t.{c}, EXCLUDED.{c})"),
            Merge::Fill(c) => format!("COALESCE(t.{c}, EXCLUDED.{c})"),
        }
    }

    /// SQL that is true when the merge changes the stored value.
    fn changes(self) -> String {
        match self {
            Merge::Earliest(c) => format!("EXCLUDED.{c} < COALESCE(t.{c}, 'infinity')"),
            Merge::Fill(c) => format!("(t.{c} IS NULL AND EXCLUDED.{c} IS NOT NULL)"),
            Merge::Least(c) => {
                format!("(EXCLUDED.{c} IS NOT NULL AND (t.{c} IS NULL OR EXCLUDED.{c} < t.{c}))")
            }
        }
    }
}

/// A fragment of a single-row statement (its `$k` values) rewritten for the multi-row form
/// ([`ConvergentUpsert::sql_rows`]): `$k` becomes the current row's `k`-th column.
pub fn for_rows(fragment: &str) -> String {
    super::statement::replace_params(fragment, |k| format!("{ROW}.p{k}"))
}

/// The row alias of the multi-row form (unused by any subquery of the values).
const ROW: &str = "batch_row";

impl ConvergentUpsert {
    /// The statement's text, built once per entity; values are always bound. With
    /// `Some(gate)` the row is only written if the relation `gate` has a row (an event's
    /// claim, see `store::writes`).
    pub fn sql(&self, gate: Option<&str>) -> String {
        let from_gate = gate.map(|g| format!(" FROM {g}")).unwrap_or_default();
        let insert = match self.lock {
            None if gate.is_none() => {
                format!("INSERT INTO {} VALUES ({})", self.target, self.values)
            }
            None => format!(
                "INSERT INTO {} SELECT {}{from_gate}",
                self.target, self.values
            ),
            // The row to insert is computed from the lock's CTE, so the lock is held
            // before PostgreSQL looks for a conflict.
            Some(lock) => format!(
                "WITH entity_lock AS (SELECT pg_advisory_xact_lock({}, hashint8({})){from_gate}) \
                 INSERT INTO {} SELECT {} FROM entity_lock",
                lock.class, lock.id_param, self.target, self.values
            ),
        };
        format!("{insert} {}", self.on_conflict())
    }

    /// The multi-row form of the same upsert, for applying many payloads in one statement
    /// (batched reprocessing, `store::batch`): `$k` is an array holding the single-row
    /// form's `$k` of every row, and the rows are upserted in array order, each exactly as
    /// the single-row statement would (the same groups, merges and guard; the entity lock
    /// taken row by row, in that order, before the row's conflict check). PostgreSQL
    /// refuses to upsert one conflict key twice in a statement, so the caller must not bind
    /// the same entity twice.
    pub fn sql_rows(&self) -> String {
        let n = super::statement::max_param(self.values);
        let columns: Vec<String> = (1..=n).map(|k| format!("p{k}")).collect();
        let arrays: Vec<String> = (1..=n).map(|k| format!("${k}")).collect();
        let source = format!(
            "UNNEST({}) AS {ROW}({})",
            arrays.join(", "),
            columns.join(", ")
        );
        let values = for_rows(self.values);
        let insert = match self.lock {
            None => format!("INSERT INTO {} SELECT {values} FROM {source}", self.target),
            // A CTE with a volatile function is not inlined: it runs as the insert pulls
            // its rows, so each row's lock is taken before that row's conflict check.
            Some(lock) => format!(
                "WITH entity_lock AS (SELECT pg_advisory_xact_lock({}, hashint8({})) AS locked, {ROW}.* \
                 FROM {source}) INSERT INTO {} SELECT {values} FROM entity_lock AS {ROW}",
                lock.class,
                for_rows(lock.id_param),
                self.target
            ),
        };
        format!("{insert} {}", self.on_conflict())
    }

    /// `ON CONFLICT … DO UPDATE SET … WHERE …`: the convergence rules, the same for both
    /// forms.
    fn on_conflict(&self) -> String {
        let mut sets = Vec::new();
        let mut any = Vec::new();
        for group in self.groups {
            let wins = group.wins();
            for col in group.columns {
                sets.push(format!(
                    "{col} = CASE WHEN {wins} THEN EXCLUDED.{col} ELSE t.{col} END"
                ));
            }
            any.push(wins);
        }
        for merge in self.merges {
            sets.push(format!("{} = {}", merge.column(), merge.value()));
            any.push(merge.changes());
        }
        format!(
            "ON CONFLICT ({}) DO UPDATE SET {} WHERE {}",
            self.conflict,
            sets.join(", "),
            any.join(" OR ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_guarded_sets_and_a_where_that_only_passes_on_change() {
        let upsert = ConvergentUpsert {
            target: "x AS t (id, v, n, \"nAt\", a)",
            values: "$1, $2, $3, $4, $5",
            conflict: "id",
            lock: Some(EntityLock {
                class: 7,
                id_param: "$1",
            }),
            groups: &[
                FieldGroup {
                    as_of: None,
                    key: &["{side}.v"],
                    columns: &["v"],
                },
                FieldGroup {
                    as_of: Some("\"nAt\""),
                    key: &["{side}.\"nAt\"", "{side}.n"],
                    columns: &["n", "\"nAt\""],
                },
            ],
            merges: &[Merge::Earliest("a")],
        };
        let sql = upsert.sql(None);
        assert!(sql.starts_with(
            "WITH entity_lock AS (SELECT pg_advisory_xact_lock(7, hashint8($1))) \
             INSERT INTO x AS t (id, v, n, \"nAt\", a) SELECT $1, $2, $3, $4, $5 FROM entity_lock \
             ON CONFLICT (id) DO UPDATE SET "
        ));
        assert!(
            sql.contains("v = CASE WHEN ROW(EXCLUDED.v) > ROW(t.v) THEN EXCLUDED.v ELSE t.v END")
        );
        assert!(sql.contains(
            "n = CASE WHEN (EXCLUDED.\"nAt\" IS NOT NULL AND (t.\"nAt\" IS NULL OR \
             ROW(EXCLUDED.\"nAt\", EXCLUDED.n) > ROW(t.\"nAt\", t.n))) THEN EXCLUDED.n ELSE t.n END"
        ));
        assert!(sql.contains("a = LEAST(t.a, EXCLUDED.a)"));
        assert!(
            sql.ends_with("OR EXCLUDED.a < COALESCE(t.a, 'infinity')"),
            "{sql}"
        );
    }

    #[test]
    fn the_multi_row_form_has_the_same_rules_over_arrays() {
        let mut upsert = ConvergentUpsert {
            target: "x AS t (id, v, who)",
            values: "$1, $2, (SELECT u.id FROM users u WHERE u.gh = $3)",
            conflict: "id",
            lock: Some(EntityLock {
                class: 7,
                id_param: "$1",
            }),
            groups: &[FieldGroup {
                as_of: None,
                key: &["{side}.v"],
                columns: &["v"],
            }],
            merges: &[],
        };
        let rows = upsert.sql_rows();
        assert_eq!(
            rows,
            "WITH entity_lock AS (SELECT pg_advisory_xact_lock(7, hashint8(batch_row.p1)) AS locked, \
             batch_row.* FROM UNNEST($1, $2, $3) AS batch_row(p1, p2, p3)) \
             INSERT INTO x AS t (id, v, who) SELECT batch_row.p1, batch_row.p2, \
             (SELECT u.id FROM users u WHERE u.gh = batch_row.p3) FROM entity_lock AS batch_row \
             ON CONFLICT (id) DO UPDATE SET v = CASE WHEN ROW(EXCLUDED.v) > ROW(t.v) THEN EXCLUDED.v ELSE t.v END \
             WHERE ROW(EXCLUDED.v) > ROW(t.v)"
        );
        let alone = upsert.sql(None);
        assert!(alone.ends_with(&rows[rows.find(" ON CONFLICT").unwrap()..]));
        upsert.lock = None;
        assert!(upsert.sql_rows().starts_with(
            "INSERT INTO x AS t (id, v, who) SELECT batch_row.p1, batch_row.p2, \
             (SELECT u.id FROM users u WHERE u.gh = batch_row.p3) \
             FROM UNNEST($1, $2, $3) AS batch_row(p1, p2, p3) ON CONFLICT (id)"
        ));
    }

    #[test]
    fn a_gated_upsert_writes_one_row_per_gate_row() {
        let mut upsert = ConvergentUpsert {
            target: "x AS t (id, v)",
            values: "$1, $2",
            conflict: "id",
            lock: Some(EntityLock {
                class: 7,
                id_param: "$1",
            }),
            groups: &[FieldGroup {
                as_of: None,
                key: &["{side}.v"],
                columns: &["v"],
            }],
            merges: &[],
        };
        assert!(upsert.sql(Some("claim")).starts_with(
            "WITH entity_lock AS (SELECT pg_advisory_xact_lock(7, hashint8($1)) FROM claim) \
             INSERT INTO x AS t (id, v) SELECT $1, $2 FROM entity_lock ON CONFLICT (id)"
        ));
        upsert.lock = None;
        assert!(upsert
            .sql(Some("claim"))
            .starts_with("INSERT INTO x AS t (id, v) SELECT $1, $2 FROM claim ON CONFLICT (id)"));
        assert!(upsert
            .sql(None)
            .starts_with("INSERT INTO x AS t (id, v) VALUES ($1, $2) ON CONFLICT (id)"));
    }
}
