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
  /** An idle database connection unused this long is closed (milliseconds, at most a week). Default 600000 (10 minutes, as sqlx's pool). */
  idleTimeoutMs?: number
  /** A database connection this old is closed instead of reused (milliseconds, at most a week). Default 1800000 (30 minutes, as sqlx's pool). */
  maxLifetimeMs?: number
  /**
   * Which deployments are production when GitHub sends no `production_environment` flag: those
   * whose environment matches this pattern, case-insensitively (a PostgreSQL regular
   * expression; a RegExp gives its source). Default `^(prod|production|live)([-_ ./].*)?$`.
   * An invalid pattern is CONFIG_ERROR at connect. See docs/dora.md.
   */
  productionEnvironments?: string | RegExp
  /**
   * Repositories follow a GitHub App's installations (docs/repositories.md): the repositories an
   * `installation` / `installation_repositories` event adds are registered, and so is an unknown
   * repository of any delivery that names an installation. Removals, uninstalls, suspensions,
   * renames, transfers, archiving and deletion are followed whether or not this is on.
   * Default false (the reference backend turns it on when it runs as a GitHub App).
   */
  autoRegisterRepositories?: boolean
  /**
   * Owner login (case-insensitive) → team name for repositories registered automatically: the
   * repository joins the team of that name if it exists, else no team. Default none.
   */
  ownerTeams?: Record<string, string>
}

/** Rows one call inserted or changed; zeros for `duplicate` and `ignored`. */
export interface RecordCounts {
  commits: number
  pullRequests: number
  issues: number
  reviews: number
  /** Deployments whose own fields were inserted or changed (fields derived from statuses are recomputed without being counted). */
  deployments: number
  deploymentStatuses: number
  /** Workflow run attempts (a re-run is a new row). */
  workflowRuns: number
  workflowJobs: number
  releases: number
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
  /**
   * Why a delivery of a tracked type was `ignored` (its repository was removed from tracking, or
   * deleted, before the delivery was received; also in `events.ignoredReason`), or that a
   * `repository` event waits for its repository to be registered; null otherwise.
   */
  reason: string | null
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
  forced: null
  deploymentId: null
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
  /**
   * The push payload's `forced`; null when the payload lacks it. `false` (a fast-forward:
   * `before` is an ancestor of `after`) lets the job size the range from the two commits'
   * history counts in its first GraphQL request; otherwise it asks compare. Not part of
   * `jobId`.
   */
  forced: boolean | null
  deploymentId: null
}

/**
 * Record what a production deployment shipped (docs/dora.md): queued when a production
 * deployment first succeeds, and for backfilled ones.
 */
export interface DeploymentChangesFollowUp {
  kind: 'deploymentChanges'
  /** Bull jobId, `deploymentChanges:<repoId>:<deployment GitHub id>`: later statuses and redeliveries add no second job. */
  jobId: string
  repoId: string
  repository: string
  /** The deployment's GitHub id, as decimal text. */
  deploymentId: string
  shas: []
  before: null
  after: null
  forced: null
}

/**
 * Fetch the history of a repository auto-registration has just registered (docs/repositories.md):
 * the worker queues it as a `backfill` job only when given `autoBackfill` (the `since`).
 * Reported by the delivery that registered it; its duplicate reports none.
 */
export interface BackfillFollowUp {
  kind: 'backfill'
  /** Bull jobId, `backfill:<repoId>:registered`: one backfill per registered repository row. */
  jobId: string
  repoId: string
  repository: string
  shas: []
  before: null
  after: null
  forced: null
  deploymentId: null
}

/** One job for the `github` queue; queue it with `jobId` as Bull's jobId. */
export type FollowUp = CommitStatsFollowUp | CompletePushFollowUp | DeploymentChangesFollowUp | BackfillFollowUp

/** Where a deploymentChanges job starts (deploymentChangesStart). */
export interface DeploymentChangesStart {
  /** DevMetrics id of the deployment. */
  deploymentId: string
  /** The deployed commit. */
  sha: string
  environment: string
  /** False when the deployment is not a successful production deployment: nothing to do. */
  eligible: boolean
  /** The previous successful production deployment's sha (the compare base); null when none came before. */
  baseSha: string | null
  /** Its GitHub id. */
  baseGithubId: number | null
  /** The stored changes are complete for this base: nothing to ask GitHub. */
  complete: boolean
  /** Rows computed against another base were deleted now (a deployment arrived late). */
  reset: boolean
}

