// The dead letter set is the webhooks queue's failed set (the last 500 failed jobs). Replaying
// a failed job queues its delivery again as a new job with the full retry policy (a Bull
// job.retry() would keep the spent attempts and allow a single try) and removes the failed one.
// Replaying is always safe: the addon is idempotent on the delivery id, so a delivery that did
// get stored answers `duplicate` and only re-queues its metric jobs.
import type { DeliveryJobData, Queues } from './queues'
import type { JobLike, QueueLike } from './queue-driver'

export interface FailedJobSummary {
  id: string
  deliveryId: string
  event: string
  attemptsMade: number
  failedAt: string | null
  /** The error code recorded by the worker when the job went to the failed set. */
  code: string | null
  reason: string
  replayOf: string | null
}

export interface ReplayReport {
  replayed: { from: string; to: string; deliveryId: string }[]
  /** Ids with no job (removed, or never existed). */
  missing: string[]
  /** Jobs that are not in the failed set (their state). */
  notFailed: { id: string; state: string }[]
}

async function codeOf(queue: QueueLike<DeliveryJobData>, id: string): Promise<string | null> {
  const { logs } = await queue.getJobLogs(id)
  for (const line of logs.slice().reverse()) {
    const code = /^([A-Z_]+) \(retryable/.exec(line)?.[1]
    if (code) return code
  }
  return null
}

/** The failed set, newest first. */
export async function listFailed(queue: QueueLike<DeliveryJobData>, limit = 100): Promise<FailedJobSummary[]> {
  const jobs = (await queue.getFailed(0, limit - 1)).filter(Boolean)
  return Promise.all(
    jobs.map(async (job) => ({
      id: String(job.id),
      deliveryId: job.data.deliveryId,
      event: job.data.event,
      attemptsMade: job.attemptsMade,
      failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      code: await codeOf(queue, String(job.id)),
      reason: job.failedReason ?? '',
      replayOf: job.data.replayOf ?? null,
    })),
  )
}

/** Replays the given failed jobs, or every job of the failed set. */
export async function replayFailed(queues: Pick<Queues, 'webhooks' | 'jobOptions'>, target: string[] | 'all'): Promise<ReplayReport> {
  const queue = queues.webhooks
  const report: ReplayReport = { replayed: [], missing: [], notFailed: [] }
  const jobs: JobLike<DeliveryJobData>[] = []
  if (target === 'all') {
    jobs.push(...(await queue.getFailed()).filter(Boolean))
  } else {
    for (const id of target) {
      const job = await queue.getJob(id)
      if (!job) {
        report.missing.push(id)
        continue
      }
      const state = await job.getState()
      if (state !== 'failed') report.notFailed.push({ id, state })
      else jobs.push(job)
    }
  }
  for (const job of jobs) {
    const { replayOf: _previous, ...data } = job.data
    const replay = await queue.add({ ...data, replayOf: String(job.id) }, queues.jobOptions)
    await job.remove()
    report.replayed.push({ from: String(job.id), to: String(replay.id), deliveryId: data.deliveryId })
  }
  return report
}
