'use strict'
// Reconcile: GitHub never retries a failed delivery (an endpoint that was down, deploying or
// slower than 10 s loses the event), but it keeps every delivery for 3 days (7 on GitHub
// Enterprise Server) and redelivers one on request, with the same X-GitHub-Delivery. This job
// lists the hook's deliveries (`GET /app/hook/deliveries` as the App, or a repository /
// organization hook's `…/hooks/{id}/deliveries` with a token, `GITHUB_HOOKS`) newest first,
// from the stored cursor or `since` back to at most the window, and asks GitHub to redeliver
// (`POST …/deliveries/{id}/attempts`) every delivery that:
// - is of a tracked event type (push, pull_request, issues, pull_request_review),
// - is for a registered repository (`repository_id` in repositories."githubId") that is still
//   tracked (neither deleted nor removed from tracking: docs/repositories.md),
// - is not processed in `events` (by deliveryId = guid),
// - and did not succeed: grouped by guid, no attempt answered 2xx.
// At most once per delivery per run, at most `maxRedeliveries` per run, not again for a
// delivery GitHub already redelivered `maxAttempts` times, nor for one whose redelivery GitHub
// refused for good (422, 404, 410; it records no attempt for those, so they would take every run's budget). The redelivery arrives through the
// normal endpoint and is processed once (the delivery id is the idempotency key).
// A dry run lists and decides the same, and changes nothing: no POST, no cursor.
// Once per run, when it runs on a github worker (which gives it its queue), it also runs the
// commit-stats catch-up (commit-stats-catch-up.js): commits whose line counts are still unknown
// get commitStats jobs again, at most once a day each (a dry run says how many it would queue).

const { WebhookProcessingError } = require('../../errors')
const { parseSince } = require('../duration')
const state = require('../sync-state')
const { parseHooks } = require('../config')
const { queueUnknownCommitStats } = require('../commit-stats-catch-up')
const { redactCredentials } = require('../../redact')

/** Event types with a processor: only their deliveries can be missing rows. */
const TRACKED_EVENTS = Object.freeze(['push', 'pull_request', 'issues', 'pull_request_review', 'deployment', 'deployment_status', 'workflow_run', 'workflow_job', 'release'])
/** How long GitHub keeps deliveries for redelivery (github.com; 7 days on GHES). */
const DELIVERY_WINDOW_MS = 3 * 86_400_000
const DEFAULTS = Object.freeze({ maxRedeliveries: 100, maxAttempts: 3 })
/** How far behind the run's start the cursor stays, for deliveries still being attempted. */
const LIST_OVERLAP_MS = 5 * 60_000

/** A hook's cursor key and its list / redeliver routes. */
function hookRoutes(hook) {
  if (hook.kind === 'app') {
    return { key: 'app', list: ['GET /app/hook/deliveries', {}], attempt: ['POST /app/hook/deliveries/{delivery_id}/attempts', {}] }
  }
  if (hook.kind === 'repo') {
    const p = { owner: hook.owner, repo: hook.repo, hook_id: hook.hookId }
    return {
      key: `repo:${hook.owner}/${hook.repo}#${hook.hookId}`,
      owner: hook.owner,
      list: ['GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries', p],
      attempt: ['POST /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts', p],
    }
  }
  if (hook.kind === 'org') {
    const p = { org: hook.org, hook_id: hook.hookId }
    return {
      key: `org:${hook.org}#${hook.hookId}`,
      owner: hook.org,
      list: ['GET /orgs/{org}/hooks/{hook_id}/deliveries', p],
      attempt: ['POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts', p],
    }
  }
  throw new WebhookProcessingError('CONFIG_ERROR', 'a hook is { kind: app } or a repo / org hook')
}

/** The hooks to read: the App's, or the configured ones (job, context, else GITHUB_HOOKS). */
function hooksOf(ctx, data) {
  const configured = data.hooks ?? ctx.hooks ?? parseHooks(process.env.GITHUB_HOOKS)
  if (ctx.client.mode === 'app') return [{ kind: 'app' }, ...configured]
  if (configured.length === 0) {
    throw new WebhookProcessingError('CONFIG_ERROR', 'with a token, GITHUB_HOOKS must name the hooks to reconcile (owner/repo#id, org#id)')
  }
  return configured
}

const succeeded = (d) => d.status_code >= 200 && d.status_code < 300

/**
 * Reconciles every hook once. `job.data` (or `job`): `{ dryRun?, since?, maxRedeliveries? =
 * 100, maxAttempts? = 3, windowMs? = 3 days, hooks? }`. `ctx`: `{ client, pool | databaseUrl,
 * hooks?, logger?, now? }`. Resolves `{ dryRun, hooks: [{ hook, from, listed, found,
 * redelivered, stillMissing, olderThanWindow, deliveries: [...] }], totals, statsCatchUp? }`;
 * each `deliveries` row is one missing delivery and what was done about it; `statsCatchUp`
 * (when `ctx.githubQueue` is given, as the github workers do) is what the commit-stats catch-up
 * queued.
 */
