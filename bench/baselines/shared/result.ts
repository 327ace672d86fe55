// What a baseline's call returns internally (the addon's ProcessingResult without timings),
// so the equivalence check can compare outcomes; the bench's Implementation discards it.

import type { BenchJob, Implementation } from '../types'
import type { ProcessingResult, RecordCounts } from '../../../lib'

export type { RecordCounts }

export const NO_RECORDS: RecordCounts = Object.freeze({
  commits: 0,
  pullRequests: 0,
  issues: 0,
  reviews: 0,
  deployments: 0,
  deploymentStatuses: 0,
  workflowRuns: 0,
  workflowJobs: 0,
  releases: 0,
})

/** The addon's result type, less the timings and the GitHub API follow-ups (work outside the webhook path the baselines reproduce). */
export type BaselineResult = Omit<ProcessingResult, 'timings' | 'followUps' | 'reason'>

/** A baseline as the check drives it: the bench's interface plus the result of each call. */
export interface BaselineImplementation extends Implementation {
  processJob(job: BenchJob): Promise<BaselineResult>
}
