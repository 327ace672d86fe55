//! Reprocessing stored deliveries: the payloads of processed events applied to the entity
//! tables again, after an upgrade that reads new fields or a fix, without GitHub.
//!
//! Why it can be fast and safe: every entity write is a convergent upsert (see
//! `store::converge`) or an insert that skips what exists (commits), so the rows depend on
//! the set of payloads applied, not on their order. Events therefore run in batches, a
//! transaction per batch (one commit, one claim of the batch, its events' writes composed
//! into a few multi-row statements by `store::batch`) instead of one per event, several
//! batches at once, beside live deliveries, which
//! converge with them. No `events` row is written: the claim of live processing is replaced
//! by the claim of the batch.
//!
//! Resumable: a run (its filters in canonical form, [`RunFilters::key`]) is planned once into
//! batches of event ids (`reprocess_batches`); a batch is marked finished in the transaction
//! that wrote its rows, and claimed with `FOR UPDATE SKIP LOCKED`, so a run stopped at any
//! moment and started again (by this process or another, even concurrently) redoes no
//! finished batch. Events delivered after the run was planned are not part of it: live
//! processing wrote their rows.

use crate::error::{ProcessingError, Result};
use crate::payload::{self, EventKind};
use crate::processors::{self, Plan, WriteContext};
use crate::repos::{RepoInfo, RepositoryDirectory};
use crate::store::batch;
use crate::store::commits::{self, NewCommit};
use crate::store::connections::{worth_another_connection, Connections};
use crate::store::statement::EntityWrite;
use crate::time::{self, Timestamp};
use crate::users::{Identity, UserDirectory};
use futures_util::StreamExt;
use sqlx::Connection;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which stored deliveries a run applies, and how.
#[derive(Debug, Clone, Default)]
pub struct ReprocessOptions {
    pub filters: RunFilters,
    /// Events per batch (one transaction each). Default [`Self::DEFAULT_BATCH_SIZE`]; a
    /// resumed run keeps the batches it was planned with.
    pub batch_size: Option<u32>,
    /// Payload bytes per batch (their JSON text, as read): a batch is closed at `batch_size`
    /// events or once its payloads reach this many bytes, whichever comes first, so a
    /// batch's memory follows bytes, not only the count. A batch holds at least one event,
    /// so it may exceed the bound by one payload. Default [`Self::DEFAULT_BATCH_BYTES`]; a
    /// resumed run keeps the batches it was planned with.
    pub batch_bytes: Option<u32>,
    /// Batches in flight at once. Default: half the processor's `maxConnections`, at least 1
    /// ([`Self::default_concurrency`]; a batch holds one connection at a time, and the other
    /// half is left to live deliveries and the batches' own lookups).
    pub concurrency: Option<u32>,
    /// Stop after this many batches in this call; the run stays resumable.
    pub max_batches: Option<u32>,
}

impl ReprocessOptions {
    pub const DEFAULT_BATCH_SIZE: u32 = 200;
    pub const MAX_BATCH_SIZE: u32 = 10_000;
    /// 8 MiB: a batch of a few dozen large pushes, or the default 200 events of usual size
    /// (a few KB each). The addon's peak memory for a batch is a small multiple of it (the
    /// payload text, its parsed copy, the planned rows).
    pub const DEFAULT_BATCH_BYTES: u32 = 8 * 1024 * 1024;
    pub const MAX_BATCH_BYTES: u32 = 1 << 30;

    /// Batches in flight when `concurrency` is not given, for a processor of
    /// `max_connections`.
    pub fn default_concurrency(max_connections: u32) -> u32 {
        (max_connections / 2).max(1)
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(ProcessingError::Config(m.to_owned()));
        if let Some(b) = self.batch_size {
            if !(1..=Self::MAX_BATCH_SIZE).contains(&b) {
                return bad("batchSize must be between 1 and 10000");
            }
        }
        if let Some(b) = self.batch_bytes {
            if !(1..=Self::MAX_BATCH_BYTES).contains(&b) {
                return bad("batchBytes must be between 1 and 1073741824");
            }
        }
        if let Some(c) = self.concurrency {
            if !(1..=1000).contains(&c) {
                return bad("concurrency must be between 1 and 1000");
            }
        }
        if self.max_batches == Some(0) {
            return bad("maxBatches must be positive");
        }
        if self.filters.types.as_ref().is_some_and(Vec::is_empty) {
            return bad(
                "types is empty: name at least one type, or leave it out for every tracked type",
            );
        }
        if self
            .filters
            .repository_github_ids
            .as_ref()
            .is_some_and(Vec::is_empty)
        {
            return bad("repositoryGithubIds is empty: name at least one repository, or leave it out for every repository");
        }
        for (name, t) in [("since", self.filters.since), ("until", self.filters.until)] {
            if t.is_some_and(|t| !time::in_database_range(t)) {
                return Err(ProcessingError::Config(format!(
                    "{name} is before the earliest time the database holds (4714 BC)"
                )));
            }
        }
        for t in self.filters.types.iter().flatten() {
            if EventKind::from_name(t).is_none() {
                let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
                return Err(ProcessingError::Config(format!(
                    "types: {t:?} is not a tracked event type ({})",
                    names.join(", ")
                )));
            }
        }
        if let (Some(s), Some(u)) = (self.filters.since, self.filters.until) {
            if s >= u {
                return bad("since must be before until");
            }
        }
        Ok(())
    }
}

