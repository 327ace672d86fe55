'use strict'
// completePush: the commits a truncated push left out. A push payload lists at most 2048
// commits; the rest of the range come from compare `before...after`
// (GET /repos/{owner}/{repo}/compare/{basehead}, paginated by Link headers, 100 a page).
// Each page goes to the addon (completePush), which inserts what the table lacks through the
// push path's own mapping and statement, so a page applied twice inserts nothing. The page's
// commits whose counts are unknown (the listed ones included: process() queues no commitStats
// of its own for a truncated push) follow at once as a commitStats job on this queue, one
// GraphQL request's worth, with an id derived from its commits, so a page done again queues
// nothing new. The next page to fetch is saved in the job's data after each page: a job
// resumed after a rate limit, or retried after a failure, starts there and asks for no page
// twice.
//
// When the first page shows the range holds no more commits than the push listed (exactly
// 2048: GitHub's cap, not a truncation), nothing is missing: the listed commits' counts are
// queued and no other page is fetched. When GitHub no longer has an end of the range (404,
// force-pushed away) the listed commits (`job.data.shas`) stand and only their counts are
// fetched. A push that opened its branch (all-zero `before`) never gets here: it has no range.

const { createHash } = require('node:crypto')
const { WebhookProcessingError } = require('../../errors')
const { githubJobOptions } = require('../job-options')
const { queueMetricJobs, addRetryably, COMMITS_PER_REQUEST } = require('./commit-stats')

/** Commits per compare page (GitHub's maximum). */
const PER_PAGE = 100

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i

/** GitHub answers 404 when an end of the range no longer exists (force-pushed away). */
function rangeGone(err) {
  return Boolean(err) && err.code === 'GITHUB_NOT_FOUND' && err.status === 404
}

/** commitStats jobs for `shas`, one GraphQL request's worth each, ids from their content. */
function statsJobs(job, shas) {
  const { repoId, repository, deliveryId } = job.data
  const sorted = [...shas].sort()
  const jobs = []
  for (let i = 0; i < sorted.length; i += COMMITS_PER_REQUEST) {
    const chunk = sorted.slice(i, i + COMMITS_PER_REQUEST)
    const digest = createHash('sha256').update(chunk.join(',')).digest('hex').slice(0, 24)
    jobs.push({
      data: { kind: 'commitStats', repoId, repository, shas: chunk, before: null, after: null, deliveryId: deliveryId ?? null },
      opts: { ...githubJobOptions, jobId: `commitStats:${repoId}:${digest}` },
    })
  }
  return jobs
}

/**
 * Completes the push's range page by page. Resolves with `{ requests, pages, inserted,
 * statsJobs, metricJobs }`, plus `complete: true` when the push had listed the whole range and
 * `rangeUnavailable: true` when GitHub no longer has an end of it.
 */
async function run(job, { processor, client, metricsQueue, githubQueue }) {
  const { repoId, repository, before, after, deliveryId } = job.data
  const [owner, repo, ...rest] = String(repository).split('/')
  if (!owner || !repo || rest.length) throw new WebhookProcessingError('INVALID_JOB', 'repository must be owner/name')
  if (!SHA.test(String(before)) || !SHA.test(String(after))) throw new WebhookProcessingError('INVALID_JOB', 'before and after must be commit SHAs')
  const listed = Array.isArray(job.data.shas) ? job.data.shas : []
  const fromPage = Number.isInteger(job.data.fromPage) && job.data.fromPage > 0 ? job.data.fromPage : 1
  const done = { requests: 0, pages: 0, fromPage, inserted: 0, statsJobs: 0, metricJobs: 0 }
  const queueStats = async (shas) => {
    const jobs = statsJobs(job, shas)
    if (jobs.length > 0) await addRetryably(githubQueue, jobs, 'commitStats jobs')
    done.statsJobs += jobs.length
  }
  const octokit = await client.forOwner(owner, repo)
  let page = fromPage - 1
  try {
    const pages = octokit.paginate.iterator('GET /repos/{owner}/{repo}/compare/{basehead}', {
      owner,
      repo,
      basehead: `${before}...${after}`,
      per_page: PER_PAGE,
      page: fromPage,
    })
    for await (const response of pages) {
      page++
      done.requests++
      done.pages++
      const total = response.data && response.data.total_commits
      if (page === 1 && Number.isInteger(total) && total <= listed.length) {
        await queueStats(await processor.commitsLackingStats(repoId, listed))
        done.complete = true
        return done
      }
      const outcome = await processor.completePush(repoId, JSON.stringify(response.data))
      done.inserted += outcome.inserted
      done.metricJobs += await queueMetricJobs(metricsQueue, outcome.metricJobs, deliveryId)
      await queueStats(outcome.shasNeedingStats)
      await job.update({ ...job.data, fromPage: page + 1 })
    }
  } catch (err) {
    if (!rangeGone(err)) throw err
    await queueStats(await processor.commitsLackingStats(repoId, listed))
    done.rangeUnavailable = true
  }
  return done
}

module.exports = { run, PER_PAGE }
