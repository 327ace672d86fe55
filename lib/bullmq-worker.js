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
const { recordFailure } = require('./job-failure')
const { metricJobOptions, workerDatabase } = require('./worker')
const { githubJobOptions, followUpJobData } = require('./github/job-options')

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

/**
 * BullMQ refuses custom job ids with `:` (unless in its legacy three-part form) and integers;
 * the addon's ids use `:` (`developer:<user>:<date>:<minute>`). The same id always maps to the
 * same BullMQ id, so coalescing works as on Bull.
 */
function bullmqJobId(id) {
  return String(id).replaceAll(':', '.')
}

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
  if (options.metricsQueue && typeof options.metricsQueue.addBulk !== 'function') fail('metricsQueue must be a BullMQ queue')
  if (options.githubQueue && typeof options.githubQueue.addBulk !== 'function') fail('githubQueue must be a BullMQ queue')
  const concurrency = options.concurrency ?? 5
  if (!Number.isInteger(concurrency) || concurrency < 1) fail('concurrency must be a positive integer')
  return { queueName, concurrency }
}

/** A retryable error for a queue that did not take the result's jobs: a retry answers `duplicate` and queues them again. */
function notQueued(what, err) {
  return Object.assign(new WebhookProcessingError('DATABASE_UNAVAILABLE', `${what} not queued: ${redactCredentials(err && err.message)}`), {
    retryable: true,
  })
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
  // Required lazily: an optional peer dependency, and the package's main entry requires this file.
  const { Worker, UnrecoverableError } = requireBullMQ()
  const { WebhookProcessor } = require('./index')
  const logger = options.logger ?? silentLogger
  const metricsQueue = options.metricsQueue ?? null
  const githubQueue = options.githubQueue ?? null
  const ownsProcessor = !options.processor
  const database = workerDatabase(WebhookProcessor, options, concurrency, logger)

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

  async function queueMetricJobs(result) {
    if (!metricsQueue || result.metricJobs.length === 0) return 0
    await metricsQueue.addBulk(
      result.metricJobs.map((m) => ({
        name: m.kind,
        data: { kind: m.kind, id: m.id, date: m.date, deliveryId: result.deliveryId },
        opts: { ...metricJobOptions, jobId: bullmqJobId(m.jobId) },
      })),
    )
    return result.metricJobs.length
  }

  async function queueFollowUps(result) {
    const followUps = result.followUps ?? []
    if (!githubQueue || followUps.length === 0) return 0
    await githubQueue.addBulk(
      followUps.map((f) => ({
        name: f.kind,
        data: followUpJobData(f, result.deliveryId),
        // The Bull worker's options (completed jobs kept 7 days: their ids dedupe redeliveries).
        opts: { ...githubJobOptions, jobId: bullmqJobId(f.jobId) },
      })),
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
      const processor = await database.ready()
      const result = await processor.process(job.data)
      let queued
      let followUps
      try {
        queued = await queueMetricJobs(result)
      } catch (err) {
        throw notQueued('metric jobs', err)
      }
      try {
        followUps = await queueFollowUps(result)
      } catch (err) {
        throw notQueued('follow-up jobs', err)
      }
      counters.completed++
      counters.byStatus[result.status]++
      counters.metricJobsQueued += queued
      counters.followUpsQueued += followUps
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
      return { status: result.status, eventId: result.eventId, records: result.records, metricJobs: queued, followUps }
    } catch (thrown) {
      const error = await recordFailure(thrown, { job, context, started, counters, logger, onPermanentFailure: options.onPermanentFailure })
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
