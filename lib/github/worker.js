'use strict'
// The `github` queue's worker: API work that webhooks leave (DESIGN.md, "GitHub's API").
// GitHub limits how fast we may ask (a primary budget per hour, secondary limits answered
// 403/429 with retry-after), so a rate-limited job is put back with the delay GitHub asked
// for and spends no attempt; 5xx answers, timeouts and database failures are retried by
// Bull with githubJobOptions' backoff; what no retry can fix is discarded. Each job kind is
// one module under ./jobs, found in JOBS by the job's `kind`.

const { WebhookProcessingError } = require('../errors')
const { toGitHubError } = require('./errors')
const { redactCredentials } = require('../redact')
const { githubJobOptions } = require('./job-options')

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

function checkOptions(queue, options) {
  const fail = (message) => {
    throw new WebhookProcessingError('CONFIG_ERROR', `createGitHubWorker: ${message}`)
  }
  if (!queue || typeof queue.process !== 'function' || typeof queue.add !== 'function') fail('needs a Bull queue')
  if (!options || typeof options !== 'object') fail('needs options')
  if (!options.client || typeof options.client.forOwner !== 'function') fail('needs a GitHub client (createGitHubClient)')
  if (!options.processor && typeof options.databaseUrl !== 'string') fail('give a processor or a databaseUrl')
  if (options.metricsQueue && typeof options.metricsQueue.addBulk !== 'function') fail('metricsQueue must be a Bull queue')
  const concurrency = options.concurrency ?? 2
  if (!Number.isInteger(concurrency) || concurrency < 1) fail('concurrency must be a positive integer')
  return concurrency
}

/**
 * Starts processing the `github` queue. See lib/github/worker.d.ts for the options and the
 * returned GitHubWorker.
 */
function createGitHubWorker(queue, options) {
  const concurrency = checkOptions(queue, options)
  // Required lazily: the package's main entry requires the webhook worker, which requires job-options.
  const { WebhookProcessor } = require('../index')
  const logger = options.logger ?? silentLogger
  const ownsProcessor = !options.processor
  const processorReady = options.processor
    ? Promise.resolve(options.processor)
    : WebhookProcessor.connect({ databaseUrl: options.databaseUrl, maxConnections: options.maxConnections ?? concurrency })
  processorReady.catch(() => undefined)

  const counters = {
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
  const countReconcile = (report) => {
    if (!report || report.dryRun || !report.totals) return
    counters.reconcile.runs++
    for (const k of ['found', 'redelivered', 'stillMissing', 'olderThanWindow']) counters.reconcile[k] += report.totals[k] ?? 0
  }
  const countKind = (kind, field) => {
    const c = (counters.byKind[kind] ??= { completed: 0, failed: 0, delayed: 0 })
    c[field]++
  }
  let active = 0
  let closing = null

  /** Put the job's work back on the queue after `delayMs`, as a new job that has all its attempts. */
  async function resumeLater(job, delayMs) {
    const resumes = (job.data.resumes ?? 0) + 1
    const rootId = job.data.rootJobId ?? String(job.id)
    await queue.add(
      { ...job.data, resumes, rootJobId: rootId },
      { ...githubJobOptions, ...pick(job.opts, ['attempts', 'backoff', 'removeOnComplete', 'removeOnFail']), jobId: `${rootId}#resume${resumes}`, delay: delayMs },
    )
  }

  async function handle(job) {
    const started = process.hrtime.bigint()
    const kind = job.data && job.data.kind
    const attempt = job.attemptsMade + 1
    const attempts = job.opts.attempts ?? 1
    const context = { jobId: job.id, kind, repository: job.data && job.data.repository, attempt, attempts }
    active++
    try {
      const jobKind = Object.hasOwn(JOBS, kind) ? JOBS[kind] : null
      if (!jobKind) throw new WebhookProcessingError('INVALID_JOB', `unknown github job kind ${JSON.stringify(String(kind)).slice(0, 40)}`)
      const processor = await processorReady
      const done = await jobKind.run(job, { processor, client: options.client, metricsQueue: options.metricsQueue ?? null, githubQueue: queue, logger, databaseUrl: options.databaseUrl })
      counters.metricJobsQueued += done.metricJobs ?? 0
      counters.completed++
      countKind(kind, 'completed')
      if (kind === 'reconcile') countReconcile(done)
      logger.info('github job completed', { ...context, ...done, durationMs: Number(process.hrtime.bigint() - started) / 1e6 })
      return done
    } catch (caught) {
      let thrown = caught
      const delayMs = rateLimitDelayMs(thrown)
      if (delayMs !== null) {
        // A rate limit is not a failure: the work goes back with the delay and all its attempts.
        try {
          await resumeLater(job, delayMs)
          counters.delayed++
          countKind(kind, 'delayed')
          logger.warn('github job delayed by a rate limit', { ...context, delayMs })
          return { delayed: true, delayMs }
        } catch (err) {
          // Not re-queued (Redis unreachable): this attempt fails and Bull retries it.
          thrown = new WebhookProcessingError('DATABASE_UNAVAILABLE', `rate-limited job not re-queued: ${redactCredentials(String(err && err.message))}`, { cause: err })
        }
      }
      // Coded errors pass through; anything else (a dropped connection) is GITHUB_UNAVAILABLE, retried.
      const error = toGitHubError(thrown)
      const exhausted = attempt >= attempts
      if (!error.retryable) {
        job.discard()
        counters.discarded++
      } else if (!exhausted) {
        counters.retried++
      }
      counters.failed++
      countKind(kind ?? 'unknown', 'failed')
      logger.error('github job failed', {
        ...context,
        code: error.code,
        retryable: error.retryable,
        willRetry: Boolean(error.retryable) && !exhausted,
        error: redactCredentials(String(error.message)),
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
      })
      throw error
    } finally {
      active--
    }
  }

  queue.process(concurrency, handle).catch((err) => {
    logger.error('github worker stopped processing', { error: redactCredentials(err && err.message) })
  })
  logger.info('github worker started', { queue: queue.name, concurrency })

  return {
    /** Liveness and counters, for a health endpoint. */
    health() {
      return { status: closing ? 'closing' : 'running', queue: queue.name, concurrency, active, counters: structuredClone(counters) }
    },
    /** Stops taking jobs, waits for the active ones, closes what the worker created. */
    close() {
      closing ??= (async () => {
        await queue.pause(true)
        if (ownsProcessor) {
          const processor = await processorReady.catch(() => null)
          if (processor) await processor.close()
        }
        logger.info('github worker closed', { queue: queue.name, counters })
      })()
      return closing
    },
  }
}

function pick(object, keys) {
  const out = {}
  for (const k of keys) if (object && object[k] !== undefined) out[k] = object[k]
  return out
}

module.exports = { createGitHubWorker, githubJobOptions, JOBS }
