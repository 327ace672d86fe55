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
const { githubJobOptions, backfillJobOptions, followUpJobData } = require('./github/job-options')
const { bullShapedQueue } = require('./github/queue-shape')
const { queueMetricJobs } = require('./metric-jobs')
const { parseSince } = require('./github/duration')


/**
 * Checks a worker's `autoBackfill` option (both glues): absent, or a `since` the backfill job
 * accepts (`90d`, `24h`, an ISO date); it needs a `githubQueue` to go to.
 */
function checkAutoBackfill(options, fail) {
  if (options.autoBackfill === undefined || options.autoBackfill === null) return
  if (typeof options.autoBackfill !== 'string') fail('autoBackfill must be a duration such as 90d or an ISO date')
  try {
    parseSince(options.autoBackfill)
  } catch (err) {
    fail(`autoBackfill: ${err.message}`)
  }
  if (!options.githubQueue) fail('autoBackfill needs a githubQueue')
}

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
 * null; `autoBackfill`: the `since` of the backfill of each repository auto-registration
 * registers, none without it), counts and logs. Resolves with `{ status, eventId, records, metricJobs, followUps }`;
 * rejects with the attempt's WebhookProcessingError after recordFailure (its `retryable` says
 * whether the glue must tell its queue not to retry).
 */
function webhookAttempt({ database, metricsQueue, githubQueue, autoBackfill, counters, logger, onPermanentFailure }) {
  const github = bullShapedQueue(githubQueue ?? null)

  const queueMetrics = (result) => queueMetricJobs(metricsQueue, result.metricJobs, { deliveryId: result.deliveryId })

  // The job of one follow-up: a `backfill` one (a repository auto-registration registered)
  // fetches the history since `autoBackfill`, and is dropped without it.
  const followUpJob = (f, deliveryId) =>
    f.kind === 'backfill'
      ? { data: { kind: 'backfill', repository: f.repository, repoId: f.repoId, since: autoBackfill, deliveryId: deliveryId ?? null }, opts: { ...backfillJobOptions, jobId: f.jobId } }
      : { data: followUpJobData(f, deliveryId), opts: { ...githubJobOptions, jobId: f.jobId } }

  // API work the result leaves (result.followUps); each follow-up's stable jobId makes a
  // redelivery's add a no-op (completed github jobs are kept 7 days).
  async function queueFollowUps(result) {
    const followUps = (result.followUps ?? []).filter((f) => f.kind !== 'backfill' || autoBackfill)
    if (!github || followUps.length === 0) return 0
    await github.addBulk(followUps.map((f) => followUpJob(f, result.deliveryId)))
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

module.exports = { webhookAttempt, webhookCounters, checkAutoBackfill }
