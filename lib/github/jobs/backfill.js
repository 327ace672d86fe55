'use strict'
// Backfill: a repository registered today has no history until new activity arrives, so
// every dashboard would start empty. This job reads the history from GitHub's REST lists
// and writes it through the same convergent upserts as webhooks (`applyRestPage`), so it
// may run while live deliveries arrive, in any order, and end with the rows the webhooks
// alone would have given (docs/recovery.md lists what REST lists leave out).
//
// - pulls: `GET /repos/{o}/{r}/pulls?state=all&sort=updated&direction=desc`, until an item's
//   `updated_at` is older than `since`; each pull request's reviews
//   (`GET …/pulls/{n}/reviews`, all pages) are written before its page counts as done;
// - issues: `GET /repos/{o}/{r}/issues?state=all&since=…` (the list's pull requests are
//   skipped by the addon);
// - commits: `GET /repos/{o}/{r}/commits?sha=<default branch>&since=…`;
// - deployments: `GET /repos/{o}/{r}/deployments` (newest first), until an item's
//   `created_at` is older than `since`; each deployment's statuses
//   (`GET …/deployments/{id}/statuses`, all pages) are written with it, through the same
//   upserts as `deployment_status` deliveries (docs/dora.md);
// - workflow_runs: `GET /repos/{o}/{r}/actions/runs` (newest first), until an item's
//   `created_at` is older than `since` (each run's latest attempt; a re-run's earlier
//   attempts come from webhooks).
// Pages come from `octokit.paginate.iterator`; after each page is written the cursor in
// `github_backfill_cursors` records it, so a crash, an abort or a rate limit resumes at the
// next pages (its last page done read again first, for an item deleted meanwhile). Rate limits are the
// client's: a long wait throws GITHUB_RATE_LIMITED with `retryAfterMs`, for the queue (or
// the CLI) to try again later from the cursor.

const { WebhookProcessingError } = require('../../errors')
const { parseSince } = require('../duration')
const state = require('../sync-state')
const { bullShapedQueue } = require('../queue-shape')
const { LOGIN_SOURCE, REPO_NAME_SOURCE } = require('../names')
const { commitStatsJobs, githubJobOptions } = require('../job-options')
const metricJobs = require('../../metric-jobs')
const { skipReason, octokitFor } = require('../repository-target')

/** The lists a backfill reads, in order. Reviews ride with their pull requests' pages. */
const BACKFILL_KINDS = Object.freeze(['pulls', 'issues', 'commits', 'deployments', 'workflow_runs'])
/** Lists read newest first without a `since` filter of their own: the date that ends them. */
const ENDS_AT = Object.freeze({ pulls: 'updated_at', deployments: 'created_at', workflow_runs: 'created_at' })
/** Default history: 90 days of `updated_at` (pull requests, issues) or commit dates. */
const DEFAULT_SINCE = '90d'
const PER_PAGE = 100
/** Catch-up passes at most (each reads what changed since the one before began). */
const CATCH_UP_PASSES = 3
/** The catch-up reads from a minute before the run started: GitHub's clock and ours may differ a little. */
const CLOCK_MARGIN_MS = 60_000

const REPOSITORY = new RegExp(`^(${LOGIN_SOURCE})/(${REPO_NAME_SOURCE})$`)

/** `owner/name` split, INVALID_JOB otherwise. */
function parseRepository(fullName) {
  const m = typeof fullName === 'string' ? REPOSITORY.exec(fullName.trim()) : null
  if (!m) throw new WebhookProcessingError('INVALID_JOB', 'repository must be owner/name')
  return { owner: m[1], repo: m[2], fullName: `${m[1]}/${m[2]}` }
}

/** What the backfill reads of a repository's row: where to ask and whether to (docs/repositories.md). */
const REPOSITORY_COLUMNS = 'id, "githubId"::text AS "githubId", "fullName", "installationId"::text AS "installationId", "deletedAt", "trackingStoppedAt", "suspendedAt"'

/**
 * The registered repository: by DevMetrics id, or by full name matched on the GitHub id
 * GitHub reports for that name (a repository deleted and created again under its name leaves
 * an old row with that name and another GitHub id; a renamed one a row under its old name).
 * A name no row carries is refused before any request. UNKNOWN_REPOSITORY if none matches.
 */
