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
const { skipReason, octokitFor } = require('../repository-target')

/** The lists a backfill reads, in order. Reviews ride with their pull requests' pages. */
const BACKFILL_KINDS = Object.freeze(['pulls', 'issues', 'commits'])
/** Default history: 90 days of `updated_at` (pull requests, issues) or commit dates. */
const DEFAULT_SINCE = '90d'
const PER_PAGE = 100
const METRIC_JOB_OPTIONS = Object.freeze({ removeOnComplete: true, removeOnFail: 500 })

const REPOSITORY = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/

/** `owner/name` split, INVALID_JOB otherwise. */
function parseRepository(fullName) {
  const m = typeof fullName === 'string' ? REPOSITORY.exec(fullName.trim()) : null
  if (!m) throw new WebhookProcessingError('INVALID_JOB', 'repository must be owner/name')
  return { owner: m[1], repo: m[2], fullName: `${m[1]}/${m[2]}` }
}

/** The registered repository by id or full name (case-insensitive); UNKNOWN_REPOSITORY if none. */
const REPOSITORY_COLUMNS = 'id, "githubId", "fullName", "installationId"::text AS "installationId", "deletedAt", "trackingStoppedAt", "suspendedAt"'

async function findRepository(pool, repoId, fullName) {
  const { rows } = repoId
    ? await pool.query(`SELECT ${REPOSITORY_COLUMNS} FROM repositories WHERE id = $1`, [repoId])
    : await pool.query(`SELECT ${REPOSITORY_COLUMNS} FROM repositories WHERE lower("fullName") = lower($1) ORDER BY "createdAt" LIMIT 1`, [fullName])
  if (!rows[0]) {
    throw new WebhookProcessingError('UNKNOWN_REPOSITORY', `${repoId ? `no repository with id ${repoId}` : `${fullName} is not registered`} (npm run register -- ${fullName})`)
  }
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
async function listOf(kind, octokit, owner, repo, since) {
  const base = { owner, repo, per_page: PER_PAGE }
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
 * repoId?, since? = '90d', kinds? = ['pulls', 'issues', 'commits'], restart? }`.
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
    const registered = await findRepository(db.pool, data.repoId, fullName)
    summary.repoId = registered.id
    // A deleted or untracked repository is not asked for; a renamed one under its new name.
    const skipped = skipReason(registered)
    if (skipped) return { ...summary, skipped }
    ;[owner, repo] = registered.fullName.split('/')
    summary.repository = registered.fullName
    const octokit = await octokitFor(ctx.client, registered)

    const queueMetricJobs = async (jobs) => {
      const fresh = jobs.filter((m) => !queuedJobs.has(m.jobId))
      for (const m of fresh) queuedJobs.add(m.jobId)
      summary.metricJobs += fresh.length
      if (!ctx.metricsQueue || fresh.length === 0) return
      await ctx.metricsQueue.addBulk(
        fresh.map((m) => ({ data: { kind: m.kind, id: m.id, date: m.date, source: 'backfill' }, opts: { ...METRIC_JOB_OPTIONS, jobId: m.jobId } })),
      )
    }
    const apply = async (kind, items, pullRequest) => {
      const r = await ctx.processor.applyRestPage(registered.id, kind, items, pullRequest)
      for (const u of r.unmappedUsers) unmapped.add(u)
      await queueMetricJobs(r.metricJobs)
      return r
    }

    for (const kind of kinds) {
      summary.kinds[kind] = await backfillKind(kind, {
        ctx, db, octokit, owner, repo, registered, requestedSince, restart: data.restart === true, apply,
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

async function backfillKind(kind, { ctx, db, octokit, owner, repo, registered, requestedSince, restart, apply }) {
  const result = {
    since: requestedSince.toISOString(),
    pages: 0,
    items: 0,
    skipped: 0,
    records: emptyRecords(),
    resumedFromPage: null,
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
    result.finished = true
    return result
  } else {
    cursor = await state.startBackfillCursor(db.pool, registered.id, kind, requestedSince)
  }
  const since = cursor.since
  result.since = since.toISOString()
  const { route, params } = await listOf(kind, octokit, owner, repo, since)
  let page = cursor.pagesDone
  const report = (extra) => ctx.onProgress && ctx.onProgress({ kind, page, pages: result.pages, items: result.items, records: result.records, ...extra })

  // An abort is honoured between pages only: a page fetched is written whole (with its pull
  // requests' reviews) and recorded, so a resume never asks for it again.
  ctx.signal?.throwIfAborted()
  const pages = octokit.paginate.iterator(route, { ...params, page: page + 1 })
  for await (const response of emptyWhenNoBranch(kind, pages)) {
    page += 1
    let items = Array.isArray(response.data) ? response.data : []
    let reachedSince = false
    if (kind === 'pulls') {
      // Sorted by updated_at, newest first: the first older item ends the history asked for.
      const kept = items.filter((pr) => Date.parse(pr.updated_at) >= since.getTime())
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
    result.pages += 1
    result.items += items.length - r.skipped
    await state.advanceBackfillCursor(db.pool, registered.id, kind, page, items.length, reachedSince)
    report({ done: reachedSince })
    if (reachedSince) break
    // Before the iterator asks for the next page: a page fetched and not written would be
    // asked for again on resume.
    ctx.signal?.throwIfAborted()
  }
  await state.finishBackfillCursor(db.pool, registered.id, kind)
  result.finished = true
  report({ done: true })
  return result
}

/**
 * The commits list carries no line counts: with the `github` queue at hand (the github
 * worker's context), a page's commits get a `commitStats` job, which asks GraphQL for the
 * counts still unknown (one request per 100 commits) and skips the ones already known.
 */
async function queueCommitStats(ctx, repoId, repository, items) {
  const queue = ctx.githubQueue
  if (!queue || items.length === 0) return
  const shas = items.map((c) => c.sha)
  await queue.add(
    { kind: 'commitStats', repoId, repository, shas },
    { jobId: `commitStats:backfill:${repoId}:${shas[0]}`, attempts: 8, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: true, removeOnFail: 500 },
  )
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
