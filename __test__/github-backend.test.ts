// The reference backend with GitHub's API on and off (on Bull; the .bullmq twin runs the same
// on BullMQ): with credentials the github queue and worker exist, a delivered push gets its
// counts from the contract server, and the queue UI, /api/webhooks/stats and /metrics show the
// queue's backlog, the budget and the requests made; without them one line says so and
// nothing else changes.
import { Backend, createBackend } from '../examples/backend/src/app'
import { loadConfig } from '../examples/backend/src/config'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { testPrefix } from './helpers/redis'
import { GitHubServer, startGitHubServer } from './github/server'
import { backendEnv, deliver, memoryLogger } from './support/backend'
import { suiteDriver } from './support/driver'

const TOKEN = 'backend-github-token'

let db: TestDatabase
let gh: GitHubServer
const redis = testPrefix()
const backends: Backend[] = []

async function start(githubClientOptions: { token: string; baseUrl: string } | null) {
  const logger = memoryLogger()
  const backend = await createBackend(loadConfig(backendEnv(db.url, `${redis.prefix}${backends.length}:`)), { logger, githubClientOptions })
  backends.push(backend)
  const { url } = await backend.listen()
  return { backend, url, logger }
}

beforeAll(async () => {
  db = await createTestDatabase()
  gh = await startGitHubServer({ tokens: [TOKEN] })
})

afterAll(async () => {
  for (const b of backends) await b.close()
  await gh.close()
  await redis.cleanup()
  await db.drop()
})

test('with a token: a delivered push gets its counts, and the github queue shows in the UI, stats and metrics', async () => {
  const world = gh.world.addRepository({ owner: 'acme', name: 'backend' })
  const commits = gh.world.commitChain(world, 3)
  const repoId = await insertRepository(db.pool, world.id, { fullName: 'acme/backend' })
  const { url, logger } = await start({ token: TOKEN, baseUrl: gh.url })
  expect(logger.lines.find((l) => l.message === 'GitHub API on')).toMatchObject({ mode: 'token', worker: true, queueDriver: suiteDriver.current })

  const payload = {
    ref: 'refs/heads/main',
    before: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
    after: commits[2].sha,
    commits: commits.map((c) => ({ id: c.sha, message: c.message, timestamp: c.author.date, author: { name: c.author.name, email: c.author.email }, added: [], removed: [], modified: [] })),
    head_commit: null,
    repository: { id: world.id, name: 'backend', full_name: 'acme/backend' },
    sender: { login: 'octocat', id: 1, type: 'User' },
  }
  expect((await deliver(url, 'push', payload)).status).toBe(202)
  const rows = await eventually(
    async () => (await db.pool.query('SELECT sha, additions FROM commits WHERE "repoId" = $1 AND "statsFetchedAt" IS NOT NULL ORDER BY sha', [repoId])).rows,
    (r) => r.length === 3,
    { timeoutMs: 30_000 },
  )
  expect(Object.fromEntries(rows.map((r) => [r.sha, r.additions]))).toEqual(Object.fromEntries(commits.map((c) => [c.sha, c.additions])))

  const stats = await (await fetch(`${url}/api/webhooks/stats`)).json()
  expect(stats.github).toMatchObject({ backlog: 0, requests: 1, rateLimited: { primary: 0, secondary: 0 } })
  expect(stats.github.remaining.graphql).toEqual(expect.any(Number))
  expect(stats.github.worker.counters).toMatchObject({ completed: 1, failed: 0 })

  const metrics = await (await fetch(`${url}/metrics`)).text()
  expect(metrics).toMatch(/^github_api_requests 1$/m)
  expect(metrics).toMatch(/^github_queue_backlog 0$/m)
  expect(metrics).toMatch(/^github_api_rate_limit_remaining\{resource="graphql"\} \d+$/m)

  const board = await (await fetch(`${url}/admin/queues/api/queues`)).json()
  expect(board.queues.map((q: { name: string }) => q.name).sort()).toEqual(['github', 'metrics', 'webhooks'])
  gh.assertNoViolations()
})

test('without credentials: one line says so, no github queue, stats say null, pushes are processed as before', async () => {
  const { backend, url, logger } = await start(null)
  const off = logger.lines.filter((l) => /GitHub API not configured/.test(l.message))
  expect(off).toHaveLength(1)
  expect(backend.github).toBeNull()
  const stats = await (await fetch(`${url}/api/webhooks/stats`)).json()
  expect(stats.github).toBeNull()
  expect(await (await fetch(`${url}/metrics`)).text()).not.toMatch(/github_/)
  const board = await (await fetch(`${url}/admin/queues/api/queues`)).json()
  expect(board.queues.map((q: { name: string }) => q.name).sort()).toEqual(['metrics', 'webhooks'])
})
