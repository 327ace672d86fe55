// Backfill (issue 16) against the contract server: a repository's pull requests with their
// reviews, its issues (not the pull requests the issues list includes), its default-branch
// commits, and (issue 23) its deployments with their statuses and workflow runs since a date, written through the upserts; a backfill stopped halfway (an abort
// after a page, a page that fails) resumes without repeated pages or duplicate rows; a
// finished backfill is not read again.
import Bull from 'bull'
import { runBackfill, githubJobOptions } from '../lib'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'
import { insertRepository } from './helpers/db'
import { recoveryEnv, RecoveryEnv, requestsTo } from './recovery/github-env'

// The follow-up job data (plain JS, no types).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { followUpJobData } = require('../lib/github/job-options')

const REPO_ID = 62_000_001
const SINCE = '2026-06-01T00:00:00Z'
const DAY = 86_400_000
const base = Date.parse('2026-11-01T00:00:00Z')
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')

let env: RecoveryEnv
let repoId: string
/** What the world holds since SINCE. */
const expected = { pulls: 0, reviews: 0, pendingReviews: 0, issues: 0, commits: 0, deployments: 0, statuses: 0, runs: 0 }

beforeAll(async () => {
  env = await recoveryEnv()
  repoId = await insertRepository(env.db.pool, REPO_ID, { fullName: 'acme/widgets' })
  const w = env.server.world
  const repo = w.addRepository({ owner: 'acme', name: 'widgets', id: REPO_ID })
  // 330 pull requests, updated one every 12 hours back from November: 307 since June (4 pages).
  for (let i = 0; i < 330; i++) {
    const updated = base - (i * DAY) / 2
    const merged = i % 3 === 0
    repo.pulls.push({
      id: 9_000_000 + i,
      number: i + 1,
      title: `Change ${i + 1}`,
      state: i % 5 === 0 ? 'open' : 'closed',
      draft: false,
      user: { login: i % 2 ? 'mona' : 'hubot' },
      created_at: iso(updated - 2 * DAY),
      updated_at: iso(updated),
      closed_at: i % 5 === 0 ? null : iso(updated),
      merged_at: i % 5 !== 0 && merged ? iso(updated) : null,
    })
    const reviews = [
      { id: 8_000_000 + i * 3, state: 'APPROVED', submitted_at: iso(updated - DAY), user: w.account('octo') },
      { id: 8_000_001 + i * 3, state: 'COMMENTED', submitted_at: iso(updated - DAY / 2), user: w.account('hubot') },
    ]
    if (i % 10 === 0) reviews.push({ id: 8_000_002 + i * 3, state: 'PENDING', submitted_at: undefined as never, user: w.account('octo') })
    repo.reviews.set(i + 1, reviews.map((r) => ({ ...r, commit_id: 'f'.repeat(40) })))
    if (updated >= Date.parse(SINCE)) {
      expected.pulls += 1
      expected.reviews += 2
      if (i % 10 === 0) expected.pendingReviews += 1
    }
  }
  // 140 issues updated since June, 30 of them pull requests as the issues list shows them.
  for (let i = 0; i < 140; i++) {
    const isPull = i % 14 === 0 || i % 14 === 7 || i % 14 === 11
    repo.issues.push({
      id: 7_000_000 + i,
      number: 1000 + i,
      title: `Issue ${i}`,
      state: i % 2 ? 'closed' : 'open',
      state_reason: i % 2 ? 'completed' : null,
      user: { login: 'mona' },
      created_at: iso(base - i * DAY / 2 - DAY),
      updated_at: iso(base - i * DAY / 2),
      closed_at: i % 2 ? iso(base - i * DAY / 2) : null,
      ...(isPull ? { pull_request: { url: `https://api.github.test/repos/acme/widgets/pulls/${1000 + i}` } } : {}),
    })
    if (!isPull) expected.issues += 1
  }
  // 180 commits on main, one every 2 days back from November: 90 since June... and one branch.
  let parent: string | undefined
  for (let k = 179; k >= 0; k--) {
    const date = iso(base - k * 2 * DAY)
    const sha = (k + 1).toString(16).padStart(40, 'c')
    w.addCommit(repo, { sha, parents: parent ? [parent] : [], message: `commit ${k}`, author: { name: 'Mona', email: 'mona@acme.example', date, login: 'mona', id: w.account('mona').id } }, 'main')
    parent = sha
    if (Date.parse(date) >= Date.parse(SINCE)) expected.commits += 1
  }
  w.addCommit(repo, { sha: 'e'.repeat(40), parents: [parent!], message: 'on a branch', author: { name: 'X', email: 'x@acme.example', date: iso(base) } }, 'feature')
  // 40 deployments, one every 5 days back from November (31 since June), each with two
  // statuses: in progress, then success (failure for every 7th).
  for (let k = 0; k < 40; k++) {
    const created = base - k * 5 * DAY
    const id = 5_000_000 + k
    repo.deployments.push({
      id,
      sha: (k + 1).toString(16).padStart(40, 'c'),
      ref: 'main',
      task: 'deploy',
      environment: k % 2 ? 'production' : 'staging',
      original_environment: k % 2 ? 'production' : 'staging',
      production_environment: k % 4 === 1 ? true : undefined,
      created_at: iso(created),
      updated_at: iso(created + 300_000),
      creator: { login: 'mona' },
    })
    repo.deploymentStatuses.set(id, [
      { id: id * 10, state: 'in_progress', environment: k % 2 ? 'production' : 'staging', created_at: iso(created + 60_000), updated_at: iso(created + 60_000) },
      { id: id * 10 + 1, state: k % 7 ? 'success' : 'failure', environment: k % 2 ? 'production' : 'staging', created_at: iso(created + 300_000), updated_at: iso(created + 300_000) },
    ])
    if (created >= Date.parse(SINCE)) {
      expected.deployments += 1
      expected.statuses += 2
    }
  }
  // 250 workflow runs, one a day back from November (154 since June; two pages and a bit).
  for (let k = 0; k < 250; k++) {
    const created = base - k * DAY
    repo.workflowRuns.push({
      id: 4_000_000 + k,
      run_attempt: k % 9 === 0 ? 2 : 1,
      workflow_id: 77,
      name: 'CI',
      path: '.github/workflows/ci.yml',
      event: 'push',
      head_sha: (k + 1).toString(16).padStart(40, 'c'),
      head_branch: 'main',
      status: 'completed',
      conclusion: k % 5 ? 'success' : 'failure',
      run_number: 1000 - k,
      created_at: iso(created),
      run_started_at: iso(created),
      updated_at: iso(created + 600_000),
      pull_requests: [],
    })
    if (created >= Date.parse(SINCE)) expected.runs += 1
  }
})

