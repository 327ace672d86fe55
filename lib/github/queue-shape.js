'use strict'
// The `github` job kinds (./jobs) are written against Bull's shapes: `queue.add(data, opts)`,
// `queue.addBulk([{ data, opts }])`, `job.update(data)`. BullMQ names every job
// (`add(name, data, opts)`), saves data with `job.updateData`, and refuses custom job ids with
// `:`, which the addon's and the kinds' ids use (`commitStats:<repo>:<digest>`). These views
// give a BullMQ queue and job Bull's shape, so each kind runs unchanged on either driver; an id
// always maps to the same BullMQ id (bullmqJobId), so deduplication and coalescing work as on
// Bull. A Bull queue (or a view already made) is returned as it is.

/**
 * BullMQ refuses custom job ids with `:` (unless in its legacy three-part form) and integers;
 * the addon's ids use `:` (`developer:<user>:<date>:<minute>`). The same id always maps to the
 * same BullMQ id, so coalescing works as on Bull.
 */
function bullmqJobId(id) {
  return String(id).replaceAll(':', '.')
}

const VIEW = Symbol('devmetrics.bullShapedQueue')

/** True for a BullMQ Queue (Bull's queue consumes with `process`, BullMQ's has no such method). */
function isBullMQQueue(queue) {
  return Boolean(queue) && !queue[VIEW] && typeof queue.process !== 'function' && typeof queue.addBulk === 'function'
}

/** A BullMQ job's name: the job kind (`commitStats`, `developer`, …), as createBullMQWorker names follow-ups and metric jobs. */
function jobName(data) {
  return data && typeof data.kind === 'string' && data.kind !== '' ? data.kind : 'job'
}

function bullmqOptions(opts) {
  if (!opts) return undefined
  return opts.jobId === undefined ? { ...opts } : { ...opts, jobId: bullmqJobId(opts.jobId) }
}

/**
 * `queue` with Bull's `add(data, opts)` and `addBulk([{ data, opts }])`: a BullMQ queue gets a
 * view (jobs named after `data.kind`, `:` in job ids made `.`); anything else (a Bull queue,
 * null) is returned unchanged.
 */
function bullShapedQueue(queue) {
  if (!isBullMQQueue(queue)) return queue
  return {
    [VIEW]: true,
    name: queue.name,
    /** The BullMQ queue behind the view. */
    native: queue,
    add: (data, opts) => queue.add(jobName(data), data, bullmqOptions(opts)),
    addBulk: (jobs) => queue.addBulk(jobs.map((j) => ({ name: j.name ?? jobName(j.data), data: j.data, opts: bullmqOptions(j.opts) }))),
    /** The job under a Bull-shaped id (`:` made `.`), or undefined. */
    getJob: (id) => queue.getJob(bullmqJobId(id)),
  }
}

/**
 * A BullMQ job as the kinds use it: everything read through to the job (`id`, `data`, `opts`,
 * `attemptsMade`), plus Bull's `update(data)`, which is BullMQ's `updateData(data)` (it also
 * sets `job.data`, so the view reads the new data).
 */
function bullShapedJob(job) {
  return Object.create(job, { update: { value: (data) => job.updateData(data) } })
}

module.exports = { bullShapedQueue, bullShapedJob, isBullMQQueue, bullmqJobId }
