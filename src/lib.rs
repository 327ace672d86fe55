//! napi-rs surface of `@devmetrics/webhook-processor`. Thin by design: every export
//! converts its arguments (`convert`), calls the core crate, and maps errors (`error`).
//! The package's main entry (`lib/index.js`) wraps these exports: it validates arguments,
//! builds `WebhookProcessingError`s and holds the default instance and the Bull glue.

mod convert;
mod dora;
mod enrich;
mod error;
mod logging;
mod rest;

use napi::bindgen_prelude::{BufferSlice, Either, PromiseRaw};
use napi::Env;
use napi::JsString;
use napi_derive::napi;
use std::collections::HashMap;
use std::sync::Arc;
use webhook_core as core;

/// mimalloc for the addon's own allocations, as napi-rs addons commonly do. Inside Node,
/// glibc's malloc returned the megabyte buffers of a large payload (its UTF-8 copy,
/// simd-json's input copy and tape) to the kernel after every call, so the next call
/// faulted them in again: page faults were ~30% of inspecting a 1.3 MB push. mimalloc keeps
/// freed pages for reuse. Version 2 (v3 made small parses slower) with local-dynamic TLS,
/// which a library loaded with `dlopen` needs (docs/decisions.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// napi's tokio runtime, with worker threads whose stack holds the deepest JSON the parser
/// accepts (see `THREAD_STACK_BYTES`): a stack overflow would abort Node.
#[napi_derive::module_init]
fn init_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(core::payload::THREAD_STACK_BYTES)
        .build();
    // Without it napi builds its default runtime on first use: still working, smaller stacks.
    if let Ok(runtime) = runtime {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}

/// Options of `NativeProcessor.connect`.
#[napi(object)]
pub struct ProcessorOptions {
    /// PostgreSQL connection URL (`postgres://user@host:5432/db`).
    pub database_url: String,
    /// Redis URL of the shared user-mapping cache tier; without it only the in-process tier is used.
    pub redis_url: Option<String>,
    /// Prefix of the Redis keys and invalidation channel. Default `devmetrics:`.
    pub redis_key_prefix: Option<String>,
    /// Pool size; size it to the worker's Bull concurrency. Default 10.
    pub max_connections: Option<u32>,
    /// Lifetime of a cached user mapping in seconds. Default 900; unknown users are cached at most 60 s.
    pub user_cache_ttl_seconds: Option<u32>,
    /// An idle database connection unused this long is closed, in milliseconds. Default 600000 (10 minutes, as sqlx's pool).
    pub idle_timeout_ms: Option<u32>,
    /// A database connection this old is closed instead of reused, in milliseconds. Default 1800000 (30 minutes, as sqlx's pool).
    pub max_lifetime_ms: Option<u32>,
    /// Deployments without GitHub's `production_environment` flag are production when their environment matches this PostgreSQL regular expression, case-insensitively. Default `^(prod|production|live)([-_ ./].*)?$`.
    pub production_environments: Option<String>,
    /// Register a GitHub App's repositories from its deliveries (installation events, and an
    /// unknown repository of a delivery naming an installation). Default false.
    pub auto_register_repositories: Option<bool>,
    /// Owner login → team name for repositories registered automatically (case-insensitive
    /// owner; a team that does not exist means no team).
    pub owner_teams: Option<HashMap<String, String>>,
}

/// Rows one call inserted or changed; zeros for `duplicate` and `ignored`.
#[napi(object)]
pub struct RecordCounts {
    pub commits: u32,
    pub pull_requests: u32,
    pub issues: u32,
    pub reviews: u32,
    pub deployments: u32,
    pub deployment_statuses: u32,
    pub workflow_runs: u32,
    pub workflow_jobs: u32,
    pub releases: u32,
}

/// A metric job for the worker to queue on the metrics queue.
#[napi(object)]
pub struct MetricJob {
    /// `developer` or `team`.
    #[napi(ts_type = "'developer' | 'team'")]
    pub kind: String,
    /// User id (developer) or team id (team).
    pub id: String,
    /// UTC activity date, `YYYY-MM-DD`.
    pub date: String,
    /// Bull jobId; coalesces equal jobs within one minute only.
    pub job_id: String,
}

/// Where one call's time went, in microseconds.
#[napi(object)]
pub struct Timings {
    pub parse_micros: f64,
    pub db_micros: f64,
    pub total_micros: f64,
}

/// The outcome of processing one delivery.
#[napi(object)]
pub struct ProcessingResult {
    #[napi(ts_type = "'processed' | 'duplicate' | 'ignored'")]
    pub status: String,
    /// Id of the `events` row, or null when the delivery was not stored.
    pub event_id: Option<String>,
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    /// DevMetrics repository id, or null when unknown.
    pub repo_id: Option<String>,
    pub records: RecordCounts,
    pub metric_jobs: Vec<MetricJob>,
    /// GitHub logins (or commit emails without a login) not linked to a user.
    pub unmapped_users: Vec<String>,
    /// API work for the `github` queue (commit line counts, truncated pushes); re-derived
    /// for a duplicate like `metricJobs`.
    pub follow_ups: Vec<enrich::FollowUp>,
    /// Why a tracked delivery was `ignored` (its repository was removed from tracking or
    /// deleted before it was received), or that a repository event waits for its
    /// repository to be registered; null otherwise.
    pub reason: Option<String>,
    pub timings: Timings,
}