afterAll(async () => {
  await env.close()
})

async function counts() {
  const q = async (sql: string) => (await env.db.pool.query(sql)).rows[0].n as number
  return {
    pulls: await q('SELECT count(*)::int AS n FROM pull_requests'),
    reviews: await q('SELECT count(*)::int AS n FROM pull_request_reviews'),
    issues: await q('SELECT count(*)::int AS n FROM issues'),
    commits: await q('SELECT count(*)::int AS n FROM commits'),
    deployments: await q('SELECT count(*)::int AS n FROM deployments'),
    statuses: await q('SELECT count(*)::int AS n FROM deployment_statuses'),
    runs: await q('SELECT count(*)::int AS n FROM workflow_runs'),
    events: await q('SELECT count(*)::int AS n FROM events'),
  }
}

/** Each list page requested, as `path?page=N`. */
function pagesRequested(path: RegExp): string[] {
  return requestsTo(env.server, 'GET', path).map((r) => `${r.path}?page=${r.query.page ?? '1'}`)
}

const ctx = (extra: Record<string, unknown> = {}) => ({ client: env.client, processor: env.processor, pool: env.db.pool, ...extra })

test('stopped after the second page of pull requests, then resumed: the last page done read again, every row once', async () => {
  const controller = new AbortController()
  const stopped = runBackfill(
    { data: { repository: 'acme/widgets', since: SINCE } },
    ctx({
      signal: controller.signal,
      onProgress: (p: { kind: string; page: number }) => {
        if (p.kind === 'pulls' && p.page === 2) controller.abort()
      },
    }),
  )
  await expect(stopped).rejects.toMatchObject({ name: 'AbortError' })

  const cursor = await env.db.pool.query('SELECT kind, "pagesDone", "finishedAt" FROM github_backfill_cursors')
  expect(cursor.rows).toEqual([{ kind: 'pulls', pagesDone: 2, finishedAt: null }])
  const halfway = await counts()
  expect(halfway.pulls).toBe(200)

  const summary = await runBackfill({ data: { repository: 'acme/widgets', since: SINCE } }, ctx())
  // The cut-short list went on from page 3.
  expect(summary.kinds.pulls).toMatchObject({ resumedFromPage: 3, since: '2026-06-01T00:00:00.000Z', finished: true })
  expect(summary.kinds.issues).toMatchObject({ skipped: 30, finished: true })
  // Each page once, but the last page done read again on resume (an item deleted during the
  // pause moves the list up) and, after each page, the last item of the page before (per_page=1,
  // page 100·n); then the catch-up's first page (what changed since the run started: nothing).
  const pullPages = requestsTo(env.server, 'GET', /^\/repos\/acme\/widgets\/pulls$/).map((r) => `${r.query.page ?? '1'}/${r.query.per_page}`)
  expect(pullPages).toEqual(['1/100', '2/100', '100/1', '2/100', '3/100', '200/1', '4/100', '300/1', '1/100'])
  expect(expected.pulls).toBe(307)
  // Reviews: one request per pull request imported; the re-read page's a second time.
  const reviewPages = pagesRequested(/\/reviews$/)
  expect(reviewPages).toHaveLength(expected.pulls + 100)
  expect(new Set(reviewPages).size).toBe(expected.pulls)

  // Deployments and runs: the lists stop at the first item created before `since` (then the
  // catch-up's first page); each deployment's statuses are asked for once.
  expect(summary.kinds.deployments).toMatchObject({ items: expected.deployments, finished: true })
  expect(summary.kinds.workflow_runs).toMatchObject({ items: expected.runs, finished: true })
  expect(summary.records).toMatchObject({ deployments: expected.deployments, deploymentStatuses: expected.statuses, workflowRuns: expected.runs })
  // After page 2, the last position of page 1 (per_page=1, page=100): the same run, so page 1
  // is not read again (the runs list's wrapped answer once made it look moved).
  expect(pagesRequested(/^\/repos\/acme\/widgets\/actions\/runs$/)).toEqual([1, 2, 100, 1].map((n) => `/repos/acme/widgets/actions/runs?page=${n}`))
  const statusPages = pagesRequested(/\/statuses$/)
  expect(statusPages).toHaveLength(expected.deployments)
  expect(new Set(statusPages).size).toBe(expected.deployments)

  expect(await counts()).toEqual({
    pulls: expected.pulls,
    reviews: expected.reviews,
    issues: expected.issues,
    commits: expected.commits,
    deployments: expected.deployments,
    statuses: expected.statuses,
    runs: expected.runs,
    events: 0,
  })
  // Five lists with hundreds of pull requests' reviews and deployments' statuses: slow on a busy machine.
}, 240_000)