async function findRepository(pool, repoId, fullName, githubIdOfName) {
  const unknown = (why) => new WebhookProcessingError('UNKNOWN_REPOSITORY', `${why} (npm run register -- ${fullName})`)
  if (repoId) {
    const { rows } = await pool.query(`SELECT ${REPOSITORY_COLUMNS} FROM repositories WHERE id = $1`, [repoId])
    if (!rows[0]) throw unknown(`no repository with id ${repoId}`)
    return rows[0]
  }
  const named = await pool.query('SELECT count(*)::int AS n FROM repositories WHERE lower("fullName") = lower($1)', [fullName])
  if (named.rows[0].n === 0) throw unknown(`${fullName} is not registered`)
  const githubId = await githubIdOfName()
  const { rows } = await pool.query(`SELECT ${REPOSITORY_COLUMNS} FROM repositories WHERE "githubId" = $1::bigint`, [String(githubId)])
  if (!rows[0]) throw unknown(`${fullName} is GitHub repository ${githubId} now, which is not registered`)
  return rows[0]
}

const RECORD_KEYS = Object.freeze(['pullRequests', 'reviews', 'issues', 'commits', 'deployments', 'deploymentStatuses', 'workflowRuns'])

function emptyRecords() {
  return Object.fromEntries(RECORD_KEYS.map((k) => [k, 0]))
}

function addRecords(into, r) {
  for (const k of RECORD_KEYS) into[k] += r[k] ?? 0
}

/** The request of a kind's list. */
async function listOf(kind, octokit, owner, repo, since, perPage = PER_PAGE) {
  const base = { owner, repo, per_page: perPage }
  switch (kind) {
    case 'pulls':
      return { route: 'GET /repos/{owner}/{repo}/pulls', params: { ...base, state: 'all', sort: 'updated', direction: 'desc' } }
    case 'issues':
      return { route: 'GET /repos/{owner}/{repo}/issues', params: { ...base, state: 'all', sort: 'updated', direction: 'desc', since: since.toISOString() } }
    case 'commits': {
      const { data } = await octokit.request('GET /repos/{owner}/{repo}', { owner, repo })
      return { route: 'GET /repos/{owner}/{repo}/commits', params: { ...base, sha: data.default_branch, since: since.toISOString() } }
    }
    case 'deployments':
      return { route: 'GET /repos/{owner}/{repo}/deployments', params: base }
    case 'workflow_runs':
      // Not `created=>=…`: GitHub's OpenAPI types the parameter as a date-time, which the range
      // syntax is not; the list is newest first, so the first older run ends it instead.
      return { route: 'GET /repos/{owner}/{repo}/actions/runs', params: base }
    default:
      throw new WebhookProcessingError('INVALID_JOB', `kinds must be among ${BACKFILL_KINDS.join(', ')}`)
  }
}

/**
 * Backfills one repository. `job.data` (or `job` itself): `{ repository: 'owner/name',
 * repoId?, since? = '90d', kinds? = ['pulls', 'issues', 'commits'], restart?, perPage? = 100 }`
 * (`perPage`: items per list page, GitHub's maximum by default).
 * `ctx`: `{ client, processor, pool | databaseUrl, metricsQueue?, logger?, signal?, onProgress? }`.
 * Resolves the summary: per kind pages, items, skipped, records, whether it resumed or
 * had already been imported; totals; metric jobs queued.
 */
