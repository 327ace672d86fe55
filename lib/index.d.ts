// Types of @devmetrics/webhook-processor's main entry (lib/index.js). Hand-written: napi
// regenerates ../index.d.ts for the native layer, which this package wraps.
import type { Job, JobOptions, Queue, QueueOptions } from 'bull'

/** One queued webhook delivery, as the endpoint puts it in the Bull job. */
export interface WebhookJobData {
  /** X-GitHub-Delivery GUID: the idempotency key. */
  deliveryId: string
  /** X-GitHub-Event, for example `push`. */
  event: string
  /** The raw body text (preferred: parsed once, in Rust), its bytes, or an already parsed object. */
  payload: string | Buffer | Uint8Array | object
  /** DevMetrics repositories.id, when the endpoint resolved it; wins over the payload's repository. */
  repoId?: string | null
  /** When the endpoint received the delivery: ISO string or epoch ms. Defaults to now. */
  receivedAt?: string | number | Date | null
}

/** Options of WebhookProcessor.connect. */
export interface ProcessorOptions {
  /** PostgreSQL connection URL. */
  databaseUrl: string
  /** Redis URL of the shared user-mapping cache tier (and its invalidation channel). */
  redisUrl?: string
  /** Prefix of the Redis keys and channel. Default `devmetrics:`. Keys are also scoped to the database, so processors of different databases never share cached ids. */
  redisKeyPrefix?: string
  /** Pool size; size it to the worker's Bull concurrency. Default 10. */
  maxConnections?: number
  /** Lifetime of a cached user mapping in seconds. Default 900; unknown users are cached at most 60 s. */
  userCacheTtlSeconds?: number
}

/** Rows one call inserted or changed; zeros for `duplicate` and `ignored`. */
export interface RecordCounts {
  commits: number
  pullRequests: number
  issues: number
  reviews: number
}

/** A metric recomputation for the worker to queue, with the Bull jobId to use. */
export interface MetricJob {
  kind: 'developer' | 'team'
  /** User id (developer) or team id (team). */
  id: string
  /** UTC activity date, YYYY-MM-DD. */
  date: string
  /** Coalesces equal jobs within one minute only, so no trigger is lost while a job runs. */
  jobId: string
}

/** The outcome of processing one delivery. */
export interface ProcessingResult {
  status: 'processed' | 'duplicate' | 'ignored'
  /** The events row, or null when the delivery was not stored (ignored, unknown repository). */
  eventId: string | null
  deliveryId: string
  event: string
  action: string | null
  repoId: string | null
  records: RecordCounts
  metricJobs: MetricJob[]
  /** GitHub logins (or commit emails without a login) not linked to a user; bots are left out. */
  unmappedUsers: string[]
  timings: { parseMicros: number; dbMicros: number; totalMicros: number }
}

/** Hits and misses of one user-mapping cache tier. */
export interface CacheTierStats {
  hits: number
  misses: number
  /** hits / (hits + misses); 0 before the first lookup. */
  hitRate: number
}

/** Counters of one processor since it connected. */
export interface ProcessorStats {
  processed: number
  duplicate: number
  ignored: number
  failed: number
  /** Failed calls by error code. */
  errors: Partial<Record<ErrorCode, number>>
  memoryCache: CacheTierStats
  redisCache: CacheTierStats
  /** Availability of the Redis tier: while unavailable, lookups go to the database. */
  redis: { configured: boolean; available: boolean; errors: number }
  /** Latency of completed calls, in microseconds. */
  latencyMicros: { count: number; p50: number; p90: number; p99: number; max: number }
}

/** The GitHub side of linkGithubUser. */
export interface GithubAccount {
  /** GitHub account id: maps pull request, issue and review actors. */
  id?: number
  /** GitHub login: maps commit authors (`author.username`), case-insensitively. */
  login?: string
  /** A commit email to back-fill commits by; not stored. */
  email?: string
}

/** What linkGithubUser did. */
export interface LinkResult {
  userId: string
  /** Earlier rows now attributed to the user. */
  backfilled: RecordCounts
  /** Metric jobs for the activity dates of those rows, to queue like a result's. */
  metricJobs: MetricJob[]
}

/** What a payload says about itself; see inspectWebhook. */
export interface PayloadInspection {
  /** Whether a processor handles this event type; others are stored as `ignored`. */
  tracked: boolean
  action: string | null
  /** GitHub id of the payload's repository, when it names one. */
  repositoryGithubId: number | null
  /** GitHub id of the account that triggered the delivery. */
  senderGithubId: number | null
}