test('deployments come with their statuses, derived as the webhooks derive them; runs by attempt', async () => {
  const q = async (sql: string, params: unknown[]) => (await env.db.pool.query(sql, params)).rows[0]
  // k = 1: production by GitHub's flag; k = 3: by the environment pattern; k = 7: failed; k = 2: staging.
  expect(await q('SELECT state, environment, "isProduction", "productionReason", "firstSuccessAt", "failedAt", "finishedAt", "creatorLogin" FROM deployments WHERE "githubId" = $1', [5_000_001])).toEqual({
    state: 'success',
    environment: 'production',
    isProduction: true,
    productionReason: 'github_flag',
    firstSuccessAt: new Date(base - 5 * DAY + 300_000),
    failedAt: null,
    finishedAt: new Date(base - 5 * DAY + 300_000),
    creatorLogin: 'mona',
  })
  expect(await q('SELECT "isProduction", "productionReason" FROM deployments WHERE "githubId" = $1', [5_000_003])).toEqual({ isProduction: true, productionReason: 'environment_pattern' })
  expect(await q('SELECT state, "firstSuccessAt", "failedAt", "finishedAt" FROM deployments WHERE "githubId" = $1', [5_000_007])).toEqual({
    state: 'failure',
    firstSuccessAt: null,
    failedAt: new Date(base - 35 * DAY + 300_000),
    finishedAt: new Date(base - 35 * DAY + 300_000),
  })
  expect(await q('SELECT "isProduction", "productionReason" FROM deployments WHERE "githubId" = $1', [5_000_002])).toEqual({ isProduction: false, productionReason: null })
  expect(await q('SELECT "runAttempt", status, conclusion, "completedAt" FROM workflow_runs WHERE "githubId" = $1', [4_000_009])).toEqual({
    runAttempt: 2,
    status: 'completed',
    conclusion: 'success',
    completedAt: new Date(base - 9 * DAY + 600_000),
  })
})