async function backfill(job, ctx) {
  const data = (job && job.data) || job || {}
  let { owner, repo, fullName } = parseRepository(data.repository)
  if (!ctx || !ctx.client || !ctx.processor) {
    throw new WebhookProcessingError('CONFIG_ERROR', 'backfill needs a GitHub client and a processor')
  }
  // Bull or BullMQ queues alike: the adds below are written in Bull's shape.
  ctx = { ...ctx, metricsQueue: bullShapedQueue(ctx.metricsQueue), githubQueue: bullShapedQueue(ctx.githubQueue) }
  const kinds = data.kinds ?? BACKFILL_KINDS
  if (!Array.isArray(kinds) || kinds.some((k) => !BACKFILL_KINDS.includes(k))) {
    throw new WebhookProcessingError('INVALID_JOB', `kinds must be among ${BACKFILL_KINDS.join(', ')}`)
  }
  const requestedSince = parseSince(data.since ?? DEFAULT_SINCE)
  const perPage = data.perPage ?? PER_PAGE
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > PER_PAGE) throw new WebhookProcessingError('INVALID_JOB', `perPage must be an integer from 1 to ${PER_PAGE}`)
  const db = state.openDatabase(ctx)
  const queuedJobs = new Set()
  const unmapped = new Set()
  const summary = {
    repository: fullName,
    repoId: null,
    kinds: {},
    records: emptyRecords(),
    items: 0,
    pages: 0,
    metricJobs: 0,
    unmappedUsers: [],
  }
  try {
    let client = null
    const api = async () => (client ??= await ctx.client.forOwner(owner, repo))
    const registered = await findRepository(db.pool, data.repoId, fullName, async () => {
      const { data: found } = await (await api()).request('GET /repos/{owner}/{repo}', { owner, repo })
      return found.id
    })
    summary.repoId = registered.id
    // A deleted or untracked repository is not asked for; a renamed one under its new name,
    // with the installation stored on its row.
    const skipped = skipReason(registered)
    if (skipped) return { ...summary, skipped }
    ;[owner, repo] = registered.fullName.split('/')
    summary.repository = registered.fullName
    const octokit = await octokitFor(ctx.client, registered)

    // Every page's triggers are queued (a job of an earlier page may have started before this
    // page's writes); the summary counts distinct jobs.
    const queueMetricJobs = async (jobs) => {
      for (const m of jobs) queuedJobs.add(m.jobId)
      summary.metricJobs = queuedJobs.size
      await metricJobs.queueMetricJobs(ctx.metricsQueue, jobs, { source: 'backfill' })
    }
    const apply = async (kind, items, pullRequest) => {
      const r = await ctx.processor.applyRestPage(registered.id, kind, items, pullRequest)
      for (const u of r.unmappedUsers) unmapped.add(u)
      await queueMetricJobs(r.metricJobs)
      return r
    }

    for (const kind of kinds) {
      summary.kinds[kind] = await backfillKind(kind, {
        ctx, db, octokit, owner, repo, registered, requestedSince, restart: data.restart === true, apply, perPage,
      })
      const k = summary.kinds[kind]
      addRecords(summary.records, k.records)
      summary.items += k.items
      summary.pages += k.pages
    }
    summary.deploymentChangesJobs = await queueDeploymentChanges(ctx, registered.id, fullName)
  } finally {
    summary.unmappedUsers = [...unmapped].sort().slice(0, 100)
    await db.close()
  }
  return summary
}

/**
 * The items of one list page as `octokit.request` answers it: an array, or the runs list's
 * wrapper (`{ total_count, workflow_runs }`), which only octokit's paginator unwraps.
 */
function itemsOf(data) {
  if (Array.isArray(data)) return data
  return Array.isArray(data?.workflow_runs) ? data.workflow_runs : []
}