/// The stored deliveries a run selects: processed events of tracked types, by received time
/// (`since` inclusive, `until` exclusive), type and repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilters {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Event type names; `None`: every tracked type. An empty list is refused
    /// (`CONFIG_ERROR`): a caller who computed no types did not mean all of them.
    pub types: Option<Vec<String>>,
    /// GitHub ids of repositories; `None`: every repository. An empty list is refused, as
    /// for `types`.
    pub repository_github_ids: Option<Vec<i64>>,
}

impl RunFilters {
    /// The types as selected (sorted, unique; every tracked type when none was given).
    fn types(&self) -> Vec<String> {
        let mut types: Vec<String> = match &self.types {
            Some(types) if !types.is_empty() => types.clone(),
            _ => EventKind::ALL.iter().map(|k| k.name().to_owned()).collect(),
        };
        types.sort();
        types.dedup();
        types
    }

    fn repos(&self) -> Vec<i64> {
        let mut repos = self.repository_github_ids.clone().unwrap_or_default();
        repos.sort_unstable();
        repos.dedup();
        repos
    }

    /// What identifies a run: the filters in canonical form. Two calls with the same filters
    /// (in any order of types or repositories) name the same run.
    pub fn key(&self) -> String {
        let at = |t: Option<Timestamp>| {
            t.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .unwrap_or_else(|| "-".into())
        };
        let repos: Vec<String> = self.repos().iter().map(i64::to_string).collect();
        format!(
            "since={};until={};types={};repos={}",
            at(self.since),
            at(self.until),
            self.types().join(","),
            if repos.is_empty() {
                "*".to_owned()
            } else {
                repos.join(",")
            }
        )
    }
}

/// The events a run's filters select; `$1` since, `$2` until, `$3` types, `$4` repository
/// GitHub ids (empty: all). A delivery live processing ignored (received after its repository
/// was removed from tracking or deleted: `ignoredReason`) wrote no rows, so a rebuild applies
/// none of it either.
const SELECTED: &str = r#"e.processed AND e."ignoredReason" IS NULL AND e.type = ANY($3::text[])
      AND ($1::timestamp IS NULL OR e."receivedAt" >= $1)
      AND ($2::timestamp IS NULL OR e."receivedAt" < $2)
      AND e."repoId" IS NOT NULL
      AND (cardinality($4::int8[]) = 0
           OR e."repoId" IN (SELECT r.id FROM repositories r WHERE r."githubId" = ANY($4::int8[])))"#;

/// Where a run stands, for progress reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Events of the run's finished batches (earlier calls included).
    pub events_done: u64,
    pub total_events: u64,
    pub batches_done: u64,
    pub total_batches: u64,
}

/// Called after each finished batch.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// What one call did.
#[derive(Debug, Clone)]
pub struct ReprocessReport {
    pub run_id: String,
    /// Whether this call continued a run an earlier call had begun.
    pub resumed: bool,
    /// Events applied by this call, and by type.
    pub events: u64,
    pub by_type: BTreeMap<String, u64>,
    /// Events this call selected but could not apply (the payload no longer parses, or its
    /// repository is gone): left as they are.
    pub skipped: u64,
    /// Whether every batch of the run has finished (false after `max_batches`).
    pub complete: bool,
    pub total_events: u64,
    pub duration: Duration,
}

/// Tries of one batch when a try fails in a way another try can fix (a deadlock with a
/// concurrent writer, a broken connection, a concurrent insert of the same entity).
const BATCH_TRIES: u32 = 5;

/// Advisory lock class that serialises the planning of runs with the same key.
const RUN_LOCK_CLASS: i32 = 0x6470_7203;

