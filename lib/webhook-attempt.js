'use strict'
// One attempt of a webhook job, the same on Bull (lib/worker.js) and BullMQ
// (lib/bullmq-worker.js): the delivery processed, the metric jobs and follow-ups it leaves
// queued (through Bull-shaped views, so a BullMQ queue gets its jobs named after their kind and
// its ids with `.` for `:`), the counters, one log line, and on failure the shared failure path
// (lib/job-failure.js). Only how the queue is told "do not retry" differs, so each glue keeps
// that part and the consuming side (queue.process or a Worker).

const { WebhookProcessingError } = require('./errors')
const { redactCredentials } = require('./redact')
const { recordFailure } = require('./job-failure')
const { githubJobOptions, followUpJobData } = require('./github/job-options')
const { bullShapedQueue } = require('./github/queue-shape')
const { queueMetricJobs } = require('./metric-jobs')


/** The counters both glues report in health(). */
function webhookCounters() {
  return {
    completed: 0,
    failed: 0,
    retried: 0,
    discarded: 0,
    metricJobsQueued: 0,
    followUpsQueued: 0,
    byStatus: { processed: 0, duplicate: 0, ignored: 0 },
    failuresByCode: {},
  }
}

/**
 * `attempt(job)`: processes `job.data` with the processor `database.ready()` gives, queues what
 * the result leaves on `metricsQueue` / `githubQueue` (Bull or BullMQ queues, either may be
 * null), counts and logs. Resolves with `{ status, eventId, records, metricJobs, followUps }`;
 * rejects with the attempt's WebhookProcessingError after recordFailure (its `retryable` says
 * whether the glue must tell its queue not to retry).
 */
function webhookAttempt({ database, metricsQueue, githubQueue, counters, logger, onPermanentFailure }) {
  const github = bullShapedQueue(githubQueue ?? null)

  const queueMetrics = (result) => queueMetricJobs(metricsQueue, result.metricJobs, { deliveryId: result.deliveryId })

  // API work the result leaves (result.followUps); each follow-up's stable jobId makes a
  // redelivery's add a no-op (completed github jobs are kept 7 days).
  async function queueFollowUps(result) {
    const followUps = result.followUps ?? []
    if (!github || followUps.length === 0) return 0
    await github.addBulk(followUps.map((f) => ({ data: followUpJobData(f, result.deliveryId), opts: { ...githubJobOptions, jobId: f.jobId } })))
    return followUps.length
  }

  return async function attempt(job) {
    const started = process.hrtime.bigint()
    const attempt = job.attemptsMade + 1
    const attempts = job.opts.attempts ?? 1
    const context = { jobId: job.id, deliveryId: job.data && job.data.deliveryId, event: job.data && job.data.event, attempt, attempts }
    try {
      const processor = await database.ready()
      const result = await processor.process(job.data)
      let metricJobs
      let followUps
      try {
        metricJobs = await queueMetrics(result)
        followUps = await queueFollowUps(result)
      } catch (err) {
        // The rows are committed; a retry answers `duplicate` and re-derives the metric jobs and follow-ups.
        throw Object.assign(new WebhookProcessingError('DATABASE_UNAVAILABLE', `metric jobs or follow-ups not queued: ${redactCredentials(err && err.message)}`), {
          retryable: true,
        })
      }
      counters.completed++
      counters.byStatus[result.status]++
      counters.metricJobsQueued += metricJobs
      counters.followUpsQueued += followUps
      logger.info('webhook job completed', {
        ...context,
        status: result.status,
        action: result.action,
        repoId: result.repoId,
        records: result.records,
        metricJobs,
        followUps,
        unmappedUsers: result.unmappedUsers.length,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        timings: result.timings,
      })
      return { status: result.status, eventId: result.eventId, records: result.records, metricJobs, followUps }
    } catch (thrown) {
      throw await recordFailure(thrown, { job, context, started, counters, logger, onPermanentFailure })
    }
  }
}

module.exports = { webhookAttempt, webhookCounters }