async function reconcile(job, ctx) {
  const data = (job && job.data) || job || {}
  if (!ctx || !ctx.client) throw new WebhookProcessingError('CONFIG_ERROR', 'reconcile needs a GitHub client')
  const options = { ...DEFAULTS, windowMs: DELIVERY_WINDOW_MS, ...pick(data, ['maxRedeliveries', 'maxAttempts', 'windowMs']) }
  for (const k of ['maxRedeliveries', 'maxAttempts', 'windowMs']) {
    if (!Number.isInteger(options[k]) || options[k] < 0) throw new WebhookProcessingError('INVALID_JOB', `${k} must be a non-negative integer`)
  }
  const dryRun = data.dryRun === true
  const now = ctx.now ? ctx.now() : Date.now()
  const since = data.since === undefined || data.since === null ? null : parseSince(data.since, now)
  const hooks = hooksOf(ctx, data)
  const db = state.openDatabase(ctx)
  const budget = { left: options.maxRedeliveries }
  const report = { dryRun, hooks: [], totals: { listed: 0, found: 0, redelivered: 0, stillMissing: 0, olderThanWindow: 0 } }
  try {
    for (const hook of hooks) {
      const r = await reconcileHook(hook, { ctx, db, options, dryRun, now, since, budget })
      report.hooks.push(r)
      for (const k of Object.keys(report.totals)) report.totals[k] += r[k]
    }
    if (ctx.githubQueue) report.statsCatchUp = await statsCatchUp(ctx, db, dryRun)
  } finally {
    await db.close()
  }
  ctx.logger?.info?.('reconcile finished', { dryRun, ...report.totals, ...(report.statsCatchUp ? { statsCatchUp: report.statsCatchUp } : {}) })
  return report
}

/**
 * The commit-stats catch-up of a run: `{ commits, jobs, repositories }` queued (or, dry, that
 * would be), or `{ error }` when it could not run: the redeliveries are done, so that is logged
 * and reported rather than failing (and retrying) the whole run; the next run tries again.
 */
async function statsCatchUp(ctx, db, dryRun) {
  try {
    return await queueUnknownCommitStats(ctx.githubQueue, { pool: db.pool, dryRun })
  } catch (err) {
    const error = redactCredentials(String((err && err.message) || err))
    ctx.logger?.warn?.('reconcile: commit-stats catch-up failed', { error })
    return { error }
  }
}

function pick(o, keys) {
  const out = {}
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k]
  return out
}