/// What reprocessing needs from the processor.
pub(crate) struct Reprocessor<'p> {
    pub db: &'p Connections,
    pub repos: &'p RepositoryDirectory,
    pub users: &'p UserDirectory,
    /// The processor's `productionEnvironments` pattern.
    pub production_pattern: &'p str,
}

struct Run {
    id: String,
    resumed: bool,
    total_events: u64,
    total_batches: u64,
}

#[derive(Debug, Clone)]
struct Batch {
    seq: i32,
    /// Claim it waiting for a lock another transaction holds on it, rather than skipping it
    /// (see the second pass in [`Reprocessor::run`]).
    wait: bool,
}

#[derive(Default)]
struct BatchOutcome {
    /// `None`: another caller had claimed or finished it.
    by_type: Option<BTreeMap<String, u64>>,
    events: u64,
    skipped: u64,
}

impl Reprocessor<'_> {
    pub async fn run(
        &self,
        options: ReprocessOptions,
        progress: Option<ProgressFn>,
    ) -> Result<ReprocessReport> {
        options.validate()?;
        let started = Instant::now();
        let batch_size = options
            .batch_size
            .unwrap_or(ReprocessOptions::DEFAULT_BATCH_SIZE);
        let batch_bytes = options
            .batch_bytes
            .unwrap_or(ReprocessOptions::DEFAULT_BATCH_BYTES);
        let run = self.plan(&options.filters, batch_size, batch_bytes).await?;
        let (pending, done_events, done_batches) = self.pending(&run.id).await?;
        let concurrency = options
            .concurrency
            .unwrap_or_else(|| ReprocessOptions::default_concurrency(self.db.max_connections()))
            as usize;
        let limit = options.max_batches.map_or(usize::MAX, |m| m as usize);

        let stop = AtomicBool::new(false);
        let events_done = AtomicU64::new(done_events);
        let batches_done = AtomicU64::new(done_batches);
        let first_error: std::sync::Mutex<Option<ProcessingError>> = Default::default();
        let apply = |batches: Vec<Batch>| {
            futures_util::stream::iter(batches)
                .map(|batch| {
                    let (stop, first_error, events_done, batches_done) =
                        (&stop, &first_error, &events_done, &batches_done);
                    let progress = progress.clone();
                    let run = &run;
                    async move {
                        if stop.load(Ordering::Acquire) {
                            return BatchOutcome::default();
                        }
                        match self.batch(&run.id, &batch).await {
                            Ok(outcome) => {
                                if outcome.by_type.is_some() {
                                    let planned = outcome.events + outcome.skipped;
                                    let events =
                                        events_done.fetch_add(planned, Ordering::AcqRel) + planned;
                                    let batches = batches_done.fetch_add(1, Ordering::AcqRel) + 1;
                                    if let Some(report) = &progress {
                                        report(Progress {
                                            events_done: events.min(run.total_events),
                                            total_events: run.total_events,
                                            batches_done: batches,
                                            total_batches: run.total_batches,
                                        });
                                    }
                                }
                                outcome
                            }
                            Err(e) => {
                                // Batches in flight finish; no new one starts.
                                stop.store(true, Ordering::Release);
                                first_error.lock().expect("first error").get_or_insert(e);
                                BatchOutcome::default()
                            }
                        }
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect::<Vec<BatchOutcome>>()
        };
        let mut outcomes = apply(pending.into_iter().take(limit).collect()).await;
        // Second pass: batches the first skipped because a transaction held them (another
        // caller writing them, or a session of ours the server killed whose backend had not
        // yet let go) are claimed again, waiting for that lock: one another caller finished
        // is then seen finished, one nobody finished is written. So a call without
        // `maxBatches` that returns without error has finished the run.
        if options.max_batches.is_none() && first_error.lock().expect("first error").is_none() {
            let (left, _, _) = self.pending(&run.id).await?;
            if !left.is_empty() {
                let waiting = left
                    .into_iter()
                    .map(|b| Batch { wait: true, ..b })
                    .collect();
                outcomes.extend(apply(waiting).await);
            }
        }
        if let Some(e) = first_error.into_inner().expect("first error") {
            return Err(e);
        }

        let mut report = ReprocessReport {
            run_id: run.id.clone(),
            resumed: run.resumed,
            events: 0,
            by_type: BTreeMap::new(),
            skipped: 0,
            complete: false,
            total_events: run.total_events,
            duration: Duration::ZERO,
        };
        for outcome in outcomes {
            report.events += outcome.events;
            report.skipped += outcome.skipped;
            for (t, n) in outcome.by_type.into_iter().flatten() {
                *report.by_type.entry(t).or_default() += n;
            }
        }
        report.complete = self.finish_if_done(&run.id).await?;
        report.duration = started.elapsed();
        Ok(report)
    }

    /// The unfinished run with these filters, or a new one planned now: its batches are the
    /// selected events of one repository at a time in id order, `batch_size` of them or as
    /// many as start within a span of `batch_bytes` payload bytes, whichever is fewer, and
    /// batches of different repositories alternate: a pull request, issue or push belongs to
    /// one repository, so batches in flight at once rarely wait for each other's row locks.
    async fn plan(&self, filters: &RunFilters, batch_size: u32, batch_bytes: u32) -> Result<Run> {
        let key = filters.key();
        // Safe to run again on another connection if this one broke: a try that failed
        // rolled back whole.
        let mut tries = self.db.tries();
        loop {
            let mut conn = tries.lease().await?;
            let result = async {
            let mut tx = conn.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind(RUN_LOCK_CLASS)
                .bind(&key)
                .execute(&mut *tx)
                .await?;
            let found: Option<(String, i32, i32)> = sqlx::query_as(
                r#"SELECT id, "totalEvents", "totalBatches" FROM reprocess_runs
                   WHERE key = $1 AND "finishedAt" IS NULL ORDER BY "createdAt" DESC LIMIT 1"#,
            )
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id, events, batches)) = found {
                tx.commit().await?;
                return Ok::<_, sqlx::Error>(Run {
                    id,
                    resumed: true,
                    total_events: events.max(0) as u64,
                    total_batches: batches.max(0) as u64,
                });
            }
            let id = crate::store::new_id();
            let types = filters.types();
            let repos = filters.repos();
            sqlx::query(
                r#"INSERT INTO reprocess_runs (id, key, since, until, types, "repositoryGithubIds",
                                               "batchSize", "totalEvents", "totalBatches", "createdAt")
                   VALUES ($5, $6, $1, $2, $3, $4, $7, 0, 0, $8)"#,
            )
            .bind(filters.since)
            .bind(filters.until)
            .bind(&types)
            .bind(&repos)
            .bind(&id)
            .bind(&key)
            .bind(batch_size as i32)
            .bind(time::now())
            .execute(&mut *tx)
            .await?;
            let (events, batches): (i64, i64) = sqlx::query_as(&format!(
                r#"WITH sized AS (
                     SELECT e.id, e."repoId", octet_length(e.payload::text)::int8 AS size
                     FROM events e WHERE {SELECTED}),
                   selected AS (
                     -- A batch per `batch_size` events and per span of `batch_bytes` bytes
                     -- in which its events start (the bytes before each event, in order).
                     SELECT id, "repoId",
                            (row_number() OVER w - 1) / $7 AS chunk,
                            ((sum(size) OVER w)::int8 - size) / $8 AS span
                     FROM sized WINDOW w AS (PARTITION BY "repoId" ORDER BY id)),
                   chunks AS (
                     SELECT "repoId", row_number() OVER (PARTITION BY "repoId" ORDER BY min(id)) AS k,
                            array_agg(id ORDER BY id) AS ids
                     FROM selected GROUP BY "repoId", chunk, span),
                   batches AS (
                     INSERT INTO reprocess_batches ("runId", seq, "repoId", "eventIds", events)
                     SELECT $5, (row_number() OVER (ORDER BY k, "repoId") - 1)::int4, "repoId", ids,
                            cardinality(ids)
                     FROM chunks
                     RETURNING events)
                   SELECT COALESCE(sum(events), 0)::int8, count(*) FROM batches"#
            ))
            .bind(filters.since)
            .bind(filters.until)
            .bind(&types)
            .bind(&repos)
            .bind(&id)
            .bind(&key)
            .bind(i64::from(batch_size))
            .bind(i64::from(batch_bytes))
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                r#"UPDATE reprocess_runs SET "totalEvents" = $2, "totalBatches" = $3 WHERE id = $1"#,
            )
            .bind(&id)
            .bind(events as i32)
            .bind(batches as i32)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Run {
                id,
                resumed: false,
                total_events: events.max(0) as u64,
                total_batches: batches.max(0) as u64,
            })
        }
        .await;
            if let Some(run) = tries.finish(conn, result)? {
                return Ok(run);
            }
        }
    }

    /// The run's unfinished batches in order, and the events and batches already finished.
    async fn pending(&self, run_id: &str) -> Result<(Vec<Batch>, u64, u64)> {
        let mut tries = self.db.tries();
        let rows: Vec<(i32, i32, bool)> = loop {
            let mut conn = tries.lease().await?;
            let rows = sqlx::query_as(
                r#"SELECT seq, events, "finishedAt" IS NOT NULL
                   FROM reprocess_batches WHERE "runId" = $1 ORDER BY seq"#,
            )
            .bind(run_id)
            .fetch_all(&mut *conn)
            .await;
            if let Some(rows) = tries.finish(conn, rows)? {
                break rows;
            }
        };
        let mut pending = Vec::new();
        let (mut events, mut batches) = (0u64, 0u64);
        for (seq, n, finished) in rows {
            if finished {
                events += n.max(0) as u64;
                batches += 1;
            } else {
                pending.push(Batch { seq, wait: false });
            }
        }
        Ok((pending, events, batches))
    }

    /// Marks the run finished when no batch is left; whether it is.
    async fn finish_if_done(&self, run_id: &str) -> Result<bool> {
        let mut tries = self.db.tries();
        loop {
            let mut conn = tries.lease().await?;
            let done = sqlx::query_scalar(
            r#"WITH done AS (
                 UPDATE reprocess_runs SET "finishedAt" = COALESCE("finishedAt", $2)
                 WHERE id = $1 AND NOT EXISTS (
                   SELECT 1 FROM reprocess_batches b WHERE b."runId" = $1 AND b."finishedAt" IS NULL)
                 RETURNING id)
               SELECT EXISTS (SELECT 1 FROM done)"#,
        )
        .bind(run_id)
        .bind(time::now())
        .fetch_one(&mut *conn)
        .await;
            if let Some(done) = tries.finish(conn, done)? {
                return Ok(done);
            }
        }
    }

    /// One batch (see [`Self::batch_once`]). A repository deleted since it was cached (the
    /// write failed on its foreign key): the batch is read again, its events of that
    /// repository now without one (`events."repoId"` is set to NULL), so they are skipped.
    async fn batch(&self, run_id: &str, batch: &Batch) -> Result<BatchOutcome> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.batch_once(run_id, batch).await {
                Err(e) if e.is_stale_repository() && tries < BATCH_TRIES => {
                    tracing::debug!(
                        "reprocess: a cached repository no longer exists; reading the batch again"
                    );
                }
                other => return other,
            }
        }
    }

    /// One batch: read its payloads, plan them, map their people, then write all their rows
    /// and mark the batch finished in one transaction.
    async fn batch_once(&self, run_id: &str, batch: &Batch) -> Result<BatchOutcome> {
        let stored = self.read(run_id, batch).await?;
        let mut loaded = Vec::with_capacity(stored.len());
        let mut skipped = 0u64;
        for row in stored {
            // Gone since the run was planned: its repository deleted (the event keeps no
            // repository), or the event row deleted.
            let Some(row) = row else {
                skipped += 1;
                continue;
            };
            let Some(kind) = EventKind::from_name(&row.event_type) else {
                skipped += 1;
                continue;
            };
            match self.repos.find(Some(&row.repo_id), None).await? {
                Some(repo) => {
                    let original = row.payload.into_bytes();
                    loaded.push(Loaded {
                        kind,
                        repo,
                        received_at: row.received_at,
                        scratch: original.clone(),
                        original,
                    });
                }
                None => skipped += 1,
            }
        }
        let mut planned: Vec<Planned<'_>> = Vec::with_capacity(loaded.len());
        for l in loaded.iter_mut() {
            let parsed = match payload::parse_tracked(l.kind, &mut l.scratch, l.original.as_slice())
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::debug!(error = %e, "reprocess: skipped a stored payload");
                    skipped += 1;
                    continue;
                }
            };
            match processors::plan(&parsed) {
                Ok(plan) => planned.push(Planned {
                    kind: l.kind,
                    sort_key: sort_key(&plan, &l.repo),
                    plan,
                    repo: &l.repo,
                    received_at: l.received_at,
                }),
                Err(e) => {
                    tracing::debug!(error = %e, "reprocess: skipped a stored payload");
                    skipped += 1;
                }
            }
        }
        // A fixed order of entities in every batch: two batches (or a batch and a live event)
        // that touch the same rows lock them in the same order.
        planned.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));

        let mut identities: Vec<Identity> =
            planned.iter().flat_map(|p| p.plan.identities()).collect();
        identities.sort();
        identities.dedup();
        let mut users = self.users.resolve(&identities).await?;
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        for p in &planned {
            *by_type.entry(p.kind.name().to_owned()).or_default() += 1;
        }

        let applied = planned.len() as u64;
        let mut tries = 0;
        let mut connections = self.db.tries();
        loop {
            tries += 1;
            let contexts: Vec<WriteContext<'_>> = planned
                .iter()
                .map(|p| WriteContext {
                    repo: p.repo,
                    users: &users,
                    received_at: p.received_at,
                    production_pattern: self.production_pattern,
                })
                .collect();
            let writes = batch_writes(&planned, &contexts);
            let unmapped: Vec<&Identity> = identities
                .iter()
                .filter(|i| users.get(i).is_none())
                .collect();
            let mut conn = connections.lease().await?;
            let result = write_batch(
                &mut conn,
                BatchWrite {
                    run_id,
                    batch,
                    writes,
                    unmapped: &unmapped,
                    applied,
                    skipped,
                },
            )
            .await;
            // A broken connection: the same try on another (the transaction rolled back), at
            // most once per connection the processor may hold, as every query path does.
            let Some(result) = connections.finish(conn, result).transpose() else {
                tries -= 1;
                continue;
            };
            match result {
                Ok(Claimed::Written) => {
                    return Ok(BatchOutcome {
                        by_type: Some(by_type),
                        events: applied,
                        skipped,
                    })
                }
                Ok(Claimed::NotOurs) => return Ok(BatchOutcome::default()),
                // A link committed while the batch was written maps someone it wrote
                // unmapped: nothing was committed; the people are resolved again and the
                // batch written again (not counted as a failed try: it failed nothing).
                Ok(Claimed::LinkedMeanwhile) if tries < BATCH_TRIES * 4 => {
                    tracing::debug!(
                        "reprocess: a link committed during the batch; writing it again"
                    );
                    drop(contexts);
                    users = self.users.refresh(&identities).await?;
                }
                Ok(Claimed::LinkedMeanwhile) => {
                    return Err(ProcessingError::Database(
                        "reprocess: links kept changing the batch's people; call again".into(),
                    ))
                }
                // A cached repository the backend has deleted since: forgotten, and the
                // caller reads the batch again (`batch`).
                Err(e) if e.is_stale_repository() => {
                    for p in &planned {
                        self.repos.forget(p.repo);
                    }
                    return Err(e);
                }
                // A cached user the backend has deleted since (live processing's rule,
                // `WebhookProcessor::plan_and_write`): resolve the batch's people from the
                // database again; the failed try rolled back whole.
                Err(e) if tries < BATCH_TRIES && e.is_stale_user() => {
                    tracing::debug!("reprocess: a cached user no longer exists; resolving again");
                    drop(contexts);
                    users = self.users.refresh(&identities).await?;
                }
                Err(e) if tries < BATCH_TRIES && worth_another_try(&e) => {
                    tracing::debug!(error = %crate::text::redact_credentials(&e.to_string()), "reprocess: batch tried again");
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(tries))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The batch's stored deliveries, one entry per planned event: `None` for an event
    /// that is no longer there to apply (its repository deleted, or its row). A delivery
    /// processed again live since the run was planned is read as it is now.
    async fn read(&self, run_id: &str, batch: &Batch) -> Result<Vec<Option<StoredRow>>> {
        type Row = (
            Option<String>,
            Option<String>,
            Option<Timestamp>,
            Option<String>,
        );
        let mut tries = self.db.tries();
        let rows: Vec<Row> = loop {
            let mut conn = tries.lease().await?;
            let rows = sqlx::query_as(
                r#"SELECT e.type, e."repoId", e."receivedAt", e.payload::text
                   FROM reprocess_batches b CROSS JOIN LATERAL unnest(b."eventIds") AS planned(id)
                   LEFT JOIN events e
                     ON e.id = planned.id AND e.processed AND e."repoId" IS NOT NULL
                   WHERE b."runId" = $1 AND b.seq = $2
                   ORDER BY planned.id"#,
            )
            .bind(run_id)
            .bind(batch.seq)
            .fetch_all(&mut *conn)
            .await;
            if let Some(rows) = tries.finish(conn, rows)? {
                break rows;
            }
        };
        Ok(rows
            .into_iter()
            .map(|(event_type, repo_id, received_at, payload)| {
                Some(StoredRow {
                    event_type: event_type?,
                    repo_id: repo_id?,
                    received_at: received_at?,
                    payload: payload?,
                })
            })
            .collect())
    }
}

struct StoredRow {
    event_type: String,
    repo_id: String,
    received_at: Timestamp,
    payload: String,
}

struct Loaded {
    kind: EventKind,
    repo: Arc<RepoInfo>,
    received_at: Timestamp,
    scratch: Vec<u8>,
    original: Vec<u8>,
}

struct Planned<'a> {
    kind: EventKind,
    sort_key: (u8, String, i64),
    plan: Plan<'a>,
    repo: &'a RepoInfo,
    received_at: Timestamp,
}

