'use strict'
// completePush: the commits a truncated push left out. A push payload lists at most 2048
// commits; a push listing exactly 2048 may hold more, and the rest come from compare
// `before...after` (GET /repos/{owner}/{repo}/compare/{basehead}, paginated by Link headers,
// 100 a page). Each page goes to the addon (completePush), which inserts what the table lacks
// through the push path's own mapping and statement, so a page applied twice inserts nothing.
// The range's commits whose counts are unknown (the listed ones included: process() queues
// no commitStats of its own for a truncated push) follow as commitStats jobs on this queue,
// 100 commits each (one GraphQL request's worth; a page's remainder waits for the next
// page's), with ids derived from their commits, so work done again queues nothing new. The
// next page to fetch and the remainder are saved in the job's data after each page: a job
// resumed after a rate limit, or retried after a failure, starts there and asks for no page
// twice.
//
// The truncation check costs no request of its own when the push was not forced
// (`forced: false`: `before` is an ancestor of `after`). The job's first request is the
// GraphQL request the counts need anyway: up to 100 listed commits' counts plus the history
// counts of `before` and `after`; the range then holds after − before commits. No more than
// the push listed: nothing is missing, compare is never asked, and the other listed
// commits' counts are queued (a complete 2048-commit push: 1 + 20 = 21 requests). More: the
// range is completed from compare. A forced push (or a payload without `forced`, or history
// counts GitHub did not give) goes to compare at once, and stops after its first page when
// that page's `total_commits` shows the push listed the whole range. The check's outcome is
// saved in the job's data (`range`) before anything else, so a resumed job never asks again.
//
// When GitHub no longer has an end of the range (GraphQL answers null for it, or compare 404:
// force-pushed away) the listed commits (`job.data.shas`) stand and only their counts are
// fetched. A push that opened its branch (all-zero `before`) never gets here: it has no range.

const { WebhookProcessingError } = require('../../errors')
const { octokitForRepoId } = require('../repository-target')
const { commitStatsJobs } = require('../job-options')
const { queueMetricJobs, addRetryably, requestCounts, writeCounts, COMMITS_PER_REQUEST } = require('./commit-stats')

/** Commits per compare page (GitHub's maximum). */
const PER_PAGE = 100

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i

/** GitHub answers 404 when an end of the range no longer exists (force-pushed away). */
function rangeGone(err) {
  return Boolean(err) && err.code === 'GITHUB_NOT_FOUND' && err.status === 404
}

/** What the range check's answer says: 'complete', 'truncated', 'unavailable' or 'unknown'. */
function rangeOutcome(answer, listedCount) {
  const data = answer && answer.data
  const range = data && data.range
  const errors = Array.isArray(answer && answer.errors) ? answer.errors : []
  // An error under `range` (GitHub could not count the history): the size is unknown.
  if (!range || errors.some((e) => e && Array.isArray(e.path) && e.path[0] === 'range')) return 'unknown'
  if (range.before === null || range.after === null) return 'unavailable'
  const count = (node) => (node && node.history && Number.isInteger(node.history.totalCount) ? node.history.totalCount : null)
  const before = count(range.before)
  const after = count(range.after)
  if (before === null || after === null) return 'unknown' // not commits
  return after - before <= listedCount ? 'complete' : 'truncated'
}

/**
 * Completes the push's range. Resolves with `{ requests, graphql, pages, inserted, updated,
 * statsJobs, metricJobs, range }`, plus `complete: true` when the push had listed the whole
 * range and `rangeUnavailable: true` when GitHub no longer has an end of it.
 */
async function run(job, { processor, client, metricsQueue, githubQueue }) {
  const { repoId, repository, before, after, deliveryId } = job.data
  const [owner, repo, ...rest] = String(repository).split('/')
  if (!owner || !repo || rest.length) throw new WebhookProcessingError('INVALID_JOB', 'repository must be owner/name')
  if (!SHA.test(String(before)) || !SHA.test(String(after))) throw new WebhookProcessingError('INVALID_JOB', 'before and after must be commit SHAs')
  const listed = Array.isArray(job.data.shas) ? job.data.shas : []
  if (!listed.every((s) => typeof s === 'string' && SHA.test(s))) throw new WebhookProcessingError('INVALID_JOB', 'shas must be an array of commit SHAs')
  const fromPage = Number.isInteger(job.data.fromPage) && job.data.fromPage > 0 ? job.data.fromPage : 1
  let pending = Array.isArray(job.data.pendingStats) ? job.data.pendingStats.filter((s) => typeof s === 'string' && SHA.test(s)) : []
  const done = { requests: 0, graphql: 0, pages: 0, fromPage, inserted: 0, updated: 0, missing: 0, statsJobs: 0, metricJobs: 0, range: job.data.range ?? null }
  const queueStats = async (shas) => {
    const jobs = commitStatsJobs(job.data, shas)
    if (jobs.length > 0) await addRetryably(githubQueue, jobs, 'commitStats jobs')
    done.statsJobs += jobs.length
  }
  const queueListed = async () => queueStats([...new Set([...pending, ...(await processor.commitsLackingStats(repoId, listed))])])
  const octokit = await octokitForRepoId(client, processor, repoId, owner, repo)

  if (done.range === null && job.data.forced === false) {
    // The truncation check, folded into the first batch of counts the push needs anyway. The
    // batch is saved in the job before its counts are written: should queueing their metric
    // jobs fail, the retry asks for the same commits again (known by then) and writing them
    // again re-derives those jobs.
    let batch = Array.isArray(job.data.checkBatch) ? job.data.checkBatch.filter((s) => typeof s === 'string' && SHA.test(s)) : null
    if (batch === null) {
      batch = (await processor.commitsLackingStats(repoId, listed)).slice(0, COMMITS_PER_REQUEST)
      await job.update({ ...job.data, checkBatch: batch })
    }
    done.requests++
    done.graphql++
    const { body, answer } = await requestCounts(octokit, { owner, name: repo }, batch, { before, after })
    if (batch.length > 0) await writeCounts(body, { repoId, deliveryId, processor, metricsQueue }, done)
    done.range = rangeOutcome(answer, listed.length)
    await job.update({ ...job.data, range: done.range })
  }
  if (done.range === 'complete' || done.range === 'unavailable') {
    await queueListed()
    if (done.range === 'complete') done.complete = true
    else done.rangeUnavailable = true
    return done
  }

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
        await queueListed()
        done.complete = true
        return done
      }
      const outcome = await processor.completePush(repoId, JSON.stringify(response.data))
      done.inserted += outcome.inserted
      done.metricJobs += await queueMetricJobs(metricsQueue, outcome.metricJobs, deliveryId)
      // Full requests' worth now; the remainder waits for the next page's commits.
      const need = [...new Set([...pending, ...outcome.shasNeedingStats])]
      const full = need.length - (need.length % COMMITS_PER_REQUEST)
      await queueStats(need.slice(0, full))
      pending = need.slice(full)
      await job.update({ ...job.data, fromPage: page + 1, pendingStats: pending })
    }
    await queueStats(pending)
  } catch (err) {
    if (!rangeGone(err)) throw err
    await queueListed()
    done.rangeUnavailable = true
  }
  return done
}

module.exports = { run, PER_PAGE }