async function reconcileHook(hook, { ctx, db, options, dryRun, now, since, budget }) {
  const routes = hookRoutes(hook)
  const octokit = hook.kind === 'app' ? ctx.client.asApp() : await ctx.client.forOwner(routes.owner)
  const windowStart = now - options.windowMs
  const cursor = await state.loadReconcileCursor(db.pool, routes.key)
  // `--since` wins; otherwise the cursor; never before the window (GitHub has nothing older).
  const wanted = since ? since.getTime() : cursor && cursor.deliveredThrough ? cursor.deliveredThrough.getTime() : windowStart
  const from = Math.max(wanted, windowStart)
  const result = {
    hook: routes.key,
    from: new Date(from).toISOString(),
    // The cursor was older than the window: deliveries in between can no longer be listed.
    gapBeforeWindow: Boolean(!since && cursor && cursor.deliveredThrough && cursor.deliveredThrough.getTime() < windowStart),
    listed: 0,
    found: 0,
    redelivered: 0,
    stillMissing: 0,
    olderThanWindow: 0,
    deliveries: [],
  }

  // Newest first: stop after the first page that reaches back past `from`.
  const byGuid = new Map()
  let newest = null
  for await (const response of octokit.paginate.iterator(routes.list[0], { ...routes.list[1], per_page: 100 })) {
    let reachedFrom = false
    for (const d of response.data) {
      const at = Date.parse(d.delivered_at)
      if (at < from) {
        reachedFrom = true
        continue
      }
      result.listed += 1
      if (newest === null || at > newest) newest = at
      const group = byGuid.get(d.guid) ?? []
      group.push(d)
      byGuid.set(d.guid, group)
    }
    if (reachedFrom) break
  }

  // Tracked types whose every attempt failed.
  const failed = []
  for (const [guid, attempts] of byGuid) {
    if (!TRACKED_EVENTS.includes(attempts[0].event)) continue
    if (attempts.some(succeeded)) continue
    const repositoryId = attempts.find((a) => a.repository_id != null)?.repository_id
    if (repositoryId == null) continue
    attempts.sort((a, b) => Date.parse(a.delivered_at) - Date.parse(b.delivered_at) || a.id - b.id)
    failed.push({ guid, attempts, repositoryId: String(repositoryId) })
  }
  const registered = new Set()
  const processed = new Set()
  if (failed.length > 0) {
    const ids = [...new Set(failed.map((f) => f.repositoryId))]
    const repos = await db.pool.query('SELECT "githubId"::text AS id FROM repositories WHERE "githubId" = ANY($1::bigint[]) AND "deletedAt" IS NULL AND "trackingStoppedAt" IS NULL', [ids])
    for (const r of repos.rows) registered.add(r.id)
    const guids = failed.map((f) => f.guid)
    const done = await db.pool.query('SELECT "deliveryId" FROM events WHERE processed AND "deliveryId" = ANY($1::text[])', [guids])
    for (const r of done.rows) processed.add(r.deliveryId)
  }
  const missing = failed.filter((f) => registered.has(f.repositoryId) && !processed.has(f.guid))
  missing.sort((a, b) => Date.parse(a.attempts[0].delivered_at) - Date.parse(b.attempts[0].delivered_at))
  result.found = missing.length

  let oldestUnresolved = null
  for (const m of missing) {
    const first = m.attempts[0]
    const latest = m.attempts[m.attempts.length - 1]
    const row = {
      guid: m.guid,
      event: first.event,
      action: first.action ?? null,
      repositoryId: Number(m.repositoryId),
      deliveredAt: first.delivered_at,
      attempts: m.attempts.length,
      lastStatus: latest.status_code,
      outcome: '',
    }
    result.deliveries.push(row)
    const redeliveries = m.attempts.filter((a) => a.redelivery).length
    if (Date.parse(latest.delivered_at) < windowStart) {
      result.olderThanWindow += 1
      row.outcome = 'older than the window'
      continue
    }
    const unresolved = () => {
      const at = Date.parse(first.delivered_at)
      if (oldestUnresolved === null || at < oldestUnresolved) oldestUnresolved = at
    }
    if (redeliveries >= options.maxAttempts) {
      result.stillMissing += 1
      row.outcome = `given up after ${redeliveries} redeliveries`
      continue
    }
    if (budget.left <= 0) {
      result.stillMissing += 1
      row.outcome = 'over this run\'s limit'
      unresolved()
      continue
    }
    if (dryRun) {
      result.stillMissing += 1
      budget.left -= 1
      row.outcome = 'would redeliver'
      continue
    }
    budget.left -= 1
    try {
      await octokit.request(routes.attempt[0], { ...routes.attempt[1], delivery_id: latest.id })
      result.redelivered += 1
      row.outcome = 'redelivered'
      // Checked again next run: a redelivery that fails too is asked for again, up to maxAttempts.
      unresolved()
    } catch (err) {
      if (err && err.code === 'GITHUB_RATE_LIMITED') throw err
      result.stillMissing += 1
      row.outcome = `redelivery refused: ${err && err.code ? err.code : 'error'}${err && err.status ? ` ${err.status}` : ''}`
      // GitHub refused it for good (422, 404, 410, GITHUB_NOT_FOUND: it records no attempt, so
      // maxAttempts never counts it): settled like a delivery given up, so the cursor may pass
      // it and no later run spends its budget on it again. Anything else is asked for again: a
      // 5xx or no answer, and a 401/403 (GITHUB_AUTH: the App or token lacks the webhooks write
      // permission; once fixed, the delivery must still be redelivered) or another 4xx.
      if (!(err && err.code === 'GITHUB_NOT_FOUND')) unresolved()
    }
  }

  if (!dryRun) {
    // Every delivery up to the newest listed is decided, unless one is unresolved (redelivered
    // or refused this run): the next run starts just before the oldest of those, so it checks
    // them again with all their attempts. Nothing listed keeps the cursor.
    // A delivery GitHub is still attempting (up to 10 s, 30 s on GHES) may be listed later
    // with an earlier time than the newest one seen: the cursor never passes `now - overlap`.
    let through = newest === null ? (cursor && cursor.deliveredThrough) || null : new Date(Math.min(newest + 1, now - LIST_OVERLAP_MS))
    if (through && cursor && cursor.deliveredThrough && through < cursor.deliveredThrough && oldestUnresolved === null) through = cursor.deliveredThrough
    if (oldestUnresolved !== null) through = new Date(oldestUnresolved - 1)
    if (through) await state.saveReconcileCursor(db.pool, routes.key, through)
  }
  return result
}

module.exports = reconcile
module.exports.reconcile = reconcile
/** The github worker's job shape (lib/github/worker.js: `JOBS[kind].run(job, context)`). */
module.exports.run = reconcile
module.exports.TRACKED_EVENTS = TRACKED_EVENTS
module.exports.DELIVERY_WINDOW_MS = DELIVERY_WINDOW_MS
