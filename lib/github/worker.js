'use strict'
// The `github` queue's worker on Bull: API work that webhooks leave (DESIGN.md, "GitHub's
// API"). What an attempt does is ./job-runner.js, shared with the BullMQ glue
// (./bullmq-worker.js); this file keeps only how Bull is told: a rate-limited job's work goes
// back as a new job with GitHub's delay and all its attempts (Bull 4 cannot delay an active
// job without spending an attempt), and what no retry can fix is `job.discard()`ed. 5xx
// answers, timeouts and database failures are retried by Bull with githubJobOptions' backoff.

const { WebhookProcessingError } = require('../errors')
const { redactCredentials } = require('../redact')
const { githubJobOptions } = require('./job-options')
const { workerDatabase } = require('../worker-database')
const { createGitHubJobRunner, checkCommonOptions, silentLogger, JOBS } = require('./job-runner')

function checkOptions(queue, options) {
  if (!queue || typeof queue.process !== 'function' || typeof queue.add !== 'function') {
    throw new WebhookProcessingError('CONFIG_ERROR', 'createGitHubWorker: needs a Bull queue')
  }
  return checkCommonOptions('createGitHubWorker', options, (q) => typeof q.addBulk === 'function', 'Bull')
}

/**
 * Starts processing the `github` queue. See lib/index.d.ts for the options and the returned
 * GitHubWorker.
 */
function createGitHubWorker(queue, options) {
  const concurrency = checkOptions(queue, options)
  const logger = options.logger ?? silentLogger
  const ownsProcessor = !options.processor
  const database = workerDatabase(options, concurrency, logger)
  const runner = createGitHubJobRunner({
    client: options.client,
    database,
    metricsQueue: options.metricsQueue ?? null,
    githubQueue: queue,
    logger,
    databaseUrl: options.databaseUrl,
  })
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

  const handle = (job) =>
    runner.attempt(job, {
      job,
      delay: (delayMs) => resumeLater(job, delayMs),
      delayed: (delayMs) => ({ delayed: true, delayMs }),
      fail(error) {
        // Bull's "do not retry": the job goes to the failed set whatever attempts are left.
        if (!error.retryable) job.discard()
        return error
      },
    })

  queue.process(concurrency, handle).catch((err) => {
    logger.error('github worker stopped processing', { error: redactCredentials(err && err.message) })
  })
  logger.info('github worker started', { queue: queue.name, concurrency })

  return {
    /** Liveness and counters, for a health endpoint. */
    health: () => runner.health(closing ? 'closing' : 'running', queue.name, concurrency),
    /** Stops taking jobs, waits for the active ones, closes what the worker created. */
    close() {
      closing ??= (async () => {
        // Jobs still waiting for the database give up first (retryable), or pause would wait for them.
        const stopped = database.close()
        await queue.pause(true)
        await stopped
        if (ownsProcessor) {
          const processor = database.current()
          if (processor) await processor.close()
        }
        logger.info('github worker closed', { queue: queue.name, counters: runner.counters() })
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