async function backfillKind(kind, { ctx, db, octokit, owner, repo, registered, requestedSince, restart, apply, perPage }) {
  const result = {
    since: requestedSince.toISOString(),
    pages: 0,
    items: 0,
    skipped: 0,
    records: emptyRecords(),
    resumedFromPage: null,
    /** Items read again by the catch-up pass (changed after the run started). */
    caughtUp: 0,
    alreadyImported: false,
    finished: false,
  }
  let cursor = await state.loadBackfillCursor(db.pool, registered.id, kind)
  if (cursor && !restart && !cursor.finishedAt) {
    // A backfill of this kind was cut short: go on with it, with its own `since`.
    result.resumedFromPage = cursor.pagesDone + 1
  } else if (cursor && !restart && cursor.finishedAt && cursor.since <= requestedSince) {
    result.since = cursor.since.toISOString()
    result.alreadyImported = true
  } else {
    cursor = await state.startBackfillCursor(db.pool, registered.id, kind, requestedSince)
  }
  const since = cursor.since
  result.since = since.toISOString()
  let page = cursor.pagesDone
  const report = (extra) => ctx.onProgress && ctx.onProgress({ kind, page, pages: result.pages, items: result.items, records: result.records, ...extra })

  // Writes one page of the list (pull requests with all their reviews); returns the items kept.
  const writePage = async (items, cutAt) => {
    let reachedSince = false
    const endsAt = ENDS_AT[kind]
    if (endsAt) {
      // Sorted newest first: the first older item ends the history asked for.
      const kept = items.filter((item) => Date.parse(item[endsAt]) >= cutAt.getTime())
      reachedSince = kept.length < items.length
      items = kept
    }
    // The runs list wraps its items (`{ total_count, workflow_runs }`); octokit's paginator
    // unwraps them, the addon reads the list's own shape.
    const r = await apply(kind, kind === 'workflow_runs' ? { total_count: items.length, workflow_runs: items } : items)
    if (kind === 'commits') await queueCommitStats(ctx, registered.id, `${owner}/${repo}`, items)
    addRecords(result.records, r.records)
    result.skipped += r.skipped
    if (kind === 'pulls') {
      for (const pr of items) {
        for await (const reviews of octokit.paginate.iterator('GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews', {
          owner, repo, pull_number: pr.number, per_page: PER_PAGE,
        })) {
          const rr = await apply('reviews', reviews.data, pr)
          addRecords(result.records, rr.records)
          result.skipped += rr.skipped
        }
      }
    }
    if (kind === 'deployments') {
      for (const deployment of items) {
        for await (const statuses of octokit.paginate.iterator('GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
          owner, repo, deployment_id: deployment.id, per_page: PER_PAGE,
        })) {
          const rs = await apply('deployment_statuses', statuses.data, deployment)
          addRecords(result.records, rs.records)
        }
      }
    }
    result.items += items.length - r.skipped
    return { items, reachedSince }
  }

  if (!result.alreadyImported) {
    const { route, params } = await listOf(kind, octokit, owner, repo, since, perPage)
    // Whether the list moved up under page `p` (whose items' keys are `keys`): its last
    // position now holds an item it did not have (or nothing).
    const movedUp = async (p, keys) => {
      const { data: at } = await octokit.request(route, { ...params, per_page: 1, page: p * perPage })
      const item = itemsOf(at)[0]
      return item === undefined || !keys.has(keyOf(kind, item))
    }
    // An abort is honoured between pages only: a page fetched is written whole (with its pull
    // requests' reviews) and recorded, so a resume never asks for it again.
    ctx.signal?.throwIfAborted()
    // Read by page number, a list moves up under the reader when an item of a page already read
    // is deleted or transferred (or a commit dropped by a force push): the first item of the
    // next page moves onto the page read, unchanged, so no catch-up reads it. So a resumed list
    // first reads its last page done again (the pause is the long window), and after each page
    // the last position of the page before is looked at (one item, `per_page=1`): an item there
    // that page did not have means the list moved up, and that page is read again.
    if (page >= 1) page -= 1
    let previous = null
    const pages = octokit.paginate.iterator(route, { ...params, page: page + 1 })
    for await (const response of emptyWhenNoBranch(kind, pages)) {
      page += 1
      const raw = Array.isArray(response.data) ? response.data : []
      const { items, reachedSince } = await writePage(raw, since)
      result.pages += 1
      if (previous && (await movedUp(page - 1, previous))) {
        const { data: again } = await octokit.request(route, { ...params, page: page - 1 })
        await writePage(itemsOf(again), since)
        result.pages += 1
      }
      previous = raw.length === perPage ? new Set(raw.map((item) => keyOf(kind, item))) : null
      await state.advanceBackfillCursor(db.pool, registered.id, kind, page, items.length, false)
      report({ done: false })
      if (reachedSince) break
      // Before the iterator asks for the next page: a page fetched and not written would be
      // asked for again on resume.
      ctx.signal?.throwIfAborted()
    }

  }

  // The catch-up: the list is sorted by updated_at (commits by date), newest first, and read by
  // page number, so an item that changed after the run started (while it was paused, or while
  // it read) moved to a page already read, and the pages after shifted under it. Read again
  // what changed since the run started; then since this pass started, while a pass finds
  // changes made after it began (at most CATCH_UP_PASSES). Only then is the kind finished: a
  // run cut short in its catch-up resumes into it. Comments and other changes that fire no
  // tracked webhook are caught this way. A kind already imported is not read again; its
  // catch-up reads what changed since it finished (a run resumed after one of its kinds
  // finished then ends as an uninterrupted run would).
  let passStart = (result.alreadyImported ? cursor.finishedAt : cursor.runStartedAt) ?? new Date(0)
  // The list is finished as of when its last pass began, not when it ended: a change made
  // during that pass may have moved onto a page it had read, and the next run's catch-up must
  // reach back to it however long the pass took (its reviews, rate limits).
  let lastPass = null
  for (let pass = 0; pass < CATCH_UP_PASSES; pass++) {
    ctx.signal?.throwIfAborted()
    const thisPass = new Date()
    lastPass = thisPass
    const from = new Date(Math.max(since.getTime(), passStart.getTime() - CLOCK_MARGIN_MS))
    const again = await listOf(kind, octokit, owner, repo, from, perPage)
    let changedSince = false
    for await (const response of emptyWhenNoBranch(kind, octokit.paginate.iterator(again.route, again.params))) {
      const { items, reachedSince } = await writePage(Array.isArray(response.data) ? response.data : [], from)
      result.caughtUp += items.length
      if (items.some((item) => Date.parse(updatedAtOf(kind, item)) >= passStart.getTime())) changedSince = true
      if (reachedSince) break
    }
    if (!changedSince) break
    passStart = thisPass
  }
  await state.finishBackfillCursor(db.pool, registered.id, kind, lastPass)
  result.finished = true
  report({ done: true })
  return result
}

