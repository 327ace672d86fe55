// A backfill resumed after an interruption ends with the rows of an uninterrupted one (issue 22,
// item 3, and the standing invariant "a resumed run equals an uninterrupted one"), against the
// contract GitHub server. The lists are sorted by updated_at, newest first, and read by page:
// an item that changes while the run is paused (a comment fires no tracked webhook) moves to a
// page already read, so only the run's catch-up pass writes it.
import fc from 'fast-check'
import { runBackfill, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'
import { startGitHubServer, GitHubServer } from './github/server'
import { createGitHubClient } from '../lib/github/client'
import type { WorldRepository } from './github/world'

const TOKEN = 'ghp_backfillresume0000000000000000000000'
const SINCE = '2026-01-01T00:00:00Z'
const base = Date.parse('2026-06-01T00:00:00Z')
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')

interface Side {
  db: TestDatabase
  processor: WebhookProcessor
  repoId: string
}

let gh: GitHubServer
let client: ReturnType<typeof createGitHubClient>
let resumed: Side
let straight: Side
let repoGithubId = 63_000_000

async function side(): Promise<Side> {
  const db = await createTestDatabase()
  const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
  return { db, processor, repoId: '' }
}

beforeAll(async () => {
  gh = await startGitHubServer({ tokens: [TOKEN] })
  client = createGitHubClient({ token: TOKEN, baseUrl: gh.url, retries: 0 })
  resumed = await side()
  straight = await side()
})

afterAll(async () => {
  for (const s of [resumed, straight]) {
    await s.processor.close()
    await s.db.drop()
  }
  await gh.close()
})

afterEach(() => gh.assertNoViolations())

/** A fresh repository on GitHub and registered on both sides. */
async function freshRepository(): Promise<{ world: WorldRepository; fullName: string }> {
  repoGithubId++
  const world = gh.world.addRepository({ owner: 'acme', name: `resume-${repoGithubId}`, id: repoGithubId })
  const fullName = `acme/${world.name}`
  for (const s of [resumed, straight]) {
    await s.db.pool.query('TRUNCATE pull_request_reviews, pull_requests, issues, commits, github_backfill_cursors CASCADE')
    s.repoId = await insertRepository(s.db.pool, repoGithubId, { fullName })
  }
  return { world, fullName }
}

function addPull(world: WorldRepository, i: number, updated: number) {
  world.pulls.push({
    id: 9_100_000 + repoGithubId * 1000 + i,
    number: i + 1,
    title: `Change ${i + 1}`,
    state: i % 3 === 0 ? 'open' : 'closed',
    draft: false,
    user: { login: 'mona' },
    created_at: iso(updated - 86_400_000),
    updated_at: iso(updated),
    closed_at: i % 3 === 0 ? null : iso(updated),
    merged_at: i % 3 === 1 ? iso(updated) : null,
  })
  world.reviews.set(i + 1, [{ id: 8_100_000 + repoGithubId * 1000 + i, state: 'APPROVED', submitted_at: iso(updated - 3600_000), commit_id: 'f'.repeat(40), user: gh.world.account('octo') }])
}

function addIssue(world: WorldRepository, i: number, updated: number) {
  world.issues.push({
    id: 7_100_000 + repoGithubId * 1000 + i,
    number: 5000 + i,
    title: `Issue ${i}`,
    state: i % 2 ? 'closed' : 'open',
    state_reason: i % 2 ? 'completed' : null,
    user: { login: 'mona' },
    created_at: iso(updated - 86_400_000),
    updated_at: iso(updated),
    closed_at: i % 2 ? iso(updated) : null,
  })
}

/** A comment on an item: GitHub bumps its updated_at (and here its title, to see which state was written). */
function comment(item: Record<string, unknown>, note: string) {
  item.updated_at = new Date().toISOString()
  item.title = `${item.title} (${note})`
}

/** Every column of the rows a backfill writes, ids replaced by GitHub ids. */
async function rows(s: Side) {
  const q = async (sql: string) => (await s.db.pool.query(sql)).rows
  return {
    pulls: await q(`SELECT p.*, NULL AS id, NULL AS "repoId" FROM pull_requests p ORDER BY "githubId"`),
    issues: await q(`SELECT i.*, NULL AS id, NULL AS "repoId" FROM issues i ORDER BY "githubId"`),
    // A review's createdAt is when its row was written (GitHub's time is submittedAt).
    reviews: await q(`SELECT r.*, NULL AS id, NULL AS "repoId", NULL AS "createdAt", p."githubId" AS "pullRequestId" FROM pull_request_reviews r JOIN pull_requests p ON p.id = r."pullRequestId" ORDER BY r."githubId"`),
  }
}

test('250 issues and 250 pull requests, a comment on one of each during a pause after page 1: all 250 of each are written, in their new state', async () => {
  const { world, fullName } = await freshRepository()
  for (let i = 0; i < 250; i++) {
    addPull(world, i, base - i * 3600_000)
    addIssue(world, i, base - i * 3600_000)
  }
  const ctx = (s: Side, extra: Record<string, unknown> = {}) => ({ client, processor: s.processor, pool: s.db.pool, ...extra })

  for (const kind of ['pulls', 'issues'] as const) {
    const controller = new AbortController()
    const stopped = runBackfill(
      { data: { repository: fullName, since: SINCE, kinds: [kind] } },
      ctx(resumed, { signal: controller.signal, onProgress: (p: { page: number }) => p.page === 1 && controller.abort() }),
    )
    await expect(stopped).rejects.toMatchObject({ name: 'AbortError' })
    // While paused: a comment on an item of page 2 (it moves to the front, onto page 1).
    comment((kind === 'pulls' ? world.pulls : world.issues)[150], 'commented')
    const summary = await runBackfill({ data: { repository: fullName, since: SINCE, kinds: [kind] } }, ctx(resumed))
    expect(summary.kinds[kind]).toMatchObject({ resumedFromPage: 2, finished: true })
  }
  const count = async (table: string) => (await resumed.db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n
  expect(await count('pull_requests')).toBe(250)
  expect(await count('issues')).toBe(250)
  expect(await count('pull_request_reviews')).toBe(250)
  const titles = await resumed.db.pool.query(`SELECT title FROM pull_requests WHERE title LIKE '%(commented)' UNION ALL SELECT title FROM issues WHERE title LIKE '%(commented)'`)
  expect(titles.rows).toHaveLength(2)

  // And the same as one uninterrupted backfill of the world as it is now.
  await runBackfill({ data: { repository: fullName, since: SINCE, kinds: ['pulls', 'issues'] } }, ctx(straight))
  expect(await rows(resumed)).toEqual(await rows(straight))
})

test('property: whatever the pages, the changes between them and where the run stops, the resumed run writes what an uninterrupted one does', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        pulls: fc.integer({ min: 0, max: 9 }),
        issues: fc.integer({ min: 0, max: 9 }),
        perPage: fc.integer({ min: 1, max: 4 }),
        stopKind: fc.constantFrom('pulls', 'issues'),
        stopPage: fc.integer({ min: 1, max: 5 }),
        // Comments: after which page of which kind, on which item (index modulo the list).
        comments: fc.array(fc.record({ kind: fc.constantFrom('pulls', 'issues'), afterPage: fc.integer({ min: 0, max: 5 }), item: fc.nat() }), { maxLength: 6 }),
        pauseComments: fc.array(fc.record({ kind: fc.constantFrom('pulls', 'issues'), item: fc.nat() }), { maxLength: 4 }),
      }),
      async (plan) => {
        const { world, fullName } = await freshRepository()
        for (let i = 0; i < plan.pulls; i++) addPull(world, i, base - i * 3600_000)
        for (let i = 0; i < plan.issues; i++) addIssue(world, i, base - i * 3600_000)
        const listOf = (kind: string) => (kind === 'pulls' ? world.pulls : world.issues)
        const commentOn = (kind: string, item: number, note: string) => {
          const list = listOf(kind)
          if (list.length > 0) comment(list[item % list.length], note)
        }
        const data = { repository: fullName, since: SINCE, kinds: ['pulls', 'issues'] as Array<'pulls' | 'issues'>, perPage: plan.perPage }
        const controller = new AbortController()
        const onProgress = (p: { kind: string; page: number; done?: boolean }) => {
          if (p.done) return
          for (const [n, c] of plan.comments.entries()) if (c.kind === p.kind && c.afterPage === p.page) commentOn(c.kind, c.item, `c${n}`)
          if (p.kind === plan.stopKind && p.page === plan.stopPage) controller.abort()
        }
        const ctx = { client, processor: resumed.processor, pool: resumed.db.pool }
        let interrupted = false
        try {
          await runBackfill({ data }, { ...ctx, signal: controller.signal, onProgress })
        } catch (err) {
          if ((err as Error).name !== 'AbortError') throw err
          interrupted = true
        }
        if (interrupted) {
          for (const [n, c] of plan.pauseComments.entries()) commentOn(c.kind, c.item, `p${n}`)
          await runBackfill({ data }, { ...ctx, onProgress })
        }
        await runBackfill({ data }, { client, processor: straight.processor, pool: straight.db.pool })
        expect(await rows(resumed)).toEqual(await rows(straight))
      },
    ),
    { numRuns: 15 },
  )
})
