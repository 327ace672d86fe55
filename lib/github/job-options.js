'use strict'
// Job options of the `github` queue, in a leaf module so the webhook worker (which queues
// follow-ups) and the github worker (which runs them) share them without requiring each
// other. API work waits on GitHub, not on our database: more attempts and a longer backoff
// than webhook jobs. A rate-limited request never spends an attempt (lib/github/worker.js
// re-queues the work with the delay GitHub asked for); these attempts are for 5xx answers,
// timeouts and database failures.

const { createHash } = require('node:crypto')

/** Completed github jobs are kept this long so a redelivered push (GitHub keeps deliveries 3 days, GHES 7) adds no second job. */
const KEEP_COMPLETED_SECONDS = 7 * 24 * 3600

/**
 * Options of each `github` job: 8 attempts with exponential backoff from 15 s (Bull waits
 * 15 s, 45 s, 105 s, … about 62 min in all; BullMQ 15 s, 30 s, 60 s, … about 32 min),
 * completed jobs kept 7 days (their ids dedupe redeliveries), the last 500 failures kept.
 */
const githubJobOptions = Object.freeze({
  attempts: 8,
  backoff: Object.freeze({ type: 'exponential', delay: 15_000 }),
  removeOnComplete: Object.freeze({ age: KEEP_COMPLETED_SECONDS }),
  removeOnFail: 500,
})

/**
 * Options of a backfill job (queueBackfill, and the backfill of a repository auto-registration
 * registered): 10 attempts with exponential backoff from 60 s, the last 100 completed and 500
 * failed kept. The job id is the caller's.
 */
const backfillJobOptions = Object.freeze({
  attempts: 10,
  backoff: Object.freeze({ type: 'exponential', delay: 60_000 }),
  removeOnComplete: 100,
  removeOnFail: 500,
})

/** The data of a github job for a follow-up of ProcessingResult.followUps. */
function followUpJobData(followUp, deliveryId) {
  return {
    kind: followUp.kind,
    repoId: followUp.repoId,
    repository: followUp.repository,
    shas: followUp.shas,
    before: followUp.before ?? null,
    after: followUp.after ?? null,
    forced: followUp.forced ?? null,
    deliveryId: deliveryId ?? null,
    // deploymentChanges: the deployment's GitHub id (the other kinds carry none).
    ...(followUp.deploymentId ? { deploymentId: followUp.deploymentId } : {}),
  }
}

/** Commits per commitStats job: one GraphQL request's worth (GitHub's node limit per connection). */
const COMMITS_PER_STATS_JOB = 100

/**
 * The commitStats jobs (`{ data, opts }` for addBulk) that fetch the line counts of `shas` in
 * `repository`: 100 commits each, sorted, with the data of a follow-up (followUpJobData) and
 * githubJobOptions, ids from their content (`commitStats:<repoId>:<digest>`) so the same
 * commits queued again by any producer (complete-push, backfill) add no second job;
 * `idSuffix` makes them another job (the catch-up's, once a day).
 */
function commitStatsJobs({ repoId, repository, deliveryId = null }, shas, idSuffix = '') {
  const sorted = [...new Set(shas)].sort()
  const jobs = []
  for (let i = 0; i < sorted.length; i += COMMITS_PER_STATS_JOB) {
    const chunk = sorted.slice(i, i + COMMITS_PER_STATS_JOB)
    const digest = createHash('sha256').update(chunk.join(',')).digest('hex').slice(0, 24)
    jobs.push({
      data: followUpJobData({ kind: 'commitStats', repoId, repository, shas: chunk }, deliveryId),
      opts: { ...githubJobOptions, jobId: `commitStats:${repoId}:${digest}${idSuffix}` },
    })
  }
  return jobs
}

module.exports = { githubJobOptions, backfillJobOptions, followUpJobData, commitStatsJobs, COMMITS_PER_STATS_JOB, KEEP_COMPLETED_SECONDS }