test('what a backfill writes: REST shapes mapped as webhooks map them', async () => {
  const pr = await env.db.pool.query('SELECT state, "mergedAt", additions, "countsUpdatedAt", "authorLogin", "firstReviewAt" FROM pull_requests WHERE number = 4')
  expect(pr.rows[0]).toMatchObject({ state: 'MERGED', additions: 0, countsUpdatedAt: null, authorLogin: 'mona' })
  expect(pr.rows[0].firstReviewAt).not.toBeNull()
  const states = await env.db.pool.query('SELECT DISTINCT state::text FROM pull_request_reviews ORDER BY 1')
  expect(states.rows.map((r) => r.state)).toEqual(['APPROVED', 'COMMENTED'])
  const commit = await env.db.pool.query('SELECT "authorLogin", "authorEmail", "filesChanged" FROM commits LIMIT 1')
  expect(commit.rows[0]).toEqual({ authorLogin: 'mona', authorEmail: 'mona@acme.example', filesChanged: 0 })
  const branchOnly = await env.db.pool.query(`SELECT count(*)::int AS n FROM commits WHERE sha = $1`, ['e'.repeat(40)])
  expect(branchOnly.rows[0].n).toBe(0)
})

test('a finished backfill is not read again; --restart reads it again and changes no row', async () => {
  const before = env.server.requests.length
  const again = await runBackfill({ data: { repository: 'acme/widgets', since: '90d' } }, ctx())
  expect(Object.values(again.kinds).map((k) => k!.alreadyImported)).toEqual([true, true, true, true, true])
  // The name resolved to its GitHub id, then only each list's catch-up: one page of what changed since it finished (nothing).
  const after = env.server.requests.slice(before)
  expect(after.map((r) => r.path)).toEqual([
    '/repos/acme/widgets',
    '/repos/acme/widgets/pulls',
    '/repos/acme/widgets/issues',
    '/repos/acme/widgets',
    '/repos/acme/widgets/commits',
    '/repos/acme/widgets/deployments',
    '/repos/acme/widgets/actions/runs',
  ])
  expect(Object.values(again.kinds).map((k) => k!.caughtUp)).toEqual([0, 0, 0, 0, 0])

  const rowsBefore = await env.db.pool.query('SELECT * FROM pull_requests ORDER BY "githubId"')
  const restarted = await runBackfill({ data: { repository: 'acme/widgets', since: SINCE, restart: true, kinds: ['pulls'] } }, ctx())
  expect(restarted.records).toEqual({ pullRequests: 0, reviews: 0, issues: 0, commits: 0, deployments: 0, deploymentStatuses: 0, workflowRuns: 0 })
  expect(restarted.kinds.pulls!.items).toBe(expected.pulls)
  const rowsAfter = await env.db.pool.query('SELECT * FROM pull_requests ORDER BY "githubId"')
  expect(rowsAfter.rows).toEqual(rowsBefore.rows)
}, 240_000)

test('a page that fails stops the backfill; the next run resumes at that page', async () => {
  await env.db.pool.query('DELETE FROM commits')
  await env.db.pool.query('DELETE FROM github_backfill_cursors WHERE kind = $1', ['commits'])
  env.server.failNext(1, 502, '/repos/acme/widgets/commits')
  const first = env.server.requests.length
  await expect(runBackfill({ data: { repository: 'acme/widgets', since: SINCE, kinds: ['commits'] } }, ctx())).rejects.toMatchObject({
    code: 'GITHUB_UNAVAILABLE',
  })
  const summary = await runBackfill({ data: { repository: 'acme/widgets', since: SINCE, kinds: ['commits'] } }, ctx())
  expect(summary.kinds.commits).toMatchObject({ resumedFromPage: 1, finished: true })
  const pages = env.server.requests.slice(first).filter((r) => r.path === '/repos/acme/widgets/commits')
  // The failed attempt, then each page once, then the catch-up (commits since the run started: none).
  expect(pages.map((r) => [r.status, r.query.page ?? '1'])).toEqual([[502, '1'], [200, '1'], [200, '1']])
  expect(pages[2].query.since).not.toBe(pages[1].query.since)
  expect((await counts()).commits).toBe(expected.commits)
})

