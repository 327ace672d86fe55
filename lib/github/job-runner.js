'use strict'
// One attempt of a `github` job, the same on Bull (./worker.js) and BullMQ (./bullmq-worker.js):
// the job kind run with its context, the counters, one log line per outcome, a rate limit
// turned into a delay that spends no attempt, and any other error made a coded GitHub error,
// retried or not. GitHub limits how fast we may ask (a primary budget per hour, secondary
// limits answered 403/429 with retry-after), so being limited is not a failure. Only how the
// queue is told differs (Bull: a new job with the delay, job.discard(); BullMQ:
// job.moveToDelayed and DelayedError, UnrecoverableError): each glue passes that as `driver`.

const { WebhookProcessingError } = require('../errors')
const { toGitHubError } = require('./errors')
const { redactCredentials } = require('../redact')
const { checkReconnectMaxDelay } = require('../worker-database')

/** One module per job kind: `run(job, context)` resolves with what the job did. */
const JOBS = {
  commitStats: require('./jobs/commit-stats'),
  completePush: require('./jobs/complete-push'),
  backfill: require('./jobs/backfill'),
  reconcile: require('./jobs/reconcile'),
}

const silentLogger = Object.freeze({
  info() {},
  warn: (message, meta) => console.warn(message, meta),
  error: (message, meta) => console.error(message, meta),
})

/** Delay GitHub asked for, when the error is a rate limit (primary or secondary); null otherwise. */
function rateLimitDelayMs(err) {
  const ms = err && err.retryAfterMs
  return Number.isFinite(ms) && ms >= 0 ? ms : null
}

/**
 * The options both glues accept (after the queue itself): `client`, `processor` or
 * `databaseUrl`, `metricsQueue` (checked with `isQueue`), `concurrency` (default 2).
 * Returns the concurrency; CONFIG_ERROR naming `caller` otherwise.
 */
function checkCommonOptions(caller, options, isQueue, queueKind) {
  const fail = (message) => {
    throw new WebhookProcessingError('CONFIG_ERROR', `${caller}: ${message}`)
  }
  if (!options || typeof options !== 'object') fail('needs options')
  if (!options.client || typeof options.client.forOwner !== 'function') fail('needs a GitHub client (createGitHubClient)')
  if (!options.processor && typeof options.databaseUrl !== 'string') fail('give a processor or a databaseUrl')
  if (options.metricsQueue && !isQueue(options.metricsQueue)) fail(`metricsQueue must be a ${queueKind} queue`)
  const concurrency = options.concurrency ?? 2
  if (!Number.isInteger(concurrency) || concurrency < 1) fail('concurrency must be a positive integer')
  checkReconnectMaxDelay(options, fail)
  return concurrency
}

function emptyCounters() {
  return {
    completed: 0,
    failed: 0,
    retried: 0,
    discarded: 0,
    delayed: 0,
    metricJobsQueued: 0,
    byKind: {},
    /** Totals of the reconcile runs this worker completed (dry runs left out). */
    reconcile: { runs: 0, found: 0, redelivered: 0, stillMissing: 0, olderThanWindow: 0 },
  }
}

/**
 * The driver-independent part of a github worker. `context`: `{ client, database` (a
 * workerDatabase), `metricsQueue, githubQueue` (Bull-shaped: lib/github/queue-shape.js),
 * `logger, databaseUrl }`. `attempt(job, driver)` runs one attempt; `driver`:
 * - `job`: the job as the kinds see it (Bull's shape);
 * - `delay(ms)`: puts the work back for `ms` without spending an attempt (rejects if it cannot);
 * - `delayed(ms)`: what the attempt then returns, or throws (BullMQ's DelayedError);
 * - `fail(error)`: the error to throw for a failed attempt (after telling the queue whether to retry).
 */
function createGitHubJobRunner(context) {
  const logger = context.logger ?? silentLogger
  const counters = emptyCounters()
  let active = 0

  const countKind = (kind, field) => {
    const c = (counters.byKind[kind] ??= { completed: 0, failed: 0, delayed: 0 })
    c[field]++
  }
  const countReconcile = (report) => {
    if (!report || report.dryRun || !report.totals) return
    counters.reconcile.runs++
    for (const k of ['found', 'redelivered', 'stillMissing', 'olderThanWindow']) counters.reconcile[k] += report.totals[k] ?? 0
  }

  async function attempt(job, driver) {
    const started = process.hrtime.bigint()
    const kind = job.data && job.data.kind
    const attemptNo = job.attemptsMade + 1
    const attempts = job.opts.attempts ?? 1
    const logContext = { jobId: job.id, kind, repository: job.data && job.data.repository, attempt: attemptNo, attempts }
    active++
    try {
      const jobKind = Object.hasOwn(JOBS, kind) ? JOBS[kind] : null
      if (!jobKind) throw new WebhookProcessingError('INVALID_JOB', `unknown github job kind ${JSON.stringify(String(kind)).slice(0, 40)}`)
      const processor = await context.database.ready()
      const done = await jobKind.run(driver.job, {
        processor,
        client: context.client,
        metricsQueue: context.metricsQueue ?? null,
        githubQueue: context.githubQueue,
        logger,
        databaseUrl: context.databaseUrl,
      })
      counters.metricJobsQueued += done.metricJobs ?? 0
      counters.completed++
      countKind(kind, 'completed')
      if (kind === 'reconcile') countReconcile(done)
      logger.info('github job completed', { ...logContext, ...done, durationMs: Number(process.hrtime.bigint() - started) / 1e6 })
      return done
    } catch (caught) {
      let thrown = caught
      const delayMs = rateLimitDelayMs(thrown)
      if (delayMs !== null) {
        // A rate limit is not a failure: the work goes back with the delay and all its attempts.
        let moved = false
        try {
          await driver.delay(delayMs)
          moved = true
        } catch (err) {
          // Not put back (Redis unreachable): this attempt fails and the queue retries it.
          thrown = new WebhookProcessingError('DATABASE_UNAVAILABLE', `rate-limited job not re-queued: ${redactCredentials(String(err && err.message))}`, { cause: err })
        }
        if (moved) {
          counters.delayed++
          countKind(kind, 'delayed')
          logger.warn('github job delayed by a rate limit', { ...logContext, delayMs })
          return driver.delayed(delayMs)
        }
      }
      // Coded errors pass through; anything else (a dropped connection) is GITHUB_UNAVAILABLE, retried.
      const error = toGitHubError(thrown)
      const exhausted = attemptNo >= attempts
      if (!error.retryable) counters.discarded++
      else if (!exhausted) counters.retried++
      counters.failed++
      countKind(kind ?? 'unknown', 'failed')
      logger.error('github job failed', {
        ...logContext,
        code: error.code,
        retryable: error.retryable,
        willRetry: Boolean(error.retryable) && !exhausted,
        error: redactCredentials(String(error.message)),
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
      })
      throw driver.fail(error)
    } finally {
      active--
    }
  }

  return {
    attempt,
    /** Liveness and counters, for a health endpoint. */
    health: (status, queue, concurrency) => ({
      status,
      queue,
      concurrency,
      active,
      counters: structuredClone(counters),
      // What a worker that connects its own processor waits for (lib/worker.js workerDatabase); null once connected.
      waitingFor: context.database.waitingFor(),
    }),
    /** The counters as they are now (for the closing log line). */
    counters: () => counters,
  }
}

module.exports = { createGitHubJobRunner, checkCommonOptions, rateLimitDelayMs, silentLogger, JOBS }