/// The entity an event writes first, as a sort key: pull requests (and reviews, which lock
/// their pull request first) by GitHub id, then issues, then pushes by repository.
fn sort_key(plan: &Plan<'_>, repo: &RepoInfo) -> (u8, String, i64) {
    match plan {
        Plan::PullRequest(p) => (0, String::new(), p.pull_request.github_id),
        Plan::Review(p) => (0, String::new(), p.pull_request.github_id),
        Plan::Issue(p) => (1, String::new(), p.github_id),
        Plan::Push(_) => (2, repo.id.clone(), 0),
        Plan::Deployment(p) => (3, String::new(), p.deployment.github_id),
        Plan::WorkflowRun(p) => (4, String::new(), p.github_id),
        Plan::WorkflowJob(p) => (5, String::new(), p.github_id),
        Plan::Release(p) => (6, String::new(), p.github_id),
    }
}

/// The batch's writes, in its lock order: each event's upserts (composed into multi-row
/// statements by `store::batch`), then the commits of all its pushes as one set per
/// repository, sorted by sha and unique (a sha in several pushes is inserted from the first
/// of them, as one push after another would), so they too take few statements.
fn batch_writes<'s>(
    planned: &'s [Planned<'_>],
    contexts: &'s [WriteContext<'_>],
) -> Vec<EntityWrite<'s>> {
    let mut writes = Vec::new();
    let mut commits: BTreeMap<&str, Vec<NewCommit<'s>>> = BTreeMap::new();
    for (p, ctx) in planned.iter().zip(contexts) {
        match &p.plan {
            Plan::Push(push) => commits
                .entry(ctx.repo.id.as_str())
                .or_default()
                .extend(push.commit_rows(ctx.users)),
            plan => writes.extend(plan.writes(ctx)),
        }
    }
    for (repo_id, mut rows) in commits {
        // Stable: the first push's row of a sha comes first and stays.
        rows.sort_by(|a, b| a.sha.cmp(b.sha));
        rows.dedup_by(|later, first| later.sha == first.sha);
        writes.extend(commits::insert(repo_id, &rows));
    }
    writes
}

