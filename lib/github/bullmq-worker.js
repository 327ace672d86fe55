'use strict'
// The `github` queue's worker on BullMQ: the same job kinds and the same attempt
// (./job-runner.js) as the Bull worker (./worker.js), told to BullMQ in its own terms. A
// rate-limited job is moved back to the delayed set with GitHub's delay (`job.moveToDelayed`,
// which spends no attempt, then `DelayedError` so the Worker leaves it there): the same job,
// with its saved progress, runs again later. What no retry can fix is thrown as
// `UnrecoverableError`; 5xx answers, timeouts and database failures are retried with the job's
// own options (githubJobOptions). The kinds are written against Bull's shapes, so they see the
// queue and the job through lib/github/queue-shape.js (`:` in job ids made `.`).

const { WebhookProcessingError } = require('../errors')
const { redactCredentials } = require('../redact')
const { workerDatabase } = require('../worker-database')
const { requireBullMQ, workerDefaults } = require('../bullmq-worker')
const { createGitHubJobRunner, checkCommonOptions, silentLogger } = require('./job-runner')
const { bullShapedQueue, bullShapedJob, isBullMQQueue } = require('./queue-shape')

const CALLER = 'createGitHubBullMQWorker'

function checkOptions(options) {
  const fail = (message) => {
    throw new WebhookProcessingError('CONFIG_ERROR', `${CALLER}: ${message}`)
  }
  const concurrency = checkCommonOptions(CALLER, options, isBullMQQueue, 'BullMQ')
  if (!options.connection || typeof options.connection !== 'object') fail('needs a connection (ioredis options or instance)')
  const queueName = options.queueName ?? 'github'
  if (typeof queueName !== 'string' || queueName === '' || queueName.includes(':')) fail('queueName must be a non-empty string without ":"')
  if (options.prefix !== undefined && (typeof options.prefix !== 'string' || options.prefix === '')) fail('prefix must be a non-empty string')
  return { queueName, concurrency }
}

/**
 * Starts a BullMQ Worker on the `github` queue. See lib/index.d.ts for the options and the
 * returned GitHubBullMQWorker.
 */
function createGitHubBullMQWorker(options) {
  const { queueName, concurrency } = checkOptions(options)
  // Required lazily: an optional peer dependency.
  const { Queue, Worker, DelayedError, UnrecoverableError } = requireBullMQ(CALLER)
  const logger = options.logger ?? silentLogger
  const where = { connection: options.connection, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) }
  // The kinds add jobs to their own queue (a truncated push's commitStats, backfill's pages).
  const queue = new Queue(queueName, where)
  const ownsProcessor = !options.processor
  const database = workerDatabase(options, concurrency, logger)
  const runner = createGitHubJobRunner({
    client: options.client,
    database,
    metricsQueue: bullShapedQueue(options.metricsQueue ?? null),
    githubQueue: bullShapedQueue(queue),
    logger,
    databaseUrl: options.databaseUrl,
  })
  let closing = null

  const handle = (job, token) =>
    runner.attempt(job, {
      job: bullShapedJob(job),
      // The same job, data and attempts as they are, back in the delayed set (skips the attempt).
      delay: (delayMs) => job.moveToDelayed(Date.now() + delayMs, token),
      delayed() {
        throw new DelayedError()
      },
      fail(error) {
        if (error.retryable) return error
        // BullMQ's "do not retry": the job goes to the failed set whatever attempts are left.
        return Object.assign(new UnrecoverableError(error.message), { code: error.code, retryable: false, cause: error })
      },
    })

  const worker = new Worker(queueName, handle, { ...workerDefaults, ...options.workerOptions, ...where, concurrency })
  // An 'error' event without a listener would throw in the host process (a Redis blip, a lost lock).
  worker.on('error', (err) => logger.warn('github worker error', { error: redactCredentials(err && err.message) }))
  logger.info('github worker started', { queue: queueName, prefix: options.prefix ?? 'bull', concurrency, driver: 'bullmq' })

  return {
    worker,
    /** Liveness and counters, for a health endpoint. */
    health: () => runner.health(closing ? 'closing' : 'running', queueName, concurrency),
    /** Stops taking jobs, waits for the active ones, closes what the worker created. */
    close() {
      closing ??= (async () => {
        // Jobs still waiting for the database give up first (retryable), or close would wait for them.
        const stopped = database.close()
        await worker.close() // stops fetching; resolves when its active jobs finished
        await stopped
        await queue.close()
        if (ownsProcessor) {
          const processor = database.current()
          if (processor) await processor.close()
        }
        logger.info('github worker closed', { queue: queueName, counters: runner.counters() })
      })()
      return closing
    },
  }
}

module.exports = { createGitHubBullMQWorker }
