'use strict'
// The Bull glue: a worker that runs processWebhook for each queued delivery, queues the
// result's metric jobs, retries what a later attempt can fix and discards what it cannot,
// and logs every outcome. The queue and its retry policy belong to the producer, so the
// policy is exported for it (webhookJobOptions, webhookQueueSettings).

const { WebhookProcessingError, toProcessingError } = require('./errors')
const { redactCredentials } = require('./redact')
const { webhookAttempt, webhookCounters, metricJobOptions } = require('./webhook-attempt')

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
  if (options.metricsQueue && typeof options.metricsQueue.addBulk !== 'function') fail('metricsQueue must be a Bull queue')
  if (options.githubQueue && typeof options.githubQueue.addBulk !== 'function') fail('githubQueue must be a Bull queue')
  const concurrency = options.concurrency ?? 5
  if (!Number.isInteger(concurrency) || concurrency < 1) fail('concurrency must be a positive integer')
  const reconnect = options.reconnectMaxDelayMs
  if (reconnect !== undefined && (!Number.isInteger(reconnect) || reconnect < 1)) fail('reconnectMaxDelayMs must be a positive integer')
  return concurrency
}

/** Longest wait between two connection attempts of a worker that connects its own processor. */
const RECONNECT_MAX_DELAY_MS = 15_000
/** Wait after the first failed connection attempt; each further failure doubles it, up to the maximum. */
const RECONNECT_BASE_DELAY_MS = 250

/**
 * A processor connected in the background, again and again with backoff until the database
 * is there and migrated (a worker may start before its database). `ready()` waits for it;
 * `waitingFor()` says what it is waiting for, for health(); `close()` stops trying and
 * rejects the waiting jobs with PROCESSOR_CLOSED (retryable: another worker takes them).
 */
function connectWithBackoff(WebhookProcessor, connectOptions, maxDelayMs, logger) {
  let processor = null
  let stopped = false
  let waiting = { what: 'database', since: new Date().toISOString(), attempts: 0, code: null, message: 'connecting', nextAttemptAt: null }
  const waiters = []
  let sleeping = null

  const settle = (fn) => {
    for (const w of waiters.splice(0)) fn(w)
  }

  const loop = (async () => {
    for (let attempt = 1; !stopped; attempt++) {
      try {
        const connected = await WebhookProcessor.connect(connectOptions)
        if (stopped) {
          await connected.close()
          return
        }
        processor = connected
        if (attempt > 1) logger.warn('webhook worker connected to the database', { attempts: attempt })
        waiting = null
        settle((w) => w.resolve(connected))
        return
      } catch (thrown) {
        const error = toProcessingError(thrown)
        const delay = Math.min(maxDelayMs, RECONNECT_BASE_DELAY_MS * 2 ** (attempt - 1))
        const message = redactCredentials(error.message)
        if (waiting.code !== error.code) {
          logger.warn('webhook worker waiting for the database', { code: error.code, error: message, attempts: attempt })
        }
        waiting = {
          ...waiting,
          attempts: attempt,
          code: error.code,
          message,
          nextAttemptAt: new Date(Date.now() + delay).toISOString(),
        }
        // Backoff between attempts, cut short by close().
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, delay)
          sleeping = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        sleeping = null
      }
    }
  })()

  return {
    ready() {
      if (processor) return Promise.resolve(processor)
      if (stopped) return Promise.reject(new WebhookProcessingError('PROCESSOR_CLOSED', 'the worker is closing'))
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }))
    },
    current: () => processor,
    waitingFor: () => (waiting ? { ...waiting } : null),
    async close() {
      stopped = true
      if (sleeping) sleeping()
      settle((w) => w.reject(new WebhookProcessingError('PROCESSOR_CLOSED', 'the worker closed while waiting for the database')))
      await loop
    },
  }
}

/**
 * The processor a worker runs on, as `{ ready(), current(), waitingFor(), close() }`: the one
 * the caller gave, or one the worker connects itself from `databaseUrl`, with backoff until
 * the database is there and migrated (both queue drivers use this).
 */
function workerDatabase(WebhookProcessor, options, concurrency, logger) {
  if (options.processor) {
    return { ready: () => Promise.resolve(options.processor), current: () => options.processor, waitingFor: () => null, close: async () => {} }
  }
  return connectWithBackoff(
    WebhookProcessor,
    {
      databaseUrl: options.databaseUrl,
      redisUrl: options.redisUrl,
      redisKeyPrefix: options.redisKeyPrefix,
      userCacheTtlSeconds: options.userCacheTtlSeconds,
      maxConnections: options.maxConnections ?? concurrency,
      idleTimeoutMs: options.idleTimeoutMs,
      maxLifetimeMs: options.maxLifetimeMs,
      autoRegisterRepositories: options.autoRegisterRepositories,
      ownerTeams: options.ownerTeams,
    },
    options.reconnectMaxDelayMs ?? RECONNECT_MAX_DELAY_MS,
    logger,
  )
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
  const ownsProcessor = !options.processor
  const database = workerDatabase(WebhookProcessor, options, concurrency, logger)
  const counters = webhookCounters()
  const attempt = webhookAttempt({ database, metricsQueue: options.metricsQueue, githubQueue: options.githubQueue, counters, logger, onPermanentFailure: options.onPermanentFailure })
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
  workerDatabase,
  webhookJobOptions,
  webhookQueueSettings,
  webhookBackoff,
  metricJobOptions,
  WEBHOOK_BACKOFF,
}