test('with the github queue at hand, each page of commits gets a commitStats job for its line counts', async () => {
  const redis = testPrefix()
  const githubQueue = new Bull('github', SHARED_REDIS_URL, { prefix: redis.prefix.slice(0, -1) })
  try {
    await runBackfill({ data: { repository: 'acme/widgets', since: SINCE, kinds: ['commits'], restart: true } }, ctx({ githubQueue }))
    // Backfill also queues deploymentChanges for the repository's deployments: only commitStats here.
    const jobs = (await githubQueue.getJobs(['waiting', 'delayed'])).filter((j) => j.data.kind === 'commitStats')
    expect(jobs).toHaveLength(1)
    const { rows } = await env.db.pool.query('SELECT sha FROM commits ORDER BY sha')
    // The one definition of a commitStats job: a follow-up's data and githubJobOptions.
    expect(jobs[0].data).toEqual(followUpJobData({ kind: 'commitStats', repoId, repository: 'acme/widgets', shas: rows.map((r) => r.sha) }, null))
    expect(jobs[0].opts).toMatchObject({ ...githubJobOptions, jobId: expect.stringMatching(new RegExp(`^commitStats:${repoId}:[0-9a-f]{24}$`)) })
  } finally {
    await githubQueue.close()
    await redis.cleanup()
  }
})

test('an unregistered repository or a malformed name is refused before any request', async () => {
  const before = env.server.requests.length
  await expect(runBackfill({ data: { repository: 'acme/unknown' } }, ctx())).rejects.toMatchObject({ code: 'UNKNOWN_REPOSITORY' })
  await expect(runBackfill({ data: { repository: 'not a repo' } }, ctx())).rejects.toMatchObject({ code: 'INVALID_JOB' })
  // An Enterprise Managed Users owner (handle_shortcode) is a name like any other.
  await expect(runBackfill({ data: { repository: 'mona_acme/widgets' } }, ctx())).rejects.toMatchObject({ code: 'UNKNOWN_REPOSITORY' })
  await expect(runBackfill({ data: { repository: 'acme/widgets', since: 'soon' } }, ctx())).rejects.toMatchObject({ code: 'INVALID_JOB' })
  expect(env.server.requests.length).toBe(before)
  expect(repoId).toBeTruthy()
})

test('by name, the backfill writes into the row of the GitHub id GitHub reports for that name, not an older row of the same name', async () => {
  // acme/twins was deleted on GitHub and created again; both rows are registered under the name.
  const w = env.server.world
  const now = w.addRepository({ owner: 'acme', name: 'twins', id: 62_000_777 })
  now.issues.push({ id: 7_700_001, number: 1, title: 'fresh', state: 'open', user: { login: 'mona' }, created_at: iso(base), updated_at: iso(base) })
  const old = await insertRepository(env.db.pool, 62_000_666, { fullName: 'acme/twins' })
  const current = await insertRepository(env.db.pool, 62_000_777, { fullName: 'acme/twins' })
  await env.db.pool.query(`UPDATE repositories SET "createdAt" = "createdAt" - interval '1 year' WHERE id = $1`, [old])
  const summary = await runBackfill({ data: { repository: 'acme/twins', since: SINCE, kinds: ['issues'] } }, ctx())
  expect(summary.repoId).toBe(current)
  const { rows } = await env.db.pool.query('SELECT "repoId" FROM issues WHERE "githubId" = 7700001')
  expect(rows).toEqual([{ repoId: current }])
  // A name whose GitHub repository is not the registered one is refused.
  await env.db.pool.query('DELETE FROM issues WHERE "repoId" = $1', [current])
  await env.db.pool.query('DELETE FROM github_backfill_cursors WHERE "repoId" = $1', [current])
  await env.db.pool.query('DELETE FROM repositories WHERE id = $1', [current])
  await expect(runBackfill({ data: { repository: 'acme/twins', since: SINCE, kinds: ['issues'] } }, ctx())).rejects.toMatchObject({ code: 'UNKNOWN_REPOSITORY' })
  expect((await env.db.pool.query('SELECT count(*)::int AS n FROM issues WHERE "repoId" = $1', [old])).rows[0].n).toBe(0)
})
