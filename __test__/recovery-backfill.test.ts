// Backfill (issue 16) against the contract server: a repository's pull requests with their
// reviews, its issues (not the pull requests the issues list includes) and its default-branch
// commits since a date, written through the upserts; a backfill stopped halfway (an abort
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
const expected = { pulls: 0, reviews: 0, pendingReviews: 0, issues: 0, commits: 0 }

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
    events: await q('SELECT count(*)::int AS n FROM events'),
  }
}

/** Each list page requested, as `path?page=N`. */
function pagesRequested(path: RegExp): string[] {
  return requestsTo(env.server, 'GET', path).map((r) => `${r.path}?page=${r.query.page ?? '1'}`)
}

const ctx = (extra: Record<string, unknown> = {}) => ({ client: env.client, processor: env.processor, pool: env.db.pool, ...extra })

test('stopped after the second page of pull requests, then resumed: every page asked for once, every row once', async () => {
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
  // Each page once, then the catch-up's first page (what changed since the run started: nothing).
  const pullPages = pagesRequested(/^\/repos\/acme\/widgets\/pulls$/)
  expect(pullPages).toEqual([1, 2, 3, 4, 1].map((n) => `/repos/acme/widgets/pulls?page=${n}`))
  expect(expected.pulls).toBe(307)
  // Reviews: one request per pull request imported, none twice.
  const reviewPages = pagesRequested(/\/reviews$/)
  expect(reviewPages).toHaveLength(expected.pulls)
  expect(new Set(reviewPages).size).toBe(expected.pulls)

  expect(await counts()).toEqual({ pulls: expected.pulls, reviews: expected.reviews, issues: expected.issues, commits: expected.commits, events: 0 })
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
  expect(Object.values(again.kinds).map((k) => k!.alreadyImported)).toEqual([true, true, true])
  // The name resolved to its GitHub id, then only each list's catch-up: one page of what changed since it finished (nothing).
  const after = env.server.requests.slice(before)
  expect(after.map((r) => r.path)).toEqual(['/repos/acme/widgets', '/repos/acme/widgets/pulls', '/repos/acme/widgets/issues', '/repos/acme/widgets', '/repos/acme/widgets/commits'])
  expect(Object.values(again.kinds).map((k) => k!.caughtUp)).toEqual([0, 0, 0])

  const rowsBefore = await env.db.pool.query('SELECT * FROM pull_requests ORDER BY "githubId"')
  const restarted = await runBackfill({ data: { repository: 'acme/widgets', since: SINCE, restart: true, kinds: ['pulls'] } }, ctx())
  expect(restarted.records).toEqual({ pullRequests: 0, reviews: 0, issues: 0, commits: 0 })
  expect(restarted.kinds.pulls!.items).toBe(expected.pulls)
  const rowsAfter = await env.db.pool.query('SELECT * FROM pull_requests ORDER BY "githubId"')
  expect(rowsAfter.rows).toEqual(rowsBefore.rows)
})

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
    const jobs = await githubQueue.getJobs(['waiting', 'delayed'])
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
