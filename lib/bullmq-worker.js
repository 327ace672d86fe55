'use strict'
// The BullMQ glue: the same contract as the Bull glue (lib/worker.js) for backends that queue
// with BullMQ, Bull's successor. BullMQ differs where it matters here: a Worker object owns the
// consuming side (not queue.process), "do not retry" is the UnrecoverableError type (not
// job.discard()), its built-in exponential backoff already waits delay·2^(n−1) (2 s, 4 s, 8 s:
// no custom strategy needed), and custom job ids may not contain `:`. bullmq is an optional
// peer dependency, required only when createBullMQWorker is called, so a Bull-only backend
// never needs it installed.

const { WebhookProcessingError } = require('./errors')
const { redactCredentials } = require('./redact')
const { webhookAttempt, webhookCounters, checkAutoBackfill } = require('./webhook-attempt')
const { workerDatabase, checkReconnectMaxDelay } = require('./worker-database')
const { bullmqJobId } = require('./github/queue-shape')

/** Job options for the producer: the first try and 3 retries (2 s, 4 s, 8 s), the last 500 failures kept. */
const bullmqWebhookJobOptions = Object.freeze({
  attempts: 4,
  // BullMQ's exponential is delay·2^(attemptsMade−1), unlike Bull's delay·(2^n − 1).
  backoff: Object.freeze({ type: 'exponential', delay: 2000 }),
  removeOnComplete: 1000,
  removeOnFail: 500,
})

/** Lock and stall settings of the Worker, as webhookQueueSettings gives Bull. */
const workerDefaults = Object.freeze({ lockDuration: 30_000, lockRenewTime: 15_000, stalledInterval: 30_000, maxStalledCount: 1 })

const silentLogger = Object.freeze({
  info() {},
  warn: (message, meta) => console.warn(message, meta),
  error: (message, meta) => console.error(message, meta),
})

function checkOptions(options) {
  const fail = (message) => {
    throw new WebhookProcessingError('CONFIG_ERROR', message)
  }
  if (!options || typeof options !== 'object') fail('createBullMQWorker needs options')
  if (!options.connection || typeof options.connection !== 'object') fail('createBullMQWorker needs a connection (ioredis options or instance)')
  const queueName = options.queueName ?? 'webhooks'
  if (typeof queueName !== 'string' || queueName === '' || queueName.includes(':')) fail('queueName must be a non-empty string without ":"')
  if (options.prefix !== undefined && (typeof options.prefix !== 'string' || options.prefix === '')) fail('prefix must be a non-empty string')
  if (!options.processor && typeof options.databaseUrl !== 'string') fail('give a processor or a databaseUrl')
  if (options.metricsQueue && (typeof options.metricsQueue.addBulk !== 'function' || typeof options.metricsQueue.getJob !== 'function')) fail('metricsQueue must be a BullMQ queue')
  if (options.githubQueue && typeof options.githubQueue.addBulk !== 'function') fail('githubQueue must be a BullMQ queue')
  checkAutoBackfill(options, fail)
  const concurrency = options.concurrency ?? 5
  if (!Number.isInteger(concurrency) || concurrency < 1) fail('concurrency must be a positive integer')
  checkReconnectMaxDelay(options, fail)
  return { queueName, concurrency }
}

/** bullmq, or CONFIG_ERROR saying `caller` needs it installed (an optional peer dependency). */
function requireBullMQ(caller = 'createBullMQWorker') {
  try {
    return require('bullmq')
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND' && /'bullmq'/.test(err.message)) {
      throw new WebhookProcessingError('CONFIG_ERROR', `${caller} needs the bullmq package: npm install bullmq`, { cause: err })
    }
    throw err
  }
}

/**
 * Starts a BullMQ Worker on `queueName`. See lib/index.d.ts for the options and the returned
 * BullMQWebhookWorker.
 */
function createBullMQWorker(options) {
  const { queueName, concurrency } = checkOptions(options)
  // Required lazily: an optional peer dependency.
  const { Worker, UnrecoverableError } = requireBullMQ()
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
      if (error.retryable) throw error
      // BullMQ's "do not retry": the job goes to the failed set whatever attempts are left.
      throw Object.assign(new UnrecoverableError(error.message), { code: error.code, retryable: false, cause: error })
    } finally {
      active--
    }
  }

  const worker = new Worker(queueName, handle, {
    ...workerDefaults,
    ...options.workerOptions,
    connection: options.connection,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    concurrency,
  })
  // An 'error' event without a listener would throw in the host process (a Redis blip, a lost lock).
  worker.on('error', (err) => logger.warn('webhook worker error', { error: redactCredentials(err && err.message) }))
  logger.info('webhook worker started', { queue: queueName, prefix: options.prefix ?? 'bull', concurrency, driver: 'bullmq' })

  return {
    worker,
    /** Liveness and counters, for a health endpoint. */
    health() {
      return {
        status: closing ? 'closing' : 'running',
        queue: queueName,
        concurrency,
        active,
        counters: structuredClone(counters),
        processor: database.current() ? database.current().stats() : null,
        waitingFor: database.waitingFor(),
      }
    },
    /** Stops taking jobs, waits for the active ones, closes what the worker created. */
    close() {
      closing ??= (async () => {
        // Jobs still waiting for the database give up first (retryable), or close would wait for them.
        const stopped = database.close()
        await worker.close() // stops fetching; resolves when its active jobs finished
        await stopped
        if (ownsProcessor) {
          const processor = database.current()
          if (processor) await processor.close()
        }
        logger.info('webhook worker closed', { queue: queueName, counters })
      })()
      return closing
    },
  }
}

module.exports = { createBullMQWorker, bullmqWebhookJobOptions, bullmqJobId, requireBullMQ, workerDefaults }
