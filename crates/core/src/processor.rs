//! `WebhookProcessor`: one delivery from envelope to committed rows, in the order of checks
//! DESIGN.md fixes: envelope → size → parse → event type → repository → duplicate → write.

use crate::enrich;
use crate::error::{ErrorCode, ProcessingError, Result};
use crate::follow::{self, FollowKind, FollowOptions};
use crate::gate::{Admission, CallGate};
use crate::job::WebhookJob;
use crate::metrics::{derive_jobs, MetricJob};
use crate::payload::{self, EventKind, TrackedPayload};
use crate::processors::{self, Plan, WriteContext};
use crate::repos::{RepoInfo, RepositoryDirectory};
use crate::rest::{RestPage, RestPageResult};
use crate::result::{ProcessingResult, RecordCounts, Status, Timings};
use crate::stats::{CacheCounters, Outcome, Stats, StatsSnapshot};
use crate::store::connections::{Ages, Connections};
use crate::store::events::{self, EventRecord};
use crate::store::writes::{self, Written};
use crate::store::{self};
use crate::text::{redact_credentials, strip_json_nul_escapes};
use crate::time::{self, Timestamp};
use crate::users::link::{GithubAccount, LinkOutcome};
use crate::users::redis_tier::{RedisHealth, RedisTier};
use crate::users::UserDirectory;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::processors::deployment::DEFAULT_PRODUCTION_ENVIRONMENTS;

/// How to connect. Defaults match DESIGN.md.
#[derive(Debug, Clone)]
pub struct ProcessorOptions {
    pub database_url: String,
    pub redis_url: Option<String>,
    /// Prefix of the Redis keys and channel. Keys are also scoped to the database (see
    /// `store::database_namespace`), so the prefix only separates deployments by choice.
    pub redis_key_prefix: String,
    pub max_connections: u32,
    pub user_cache_ttl: Duration,
    /// An idle connection unused this long is closed. Default 10 minutes, as sqlx's pool.
    pub idle_timeout: Duration,
    /// A connection is closed once this old rather than reused. Default 30 minutes, as
    /// sqlx's pool.
    pub max_lifetime: Duration,
    /// `productionEnvironments`: a PostgreSQL regular expression, matched case-insensitively
    /// against a deployment's environment when GitHub sends no `production_environment`
    /// flag. Default [`DEFAULT_PRODUCTION_ENVIRONMENTS`].
    pub production_environments: String,
    /// Auto-registration of a GitHub App's repositories (`follow`). Off by default.
    pub follow: FollowOptions,
}

impl ProcessorOptions {
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
    pub const DEFAULT_USER_CACHE_TTL: Duration = Duration::from_secs(900);
    pub const DEFAULT_REDIS_KEY_PREFIX: &'static str = "devmetrics:";