/** The documented error codes; see docs/errors.md. */
export type ErrorCode =
  | 'INVALID_JOB'
  | 'INVALID_PAYLOAD'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNKNOWN_REPOSITORY'
  | 'SCHEMA_MISMATCH'
  | 'CONFIG_ERROR'
  | 'CONSTRAINT_VIOLATION'
  | 'INTERNAL'
  | 'DATABASE_UNAVAILABLE'
  | 'DATABASE_ERROR'
  | 'PROCESSOR_CLOSED'

/** Every error this package throws. `retryable` says whether a later attempt can succeed. */
export declare class WebhookProcessingError extends Error {
  constructor(code: ErrorCode, message: string, options?: ErrorOptions)
  name: 'WebhookProcessingError'
  code: ErrorCode
  retryable: boolean
}

export declare const ERROR_CODES: readonly ErrorCode[]

/** 25 MiB: GitHub never sends more. */
export declare const MAX_PAYLOAD_BYTES: number

/** The text with the user information of every URL in it (`scheme://user:password@host`) replaced by `***`, for logs. */
export declare function redactCredentials(text: string): string

/** Which stored deliveries `reprocessEvents` applies again, and how. */
export interface ReprocessOptions {
  /** Events received at or after this instant (`events.receivedAt`): a Date, ISO string or epoch ms. */
  since?: Date | string | number
  /** Events received before this instant (exclusive). */
  until?: Date | string | number
  /** Event types (`push`, `pull_request`, `issues`, `pull_request_review`). Default: all four. */
  types?: Array<'push' | 'pull_request' | 'issues' | 'pull_request_review'>
  /** GitHub ids of repositories (`repositories.githubId`). Default: every repository. */
  repositoryGithubIds?: number[]
  /** Events per batch, one transaction each (1–10000). Default 200. A resumed run keeps the batches it was planned with. */
  batchSize?: number
  /** Batches in flight at once (1–1000). Default: the processor's `maxConnections` (a batch holds one connection at a time). */
  concurrency?: number
  /** Stop after this many batches in this call; the run stays resumable. Default: no limit. */
  maxBatches?: number
  /**
   * Called after each finished batch. What it throws or rejects is reported once as a process
   * warning and never stops the run nor the process.
   */
  onProgress?: (progress: ReprocessProgress) => void | Promise<void>
}

/** Where a reprocessing run stands. */
export interface ReprocessProgress {
  /** Events of the run's finished batches, earlier calls included. */
  eventsDone: number
  /** Events the run selected when it was planned. */
  totalEvents: number
  batchesDone: number
  totalBatches: number
}

/** What one `reprocessEvents` call did. */
export interface ReprocessResult {
  /** Events this call applied. */
  events: number
  /** Events this call applied, by event type. */
  byType: Record<string, number>
  /** Events selected but not applicable: the payload no longer parses, or its repository is gone. Left as they are. */
  skipped: number
  durationMs: number
  /** The run (`reprocess_runs.id`) this call worked on. */
  runId: string
  /** Whether the call continued a run that an earlier call had begun. */
  resumed: boolean
  /** Whether every batch of the run has finished (false after `maxBatches`). */
  complete: boolean
  /** Events the run selected when it was planned. */
  totalEvents: number
}

/** A connected processor: a PostgreSQL pool and the user-mapping caches. */
export declare class WebhookProcessor {
  private constructor()
  /** Opens the pool and checks the schema; rejects SCHEMA_MISMATCH naming what is missing. */
  static connect(options: ProcessorOptions): Promise<WebhookProcessor>
  /** Processes one delivery. */
  process(job: WebhookJobData): Promise<ProcessingResult>
  /** The DevMetrics user id linked to a GitHub account id, or null; cached. */
  getUserIdByGithubId(githubId: number): Promise<string | null>
  /**
   * Links a DevMetrics user to a GitHub account, invalidates every processor's caches (through
   * Redis when configured) and attributes earlier rows. Unknown user, or an account linked to
   * someone else: CONSTRAINT_VIOLATION.
   */
  linkGithubUser(userId: string, github: GithubAccount): Promise<LinkResult>
  /**
   * Applies the stored payloads of processed events to the entity tables again, through the
   * same convergent upserts as live deliveries: in batches (a transaction each), several at
   * once, safe beside live processing, writing no `events` rows. Resumable: a call with the
   * same filters continues the unfinished run and skips its finished batches
   * (docs/reprocess.md). Bad options reject CONFIG_ERROR; a batch that fails for good rejects
   * with its code, and the batches finished before it stay finished.
   */
  reprocessEvents(options?: ReprocessOptions): Promise<ReprocessResult>
  /** Counts by status and error code, cache hits and misses per tier, latency percentiles. */
  stats(): ProcessorStats
  /** Waits for in-flight calls and closes the pool; later calls reject PROCESSOR_CLOSED. */
  close(): Promise<void>
}

