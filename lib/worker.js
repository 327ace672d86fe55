'use strict'
// The Bull glue: a worker that runs processWebhook for each queued delivery, queues the
// result's metric jobs, retries what a later attempt can fix and discards what it cannot,
// and logs every outcome. The queue and its retry policy belong to the producer, so the
// policy is exported for it (webhookJobOptions, webhookQueueSettings).

const { WebhookProcessingError, toProcessingError } = require('./errors')
const { redactCredentials } = require('./redact')
const { githubJobOptions, followUpJobData } = require('./github/job-options')

/** Name of the backoff strategy in webhookQueueSettings.backoffStrategies. */
const WEBHOOK_BACKOFF = 'devmetricsWebhook'

/** Base delay of the first retry; each further retry doubles it (2 s, 4 s, 8 s). */
const BASE_DELAY_MS = 2000

/**
 * Bull custom backoff: delay·2^(n−1) after the n-th failed attempt (Bull's built-in
 * `exponential` gives delay·(2^n − 1): 2 s, 6 s, 14 s). A non-retryable error stops the
 * retries (-1), should job.discard() not have been called.
 */
function webhookBackoff(attemptsMade, err, options) {
  if (err && err.retryable === false) return -1
  const base = options && Number.isFinite(options.baseDelayMs) ? options.baseDelayMs : BASE_DELAY_MS
  return base * 2 ** Math.max(0, attemptsMade - 1)
}

/** Queue settings for the webhooks queue: the backoff strategy, lock and stall settings. */
const webhookQueueSettings = Object.freeze({
  lockDuration: 30_000,
  lockRenewTime: 15_000,
  stalledInterval: 30_000,
  maxStalledCount: 1,
  backoffStrategies: Object.freeze({ [WEBHOOK_BACKOFF]: webhookBackoff }),
})

/** Job options for the producer: the first try and 3 retries (2 s, 4 s, 8 s), the last 500 failures kept. */
const webhookJobOptions = Object.freeze({
  attempts: 4,
  backoff: Object.freeze({ type: WEBHOOK_BACKOFF }),
  removeOnComplete: 1000,
  removeOnFail: 500,
})

/** Options of each metric job: removed on completion so a later trigger with the same id is not dropped. */
const metricJobOptions = Object.freeze({ removeOnComplete: true, removeOnFail: 500 })

const silentLogger = Object.freeze({
  info() {},
  warn: (message, meta) => console.warn(message, meta),
  error: (message, meta) => console.error(message, meta),
})

function checkOptions(queue, options) {
  const fail = (message) => {
    throw new WebhookProcessingError('CONFIG_ERROR', message)
  }
  if (!queue || typeof queue.process !== 'function') fail('createWebhookWorker needs a Bull queue')
  if (!options || typeof options !== 'object') fail('createWebhookWorker needs options')
  if (!options.processor && typeof options.databaseUrl !== 'string') fail('give a processor or a databaseUrl')
  if (options.metricsQueue && typeof options.metricsQueue.addBulk !== 'function') fail('metricsQueue must be a Bull queue')
  if (options.githubQueue && typeof options.githubQueue.addBulk !== 'function') fail('githubQueue must be a Bull queue')
  const concurrency = options.concurrency ?? 5
  if (!Number.isInteger(concurrency) || concurrency < 1) fail('concurrency must be a positive integer')
  return concurrency
}

/**
 * Starts processing `queue` (`queue.process(concurrency, …)`). See lib/index.d.ts for the
 * options and the returned WebhookWorker.
 */
