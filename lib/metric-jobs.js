'use strict'
// Metric jobs on the `metrics` queue, queued the same way by every producer: the webhook
// workers (a delivery's result), the github jobs (line counts fetched, commits completed) and
// backfill. A metric job recomputes a developer's or a team's figures for a day from the
// database, so one job that starts after a write covers every write before it, and triggers
// coalesce: the addon's job id `<kind>:<id>:<date>:<minute>` joins the triggers of a minute.
//
// Bull and BullMQ drop an add whose id exists, in any state. A job that waits (or is delayed)
// has not read anything yet, so dropping a trigger into it loses nothing. A job that started
// (active, or failed and kept) may have read the rows before this trigger's write: the trigger
// must become a job of its own, or it is lost (issue 22: the re-run after the line counts land
// was dropped while the push's own metric job ran). So each trigger looks at the job under
// its id first (`getJob`, one round trip): absent → added under that id; not started (no
// `processedOn`: both queues set it atomically as the job becomes active) → coalesced into
// it; started → the next id of the chain `<id>`, `<id>:2`, `<id>:3`, … is tried the same way.
// A race cannot lose a trigger: whatever job the check finds waiting, or another producer
// adds after the check, starts after this trigger's write.

const { bullShapedQueue } = require('./github/queue-shape')

/** Options of each metric job: removed once done (a finished id is free again), the last 500 failures kept. */
const metricJobOptions = Object.freeze({ removeOnComplete: true, removeOnFail: 500 })

/** Ids tried after the addon's before giving up on coalescing (then a unique id). */
const MAX_CHAIN = 20

/** The id under which `jobId`'s trigger goes: absent or not yet started; null when coalesced into a waiting job. */
async function freeId(queue, jobId) {
  for (let n = 1; n <= MAX_CHAIN; n++) {
    const id = n === 1 ? jobId : `${jobId}:${n}`
    const existing = await queue.getJob(id)
    if (!existing) return id
    if (!existing.processedOn) return null
  }
  return `${jobId}:${Date.now()}-${Math.random().toString(36).slice(2, 8)}`
}

/**
 * Queues `metricJobs` (ProcessingResult.metricJobs: `{ kind, id, date, jobId }`) on `queue`
 * (Bull or BullMQ; null: nothing), job data `{ kind, id, date, ...data }`. Resolves with the
 * number of triggers (added or coalesced into a job that has not started). A Redis failure
 * rejects: the caller's retry queues them again.
 */
async function queueMetricJobs(queue, metricJobs, data = {}) {
  const metrics = bullShapedQueue(queue ?? null)
  if (!metrics || metricJobs.length === 0) return 0
  const ids = await Promise.all(metricJobs.map((m) => freeId(metrics, m.jobId)))
  const jobs = []
  metricJobs.forEach((m, i) => {
    if (ids[i] === null) return
    jobs.push({ data: { kind: m.kind, id: m.id, date: m.date, ...data }, opts: { ...metricJobOptions, jobId: ids[i] } })
  })
  if (jobs.length > 0) await metrics.addBulk(jobs)
  return metricJobs.length
}

module.exports = { queueMetricJobs, metricJobOptions }
