// What a baseline's call returns internally (the addon's ProcessingResult without timings),
// so the equivalence check can compare outcomes; the bench's Implementation discards it.

import type { BenchJob, Implementation } from '../types'
import type { MetricJob } from './metrics'

export interface RecordCounts {
  commits: number
  pullRequests: number
  issues: number
  reviews: number
}

export const NO_RECORDS: RecordCounts = Object.freeze({ commits: 0, pullRequests: 0, issues: 0, reviews: 0 })

export interface BaselineResult {
  status: 'processed' | 'duplicate' | 'ignored'
  eventId: string | null
  deliveryId: string
  event: string
  action: string | null
  repoId: string | null
  records: RecordCounts
  metricJobs: MetricJob[]
  unmappedUsers: string[]
}

/** A baseline as the check drives it: the bench's interface plus the result of each call. */
export interface BaselineImplementation extends Implementation {
  processJob(job: BenchJob): Promise<BaselineResult>
}
