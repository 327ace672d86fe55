'use strict'
// The Bull glue: a worker that runs processWebhook for each queued delivery, queues the
// result's metric jobs, retries what a later attempt can fix and discards what it cannot,
// and logs every outcome. The queue and its retry policy belong to the producer, so the
// policy is exported for it (webhookJobOptions, webhookQueueSettings).

const { WebhookProcessingError } = require('./errors')
const { redactCredentials } = require('./redact')
const { webhookAttempt, webhookCounters, checkAutoBackfill } = require('./webhook-attempt')
const { metricJobOptions } = require('./metric-jobs')
const { workerDatabase, checkReconnectMaxDelay } = require('./worker-database')

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
  if (options.metricsQueue && (typeof options.metricsQueue.addBulk !== 'function' || typeof options.metricsQueue.getJob !== 'function')) fail('metricsQueue must be a Bull queue')
  if (options.githubQueue && typeof options.githubQueue.addBulk !== 'function') fail('githubQueue must be a Bull queue')
  checkAutoBackfill(options, fail)
  const concurrency = options.concurrency ?? 5
  if (!Number.isInteger(concurrency) || concurrency < 1) fail('concurrency must be a positive integer')
  checkReconnectMaxDelay(options, fail)
  return concurrency
}

/**
 * Starts processing `queue` (`queue.process(concurrency, …)`). See lib/index.d.ts for the
 * options and the returned WebhookWorker.
 */
function createWebhookWorker(queue, options) {
  const concurrency = checkOptions(queue, options)
  const logger = options.logger ?? silentLogger
  const ownsProcessor = !options.processor
  const database = workerDatabase(options, concurrency, logger)
  const counters = webhookCounters()
  const attempt = webhookAttempt({ database, metricsQueue: options.metricsQueue, githubQueue: options.githubQueue, autoBackfill: options.autoBackfill, counters, logger, onPermanentFailure: options.onPermanentFailure })
  let active = 0
  let closing = null

  async function handle(job) {
    active++
    try {
      return await attempt(job)
    } catch (error) {
      // Bull's "do not retry": the job goes to the failed set whatever attempts are left.
      if (!error.retryable) job.discard()
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
      const connected = database.current()
      return {
        status: closing ? 'closing' : 'running',
        queue: queue.name,
        concurrency,
        active,
        counters: structuredClone(counters),
        processor: connected ? connected.stats() : null,
        waitingFor: database.waitingFor(),
      }
    },
    /** Stops taking jobs, waits for the active ones, closes what the worker created. */
    close() {
      closing ??= (async () => {
        // Jobs still waiting for the database give up first (retryable), or pause would wait for them.
        const stopped = database.close()
        await queue.pause(true) // local: this worker only; resolves when its active jobs finished
        await stopped
        if (ownsProcessor) {
          const processor = database.current()
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
