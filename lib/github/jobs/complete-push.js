'use strict'
// completePush: the commits a truncated push left out. A push payload lists at most 2048
// commits; the rest of the range come from compare `before...after`
// (GET /repos/{owner}/{repo}/compare/{basehead}, paginated by Link headers). Each page goes
// to the addon (completePush), which inserts what the table lacks through the push path's
// own mapping and statement, so a retried job inserts nothing twice. The commits whose
// counts are still unknown (the listed ones included: process() queues no commitStats of
// its own for a truncated push) then follow as commitStats jobs on this queue, one per
// 2048 commits, with ids derived from their content: a retry queues the same jobs again,
// which Bull drops. When GitHub no longer has an end of the range (force-pushed away, 404)
// the listed commits (`job.data.shas`) stand and only their counts are fetched. A push
// that opened its branch (all-zero `before`) never gets here: it has no range.

const { createHash } = require('node:crypto')
const { WebhookProcessingError } = require('../../errors')
const { githubJobOptions } = require('../job-options')
const { queueMetricJobs } = require('./commit-stats')

/** Commits per compare page (GitHub's maximum). */
const PER_PAGE = 100
/** Commits per commitStats job: as many as a push lists, 21 GraphQL requests. */
const SHAS_PER_STATS_JOB = 2048

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i

/** GitHub answers 404 when an end of the range no longer exists (force-pushed away). */
function rangeGone(err) {
  const status = err && (err.status ?? (err.cause && err.cause.status))
  return status === 404
}

/**
 * Completes the push's range, then queues commitStats for what lacks counts. Resolves with
 * `{ requests, pages, inserted, statsJobs, metricJobs }`, and `rangeUnavailable: true`
 * when GitHub no longer has an end of the range.
 */
async function run(job, { processor, client, metricsQueue, githubQueue }) {
  const { repoId, repository, before, after, deliveryId } = job.data
  const [owner, repo, ...rest] = String(repository).split('/')
  if (!owner || !repo || rest.length) throw new WebhookProcessingError('INVALID_JOB', 'repository must be owner/name')
  if (!SHA.test(String(before)) || !SHA.test(String(after))) throw new WebhookProcessingError('INVALID_JOB', 'before and after must be commit SHAs')
  const octokit = await client.forOwner(owner)
  const done = { requests: 0, pages: 0, inserted: 0, statsJobs: 0, metricJobs: 0 }
  const needing = new Set()
  try {
    const pages = octokit.paginate.iterator('GET /repos/{owner}/{repo}/compare/{basehead}', {
      owner,
      repo,
      basehead: `${before}...${after}`,
      per_page: PER_PAGE,
    })
    for await (const page of pages) {
      done.requests++
      done.pages++
      const outcome = await processor.completePush(repoId, JSON.stringify(page.data))
      done.inserted += outcome.inserted
      for (const sha of outcome.shasNeedingStats) needing.add(sha)
      done.metricJobs += await queueMetricJobs(metricsQueue, outcome.metricJobs, deliveryId)
    }
  } catch (err) {
    if (!rangeGone(err)) throw err
    // The listed commits stand; only their counts are left to fetch.
    done.rangeUnavailable = true
    for (const sha of await processor.commitsLackingStats(repoId, job.data.shas ?? [])) needing.add(sha)
  }
  const shas = [...needing].sort()
  const statsJobs = []
  for (let i = 0; i < shas.length; i += SHAS_PER_STATS_JOB) {
    const chunk = shas.slice(i, i + SHAS_PER_STATS_JOB)
    const digest = createHash('sha256').update(chunk.join(',')).digest('hex').slice(0, 24)
    statsJobs.push({
      data: { kind: 'commitStats', repoId, repository, shas: chunk, before: null, after: null, deliveryId: deliveryId ?? null },
      opts: { ...githubJobOptions, jobId: `commitStats:${repoId}:${digest}` },
    })
  }
  if (statsJobs.length > 0) await githubQueue.addBulk(statsJobs)
  done.statsJobs = statsJobs.length
  return done
}

module.exports = { run, PER_PAGE, SHAS_PER_STATS_JOB }