/// What one try of a batch's transaction did.
enum Claimed {
    /// Its rows are written and it is marked finished.
    Written,
    /// It was finished or is being written by another caller (`SKIP LOCKED`): nothing
    /// written.
    NotOurs,
    /// A link committed since the batch's people were looked up maps one it would have
    /// written unmapped: rolled back, nothing written.
    LinkedMeanwhile,
}

/// One try's inputs: the batch, its writes, and the identities they write unmapped.
struct BatchWrite<'a, 'w> {
    run_id: &'a str,
    batch: &'a Batch,
    writes: Vec<EntityWrite<'w>>,
    unmapped: &'a [&'a Identity],
    applied: u64,
    skipped: u64,
}

/// One try of a batch's transaction.
///
/// The link barrier (`store::authors`) is taken at the end, after the writes, and held only
/// until the commit: a `linkGithubUser` (and the live events queued behind its exclusive
/// request) never waits for a whole batch. Safe because, once the barrier is held, a new
/// statement sees every link whose back-fill already ran: if one maps a person the batch
/// wrote unmapped, the batch rolls back and is written again with the new mapping
/// ([`Claimed::LinkedMeanwhile`]); any later link's back-fill waits for this commit and
/// attributes the batch's rows.
async fn write_batch(
    conn: &mut sqlx::PgConnection,
    w: BatchWrite<'_, '_>,
) -> std::result::Result<Claimed, sqlx::Error> {
    let BatchWrite {
        run_id,
        batch,
        writes,
        unmapped,
        applied,
        skipped,
    } = w;
    let mut tx = conn.begin().await?;
    let claim = if batch.wait {
        r#"SELECT seq FROM reprocess_batches WHERE "runId" = $1 AND seq = $2 AND "finishedAt" IS NULL
           FOR UPDATE"#
    } else {
        r#"SELECT seq FROM reprocess_batches WHERE "runId" = $1 AND seq = $2 AND "finishedAt" IS NULL
           FOR UPDATE SKIP LOCKED"#
    };
    let claimed: Option<i32> = sqlx::query_scalar(claim)
        .bind(run_id)
        .bind(batch.seq)
        .fetch_optional(&mut *tx)
        .await?;
    if claimed.is_none() {
        tx.rollback().await?;
        return Ok(Claimed::NotOurs);
    }
    batch::execute_batch(&mut tx, writes).await?;
    sqlx::query(&BARRIER_SHARED).execute(&mut *tx).await?;
    if !unmapped.is_empty() && crate::users::any_mapped(&mut tx, unmapped).await? {
        tx.rollback().await?;
        return Ok(Claimed::LinkedMeanwhile);
    }
    sqlx::query(
        r#"UPDATE reprocess_batches SET "finishedAt" = $3, applied = $4, skipped = $5
           WHERE "runId" = $1 AND seq = $2"#,
    )
    .bind(run_id)
    .bind(batch.seq)
    .bind(time::now())
    .bind(applied as i32)
    .bind(skipped as i32)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Claimed::Written)
}