/** What identifies an item of a kind's list. */
function keyOf(kind, item) {
  return kind === 'commits' ? item && item.sha : item && item.id
}

/** When an item of a kind's list last changed, as GitHub sorts the list (ISO text). */
function updatedAtOf(kind, item) {
  if (kind === 'commits') return item && item.commit && item.commit.committer ? item.commit.committer.date : ''
  return item && item.updated_at
}

/**
 * The commits list carries no line counts: with the `github` queue at hand (the github
 * worker's context), a page's commits get `commitStats` jobs, the same jobs (data, options,
 * ids) as complete-push queues, which ask GraphQL for the counts still unknown (one request
 * per 100 commits) and skip the ones already known.
 */
async function queueCommitStats(ctx, repoId, repository, items) {
  const queue = ctx.githubQueue
  if (!queue || items.length === 0) return
  await queue.addBulk(commitStatsJobs({ repoId, repository }, items.map((c) => c.sha)))
}

/**
 * What each backfilled production deployment shipped (docs/dora.md): with the `github` queue
 * at hand, a `deploymentChanges` job for every successful production deployment of the
 * repository whose changes are not recorded, under the id the deployment_status follow-up
 * uses, so a deployment is compared once whichever path queued it first.
 */
async function queueDeploymentChanges(ctx, repoId, repository) {
  const queue = ctx.githubQueue
  if (!queue) return 0
  const ids = await ctx.processor.deploymentsLackingChanges(repoId)
  if (ids.length === 0) return 0
  const jobs = ids.map((id) => ({
    data: { kind: 'deploymentChanges', repoId, repository, deploymentId: String(id), deliveryId: null },
    opts: { ...githubJobOptions, jobId: `deploymentChanges:${repoId}:${id}` },
  }))
  // Bull and BullMQ ignore an add under an id they still hold, and a job that ended without
  // recording the changes keeps its id (failed after its last attempt, kept among the last 500;
  // completed superseded or skipped, kept 7 days): that one is removed so the add runs again.
  // A job waiting, delayed or running under the id is left to do the work.
  for (const { opts } of typeof queue.getJob === 'function' ? jobs : []) {
    const ended = await queue.getJob(opts.jobId)
    if (ended && ['completed', 'failed'].includes(await ended.getState())) await ended.remove()
  }
  await queue.addBulk(jobs)
  return ids.length
}

/**
 * The pages of a list; for commits, a default branch without commits (a repository created
 * empty answers 404 for its branch; an empty repository 409, which octokit's paginator already
 * turns into no page) is a list without pages.
 */
async function* emptyWhenNoBranch(kind, pages) {
  try {
    yield* pages
  } catch (err) {
    if (kind === 'commits' && err && err.code === 'GITHUB_NOT_FOUND') return
    throw err
  }
}

module.exports = backfill
module.exports.backfill = backfill
/** The github worker's job shape (lib/github/worker.js: `JOBS[kind].run(job, context)`). */
module.exports.run = backfill
module.exports.BACKFILL_KINDS = BACKFILL_KINDS
module.exports.DEFAULT_SINCE = DEFAULT_SINCE
module.exports.parseRepository = parseRepository
