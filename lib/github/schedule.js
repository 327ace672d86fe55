'use strict'
// The reconciler as a repeatable job on the `github` queue: GitHub keeps deliveries for 3
// days, so a run every few minutes finds a failed delivery long before it expires and costs
// one request per 100 deliveries listed. Off unless the backend schedules it; one schedule
// however many processes call this. On Bull a repeatable job (keyed by job id and interval,
// so another interval is removed first); on BullMQ a job scheduler (`upsertJobScheduler`,
// BullMQ ≥ 5.16), keyed by its id alone, which an upsert with another interval replaces.

const { WebhookProcessingError } = require('../errors')
const { isBullMQQueue } = require('./queue-shape')

/** Default interval: 10 minutes. */
const DEFAULT_RECONCILE_EVERY_MS = 10 * 60_000
const RECONCILE_JOB_ID = 'github-reconcile'
/** Options of each reconcile job: one attempt (the next run is the retry), the last 50 of each outcome kept. */
const RECONCILE_JOB_OPTIONS = Object.freeze({ removeOnComplete: 50, removeOnFail: 50, attempts: 1 })

function checkBullMQ(queue) {
  if (typeof queue.upsertJobScheduler !== 'function') {
    throw new WebhookProcessingError('CONFIG_ERROR', 'the reconcile schedule on BullMQ needs bullmq 5.16 or later (job schedulers)')
  }
}

/**
 * Schedules the reconcile job every `everyMs` (default 10 minutes) on `queue` (Bull or
 * BullMQ), replacing a schedule with another interval. Job data: `{ kind: 'reconcile', ...data }`.
 */
async function scheduleReconcile(queue, { everyMs = DEFAULT_RECONCILE_EVERY_MS, data = {} } = {}) {
  if (!queue || typeof queue.add !== 'function') throw new WebhookProcessingError('CONFIG_ERROR', 'scheduleReconcile needs the github queue')
  if (!Number.isInteger(everyMs) || everyMs < 60_000) throw new WebhookProcessingError('CONFIG_ERROR', 'the reconcile interval must be at least one minute')
  if (isBullMQQueue(queue)) {
    checkBullMQ(queue)
    // The first run one interval from now, as on Bull (BullMQ's `every` would run at once);
    // an upsert of the same interval keeps the scheduled run, another interval starts afresh.
    return queue.upsertJobScheduler(
      RECONCILE_JOB_ID,
      { every: everyMs, startDate: Date.now() + everyMs },
      { name: 'reconcile', data: { kind: 'reconcile', ...data }, opts: { ...RECONCILE_JOB_OPTIONS } },
    )
  }
  await unscheduleReconcile(queue, everyMs)
  return queue.add({ kind: 'reconcile', ...data }, { repeat: { every: everyMs }, jobId: RECONCILE_JOB_ID, ...RECONCILE_JOB_OPTIONS })
}

/** Removes the reconcile schedule (on Bull, every interval but `keepEveryMs`). */
async function unscheduleReconcile(queue, keepEveryMs = null) {
  if (isBullMQQueue(queue)) {
    checkBullMQ(queue)
    await queue.removeJobScheduler(RECONCILE_JOB_ID)
    return
  }
  const repeatable = await queue.getRepeatableJobs()
  for (const r of repeatable) {
    if (r.id === RECONCILE_JOB_ID && Number(r.every) !== keepEveryMs) await queue.removeRepeatableByKey(r.key)
  }
}

module.exports = { scheduleReconcile, unscheduleReconcile, DEFAULT_RECONCILE_EVERY_MS, RECONCILE_JOB_ID }
