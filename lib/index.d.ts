// Types of @devmetrics/webhook-processor's main entry (lib/index.js). Hand-written: napi
// regenerates ../index.d.ts for the native layer, which this package wraps.
import type { Job, JobOptions, Queue, QueueOptions } from 'bull'
import type { GitHubClient } from './github/client'

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
  /**
   * API work the delivery leaves for the `github` queue (docs/github-api.md): always
   * reported; the worker queues them only when given a `githubQueue`. Re-derived for a
   * duplicate, with the same job ids.
   */
  followUps: FollowUp[]
  timings: { parseMicros: number; dbMicros: number; totalMicros: number }
}

/** Fetch the line counts of a push's commits (GraphQL, up to 100 a request). */
export interface CommitStatsFollowUp {
  kind: 'commitStats'
  /** Bull jobId, `commitStats:<repoId>:<deliveryId>`: a redelivery adds no second job. */
  jobId: string
  /** DevMetrics repository id. */
  repoId: string
  /** `owner/name`. */
  repository: string
  /** The commits, sorted and unique. */
  shas: string[]
  before: null
  after: null
}

/** Insert the commits of `before...after` that a truncated push (2048 listed) left out. */
export interface CompletePushFollowUp {
  kind: 'completePush'
  /** Bull jobId, `completePush:<repoId>:<before>:<after>`. */
  jobId: string
  repoId: string
  repository: string
  /**
   * The commits the payload listed. The job fetches the counts of the whole range after
   * completing it (so no commitStats follow-up comes with it), or of these alone when
   * GitHub no longer has the range.
   */
  shas: string[]
  before: string
  after: string
}

/** One job for the `github` queue; queue it with `jobId` as Bull's jobId. */
export type FollowUp = CommitStatsFollowUp | CompletePushFollowUp

/** What applyCommitStats wrote. */
export interface CommitStatsResult {
  /** Commits whose counts were written (`statsFetchedAt` set). */
  updated: number
  /** Commits GitHub could not resolve: `statsMissing` set (and `statsFetchedAt`), never asked for again. */
  missing: number
  /** Answers for commits the repository has no row for (nothing written). */
  unknown: number
  /** Developer and team metric jobs of the updated commits' authors and dates. */
  metricJobs: MetricJob[]
}

/** What completePush wrote for one compare page. */
export interface CompletePushResult {
  /** Commits the table lacked, now inserted. */
  inserted: number
  /** Metric jobs of the page's commits' authors and dates. */
  metricJobs: MetricJob[]
  /** The page's commits whose line counts are still unknown: the commitStats work to queue. */
  shasNeedingStats: string[]
  /** Commit authors not linked to a user. */
  unmappedUsers: string[]
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
  | 'GITHUB_RATE_LIMITED'
  | 'GITHUB_UNAVAILABLE'
  | 'GITHUB_NOT_FOUND'
  | 'GITHUB_AUTH'
  | 'GITHUB_ERROR'

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
   * Writes GitHub's GraphQL answer of commit line counts (aliases `c<sha>`: `object(oid:)`
   * `... on Commit { oid additions deletions changedFilesIfAvailable }`) in one statement.
   * INVALID_PAYLOAD for an answer it cannot trust (nothing written); UNKNOWN_REPOSITORY.
   */
  applyCommitStats(repoId: string, responseText: string | Buffer): Promise<CommitStatsResult>
  /** Inserts the commits of one compare page (JSON text) that the repository lacks, mapped like a push's. Idempotent. */
  completePush(repoId: string, compareText: string | Buffer): Promise<CompletePushResult>
  /** Of `shas`, those of the repository whose line counts are still unknown, sorted. */
  commitsLackingStats(repoId: string, shas: string[]): Promise<string[]>
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
  /**
   * The Bull `github` queue the result's followUps go to (data `{ kind, repoId, repository,
   * shas, before, after, deliveryId }`, jobId the follow-up's, githubJobOptions). Without it
   * follow-ups are not queued: the API features are off. See docs/github-api.md.
   */
  githubQueue?: Queue
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
  /** Follow-ups added to the github queue (adds Bull dropped as duplicates included). */
  followUpsQueued: number
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

// ---- BullMQ (optional peer dependency `bullmq`, required only by createBullMQWorker) ----