/** Processes one delivery with the default instance, connected from DATABASE_URL and REDIS_URL. */
export declare function processWebhook(job: WebhookJobData): Promise<ProcessingResult>

/** Closes the default instance, if one was opened. */
export declare function closeDefaultProcessor(): Promise<void>

/** Applies the bundled Prisma migrations (prisma/migrations) and records them like `prisma migrate deploy`. Idempotent. */
export declare function migrate(databaseUrl: string): Promise<void>

/**
 * Checks a payload without a database: the size limit, parse and planning that `process`
 * applies before writing, so an endpoint can refuse a bad payload at the door and read the
 * repository id without a second JSON parse. Synchronous, like `JSON.parse`. Throws
 * `INVALID_PAYLOAD` or `PAYLOAD_TOO_LARGE` as `process` would, `INVALID_JOB` for bad arguments.
 */
export declare function inspectWebhook(event: string, payload: string | Buffer | Uint8Array | object): PayloadInspection

/** A winston-compatible logger: `info`, `warn` and `error` with a message and a metadata object. */
export interface WorkerLogger {
  info(message: string, meta?: Record<string, unknown>): unknown
  warn(message: string, meta?: Record<string, unknown>): unknown
  error(message: string, meta?: Record<string, unknown>): unknown
}

/** Options of createWebhookWorker. */
export interface WorkerOptions {
  /** A connected processor (the worker will not close it)… */
  processor?: WebhookProcessor
  /** …or a database URL: the worker connects its own processor, pool sized to `concurrency`, and closes it. */
  databaseUrl?: string
  /** Redis URL of the user-mapping cache tier, for a processor the worker connects. */
  redisUrl?: string
  /** Redis key prefix of a processor the worker connects (see ProcessorOptions). */
  redisKeyPrefix?: string
  /** User-mapping cache lifetime of a processor the worker connects (see ProcessorOptions). */
  userCacheTtlSeconds?: number
  /** Pool size of a processor the worker connects. Default: `concurrency`. */
  maxConnections?: number
  /** The Bull queue metric jobs go to (data `{ kind, id, date, deliveryId }`, jobId from the result). */
  metricsQueue?: Queue
  /** Jobs processed at once by this worker. Default 5. */
  concurrency?: number
  /** Where completions (with timing) and failures (with context) are logged. Default: warnings and errors to the console. */
  logger?: WorkerLogger
  /** Called once per job that will not be retried: discarded (not retryable) or out of attempts. The seed's alert. */
  onPermanentFailure?: (job: Job<WebhookJobData>, error: WebhookProcessingError) => unknown
}

/** Counters of a worker since it started. */
export interface WorkerCounters {
  completed: number
  /** Failed attempts, retried or not. */
  failed: number
  /** Failed attempts that Bull will retry. */
  retried: number
  /** Jobs sent straight to the failed set (non-retryable error). */
  discarded: number
  metricJobsQueued: number
  byStatus: { processed: number; duplicate: number; ignored: number }
  failuresByCode: Partial<Record<ErrorCode, number>>
}

/** A running worker. */
export interface WebhookWorker {
  /** Liveness and counters, for a health endpoint. */
  health(): {
    status: 'running' | 'closing'
    queue: string
    concurrency: number
    active: number
    counters: WorkerCounters
    processor: ProcessorStats | null
  }
  /** Stops taking jobs, waits for the active ones, closes what the worker created (not the queues). */
  close(): Promise<void>
}

/** Runs `queue.process(concurrency, …)` with the addon; see WorkerOptions. */
export declare function createWebhookWorker(queue: Queue<WebhookJobData>, options: WorkerOptions): WebhookWorker

/** Job options for the producer: 4 attempts (the first try and 3 retries: 2 s, 4 s, 8 s), removeOnFail 500. */
export declare const webhookJobOptions: JobOptions

/** Settings for the webhooks queue: the matching backoff strategy, lockDuration 30 s, lockRenewTime 15 s, stalledInterval 30 s. */
export declare const webhookQueueSettings: NonNullable<QueueOptions['settings']>

/** The backoff strategy: delay (default 2000 ms, or options.baseDelayMs) · 2^(attempts made − 1); −1 for non-retryable errors. */
export declare function webhookBackoff(attemptsMade: number, err: unknown, options?: { baseDelayMs?: number }): number