/// Hits and misses of one user-mapping cache tier.
#[napi(object)]
pub struct CacheTierStats {
    pub hits: f64,
    pub misses: f64,
    /// hits / (hits + misses); 0 before the first lookup.
    pub hit_rate: f64,
}

/// Latency percentiles of completed calls, in microseconds.
#[napi(object)]
pub struct LatencyStats {
    pub count: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Availability of the Redis tier.
#[napi(object)]
pub struct RedisTierHealth {
    /// Whether a redisUrl was given.
    pub configured: bool,
    /// False while Redis is unreachable; lookups then go to the database.
    pub available: bool,
    /// Failed Redis operations since connect.
    pub errors: f64,
}

/// The GitHub side of `linkGithubUser`.
#[napi(object)]
pub struct GithubAccount {
    /// GitHub account id; maps pull request, issue and review actors.
    pub id: Option<i64>,
    /// GitHub login; maps commit authors (`author.username`), case-insensitively.
    pub login: Option<String>,
    /// Commit email to back-fill commits by; not stored.
    pub email: Option<String>,
}

/// What `linkGithubUser` did.
#[napi(object)]
pub struct LinkResult {
    pub user_id: String,
    /// Earlier rows now attributed to the user.
    pub backfilled: RecordCounts,
    /// Metric jobs for the activity dates of those rows, for the worker to queue.
    pub metric_jobs: Vec<MetricJob>,
}

/// Counters of one processor since it connected.
#[napi(object)]
pub struct ProcessorStats {
    pub processed: f64,
    pub duplicate: f64,
    pub ignored: f64,
    pub failed: f64,
    /// Failed calls by error code.
    pub errors: HashMap<String, f64>,
    pub memory_cache: CacheTierStats,
    pub redis_cache: CacheTierStats,
    pub redis: RedisTierHealth,
    pub latency_micros: LatencyStats,
}

/// Options of `NativeProcessor.reprocessEvents` (the wrapper validates and converts them).
#[napi(object)]
pub struct NativeReprocessOptions {
    /// Events received at or after this instant (epoch ms).
    pub since_ms: Option<f64>,
    /// Events received before this instant (epoch ms).
    pub until_ms: Option<f64>,
    /// Event types; all tracked types when absent (empty: CONFIG_ERROR).
    pub types: Option<Vec<String>>,
    /// GitHub ids of repositories; every repository when absent (empty: CONFIG_ERROR).
    pub repository_github_ids: Option<Vec<i64>>,
    pub batch_size: Option<u32>,
    /// Payload bytes per batch; default 8 MiB.
    pub batch_bytes: Option<u32>,
    pub concurrency: Option<u32>,
    pub max_batches: Option<u32>,
}

/// Where a reprocessing run stands, after each finished batch.
#[napi(object)]
pub struct ReprocessProgress {
    /// Events of the run's finished batches, earlier calls included.
    pub events_done: f64,
    pub total_events: f64,
    pub batches_done: f64,
    pub total_batches: f64,
}

/// What one `reprocessEvents` call did.
#[napi(object)]
pub struct ReprocessResult {
    pub run_id: String,
    /// Whether the call continued a run an earlier call had begun.
    pub resumed: bool,
    /// Events applied by this call.
    pub events: f64,
    /// Events applied by this call, by event type.
    pub by_type: HashMap<String, f64>,
    /// Events selected but not applicable (payload no longer parses, repository gone).
    pub skipped: f64,
    /// Whether every batch of the run has finished.
    pub complete: bool,
    /// Events the run selected when it was planned.
    pub total_events: f64,
    pub duration_ms: f64,
}

/// The progress callback as the wrapper passes it (a function that never throws).
pub type ProgressCallback = napi::threadsafe_function::ThreadsafeFunction<
    ReprocessProgress,
    napi::bindgen_prelude::Unknown<'static>,
    ReprocessProgress,
    napi::Status,
    false,
>;

/// A connected processor: a PostgreSQL pool and the caches. Use the wrapper's
/// `WebhookProcessor` rather than this class directly.
#[napi]
pub struct NativeProcessor {
    inner: Arc<core::WebhookProcessor>,
}

#[napi]
impl NativeProcessor {
    /// Opens the pool and checks the schema; rejects `SCHEMA_MISMATCH` naming what is missing.
    #[napi(factory)]
    pub async fn connect(options: ProcessorOptions) -> napi::Result<Self> {
        logging::init();
        let options = convert::options(options);
        let inner = error::guarded(core::WebhookProcessor::connect(options)).await?;
        Ok(NativeProcessor {
            inner: Arc::new(inner),
        })
    }