/// The shared link barrier, as a statement of its own (a constant key).
static BARRIER_SHARED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT pg_advisory_xact_lock_shared({})",
        crate::store::authors::LINK_BARRIER_LOCK
    )
});

/// A deadlock or serialization failure, a broken connection, or a concurrent insert of the
/// same entity: the batch rolled back whole and another try can succeed.
fn worth_another_try(e: &ProcessingError) -> bool {
    worth_another_connection(e)
        || e.is_concurrent_insert()
        || e.code() == crate::error::ErrorCode::DatabaseError
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        time::parse_github_time(s).unwrap()
    }

    #[test]
    fn a_run_is_named_by_its_filters_in_canonical_form() {
        let a = RunFilters {
            since: Some(at("2026-11-01T00:00:00Z")),
            until: None,
            types: Some(vec!["push".into(), "issues".into(), "push".into()]),
            repository_github_ids: Some(vec![3, 1]),
        };
        let b = RunFilters {
            types: Some(vec!["issues".into(), "push".into()]),
            repository_github_ids: Some(vec![1, 3, 3]),
            ..a.clone()
        };
        assert_eq!(a.key(), b.key());
        assert_eq!(
            a.key(),
            "since=2026-11-01T00:00:00.000Z;until=-;types=issues,push;repos=1,3"
        );
        assert_eq!(
            RunFilters::default().key(),
            "since=-;until=-;types=deployment,deployment_status,issues,pull_request,\
             pull_request_review,push,release,workflow_job,workflow_run;repos=*"
        );
        assert_ne!(RunFilters::default().key(), a.key());
    }

    #[test]
    fn bad_options_are_config_errors() {
        let code = |o: ReprocessOptions| o.validate().unwrap_err().code();
        let types = |t: &str| ReprocessOptions {
            filters: RunFilters {
                types: Some(vec![t.into()]),
                ..Default::default()
            },
            ..Default::default()
        };
        use crate::error::ErrorCode::ConfigError;
        assert_eq!(code(types("star")), ConfigError);
        // Empty lists select nothing a caller could mean: refused, not a full rebuild.
        let empty = |types: Option<Vec<String>>, repos: Option<Vec<i64>>| ReprocessOptions {
            filters: RunFilters {
                types,
                repository_github_ids: repos,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(code(empty(Some(vec![]), None)), ConfigError);
        assert_eq!(code(empty(None, Some(vec![]))), ConfigError);
        assert!(empty(None, Some(vec![1])).validate().is_ok());
        // Before PostgreSQL's earliest timestamp: refused before anything runs.
        assert_eq!(
            code(ReprocessOptions {
                filters: RunFilters {
                    since: chrono::DateTime::from_timestamp_millis(-8_000_000_000_000_000)
                        .map(|t| t.naive_utc()),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ConfigError
        );
        assert!(types("pull_request").validate().is_ok());
        assert_eq!(
            code(ReprocessOptions {
                batch_size: Some(0),
                ..Default::default()
            }),
            ConfigError
        );
        assert_eq!(
            code(ReprocessOptions {
                max_batches: Some(0),
                ..Default::default()
            }),
            ConfigError
        );
        let t = at("2026-11-01T00:00:00Z");
        assert_eq!(
            code(ReprocessOptions {
                filters: RunFilters {
                    since: Some(t),
                    until: Some(t),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ConfigError
        );
    }
}