    pub fn new(database_url: impl Into<String>) -> Self {
        ProcessorOptions {
            database_url: database_url.into(),
            redis_url: None,
            redis_key_prefix: Self::DEFAULT_REDIS_KEY_PREFIX.to_owned(),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            user_cache_ttl: Self::DEFAULT_USER_CACHE_TTL,
            idle_timeout: Ages::default().idle_timeout,
            max_lifetime: Ages::default().max_lifetime,
            production_environments: DEFAULT_PRODUCTION_ENVIRONMENTS.to_owned(),
            follow: FollowOptions::default(),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.database_url.trim().is_empty() {
            return Err(ProcessingError::Config("databaseUrl is empty".into()));
        }
        if !(1..=1000).contains(&self.max_connections) {
            return Err(ProcessingError::Config(
                "maxConnections must be between 1 and 1000".into(),
            ));
        }
        if self.user_cache_ttl.is_zero() {
            return Err(ProcessingError::Config(
                "userCacheTtlSeconds must be positive".into(),
            ));
        }
        if self.production_environments.is_empty() || self.production_environments.contains('\0') {
            return Err(ProcessingError::Config(
                "productionEnvironments must be a non-empty regular expression".into(),
            ));
        }
        if self.idle_timeout.is_zero() || self.max_lifetime.is_zero() {
            return Err(ProcessingError::Config(
                "idleTimeoutMs and maxLifetimeMs must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// `CONFIG_ERROR` unless PostgreSQL accepts `pattern` as a regular expression (deployments
/// are judged by it in SQL, `store::deployments`).
async fn check_production_pattern(db: &Connections, pattern: &str) -> Result<()> {
    let mut conn = db.lease().await?;
    let checked = sqlx::query_scalar::<_, bool>("SELECT '' ~* $1")
        .bind(pattern)
        .fetch_one(&mut *conn)
        .await;
    match conn.finish(checked) {
        Ok(_) => Ok(()),
        // PostgreSQL's 2201B (invalid regular expression), whichever code it maps to.
        Err(e) if !e.code().retryable() && e.to_string().contains("regular expression") => {
            Err(ProcessingError::Config(format!(
                "productionEnvironments is not a valid regular expression: {e}"
            )))
        }
        Err(e) => Err(e),
    }
}

/// Tries of one event's transaction when a concurrent writer inserted the same entity first.
const CONCURRENT_INSERT_TRIES: u32 = 3;

/// Processes webhook deliveries into PostgreSQL. Cheap to share: all methods take `&self`.
pub struct WebhookProcessor {
    db: Arc<Connections>,
    follow: FollowOptions,
    repos: RepositoryDirectory,
    users: UserDirectory,
    cache_counters: Arc<CacheCounters>,
    stats: Stats,
    /// Admits calls until `close`, which waits for the admitted ones.
    gate: CallGate,
    /// The runtime the processor connected on: a processor dropped without `close` (a
    /// garbage-collected JS object, on the JS thread) releases its connections there.
    runtime: tokio::runtime::Handle,
    /// `ProcessorOptions::production_environments`, checked by PostgreSQL at connect.
    production_pattern: String,
}

impl Drop for WebhookProcessor {
    /// Without `close`, the connections are closed on the processor's own runtime, in the
    /// background, with one warning: dropping sqlx's connections outside a tokio runtime
    /// panics, and a panic in a finalizer aborts the host process. If that runtime is gone
    /// (the process is exiting), they are dropped without their goodbye to the server.
    fn drop(&mut self) {
        if self.gate.is_closing() {
            return;
        }
        tracing::warn!(
            "a WebhookProcessor was dropped without close(): its connections are being \
             released in the background; call close() when done with a processor"
        );
        self.users.stop();
        let db = self.db.clone();
        // Entered, so whatever this drop sets off (the task, if it cannot be spawned) is
        // dropped inside a runtime context.
        let _context = self.runtime.enter();
        self.runtime.spawn(async move { db.close().await });
    }
}

impl WebhookProcessor {
    /// Opens the pool and verifies the schema (`SCHEMA_MISMATCH` names what is missing).
    pub async fn connect(options: ProcessorOptions) -> Result<Self> {
        options.validate()?;
        if let Some(url) = &options.redis_url {
            RedisTier::check_url(url)?;
        }
        let ages = Ages {
            idle_timeout: options.idle_timeout,
            max_lifetime: options.max_lifetime,
        };
        let db = Arc::new(Connections::new(
            store::connect_pool(&options.database_url, options.max_connections, ages).await?,
            ages,
        ));
        db.start_reaper();
        crate::schema::verify(&db).await?;
        check_production_pattern(&db, &options.production_environments).await?;
        let redis = match &options.redis_url {
            Some(url) => {
                let namespace = store::database_namespace(&db).await?;
                let prefix = format!("{}{namespace}:", options.redis_key_prefix);
                Some(Arc::new(RedisTier::new(url, &prefix)?))
            }
            None => None,
        };
        let cache_counters = Arc::new(CacheCounters::default());
        Ok(WebhookProcessor {
            follow: options.follow.clone(),
            repos: RepositoryDirectory::new(db.clone(), options.user_cache_ttl),
            users: UserDirectory::new(
                db.clone(),
                options.user_cache_ttl,
                redis,
                cache_counters.clone(),
            ),
            db,
            cache_counters,
            stats: Stats::default(),
            gate: CallGate::default(),
            runtime: tokio::runtime::Handle::current(),
            production_pattern: options.production_environments,
        })
    }

    /// The `productionEnvironments` pattern this processor judges deployments by.
    pub fn production_pattern(&self) -> &str {
        &self.production_pattern
    }

    /// Processes one delivery.
    pub async fn process(&self, job: WebhookJob) -> Result<ProcessingResult> {
        let call = self.admit()?;
        self.process_admitted(call, job).await
    }

    /// Admits a call now (`PROCESSOR_CLOSED` once `close` has begun), for callers that
    /// start the work later: `close` waits for it. See `gate`.
    pub fn admit(&self) -> Result<Admission> {
        self.gate.admit()
    }

    /// Processes one delivery under an admission taken earlier with [`Self::admit`].
    pub async fn process_admitted(
        &self,
        _call: Admission,
        job: WebhookJob,
    ) -> Result<ProcessingResult> {
        let started = Instant::now();
        let result = self.run(job, started).await;
        let outcome = match &result {
            Ok(r) => match r.status {
                Status::Processed => Outcome::Processed,
                Status::Duplicate => Outcome::Duplicate,
                Status::Ignored => Outcome::Ignored,
            },
            Err(e) => Outcome::Failed(e.code()),
        };
        self.stats
            .record(outcome, started.elapsed().as_micros() as u64);
        result
    }

    /// The seed's lookup: a DevMetrics user id by GitHub account id, cached.
    pub async fn user_id_by_github_id(&self, github_id: i64) -> Result<Option<String>> {
        let _call = self.admit()?;
        self.users.user_id_by_github_id(github_id).await
    }

    /// Links a DevMetrics user to a GitHub account, invalidates the caches of every
    /// processor, and back-fills earlier rows (see `users::link`).
    pub async fn link_github_user(
        &self,
        user_id: &str,
        account: &GithubAccount,
    ) -> Result<LinkOutcome> {
        let _call = self.admit()?;
        self.users.link(user_id, account).await
    }

    /// Writes GitHub's GraphQL answer of commit line counts for a repository (by
    /// DevMetrics id) in one statement; see `enrich::commit_stats`.
    pub async fn apply_commit_stats(
        &self,
        repo_id: &str,
        response: &[u8],
    ) -> Result<enrich::CommitStatsOutcome> {
        let _call = self.admit()?;
        let repo = self.repos.require(Some(repo_id), None).await?;
        enrich::commit_stats::apply(&self.db, &repo, response, time::now()).await
    }

    /// Inserts the commits of a compare page that the repository lacks, mapped like a
    /// push's; see `enrich::complete_push`.
    pub async fn complete_push(
        &self,
        repo_id: &str,
        page: &[u8],
    ) -> Result<enrich::CompletePushOutcome> {
        let _call = self.admit()?;
        let repo = self.repos.require(Some(repo_id), None).await?;
        enrich::complete_push::apply(&self.db, &self.users, &repo, page, time::now()).await
    }

    /// The `deploymentChanges` job's start: the deployment, its previous successful
    /// production deployment now, and whether the stored changes are complete for it (a
    /// different base deletes them); see `enrich::deployment_changes`. `None` when the
    /// repository has no deployment with that GitHub id.
    pub async fn deployment_changes_start(
        &self,
        repo_id: &str,
        deployment_github_id: i64,
    ) -> Result<Option<enrich::ChangesStart>> {
        let _call = self.admit()?;
        let repo = self.repos.require(Some(repo_id), None).await?;
        enrich::deployment_changes::start(&self.db, &repo.id, deployment_github_id).await
    }

    /// Writes one compare page of `base_sha...deployment`: the commits the table lacks and
    /// the deployment's `deployment_changes` rows (nothing when its base changed meanwhile).
    pub async fn apply_deployment_changes(
        &self,
        repo_id: &str,
        deployment_github_id: i64,
        base_sha: &str,
        page: &[u8],
    ) -> Result<enrich::ChangesPage> {
        let _call = self.admit()?;
        let repo = self.repos.require(Some(repo_id), None).await?;
        enrich::deployment_changes::apply_page(
            &self.db,
            &self.users,
            &repo,
            deployment_github_id,
            base_sha,
            page,
            time::now(),
        )
        .await
    }

    /// Marks a deployment's changes complete for `base_sha` (and whether it is a rollback);
    /// returns whether it was marked and the later deployments whose base is now stale.
    pub async fn finish_deployment_changes(
        &self,
        repo_id: &str,
        deployment_github_id: i64,
        base_sha: Option<&str>,
        rollback: bool,
    ) -> Result<(bool, Vec<enrich::StaleSuccessor>)> {
        let _call = self.admit()?;
        enrich::deployment_changes::finish(
            &self.db,
            repo_id,
            deployment_github_id,
            base_sha,
            rollback,
            time::now(),
        )
        .await
    }

    /// GitHub ids of the repository's successful production deployments whose changes are
    /// not complete, oldest first.
    pub async fn deployments_lacking_changes(&self, repo_id: &str) -> Result<Vec<i64>> {
        let _call = self.admit()?;
        enrich::deployment_changes::lacking(&self.db, repo_id).await
    }

    /// The installation id stored on the repository's row (see
    /// [`enrich::repository_installation`]).
    pub async fn repository_installation(&self, repo_id: &str) -> Result<Option<i64>> {
        let _call = self.admit()?;
        enrich::repository_installation(&self.db, repo_id).await
    }

    /// Of `shas`, those of the repository whose counts are still unknown, sorted.
    pub async fn commits_lacking_stats(
        &self,
        repo_id: &str,
        shas: &[String],
    ) -> Result<Vec<String>> {
        let _call = self.admit()?;
        enrich::lacking_stats(&self.db, repo_id, shas).await
    }

    /// Applies one page of a REST list (see [`crate::rest`]) through the webhooks' write
    /// paths: `UNKNOWN_REPOSITORY` when `repo_id` is not registered, `INVALID_PAYLOAD` for
    /// a page that is not the list it claims to be (nothing written). No `events` row.
    pub async fn apply_rest_page(&self, page: RestPage) -> Result<RestPageResult> {
        let _call = self.admit()?;
        let size = page.body.len() + page.pull_request.as_ref().map_or(0, Vec::len);
        if size > crate::MAX_PAYLOAD_BYTES {
            return Err(ProcessingError::PayloadTooLarge {
                size,
                limit: crate::MAX_PAYLOAD_BYTES,
            });
        }
        let repo = self.repos.require(Some(&page.repo_id), None).await?;
        crate::rest::apply_page(&self.db, &repo, &self.users, page, &self.production_pattern).await
    }

    /// Applies the stored payloads of processed events to the entity tables again, in
    /// batches, several at once, resumably (see `crate::reprocess`). Writes no `events` rows.
    pub async fn reprocess_events(
        &self,
        options: crate::reprocess::ReprocessOptions,
        progress: Option<crate::reprocess::ProgressFn>,
    ) -> Result<crate::reprocess::ReprocessReport> {
        let _call = self.admit()?;
        crate::reprocess::Reprocessor {
            db: &self.db,
            repos: &self.repos,
            users: &self.users,
            production_pattern: &self.production_pattern,
        }
        .run(options, progress)
        .await
    }

    /// The five DORA metrics over a window of successful production deployments (see
    /// `crate::dora`). Reads only; `CONFIG_ERROR` for options that measure nothing meaningful.
    pub async fn dora_metrics(
        &self,
        options: &crate::dora::DoraOptions,
    ) -> Result<crate::dora::DoraMetrics> {
        let _call = self.admit()?;
        crate::dora::compute(&self.db, options).await
    }

    /// Counters since connect.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot(&self.cache_counters)
    }

    /// Health of the Redis tier, `None` when none is configured.
    pub fn redis_health(&self) -> Option<RedisHealth> {
        self.users.redis_health()
    }

    /// Waits for in-flight calls, then closes the pool. Later calls fail `PROCESSOR_CLOSED`.
    pub async fn close(&self) {
        self.gate
            .close(async {
                self.users.stop();
                self.db.close().await;
            })
            .await
    }

    async fn run(&self, job: WebhookJob, started: Instant) -> Result<ProcessingResult> {
        job.validate()?;
        if crate::text::nul_escape_in_key(&job.payload) {
            return Err(ProcessingError::InvalidPayload(
                "a JSON key contains \\u0000, which cannot be stored as the delivery sent it"
                    .into(),
            ));
        }
        let now = time::now();
        let received_at = job.received_at.unwrap_or(now);
        let stored = strip_json_nul_escapes(&job.payload);
        let mut scratch = job.payload.clone();

        if let Some(kind) = FollowKind::from_name(&job.event) {
            return self
                .follow(&job, kind, &stored, received_at, now, started)
                .await;
        }
        let Some(kind) = EventKind::from_name(&job.event) else {
            return self.ignore(&job, &stored, received_at, now, started).await;
        };
        let parsed = match payload::parse_tracked(kind, &mut scratch, &job.payload) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.record_unparsable(&job, &stored, &e, received_at, now)
                    .await;
                return Err(e);
            }
        };
        let parse_micros = started.elapsed().as_micros() as u64;

        // Planned before the repository is looked up: a delivery that is bad input must not
        // register its unknown repository (a row, and a backfill follow-up no retry brings
        // back, for a delivery answered INVALID_PAYLOAD).
        let planned = processors::plan(&parsed);
        let db_started = Instant::now();
        let mut tries = 0;
        // Backfills of the repositories auto-registration registers for this delivery.
        let mut registered = Vec::new();
        let (repo, written) = loop {
            tries += 1;
            let repo = match &planned {
                Ok(_) => {
                    self.tracked_repository(
                        &job,
                        parsed.repository().id,
                        &stored,
                        received_at,
                        now,
                        &mut registered,
                    )
                    .await?
                }
                // Bad input: a known repository gets the visible failed row, below.
                Err(_) => match self
                    .repos
                    .find(job.repo_id.as_deref(), Some(parsed.repository().id))
                    .await?
                {
                    Some(repo) => repo,
                    None => return Err(planned.map(drop).unwrap_err()),
                },
            };
            let ev = record(&job, &stored, received_at).in_repository(
                &repo.id,
                parsed.action(),
                parsed.sender_id(),
            );
            if let Some(reason) = repo.untracked_reason(received_at) {
                let event_id = match follow::record_ignored(&self.db, &ev, &reason, now).await {
                    Ok(id) => id,
                    // A cached repository the backend has deleted since (and maybe registered
                    // again, tracked, under a new id): look it up again, as below.
                    Err(e) if e.is_stale_repository() && tries < CONCURRENT_INSERT_TRIES => {
                        self.repos.forget(&repo);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let mut r = self.result(
                    &job,
                    Status::Ignored,
                    Some(event_id),
                    Some(&repo),
                    parsed.action(),
                );
                r.reason = Some(reason);
                r.follow_ups = registered;
                r.timings = Timings::measured(parse_micros, db_started, started);
                return Ok(r);
            }
            let plan = match &planned {
                Ok(plan) => plan,
                Err(e) => {
                    self.record_failure(&ev, e, now).await;
                    return Err(planned.map(drop).unwrap_err());
                }
            };
            match self.plan_and_write(plan, &repo, &ev, now).await {
                Ok(w) => break (repo, w),
                // A cached repository the backend has deleted since (and maybe registered
                // again under a new id): forget it, look it up again and write again, as
                // for a stale user. The failed try wrote nothing.
                Err(e) if e.is_stale_repository() && tries < CONCURRENT_INSERT_TRIES => {
                    tracing::debug!("a cached repository no longer exists; looking it up again");
                    self.repos.forget(&repo);
                }
                Err(e) => {
                    self.record_failure(&ev, &e, now).await;
                    return Err(e);
                }
            }
        };
        let mut result = match written {
            (Written::Processed { event_id, records }, activity) => {
                let mut r = self.result(
                    &job,
                    Status::Processed,
                    Some(event_id),
                    Some(&repo),
                    parsed.action(),
                );
                r.records = records;
                r.metric_jobs = derive_jobs(
                    &activity.activities,
                    repo.team_id.as_deref(),
                    epoch_minute(now),
                );
                r.unmapped_users = activity.unmapped;
                r.follow_ups = follow_ups_of(&parsed, &repo, &job.delivery_id);
                r
            }
            (Written::Duplicate, _) => self.duplicate(&job, &repo, now).await?,
        };
        if registered.is_empty() && repo.registered_by.as_deref() == Some(job.delivery_id.as_str())
        {
            // This delivery registered the repository in an earlier attempt that failed
            // afterwards (its write, or queueing what it left): its backfill again.
            registered.push(enrich::follow_ups::of_registered(&repo.id, &repo.full_name));
        }
        result.follow_ups.extend(registered);
        result.timings = Timings::measured(parse_micros, db_started, started);
        Ok(result)
    }

    /// Maps users and writes the plan in one transaction, retrying when a concurrent call
    /// inserted the same entity first (that is not a constraint violation).
    async fn plan_and_write(
        &self,
        plan: &Plan<'_>,
        repo: &RepoInfo,
        ev: &EventRecord<'_>,
        now: Timestamp,
    ) -> Result<(Written, processors::MappedActivity)> {
        let identities = plan.identities();
        let mut users = self.users.resolve(&identities).await?;
        let mut tries = 0;
        let written = loop {
            tries += 1;
            match self.write(plan, repo, ev, &users, now).await {
                Err(e) if e.is_concurrent_insert() && tries < CONCURRENT_INSERT_TRIES => continue,
                // A cached user the backend has deleted since: forget the event's mappings
                // in every tier and resolve them from the database again. The failed try
                // wrote nothing (one statement, or one transaction).
                Err(e) if e.is_stale_user() && tries < CONCURRENT_INSERT_TRIES => {
                    tracing::debug!("a cached user no longer exists; resolving again");
                    users = self.users.refresh(&identities).await?;
                }
                other => break other?,
            }
        };
        Ok((written, plan.activities(&users)))
    }

    async fn write(
        &self,
        plan: &Plan<'_>,
        repo: &RepoInfo,
        ev: &EventRecord<'_>,
        users: &crate::users::UserMap,
        now: Timestamp,
    ) -> Result<Written> {
        let ctx = WriteContext {
            repo,
            users,
            received_at: ev.received_at,
            production_pattern: &self.production_pattern,
        };
        writes::write_event(&self.db, ev, now, || plan.writes(&ctx)).await
    }

    /// A processed delivery again: no writes, metric jobs re-derived from the stored
    /// payload (a crash between commit and enqueue must not lose them).
    async fn duplicate(
        &self,
        job: &WebhookJob,
        repo: &RepoInfo,
        now: Timestamp,
    ) -> Result<ProcessingResult> {
        let stored = events::find_processed(&self.db, &job.delivery_id).await?;
        let Some(stored) = stored else {
            // Claimed by a concurrent call that has not committed: the caller retries.
            return Err(ProcessingError::Database(
                "delivery is being processed concurrently".into(),
            ));
        };
        let mut r = self.result(
            job,
            Status::Duplicate,
            Some(stored.id.clone()),
            Some(repo),
            None,
        );
        if let Some(kind) = EventKind::from_name(&stored.event_type) {
            let original = stored.payload.into_bytes();
            let mut scratch = original.clone();
            let parsed = payload::parse_tracked(kind, &mut scratch, &original)?;
            r.action = parsed.action().map(str::to_owned);
            let plan = processors::plan(&parsed)?;
            let users = self.users.resolve(&plan.identities()).await?;
            let activity = plan.activities(&users);
            r.metric_jobs = derive_jobs(
                &activity.activities,
                repo.team_id.as_deref(),
                epoch_minute(now),
            );
            r.unmapped_users = activity.unmapped;
            r.follow_ups = follow_ups_of(&parsed, repo, &job.delivery_id);
        }
        Ok(r)
    }

    /// An event type no processor tracks: stored as processed when its repository is known.
    async fn ignore(
        &self,
        job: &WebhookJob,
        stored: &[u8],
        received_at: Timestamp,
        now: Timestamp,
        started: Instant,
    ) -> Result<ProcessingResult> {
        let mut scratch = job.payload.clone();
        let envelope = payload::parse_envelope(&mut scratch, &job.payload)?;
        let parse_micros = started.elapsed().as_micros() as u64;
        let db_started = Instant::now();
        let mut tries = 0;
        let (repo, event_id) = loop {
            tries += 1;
            let repo = self
                .repos
                .find(
                    job.repo_id.as_deref(),
                    envelope.repository.as_ref().map(|r| r.id),
                )
                .await?;
            let Some(found) = &repo else {
                break (None, None);
            };
            let ev = record(job, stored, received_at).in_repository(
                &found.id,
                envelope.action,
                envelope.sender.as_ref().map(|s| s.id),
            );
            match events::record_ignored(&self.db, &ev, now).await {
                Ok(id) => break (repo, Some(id)),
                // A repository deleted since it was cached (see `run`).
                Err(e) if e.is_stale_repository() && tries < CONCURRENT_INSERT_TRIES => {
                    self.repos.forget(found);
                }
                Err(e) => return Err(e),
            }
        };
        let mut r = self.result(
            job,
            Status::Ignored,
            event_id,
            repo.as_deref(),
            envelope.action,
        );
        r.timings = Timings::measured(parse_micros, db_started, started);
        Ok(r)
    }

    /// A tracked payload that failed to parse: if it is JSON naming a known repository,
    /// leave a visible failure row.
    async fn record_unparsable(
        &self,
        job: &WebhookJob,
        stored: &[u8],
        error: &ProcessingError,
        received_at: Timestamp,
        now: Timestamp,
    ) {
        let mut scratch = job.payload.clone();
        let Ok(envelope) = payload::parse_envelope(&mut scratch, &job.payload) else {
            return;
        };
        let github_id = envelope.repository.as_ref().map(|r| r.id);
        if let Ok(Some(repo)) = self.repos.find(job.repo_id.as_deref(), github_id).await {
            let ev = record(job, stored, received_at).in_repository(
                &repo.id,
                envelope.action,
                envelope.sender.as_ref().map(|s| s.id),
            );
            self.record_failure(&ev, error, now).await;
        }
    }

    async fn record_failure(&self, ev: &EventRecord<'_>, error: &ProcessingError, now: Timestamp) {
        if error.code() == ErrorCode::ProcessorClosed {
            return;
        }
        let message = format!("{}: {error}", error.code());
        if let Err(e) = events::record_failure(&self.db, ev, &message, now).await {
            tracing::warn!(
                delivery = ev.delivery_id,
                error = %redact_credentials(&e.to_string()),
                "could not record the failed attempt"
            );
        }
    }

    fn result(
        &self,
        job: &WebhookJob,
        status: Status,
        event_id: Option<String>,
        repo: Option<&RepoInfo>,
        action: Option<&str>,
    ) -> ProcessingResult {
        ProcessingResult {
            status,
            event_id,
            delivery_id: job.delivery_id.clone(),
            event: job.event.clone(),
            action: action.map(str::to_owned),
            repo_id: repo.map(|r| r.id.clone()),
            records: RecordCounts::default(),
            metric_jobs: Vec::<MetricJob>::new(),
            unmapped_users: Vec::new(),
            follow_ups: Vec::new(),
            reason: None,
            timings: Timings::default(),
        }
    }

    /// The repository of a tracked delivery. An unknown one is registered first when
    /// auto-registration is on and the delivery names an installation (a missed
    /// `installation_repositories` must not cost its events); otherwise
    /// `UNKNOWN_REPOSITORY` as before. A repository registered here adds its backfill
    /// follow-up to `registered`.
    async fn tracked_repository(
        &self,
        job: &WebhookJob,
        github_id: i64,
        stored: &[u8],
        received_at: Timestamp,
        now: Timestamp,
        registered: &mut Vec<enrich::FollowUp>,
    ) -> Result<Arc<RepoInfo>> {
        if let Some(repo) = self
            .repos
            .find(job.repo_id.as_deref(), Some(github_id))
            .await?
        {
            return Ok(repo);
        }
        if self.follow.auto_register && job.repo_id.is_none() {
            let ev = record(job, stored, received_at);
            if let Some(rows) =
                follow::register_from_delivery(&self.db, &self.follow, &ev, &job.payload, now)
                    .await?
            {
                self.repos.forget_all();
                registered.extend(
                    rows.iter()
                        .map(|(id, name)| enrich::follow_ups::of_registered(id, name)),
                );
            }
        }
        self.repos
            .require(job.repo_id.as_deref(), Some(github_id))
            .await
    }

    /// An `installation`, `installation_repositories` or `repository` delivery (see
    /// `follow`): processed (or a duplicate) in one transaction, no metric jobs.
    async fn follow(
        &self,
        job: &WebhookJob,
        kind: FollowKind,
        stored: &[u8],
        received_at: Timestamp,
        now: Timestamp,
        started: Instant,
    ) -> Result<ProcessingResult> {
        let db_started = Instant::now();
        let ev = record(job, stored, received_at);
        let followed =
            follow::process(&self.db, &self.follow, kind, &ev, &job.payload, now).await?;
        if !followed.touched.is_empty() {
            self.repos.forget_all();
        }
        let status = if followed.event_id.is_some() {
            Status::Processed
        } else {
            Status::Duplicate
        };
        let mut r = self.result(
            job,
            status,
            followed.event_id,
            None,
            followed.action.as_deref(),
        );
        r.repo_id = followed.repo_id;
        r.follow_ups = followed
            .registered
            .iter()
            .map(|(id, name)| enrich::follow_ups::of_registered(id, name))
            .collect();
        if kind == FollowKind::Repository && r.repo_id.is_none() {
            r.reason = Some(
                "repository not tracked yet: the change is stored and applied when it is registered"
                    .to_owned(),
            );
        }
        r.timings = Timings::measured(0, db_started, started);
        Ok(r)
    }
}

/// The `github` queue work a delivery leaves (pushes, successful deployment statuses).
fn follow_ups_of(
    parsed: &TrackedPayload<'_>,
    repo: &RepoInfo,
    delivery_id: &str,
) -> Vec<enrich::FollowUp> {
    match parsed {
        TrackedPayload::Push(push) => enrich::follow_ups::of_push(push, repo, delivery_id),
        // What a production deployment shipped, once it has succeeded (docs/dora.md).
        TrackedPayload::DeploymentStatus(status) => {
            enrich::follow_ups::of_deployment_status(status, repo)
        }
        _ => Vec::new(),
    }
}

/// The `events` row of a delivery as far as the job alone tells it (see
/// [`EventRecord::of_delivery`]); `stored` is the payload as stored.
fn record<'a>(job: &'a WebhookJob, stored: &'a [u8], received_at: Timestamp) -> EventRecord<'a> {
    EventRecord::of_delivery(&job.delivery_id, &job.event, stored, received_at)
}

fn epoch_minute(t: Timestamp) -> i64 {
    t.and_utc().timestamp() / 60
}

/// The futures must be `Send` to run on napi's multi-threaded runtime; this fails to
/// compile, close to the cause, if a change breaks that.
#[allow(dead_code)]
fn assert_futures_are_send(p: &WebhookProcessor, job: WebhookJob) {
    fn is_send<T: Send>(_: T) {}
    is_send(p.process(job));
    is_send(p.close());
    is_send(p.reprocess_events(Default::default(), None));
    is_send(p.dora_metrics(&crate::dora::DoraOptions::new(
        Default::default(),
        Default::default(),
    )));
    is_send(crate::migrate::migrate(""));
}