function createWebhookWorker(queue, options) {
  const concurrency = checkOptions(queue, options)
  // Required lazily: the package's main entry requires this file.
  const { WebhookProcessor } = require('./index')
  const logger = options.logger ?? silentLogger
  const metricsQueue = options.metricsQueue ?? null
  const ownsProcessor = !options.processor
  const processorReady = options.processor
    ? Promise.resolve(options.processor)
    : WebhookProcessor.connect({
        databaseUrl: options.databaseUrl,
        redisUrl: options.redisUrl,
        redisKeyPrefix: options.redisKeyPrefix,
        userCacheTtlSeconds: options.userCacheTtlSeconds,
        maxConnections: options.maxConnections ?? concurrency,
      })
  // A failed connect surfaces in each job (retryable or not, by its code), not as an unhandled rejection.
  processorReady.catch(() => undefined)

  const counters = {
    completed: 0,
    failed: 0,
    retried: 0,
    discarded: 0,
    metricJobsQueued: 0,
    followUpsQueued: 0,
    byStatus: { processed: 0, duplicate: 0, ignored: 0 },
    failuresByCode: {},
  }
  let active = 0
  let closing = null
  let connectedProcessor = options.processor ?? null
  processorReady.then((p) => (connectedProcessor = p), () => undefined)

  async function queueMetricJobs(result) {
    if (!metricsQueue || result.metricJobs.length === 0) return 0
    await metricsQueue.addBulk(
      result.metricJobs.map((m) => ({
        data: { kind: m.kind, id: m.id, date: m.date, deliveryId: result.deliveryId },
        opts: { ...metricJobOptions, jobId: m.jobId },
      })),
    )
    return result.metricJobs.length
  }

  // API work the result leaves (result.followUps), on the github queue when one is given;
  // each follow-up's stable jobId makes a redelivery's add a no-op.
  async function queueFollowUps(result) {
    const followUps = result.followUps ?? []
    if (!options.githubQueue || followUps.length === 0) return 0
    await options.githubQueue.addBulk(
      followUps.map((f) => ({ data: followUpJobData(f, result.deliveryId), opts: { ...githubJobOptions, jobId: f.jobId } })),
    )
    return followUps.length
  }

  async function handle(job) {
    const started = process.hrtime.bigint()
    const attempt = job.attemptsMade + 1
    const attempts = job.opts.attempts ?? 1
    const context = { jobId: job.id, deliveryId: job.data && job.data.deliveryId, event: job.data && job.data.event, attempt, attempts }
    active++
    try {
      const processor = await processorReady
      const result = await processor.process(job.data)
      let queued
      let followUps
      try {
        queued = await queueMetricJobs(result)
        followUps = await queueFollowUps(result)
      } catch (err) {
        // The rows are committed; a retry answers `duplicate` and re-derives the metric jobs and follow-ups.
        throw Object.assign(new WebhookProcessingError('DATABASE_UNAVAILABLE', `metric jobs or follow-ups not queued: ${redactCredentials(err.message)}`), {
          retryable: true,
        })
      }
      counters.followUpsQueued += followUps
      counters.completed++
      counters.byStatus[result.status]++
      counters.metricJobsQueued += queued
      logger.info('webhook job completed', {
        ...context,
        status: result.status,
        action: result.action,
        repoId: result.repoId,
        records: result.records,
        metricJobs: queued,
        followUps,
        unmappedUsers: result.unmappedUsers.length,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        timings: result.timings,
      })
      return { status: result.status, eventId: result.eventId, records: result.records, metricJobs: queued }
    } catch (thrown) {
      const error = toProcessingError(thrown)
      const exhausted = attempt >= attempts
      const permanent = !error.retryable || exhausted
      if (!error.retryable) {
        job.discard()
        counters.discarded++
      } else if (!exhausted) {
        counters.retried++
      }
      counters.failed++
      counters.failuresByCode[error.code] = (counters.failuresByCode[error.code] ?? 0) + 1
      logger.error('webhook job failed', {
        ...context,
        code: error.code,
        retryable: error.retryable,
        willRetry: !permanent,
        error: redactCredentials(error.message),
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
      })
      if (permanent && options.onPermanentFailure) {
        try {
          await options.onPermanentFailure(job, error)
        } catch (alertError) {
          logger.warn('onPermanentFailure threw', { ...context, error: redactCredentials(alertError && alertError.message) })
        }
      }
      throw error
    } finally {
      active--
    }
  }

  queue.process(concurrency, handle).catch((err) => {
    logger.error('webhook worker stopped processing', { error: redactCredentials(err && err.message) })
  })
  logger.info('webhook worker started', { queue: queue.name, concurrency })

  return {
    /** Liveness and counters, for a health endpoint. */
    health() {
      return {
        status: closing ? 'closing' : 'running',
        queue: queue.name,
        concurrency,
        active,
        counters: structuredClone(counters),
        processor: connectedProcessor ? connectedProcessor.stats() : null,
      }
    },
    /** Stops taking jobs, waits for the active ones, closes what the worker created. */
    close() {
      closing ??= (async () => {
        await queue.pause(true) // local: this worker only; resolves when its active jobs finished
        if (ownsProcessor) {
          const processor = await processorReady.catch(() => null)
          if (processor) await processor.close()
        }
        logger.info('webhook worker closed', { queue: queue.name, counters })
      })()
      return closing
    },
  }
}

module.exports = {
  createWebhookWorker,
  webhookJobOptions,
  webhookQueueSettings,
  webhookBackoff,
  metricJobOptions,
  WEBHOOK_BACKOFF,
}
