'use strict'
// The reconciler as a Bull repeatable job on the `github` queue: GitHub keeps deliveries
// for 3 days, so a run every few minutes finds a failed delivery long before it expires and
// costs one request per 100 deliveries listed. Off unless the backend schedules it; one
// repeatable entry however many processes call this (Bull keys it by job id and interval).

const { WebhookProcessingError } = require('../errors')

/** Default interval: 10 minutes. */
const DEFAULT_RECONCILE_EVERY_MS = 10 * 60_000
const RECONCILE_JOB_ID = 'github-reconcile'

/**
 * Schedules the reconcile job every `everyMs` (default 10 minutes) on `queue`, removing a
 * schedule with another interval first. Job data: `{ kind: 'reconcile', ...data }`.
 */
async function scheduleReconcile(queue, { everyMs = DEFAULT_RECONCILE_EVERY_MS, data = {} } = {}) {
  if (!queue || typeof queue.add !== 'function') throw new WebhookProcessingError('CONFIG_ERROR', 'scheduleReconcile needs the github queue')
  if (!Number.isInteger(everyMs) || everyMs < 60_000) throw new WebhookProcessingError('CONFIG_ERROR', 'the reconcile interval must be at least one minute')
  await unscheduleReconcile(queue, everyMs)
  return queue.add(
    { kind: 'reconcile', ...data },
    { repeat: { every: everyMs }, jobId: RECONCILE_JOB_ID, removeOnComplete: 50, removeOnFail: 50, attempts: 1 },
  )
}

/** Removes the reconcile schedule (every interval but `keepEveryMs`). */
async function unscheduleReconcile(queue, keepEveryMs = null) {
  const repeatable = await queue.getRepeatableJobs()
  for (const r of repeatable) {
    if (r.id === RECONCILE_JOB_ID && Number(r.every) !== keepEveryMs) await queue.removeRepeatableByKey(r.key)
  }
}

module.exports = { scheduleReconcile, unscheduleReconcile, DEFAULT_RECONCILE_EVERY_MS, RECONCILE_JOB_ID }