/** Options of createBullMQWorker: those of the Bull glue, plus where the queue lives. */
export interface BullMQWorkerOptions extends Omit<WorkerOptions, 'metricsQueue' | 'githubQueue' | 'onPermanentFailure'> {
  /** The queue of deliveries. Default `webhooks`. */
  queueName?: string
  /** BullMQ's connection: ioredis options, or an ioredis `Redis` or `Cluster` instance (a shared instance is not closed by the worker). */
  connection: import('bullmq').ConnectionOptions
  /** BullMQ key prefix (default `bull`). On Redis Cluster use a hash tag, for example `{devmetrics}`, so a queue's keys share a slot. */
  prefix?: string
  /** The BullMQ queue metric jobs go to (name = kind, data `{ kind, id, date, deliveryId }`, jobId from the result with `:` made `.`). */
  metricsQueue?: import('bullmq').Queue
  /** The BullMQ queue a result's follow-ups go to: name = kind, data and options as the Bull worker's (`githubQueue`), jobId with `:` made `.`. The package's github worker runs on Bull only: consume these yourself. */
  githubQueue?: import('bullmq').Queue
  /** Called once per job that will not be retried: failed with UnrecoverableError (not retryable) or out of attempts. */
  onPermanentFailure?: (job: import('bullmq').Job<WebhookJobData>, error: WebhookProcessingError) => unknown
  /** Extra BullMQ WorkerOptions merged over the defaults (lockDuration 30 s, lockRenewTime 15 s, stalledInterval 30 s, maxStalledCount 1). */
  workerOptions?: Partial<import('bullmq').WorkerOptions>
}

/** A running BullMQ worker. */
export interface BullMQWebhookWorker extends WebhookWorker {
  /** The BullMQ Worker, for its events (`completed`, `failed`). Close it through `close()`. */
  worker: import('bullmq').Worker<WebhookJobData>
  health(): ReturnType<WebhookWorker['health']> & { counters: WorkerCounters & { followUpsQueued: number } }
}

/**
 * Starts a BullMQ Worker on the deliveries queue with the Bull glue's semantics: non-retryable
 * codes fail at once with BullMQ's UnrecoverableError (no retries left used), retryable ones follow
 * the job's attempts and backoff, metric jobs and follow-ups are queued, `close()` finishes active jobs.
 */
export declare function createBullMQWorker(options: BullMQWorkerOptions): BullMQWebhookWorker

/** BullMQ job options for the producer: 4 attempts (the first try and 3 retries: 2 s, 4 s, 8 s, BullMQ's built-in exponential), removeOnFail 500. */
export declare const bullmqWebhookJobOptions: import('bullmq').JobsOptions

/** Options of createGitHubWorker. */
export interface GitHubWorkerOptions {
  /** The GitHub client (createGitHubClient); jobs use `client.forOwner(owner)`. */
  client: GitHubClient
  /** A connected processor (the worker will not close it)… */
  processor?: WebhookProcessor
  /** …or a database URL: the worker connects its own processor and closes it. */
  databaseUrl?: string
  /** Pool size of a processor the worker connects. Default: `concurrency`. */
  maxConnections?: number
  /** The Bull queue the metric jobs of fetched counts and completed commits go to. */
  metricsQueue?: Queue
  /** Jobs processed at once. Default 2 (GitHub's secondary limits punish bursts). */
  concurrency?: number
  /** Where completions, delays and failures are logged. Default: warnings and errors to the console. */
  logger?: WorkerLogger
}

/** Counters of a github worker since it started. */
export interface GitHubWorkerCounters {
  completed: number
  /** Failed attempts, retried or not. */
  failed: number
  retried: number
  discarded: number
  /** Jobs put back with the delay a rate limit asked for (no attempt spent). */
  delayed: number
  metricJobsQueued: number
  byKind: Record<string, { completed: number; failed: number; delayed: number }>
}

/** A running github worker. */
export interface GitHubWorker {
  health(): { status: 'running' | 'closing'; queue: string; concurrency: number; active: number; counters: GitHubWorkerCounters }
  /** Stops taking jobs, waits for the active ones, closes what the worker created (not the queues). */
  close(): Promise<void>
}

/**
 * Runs the `github` queue: one module per job kind (commitStats, completePush). A
 * rate-limited job is re-queued with GitHub's delay and spends no attempt; 5xx and timeouts
 * are retried with githubJobOptions' backoff; what cannot succeed is discarded.
 */
export declare function createGitHubWorker(queue: Queue, options: GitHubWorkerOptions): GitHubWorker

/** Job options of the github queue: 8 attempts, exponential backoff from 15 s, completed jobs kept 7 days (their ids dedupe redeliveries), removeOnFail 500. */
export declare const githubJobOptions: JobOptions

// GitHub's API (lib/github/): the client, its options and errors; see docs/github-api.md.
export {
  createGitHubClient,
  githubOptionsFromEnv,
  type GitHubClient,
  type GitHubClientOptions,
  type GitHubClientStats,
  type GitHubRateLimitSeen,
  type GitHubOctokit,
  type GitHubHook,
  type GitHubError,
} from './github/client'