    /// Processes one delivery. `payload` is the raw JSON body as text or bytes.
    #[napi(catch_unwind, ts_return_type = "Promise<ProcessingResult>")]
    pub fn process<'env>(
        &self,
        env: &'env Env,
        delivery_id: String,
        event: String,
        payload: Either<JsString<'env>, BufferSlice<'env>>,
        repo_id: Option<String>,
        received_at_ms: Option<f64>,
    ) -> napi::Result<PromiseRaw<'env, ProcessingResult>> {
        let job = convert::job(delivery_id, event, &payload, repo_id, received_at_ms)?;
        let inner = self.inner.clone();
        // Admitted here, on the JS thread, so a call made before `close()` is in flight
        // even if its future has not started when `close` begins waiting.
        let call = inner.admit().map_err(error::to_napi)?;
        env.spawn_future(async move {
            error::guarded(inner.process_admitted(call, job))
                .await
                .map(convert::result)
        })
    }

    /// The DevMetrics user id linked to a GitHub account id, or null; cached.
    #[napi]
    pub async fn get_user_id_by_github_id(&self, github_id: i64) -> napi::Result<Option<String>> {
        error::guarded(self.inner.user_id_by_github_id(github_id)).await
    }

    /// Links a DevMetrics user to a GitHub account, invalidates every processor's caches and
    /// back-fills the author and reviewer ids of earlier rows.
    #[napi]
    pub async fn link_github_user(
        &self,
        user_id: String,
        github: GithubAccount,
    ) -> napi::Result<LinkResult> {
        let account = convert::account(github);
        error::guarded(self.inner.link_github_user(&user_id, &account))
            .await
            .map(convert::link)
    }

    /// Applies the stored payloads of processed events to the entity tables again, in
    /// resumable batches; `onProgress` is called after each finished batch.
    #[napi]
    pub async fn reprocess_events(
        &self,
        options: NativeReprocessOptions,
        on_progress: Option<ProgressCallback>,
    ) -> napi::Result<ReprocessResult> {
        let options = convert::reprocess_options(options)?;
        let progress: Option<core::reprocess::ProgressFn> = on_progress.map(|callback| {
            let callback = Arc::new(callback);
            Arc::new(move |p: core::reprocess::Progress| {
                let _ = callback.call(
                    convert::reprocess_progress(p),
                    napi::threadsafe_function::ThreadsafeFunctionCallMode::NonBlocking,
                );
            }) as core::reprocess::ProgressFn
        });
        error::guarded(self.inner.reprocess_events(options, progress))
            .await
            .map(convert::reprocess_result)
    }

    /// The five DORA metrics over a window of successful production deployments
    /// (docs/dora.md); the wrapper validates the options.
    #[napi]
    pub async fn dora_metrics(
        &self,
        options: dora::NativeDoraOptions,
    ) -> napi::Result<dora::NativeDoraMetrics> {
        let options = dora::options(options)?;
        error::guarded(self.inner.dora_metrics(&options))
            .await
            .map(dora::metrics)
    }

    /// Counts by status and error code, cache hits and misses per tier, latency percentiles.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> ProcessorStats {
        convert::stats(self.inner.stats(), self.inner.redis_health())
    }

    /// Waits for in-flight calls and closes the pool; later calls reject `PROCESSOR_CLOSED`.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        error::guarded(async {
            self.inner.close().await;
            Ok(())
        })
        .await
    }
}

/// What a payload says about itself, from `inspectWebhook`.
#[napi(object)]
pub struct PayloadInspection {
    /// Whether a processor handles this event type; others are stored as `ignored`.
    pub tracked: bool,
    pub action: Option<String>,
    /// GitHub id of the payload's repository, when it names one.
    pub repository_github_id: Option<i64>,
    /// GitHub id of the account that triggered the delivery.
    pub sender_github_id: Option<i64>,
}

/// Checks a delivery's payload without a database: the size limit, parse and planning that
/// `process` applies before writing. Throws `INVALID_PAYLOAD` or `PAYLOAD_TOO_LARGE` as
/// `process` would; synchronous, like `JSON.parse`.
#[napi(catch_unwind)]
pub fn inspect_webhook(
    event: String,
    payload: Either<JsString, BufferSlice>,
) -> napi::Result<PayloadInspection> {
    let scratch = convert::payload_bytes(&payload)?;
    // The call is synchronous, so the JS value is still there to read again if a failure
    // needs describing; the fast path keeps no second copy.
    let original = core::payload::Reread(|| convert::payload_bytes(&payload).unwrap_or_default());
    core::inspect(&event, scratch, original)
        .map(convert::inspection)
        .map_err(error::to_napi)
}

/// Applies the bundled Prisma migrations (`prisma/migrations`) to a database, recording them
/// in `_prisma_migrations` like `prisma migrate deploy`. Idempotent.
#[napi]
pub async fn migrate(database_url: String) -> napi::Result<()> {
    logging::init();
    error::guarded(core::migrate(&database_url))
        .await
        .map(|_| ())
}
