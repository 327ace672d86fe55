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
// - commits: `GET /repos/{o}/{r}/commits?sha=<default branch>&since=…`.
// Pages come from `octokit.paginate.iterator`; after each page is written the cursor in
// `github_backfill_cursors` records it, so a crash, an abort or a rate limit resumes at the
// next page: no page is asked for twice and no row is written twice. Rate limits are the
// client's: a long wait throws GITHUB_RATE_LIMITED with `retryAfterMs`, for the queue (or
// the CLI) to try again later from the cursor.

const { WebhookProcessingError } = require('../../errors')
const { parseSince } = require('../duration')
const state = require('../sync-state')
const { bullShapedQueue } = require('../queue-shape')
const { LOGIN_SOURCE, REPO_NAME_SOURCE } = require('../names')
const { commitStatsJobs } = require('../job-options')
const metricJobs = require('../../metric-jobs')
const { skipReason, octokitFor } = require('../repository-target')

/** The lists a backfill reads, in order. Reviews ride with their pull requests' pages. */
const BACKFILL_KINDS = Object.freeze(['pulls', 'issues', 'commits'])
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

function emptyRecords() {
  return { pullRequests: 0, reviews: 0, issues: 0, commits: 0 }
}

function addRecords(into, r) {
  into.pullRequests += r.pullRequests
  into.reviews += r.reviews
  into.issues += r.issues
  into.commits += r.commits
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
  } finally {
    summary.unmappedUsers = [...unmapped].sort().slice(0, 100)
    await db.close()
  }
  return summary
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
    if (kind === 'pulls') {
      // Sorted by updated_at, newest first: the first older item ends the history asked for.
      const kept = items.filter((pr) => Date.parse(pr.updated_at) >= cutAt.getTime())
      reachedSince = kept.length < items.length
      items = kept
    }
    const r = await apply(kind, items)
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
    result.items += items.length - r.skipped
    return { items, reachedSince }
  }

  if (!result.alreadyImported) {
    const { route, params } = await listOf(kind, octokit, owner, repo, since, perPage)
    // An abort is honoured between pages only: a page fetched is written whole (with its pull
    // requests' reviews) and recorded, so a resume never asks for it again.
    ctx.signal?.throwIfAborted()
    const pages = octokit.paginate.iterator(route, { ...params, page: page + 1 })
    for await (const response of emptyWhenNoBranch(kind, pages)) {
      page += 1
      const { items, reachedSince } = await writePage(Array.isArray(response.data) ? response.data : [], since)
      result.pages += 1
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
  for (let pass = 0; pass < CATCH_UP_PASSES; pass++) {
    ctx.signal?.throwIfAborted()
    const thisPass = new Date()
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
  await state.finishBackfillCursor(db.pool, registered.id, kind)
  result.finished = true
  report({ done: true })
  return result
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