/** What applyDeploymentChanges wrote for one compare page. */
export interface DeploymentChangesPage {
  /** Compare's `status`: `ahead`, `behind` (a rollback), `diverged` or `identical`. */
  status: 'ahead' | 'behind' | 'diverged' | 'identical'
  /** deployment_changes rows inserted or corrected. */
  changes: number
  /** False when another run changed the deployment's base meanwhile: nothing was written. */
  current: boolean
  /** Commits the table lacked, now inserted. */
  inserted: number
  /** Metric jobs of the inserted commits' authors and dates. */
  metricJobs: MetricJob[]
  /** The page's commits whose line counts are still unknown: the commitStats work to queue. */
  shasNeedingStats: string[]
}

/** What finishDeploymentChanges did. */
export interface DeploymentChangesFinish {
  /** False when the deployment's base changed meanwhile (another run owns it). */
  marked: boolean
  /** Deployments of the environment whose stored base is now stale: the later ones, and this one when a predecessor stored while its job ran has become its previous deployment. Compute them again. */
  stale: { githubId: number; baseSha: string | null }[]
}

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
  /** GitHub account id: maps pull request, issue and review actors (the only key they map by). */
  id?: number
  /** GitHub login: maps commit authors (`author.username`), case-insensitively. */
  login?: string
  /** A commit email of the user: stored (`user_github_emails`), so earlier commits by it are back-filled and later and rebuilt ones map too. */
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

/**
 * The `X-GitHub-Event` types a processor tracks (writes rows for): push, pull_request, issues,
 * pull_request_review, deployment, deployment_status, workflow_run, workflow_job, release.
 * Every other type is answered `ignored`. `reprocessEvents({ types })` accepts these.
 */
export declare const TRACKED_EVENT_TYPES: readonly string[]

/** 25 MiB: GitHub never sends more. */
export declare const MAX_PAYLOAD_BYTES: number

/** The text with the user information of every URL in it (`scheme://user:password@host`) replaced by `***`, for logs. */
export declare function redactCredentials(text: string): string

/**
 * A GitHub REST list: `GET /repos/{o}/{r}/pulls`, `…/pulls/{n}/reviews`, `…/issues`, `…/commits`,
 * `…/deployments`, `…/deployments/{id}/statuses`, `…/actions/runs` (its page as GitHub sends it,
 * `{ total_count, workflow_runs }`).
 */
export type RestKind = 'pulls' | 'reviews' | 'issues' | 'commits' | 'deployments' | 'deployment_statuses' | 'workflow_runs'

/** What applying one REST page did. */
export interface RestPageResult {
  /** Items the page listed. */
  items: number
  /** Items left out: pull requests in the issues list, pending reviews. */
  skipped: number
  /** Rows inserted or changed. */
  records: RecordCounts
  /** Metric jobs to queue, as for a delivery. */
  metricJobs: MetricJob[]
  /** GitHub logins (or commit emails without a login) not linked to a user. */
  unmappedUsers: string[]
}

