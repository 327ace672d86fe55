'use strict'
// deploymentChanges: what a successful production deployment shipped. A deployment names one
// commit; what it shipped is what that commit holds and the previous successful production
// deployment of the same repository and environment did not: compare `P.sha...D.sha`
// (GET /repos/{owner}/{repo}/compare/{basehead}, paginated by Link headers, 100 a page,
// oldest first). GitHub answers `behind` when D is older than P: a rollback, which shipped
// nothing and makes P count as failed. The first production deployment of an environment
// has no P and ships nothing we can name.
//
// Deliveries arrive in any order, so P is found when the job runs (processor
// .deploymentChangesStart), not when it was queued, and the rows remember the base they were
// compared against: a different base deletes them and compares again; the same base, once
// complete, costs no request at all (a second run changes nothing). Each page goes to the
// addon (applyDeploymentChanges), which inserts the commits the table lacks exactly as
// completePush does and writes one deployment_changes row per commit, with the pull request
// whose merge commit or head it is. The commits whose line counts are unknown follow as
// commitStats jobs (ids from their content), as completePush queues them. The next page and
// the remainder of counts are saved in the job's data after each page, so a job resumed after
// a rate limit or retried after a failure asks for no page twice. When the job is done, the
// later deployments whose stored base it made stale (D arrived after them) are queued again;
// a job whose own previous deployment changed while it paged is queued again itself, and one
// that finds its deployment already complete names the stale later ones again (the run that
// completed it may have died before queueing them).

const { WebhookProcessingError } = require('../../errors')
const { githubJobOptions } = require('../job-options')
const { queueMetricJobs, addRetryably, COMMITS_PER_REQUEST } = require('./commit-stats')
const { commitStatsJobs } = require('../job-options')
const { octokitForRepoId } = require('../repository-target')

/** Commits per compare page (GitHub's maximum). */
const PER_PAGE = 100

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i
const GITHUB_ID = /^[1-9][0-9]{0,15}$/

/** GitHub answers 404 when an end of the range no longer exists (force-pushed away and collected). */
function rangeGone(err) {
  return Boolean(err) && err.code === 'GITHUB_NOT_FOUND' && err.status === 404
}

/** The github job that computes a deployment's changes again (its base changed). */
function staleJob(data, stale) {
  const deploymentId = String(stale.githubId)
  return {
    data: { kind: 'deploymentChanges', repoId: data.repoId, repository: data.repository, deploymentId, deliveryId: data.deliveryId ?? null },
    opts: { ...githubJobOptions, jobId: `deploymentChanges:${data.repoId}:${deploymentId}:${stale.baseSha ?? 'none'}` },
  }
}

/**
 * Records what the deployment `job.data.deploymentId` (GitHub id) shipped. Resolves with
 * `{ requests, pages, fromPage, changes, inserted, statsJobs, metricJobs, base, status,
 * rollback, restaged }`, plus `complete: true` when nothing was left to do, `first: true`
 * when no production deployment came before, `skipped` (why) when the deployment is not a
 * successful production one (or not stored), `superseded: true` when another run changed
 * its base meanwhile, `rangeUnavailable: true` when GitHub no longer has an end.
 */
async function run(job, { processor, client, metricsQueue, githubQueue }) {
  const { repoId, repository, deliveryId } = job.data
  const [owner, repo, ...rest] = String(repository).split('/')
  if (!owner || !repo || rest.length) throw new WebhookProcessingError('INVALID_JOB', 'repository must be owner/name')
  const deploymentId = String(job.data.deploymentId ?? '')
  if (!GITHUB_ID.test(deploymentId)) throw new WebhookProcessingError('INVALID_JOB', "deploymentId must be a deployment's GitHub id")
  const done = { requests: 0, pages: 0, fromPage: 1, changes: 0, inserted: 0, statsJobs: 0, metricJobs: 0, base: null, status: null, rollback: false, restaged: 0 }

  const start = await processor.deploymentChangesStart(repoId, deploymentId)
  if (!start) return { ...done, skipped: 'no such deployment' }
  if (!start.eligible) return { ...done, skipped: 'not a successful production deployment' }
  done.base = start.baseSha

  const finish = async (rollback) => {
    const finished = await processor.finishDeploymentChanges(repoId, deploymentId, start.baseSha, rollback)
    // Not marked with stale names: this deployment's own previous one changed while it paged
    // (a late success landed); its job runs again against the new base.
    if (finished.stale.length > 0) await addRetryably(githubQueue, finished.stale.map((s) => staleJob(job.data, s)), 'deploymentChanges jobs')
    done.restaged = finished.stale.length
    if (!finished.marked) return { ...done, superseded: true }
    done.rollback = rollback
    return done
  }
  // Complete already: nothing to ask or write, but the later deployments it makes stale are
  // named again (an earlier run may have finished and lost its answer, or died before queueing
  // them); their jobs' ids dedupe.
  if (start.complete) return { ...(await finish(false)), complete: true }
  if (start.baseSha === null) return { ...(await finish(false)), first: true }
  if (!SHA.test(start.baseSha) || !SHA.test(start.sha)) throw new WebhookProcessingError('INVALID_JOB', 'the deployments name no commit SHAs')

  // Resume where a run against the same base stopped.
  const resumes = !start.reset && job.data.baseSha === start.baseSha
  const fromPage = resumes && Number.isInteger(job.data.fromPage) && job.data.fromPage > 0 ? job.data.fromPage : 1
  let pending = resumes && Array.isArray(job.data.pendingStats) ? job.data.pendingStats.filter((s) => typeof s === 'string' && SHA.test(s)) : []
  done.fromPage = fromPage
  done.status = resumes ? (job.data.status ?? null) : null
  const queueStats = async (shas) => {
    const jobs = commitStatsJobs(job.data, shas)
    if (jobs.length > 0) await addRetryably(githubQueue, jobs, 'commitStats jobs')
    done.statsJobs += jobs.length
  }

  // With an App client, the installation stored on the repository's row (as commitStats,
  // completePush and backfill do); by owner when none is stored or the client is a token's.
  const octokit = await octokitForRepoId(client, processor, repoId, owner, repo)
  let page = fromPage - 1
  try {
    const pages = octokit.paginate.iterator('GET /repos/{owner}/{repo}/compare/{basehead}', {
      owner,
      repo,
      basehead: `${start.baseSha}...${start.sha}`,
      per_page: PER_PAGE,
      page: fromPage,
    })
    for await (const response of pages) {
      page++
      done.requests++
      done.pages++
      const outcome = await processor.applyDeploymentChanges(repoId, deploymentId, start.baseSha, JSON.stringify(response.data))
      if (!outcome.current) return { ...done, superseded: true }
      done.status = outcome.status
      done.changes += outcome.changes
      done.inserted += outcome.inserted
      done.metricJobs += await queueMetricJobs(metricsQueue, outcome.metricJobs, deliveryId)
      // Full requests' worth now; the remainder waits for the next page's commits.
      const need = [...new Set([...pending, ...outcome.shasNeedingStats])]
      const full = need.length - (need.length % COMMITS_PER_REQUEST)
      await queueStats(need.slice(0, full))
      pending = need.slice(full)
      await job.update({ ...job.data, baseSha: start.baseSha, fromPage: page + 1, pendingStats: pending, status: done.status })
    }
    await queueStats(pending)
  } catch (err) {
    if (!rangeGone(err)) throw err
    // GitHub no longer has one of the two commits: what was shipped cannot be named.
    done.rangeUnavailable = true
    return finish(false)
  }
  return finish(done.status === 'behind')
}

module.exports = { run, PER_PAGE }