/** Which stored deliveries `reprocessEvents` applies again, and how. */
export interface ReprocessOptions {
  /** Events received at or after this instant (`events.receivedAt`): a Date, ISO string or epoch ms. */
  since?: Date | string | number
  /** Events received before this instant (exclusive). */
  until?: Date | string | number
  /** Event types (TRACKED_EVENT_TYPES). Default (left out): all of them; an empty list is CONFIG_ERROR. */
  types?: Array<'push' | 'pull_request' | 'issues' | 'pull_request_review' | 'deployment' | 'deployment_status' | 'workflow_run' | 'workflow_job' | 'release'>
  /** GitHub ids of repositories (`repositories.githubId`). Default (left out): every repository; an empty list is CONFIG_ERROR. */
  repositoryGithubIds?: number[]
  /** Events per batch, one transaction each (1–10000). Default 200. A resumed run keeps the batches it was planned with. */
  batchSize?: number
  /**
   * Payload bytes per batch (1–2^30): a batch also ends once its stored payloads (JSON text) reach
   * this many bytes, so the addon's memory follows bytes, not only the event count (a batch holds
   * at least one event, so it may exceed the bound by one payload). Default 8 MiB. A resumed run
   * keeps the batches it was planned with.
   */
  batchBytes?: number
  /** Batches in flight at once (1–1000). Default: half the processor's `maxConnections`, at least 1 (a batch holds one connection at a time; the rest is left to live deliveries). */
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

/**
 * What `doraMetrics` measures (docs/dora.md). The window is on each deployment's first success:
 * successful production deployments with `firstSuccessAt` in [since, until), a (repository,
 * environment, sha) counted once at its earliest first success.
 */
export interface DoraOptions {
  /** Window start, inclusive: a Date, ISO 8601 string (read in UTC without an offset, `2026-03-01T00:00:00` as `2026-03-01`; a day the calendar lacks is CONFIG_ERROR) or epoch ms. Required. */
  since: Date | string | number
  /** Window end, exclusive. Required; after `since`. */
  until: Date | string | number
  /** GitHub ids of the repositories (`repositories.githubId`). Default: every repository. An empty array measures none. */
  repositoryGithubIds?: number[]
  /** A DevMetrics team: its repositories (`repositories.teamId`). With `repositoryGithubIds`, the repositories in both. */
  teamId?: string
  /** Measure this environment (its exact name, e.g. `staging`) instead of production (`deployments.isProduction`), by the same rules. */
  environment?: string
  /** Labels that make an issue of the deployment's repository an incident, compared case-insensitively. Default `['incident']`; `[]` turns incidents off. */
  incidentLabels?: string[]
  /** An incident opened more than this many hours after a deployment's first success is not blamed on it (one opened exactly this long after is). Default 168 (a week); at most 87600. */
  failureWindowHours?: number
}

/** Deployment frequency. */
export interface DeploymentFrequencyMetric {
  /** Successful production deployments in the window, a (repository, environment, sha) once. */
  deployments: number
  /** Distinct UTC dates with at least one deployment. */
  days: number
  /** deployments / ((until − since) / 7 days). */
  perWeek: number
  /** Production deployments that failed (a `failure`/`error` status) and never succeeded, by the time they failed; a (repository, environment, sha) once. */
  failedToDeploy: number
  /** GitHub ids (as strings) of the deployments counted, by first success. */
  deploymentIds: string[]
  /** GitHub ids of the deployments counted in `failedToDeploy`. */
  failedToDeployIds: string[]
}

/** Change lead time: a deployment's first success minus each shipped commit's committedAt. */
export interface LeadTimeMetric {
  /** Commits measured (negative spans and the first deployment of an environment, which has no changes, left out). */
  commits: number
  /** percentile_cont(0.5) in seconds; null without commits. */
  medianSeconds: number | null
  /** percentile_cont(0.75) in seconds; null without commits. */
  p75Seconds: number | null
  /** percentile_cont(0.9) in seconds; null without commits. */
  p90Seconds: number | null
  /** GitHub ids of the deployments whose changes are measured. */
  deploymentIds: string[]
}

/** Change fail rate. */
export interface ChangeFailRateMetric {
  /** Deployments that failed: a failure status after success, an incident, or the next one is a rollback. */
  failed: number
  /** Deployments counted (as deploymentFrequency.deployments). */
  total: number
  /** failed / total; null when total is 0. */
  rate: number | null
  /** GitHub ids of the failed deployments. */
  deploymentIds: string[]
}

/** Failed deployment recovery time, over the failed deployments that recovered (their earliest cause). */
export interface RecoveryTimeMetric {
  /** Failed deployments with a recovery time. */
  count: number
  /** percentile_cont(0.5) in seconds; null when count is 0. */
  medianSeconds: number | null
  /** percentile_cont(0.75) in seconds; null when count is 0. */
  p75Seconds: number | null
  /** percentile_cont(0.9) in seconds; null when count is 0. */
  p90Seconds: number | null
  /** GitHub ids of the failed deployments measured. */
  deploymentIds: string[]
}

/** Deployment rework rate: deployments that restored a failed one, over all. */
export interface ReworkRateMetric {
  /** Deployments that were the "next" of a failed deployment of the window. */
  rework: number
  /** Deployments counted (as deploymentFrequency.deployments). */
  total: number
  /** rework / total; null when total is 0. */
  rate: number | null
  /** GitHub ids of the restoring deployments. */
  deploymentIds: string[]
}

/** What `doraMetrics` resolves: the five DORA metrics, each with the deployments behind it. */
export interface DoraMetrics {
  deploymentFrequency: DeploymentFrequencyMetric
  leadTime: LeadTimeMetric
  changeFailRate: ChangeFailRateMetric
  recoveryTime: RecoveryTimeMetric
  reworkRate: ReworkRateMetric
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
   * Redis when configured) and attributes earlier rows by the same rule later rows follow
   * (docs/user-mapping.md). Unknown user, an account linked to someone else, a user linked to
   * another GitHub id or login, or a login whose commits are attributed to another user by
   * email (links that would make a rebuild differ from live): CONSTRAINT_VIOLATION. Resolved, every processor sharing the Redis tier maps the account within
   * 5 s; DATABASE_UNAVAILABLE (retryable) when Redis did not take the invalidation within 2 s.
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
  /**
   * The GitHub App installation id stored on the repository's row (`repositories.installationId`),
   * null when none is stored or the repository is unknown: the commitStats and completePush
   * jobs call GitHub with that installation's token (docs/github-api.md).
   */
  repositoryInstallation(repoId: string): Promise<number | null>
  /** Of `shas`, those of the repository whose line counts are still unknown, sorted. */
  commitsLackingStats(repoId: string, shas: string[]): Promise<string[]>
  /**
   * The deploymentChanges job's start for a deployment (its GitHub id): the previous
   * successful production deployment of its repository and environment now, and whether
   * the stored changes are complete for it (a different base deletes them first). Null when
   * the repository has no such deployment. INVALID_JOB for arguments of the wrong type.
   */
  deploymentChangesStart(repoId: string, deploymentId: number | string): Promise<DeploymentChangesStart | null>
  /**
   * Writes one compare page of `baseSha...deployment` (JSON text): the commits the table
   * lacks, as completePush does, and the deployment's deployment_changes rows; nothing when
   * its base changed meanwhile. INVALID_PAYLOAD for a page that is not a comparison.
   */
  applyDeploymentChanges(repoId: string, deploymentId: number | string, baseSha: string, compareText: string | Buffer): Promise<DeploymentChangesPage>
  /**
   * Marks a deployment's changes complete for `baseSha` (null: no previous deployment) and
   * whether it is a rollback (compare said `behind`: its rows are deleted).
   */
  finishDeploymentChanges(repoId: string, deploymentId: number | string, baseSha: string | null, rollback: boolean): Promise<DeploymentChangesFinish>
  /** GitHub ids of the repository's successful production deployments whose changes are not complete, oldest first (what a backfill queues). */
  deploymentsLackingChanges(repoId: string): Promise<number[]>
  /**
   * Applies one page of a GitHub REST list through the same convergent upserts as webhooks
   * (backfill; docs/recovery.md lists the REST-vs-webhook differences). `page` is the
   * response body (text) or octokit's parsed `response.data`; a `reviews` page needs the
   * pull request it belongs to, a `deployment_statuses` page the deployment (the fourth
   * argument: the parent object). One transaction per page; writes no `events` row.
   * UNKNOWN_REPOSITORY when repoId is not registered; INVALID_PAYLOAD (nothing written) when
   * the page is not the list it claims to be.
   */
  applyRestPage(repoId: string, kind: RestKind, page: string | object, pullRequest?: string | object): Promise<RestPageResult>
  /**
   * Applies the stored payloads of processed events to the entity tables again, through the
   * same convergent upserts as live deliveries: in batches (a transaction each), several at
   * once, safe beside live processing, writing no `events` rows. Resumable: a call with the
   * same filters continues the unfinished run and skips its finished batches
   * (docs/reprocess.md). Bad options reject CONFIG_ERROR; a batch that fails for good rejects
   * with its code, and the batches finished before it stay finished.
   */
  reprocessEvents(options?: ReprocessOptions): Promise<ReprocessResult>
  /**
   * The five DORA metrics (deployment frequency, change lead time, change fail rate, failed
   * deployment recovery time, deployment rework rate) over the successful production
   * deployments whose first success is in [since, until), with the GitHub ids of the
   * deployments behind each figure (docs/dora.md has every definition). Reads only. Bad options
   * reject CONFIG_ERROR.
   */
  doraMetrics(options: DoraOptions): Promise<DoraMetrics>
  /** Counts by status and error code, cache hits and misses per tier, latency percentiles. */
  stats(): ProcessorStats
  /**
   * Waits for in-flight calls and closes the pool; later calls reject PROCESSOR_CLOSED. A processor
   * garbage-collected without close() has its connections closed in the background, with one warning.
   */
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
  /** Idle timeout of the connections of a processor the worker connects (see ProcessorOptions). */
  idleTimeoutMs?: number
  /** Maximum connection lifetime of a processor the worker connects (see ProcessorOptions). */
  maxLifetimeMs?: number
  /** Production environment pattern of a processor the worker connects (see ProcessorOptions). */
  productionEnvironments?: string | RegExp
  /** Auto-registration of a processor the worker connects (see ProcessorOptions.autoRegisterRepositories). */
  autoRegisterRepositories?: boolean
  /** Owner → team rule of a processor the worker connects (see ProcessorOptions.ownerTeams). */
  ownerTeams?: Record<string, string>
  /**
   * A worker that connects its own processor keeps trying until the database is reachable and
   * migrated (jobs wait meanwhile, `health().waitingFor` says why): 250 ms after the first failure,
   * doubling up to this many milliseconds. Default 15000.
   */
  reconnectMaxDelayMs?: number
  /** The Bull queue metric jobs go to (data `{ kind, id, date, deliveryId }`, jobId from the result). */
  metricsQueue?: Queue
  /**
   * The Bull `github` queue the result's followUps go to (data `{ kind, repoId, repository,
   * shas, before, after, deliveryId }`, jobId the follow-up's, githubJobOptions). Without it
   * follow-ups are not queued: the API features are off. See docs/github-api.md.
   */
  githubQueue?: Queue
  /**
   * Backfill the repositories auto-registration registers (`autoRegisterRepositories`: an
   * installation or installation_repositories delivery, or a delivery of an unknown repository
   * under an installation): for each, a `backfill` job `{ kind, repository, repoId, since:
   * autoBackfill }` on `githubQueue`, jobId `backfill:<repoId>:registered` (a redelivery adds
   * none). A duration (`90d`, `24h`) or an ISO date; needs `githubQueue`. Default: no backfill.
   * See docs/repositories.md.
   */
  autoBackfill?: string
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

/** What a worker that connects its own processor is waiting for (see WorkerOptions.reconnectMaxDelayMs). */
export interface WorkerWaiting {
  what: 'database'
  /** ISO time the worker started waiting. */
  since: string
  /** Failed connection attempts so far. */
  attempts: number
  /** The last attempt's error code (e.g. DATABASE_UNAVAILABLE, SCHEMA_MISMATCH); null before the first answer. */
  code: ErrorCode | null
  /** The last attempt's error message, credentials redacted. */
  message: string
  /** ISO time of the next attempt; null before the first answer. */
  nextAttemptAt: string | null
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
    /** What the worker is waiting for before it can process jobs; null once connected. */
    waitingFor: WorkerWaiting | null
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
  /** The BullMQ queue a result's follow-ups go to: name = kind, data and options as the Bull worker's (`githubQueue`), jobId with `:` made `.`; `createGitHubBullMQWorker` runs them. */
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
  /** …or a database URL: the worker connects its own processor and closes it. Given with a processor, the backfill and reconcile jobs keep their cursors through it (else DATABASE_URL). */
  databaseUrl?: string
  /** Pool size of a processor the worker connects. Default: `concurrency`. */
  maxConnections?: number
  /** Idle timeout of the connections of a processor the worker connects (see ProcessorOptions). */
  idleTimeoutMs?: number
  /** Maximum connection lifetime of a processor the worker connects (see ProcessorOptions). */
  maxLifetimeMs?: number
  /** Production environment pattern of a processor the worker connects (see ProcessorOptions). */
  productionEnvironments?: string | RegExp
  /** Auto-registration of a processor the worker connects (see ProcessorOptions.autoRegisterRepositories). */
  autoRegisterRepositories?: boolean
  /** Owner → team rule of a processor the worker connects (see ProcessorOptions.ownerTeams). */
  ownerTeams?: Record<string, string>
  /**
   * A worker that connects its own processor keeps trying until the database is reachable and
   * migrated, as the webhook worker does (jobs wait meanwhile, `health().waitingFor` says why):
   * 250 ms after the first failure, doubling up to this many milliseconds. Default 15000.
   */
  reconnectMaxDelayMs?: number
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
  /** Totals of the reconcile runs this worker completed (dry runs left out): deliveries found missing, redelivered, still missing, older than GitHub's window. */
  reconcile: { runs: number; found: number; redelivered: number; stillMissing: number; olderThanWindow: number }
}

/** A running github worker. */
export interface GitHubWorker {
  health(): {
    status: 'running' | 'closing'
    queue: string
    concurrency: number
    active: number
    counters: GitHubWorkerCounters
    /** What the worker is waiting for before it can run jobs (its own processor's database); null once connected. */
    waitingFor: WorkerWaiting | null
  }
  /** Stops taking jobs, waits for the active ones, closes what the worker created (not the queues). */
  close(): Promise<void>
}

/**
 * Runs the `github` queue on Bull: one module per job kind (commitStats, completePush,
 * backfill, reconcile). A rate-limited job is re-queued with GitHub's delay and spends no attempt; 5xx and timeouts
 * are retried with githubJobOptions' backoff; what cannot succeed is discarded.
 */
export declare function createGitHubWorker(queue: Queue, options: GitHubWorkerOptions): GitHubWorker

/** Job options of the github queue: 8 attempts, exponential backoff from 15 s, completed jobs kept 7 days (their ids dedupe redeliveries), removeOnFail 500. */
export declare const githubJobOptions: JobOptions

/** Options of createGitHubBullMQWorker: those of createGitHubWorker, plus where the BullMQ queue lives. */
export interface GitHubBullMQWorkerOptions extends Omit<GitHubWorkerOptions, 'metricsQueue'> {
  /** The queue's name. Default `github`. No `:`. */
  queueName?: string
  /** BullMQ's connection: ioredis options, or an ioredis `Redis` or `Cluster` instance (a shared instance is not closed by the worker). */
  connection: import('bullmq').ConnectionOptions
  /** BullMQ key prefix (default `bull`); the webhook worker's `githubQueue` must use the same. On Redis Cluster use a hash tag, for example `{devmetrics}`. */
  prefix?: string
  /** The BullMQ queue the metric jobs of fetched counts and completed commits go to (name = kind, jobId with `:` made `.`, as createBullMQWorker queues them). */
  metricsQueue?: import('bullmq').Queue
  /** Extra BullMQ WorkerOptions merged over the defaults (lockDuration 30 s, lockRenewTime 15 s, stalledInterval 30 s, maxStalledCount 1). */
  workerOptions?: Partial<import('bullmq').WorkerOptions>
}

/** A running github worker on BullMQ. */
export interface GitHubBullMQWorker extends GitHubWorker {
  /** The BullMQ Worker, for its events (`completed`, `failed`). Close it through `close()`. */
  worker: import('bullmq').Worker
}

/**
 * Runs the `github` queue on BullMQ with createGitHubWorker's semantics and the same job
 * kinds: a rate-limited job goes back to the delayed set with GitHub's delay
 * (`job.moveToDelayed`, no attempt spent) and resumes from its saved progress; 5xx and
 * timeouts are retried with the job's options (githubJobOptions, BullMQ's exponential:
 * 15 s·2^(n−1)); what cannot succeed fails at once (`UnrecoverableError`). Jobs the kinds add
 * (a truncated push's commitStats, backfill's) go on the same queue, `:` in ids made `.`.
 * Needs the optional peer dependency `bullmq` (CONFIG_ERROR otherwise).
 */
export declare function createGitHubBullMQWorker(options: GitHubBullMQWorkerOptions): GitHubBullMQWorker

// ---- Recovery and history through GitHub's API (docs/recovery.md) ----

/** A pg-compatible pool (`query(text, values)`), or a URL from which one is made for the call. */
export type DatabaseAccess = { pool: { query(text: string, values?: unknown[]): Promise<{ rows: any[] }> } } | { databaseUrl: string }
/**
 * A pool that also lends a client for a transaction (a pg `Pool`), or a URL: registering a
 * repository writes its row, its fact and its refresh in one transaction under the
 * repository's advisory lock, as the follow deliveries do (docs/repositories.md).
 */
export type TransactionalDatabaseAccess =
  | { pool: { query(text: string, values?: unknown[]): Promise<{ rows: any[] }>; connect(): Promise<{ query(text: string, values?: unknown[]): Promise<{ rows: any[] }>; release(): void }> } }
  | { databaseUrl: string }

/** What `registerRepository` stored. */
export interface RegisteredRepository {
  /** repositories.id */
  id: string
  /** GitHub's repository id, which deliveries carry. */
  githubId: number
  fullName: string
  teamId: string | null
  /** false when the repository was registered already (its name and team were updated). */
  created: boolean
}

/**
 * Registers (or updates, matched on the GitHub id) a repository so its deliveries are
 * processed. Without `githubId` the id is looked up through the API (`client` required,
 * CONFIG_ERROR otherwise); `teamName` names a team, created if missing. INVALID_JOB for a
 * malformed name or id.
 */
export declare function registerRepository(
  /** `installationId`: the GitHub App installation whose token the repository's API calls use. */
  repository: { fullName: string; githubId?: number | string; teamName?: string; installationId?: number },
  options: TransactionalDatabaseAccess & { client?: { forOwner(owner: string, repo?: string): Promise<any> } },
): Promise<RegisteredRepository>

/**
 * Registers every repository the GitHub App's installations can see (`GET /app/installations`,
 * then `GET /installation/repositories` per installation), each under its installation, its team
 * by `ownerTeams` (owner login → team name, created if missing). CONFIG_ERROR without an App's
 * client. For an App installed before the backend followed its installation events
 * (docs/repositories.md); `npm run register -- --all-installed` runs it.
 */
export declare function registerInstalledRepositories(
  options: TransactionalDatabaseAccess & { client: any; ownerTeams?: Record<string, string> },
): Promise<RegisteredRepository[]>

/** Queues a repository's backfill on the `github` queue, Bull or BullMQ (job id per repository and day). */
export declare function queueBackfill(queue: Queue<any> | import('bullmq').Queue, registered: { id: string; fullName: string }, since?: string, jobOptions?: JobOptions): Promise<any>

/** Context of the `github` queue's jobs; without `pool` or `databaseUrl`, DATABASE_URL is used. */
export type GitHubJobContext = {
  pool?: { query(text: string, values?: unknown[]): Promise<{ rows: any[] }> }
  databaseUrl?: string
  /** The GitHub client (`createGitHubClient`). */
  client: any
  /** A connected processor (backfill writes through it). */
  processor?: WebhookProcessor
  /** Bull or BullMQ queue of metric jobs; backfill queues the metric jobs of what it wrote. */
  metricsQueue?: Queue<any> | import('bullmq').Queue
  /** The `github` queue (Bull or BullMQ): backfill queues a `commitStats` job per page of commits (their line counts); reconcile runs the commit-stats catch-up on it (`queueUnknownCommitStats`), once per run. */
  githubQueue?: Queue<any> | import('bullmq').Queue
  /** winston-compatible logger. */
  logger?: { info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void }
  /** Stops a backfill between pages (what was written stays, the cursor says where to resume). */
  signal?: AbortSignal
  /** Called after each backfill page (a progress bar). */
  onProgress?(progress: { kind: string; page: number; pages: number; items: number; records: BackfillRecords; done?: boolean }): void
  /** Reconcile with a token: the hooks to read (`GITHUB_HOOKS`). */
  hooks?: Array<{ kind: 'repo'; owner: string; repo: string; hookId: number } | { kind: 'org'; org: string; hookId: number }>
}

/** Rows a backfill inserted or changed. */
export interface BackfillRecords {
  pullRequests: number
  reviews: number
  issues: number
  commits: number
  /** Deployments whose own fields were inserted or changed. */
  deployments: number
  deploymentStatuses: number
  workflowRuns: number
}

/** What one kind of a backfill did. */
export interface BackfillKindSummary {
  /** The oldest `updated_at` (pulls, issues) or commit date imported. */
  since: string
  pages: number
  /** Items written (pull requests, issues, commits; reviews are in records). */
  items: number
  /** Items left out: pull requests in the issues list, pending reviews. */
  skipped: number
  records: BackfillRecords
  /** The page a cut-short backfill resumed at, or null. */
  resumedFromPage: number | null
  /** A finished backfill already covered `since`: the list was not read again, only its catch-up. */
  alreadyImported: boolean
  /** Items the catch-up pass read again: changed after the run started (or, already imported, after it finished). */
  caughtUp: number
  finished: boolean
}

/** The summary of `runBackfill`. */
export interface BackfillSummary {
  repository: string
  repoId: string
  kinds: Partial<Record<'pulls' | 'issues' | 'commits' | 'deployments' | 'workflow_runs', BackfillKindSummary>>
  records: BackfillRecords
  items: number
  pages: number
  /** Metric jobs derived (and queued when a metricsQueue is given). */
  metricJobs: number
  unmappedUsers: string[]
  /** Why nothing was asked for: the repository is deleted, untracked or suspended (docs/repositories.md). */
  skipped?: string
}

/**
 * The `github` queue's backfill job (`lib/github/jobs/backfill.js`): pull requests with their
 * reviews, issues and default-branch commits updated since `since` (default `90d`), deployments
 * with their statuses and workflow runs created since then, resumable.
 */
export declare function runBackfill(
  /** `repository` by name is matched on the GitHub id GitHub reports for it; `perPage`: items per list page (1–100, default 100). */
  job: { data: { repository: string; repoId?: string; since?: string | Date; kinds?: Array<'pulls' | 'issues' | 'commits' | 'deployments' | 'workflow_runs'>; restart?: boolean; perPage?: number } },
  ctx: GitHubJobContext,
): Promise<BackfillSummary>

/** One missing delivery in a reconcile report. */
export interface ReconcileDelivery {
  guid: string
  event: string
  action: string | null
  repositoryId: number
  deliveredAt: string
  attempts: number
  lastStatus: number
  /** `redelivered`, `would redeliver`, `over this run's limit`, `older than the window`, `given up after N redeliveries`, `redelivery refused: …` (a 4xx refusal is settled: not asked for again). */
  outcome: string
}

/** Counters of a reconcile run. */
export interface ReconcileCounters {
  /** Deliveries listed within the range. */
  listed: number
  /** Missing: tracked type, registered repository, not processed, no successful attempt. */
  found: number
  redelivered: number
  /** Found and not redelivered this run (dry run, limit, refused, given up). */
  stillMissing: number
  /** Found but past GitHub's redelivery window. */
  olderThanWindow: number
}

/** The report of `runReconcile`. */
export interface ReconcileReport {
  dryRun: boolean
  hooks: Array<ReconcileCounters & { hook: string; from: string; gapBeforeWindow: boolean; deliveries: ReconcileDelivery[] }>
  totals: ReconcileCounters
  /** With a `githubQueue` (the github workers give it): what the run's commit-stats catch-up queued (a dry run: would queue), or why it could not run (the run succeeds anyway; the next one tries again). */
  statsCatchUp?: UnknownCommitStatsQueued | { error: string }
}

/**
 * The `github` queue's reconcile job (`lib/github/jobs/reconcile.js`): redelivers the missing
 * deliveries of the App hook or the configured hooks. `since` is delivery time (default: the
 * stored cursor, at most the window); `dryRun` changes nothing, the cursor included.
 */
export declare function runReconcile(
  job: { data: { dryRun?: boolean; since?: string | Date; maxRedeliveries?: number; maxAttempts?: number; windowMs?: number; hooks?: GitHubJobContext['hooks'] } },
  ctx: GitHubJobContext & { now?: () => number },
): Promise<ReconcileReport>

/**
 * Schedules the reconcile job on the `github` queue every `everyMs` (default 10 minutes, at
 * least 1): a Bull repeatable job, or on a BullMQ queue a job scheduler (`upsertJobScheduler`,
 * bullmq ≥ 5.16). One schedule however often it is called; another interval replaces it.
 */
export declare function scheduleReconcile(queue: Queue<any> | import('bullmq').Queue, options?: { everyMs?: number; data?: Record<string, unknown> }): Promise<any>
/** Removes the reconcile schedule (Bull or BullMQ). */
export declare function unscheduleReconcile(queue: Queue<any> | import('bullmq').Queue): Promise<void>
/** 10 minutes. */
export declare const DEFAULT_RECONCILE_EVERY_MS: number
/** `24h`, `90d`, `30m`, `2w` before now, or an ISO time; INVALID_JOB otherwise. */
export declare function parseSince(value: string | number | Date, now?: number): Date

/** What `queueUnknownCommitStats` queued. */
export interface UnknownCommitStatsQueued {
  /** Commits whose line counts are still unknown (statsFetchedAt NULL) and old enough. */
  commits: number
  /** commitStats jobs added to the github queue (100 commits each; an id already queued today adds nothing). */
  jobs: number
  repositories: number
}

/**
 * Queues commitStats jobs on the github queue (Bull or BullMQ) for the commits whose line
 * counts are still unknown: a batch GitHub never answered, a job discarded (GITHUB_NOT_FOUND,
 * GITHUB_AUTH) or failed for good. Job ids carry the day, so running it often (the reconcile job
 * runs it) queues each set at most once a day. See docs/github-api.md.
 */
export declare function queueUnknownCommitStats(
  githubQueue: Queue | import('bullmq').Queue,
  options: {
    /** A pg pool… */
    pool?: { query(text: string, values?: unknown[]): Promise<{ rows: any[] }> }
    /** …or a database URL (else DATABASE_URL). */
    databaseUrl?: string
    /** Only this repository (DevMetrics id). Default: all. */
    repoId?: string
    /** Only commits written at least this long ago. Default 3600000 (1 hour): their own job had its chance. */
    olderThanMs?: number
    /** At most this many commits. Default 10000. */
    limit?: number
    /** Count, queue nothing. */
    dryRun?: boolean
  },
): Promise<UnknownCommitStatsQueued>
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
