// Every query path survives connections the server closed, through the built addon, with
// the caches COLD (a fresh processor, lookups of accounts no payload names to fill the
// pool), so each path really queries: the repository and user lookups of a tracked event,
// an ignored event, the duplicate path, a failure row, getUserIdByGithubId, linkGithubUser.
// (connections.test.ts's terminated-connections test runs with warm caches.)
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'

const body = readFileSync(join(__dirname, 'fixtures/pull-request-opened.json'), 'utf8')
let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
})

afterAll(async () => {
  await db.drop()
})

async function sessions(): Promise<number> {
  const { rows } = await db.pool.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor'`,
  )
  return rows[0].n
}

/** Fills the pool (lookups of accounts nothing else names), then terminates every session. */
async function killEverySession(processor: WebhookProcessor, round: number): Promise<void> {
  await Promise.all([1, 2, 3].map((i) => processor.getUserIdByGithubId(900_000 + round * 10 + i)))
  await db.pool.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor'`,
  )
  await eventually(sessions, (n) => n === 0)
}

function pr(id: number, patch: (p: any) => void = () => undefined): string {
  const p = JSON.parse(body)
  p.pull_request.id = id
  p.pull_request.number = id % 1000
  p.pull_request.user.id = id + 77 // an author no cache has seen
  patch(p)
  return JSON.stringify(p)
}

test('with cold caches, every query path takes another connection after the server closed them all', async () => {
  const userId = await insertUser(db.pool, { email: 'someone@corp.example' })
  const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 3 })
  try {
    await killEverySession(processor, 1)
    const star = JSON.stringify({ action: 'created', repository: { id: 186853002 }, sender: { id: 1, login: 'x' } })
    expect((await processor.process({ deliveryId: 'star-1', event: 'star', payload: star })).status).toBe('ignored')

    await killEverySession(processor, 2)
    expect((await processor.process({ deliveryId: 'pr-1', event: 'pull_request', payload: pr(5001) })).status).toBe('processed')

    await killEverySession(processor, 3)
    expect((await processor.process({ deliveryId: 'pr-1', event: 'pull_request', payload: pr(5001) })).status).toBe('duplicate')

    await killEverySession(processor, 4)
    const bad = pr(5002, (p) => (p.pull_request.created_at = 'not a time'))
    await expect(processor.process({ deliveryId: 'pr-bad', event: 'pull_request', payload: bad })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' })
    const failures = await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE "deliveryId" = 'pr-bad' AND NOT processed`)
    expect(failures.rows[0].n).toBe(1)

    await killEverySession(processor, 5)
    expect(await processor.getUserIdByGithubId(4242)).toBeNull()

    await killEverySession(processor, 6)
    const link = await processor.linkGithubUser(userId, { id: 5001 + 77 })
    expect(link.backfilled.pullRequests).toBe(1)

    const stats = processor.stats()
    expect(stats.failed).toBe(1) // the invalid payload, nothing else
    expect(stats.errors).toMatchObject({ INVALID_PAYLOAD: 1 })
  } finally {
    await processor.close()
  }
})

test('idleTimeoutMs and maxLifetimeMs are validated and applied', async () => {
  await expect(WebhookProcessor.connect({ databaseUrl: db.url, idleTimeoutMs: 0 })).rejects.toMatchObject({ code: 'CONFIG_ERROR' })
  await expect(WebhookProcessor.connect({ databaseUrl: db.url, maxLifetimeMs: 1.5 })).rejects.toMatchObject({ code: 'CONFIG_ERROR' })
  const processor = await WebhookProcessor.connect({ databaseUrl: db.url, idleTimeoutMs: 200, maxLifetimeMs: 60_000 })
  try {
    await Promise.all([1, 2].map((i) => processor.getUserIdByGithubId(i)))
    expect(await sessions()).toBeGreaterThan(0)
    // Left idle, its sessions end on their own.
    await eventually(sessions, (n) => n === 0, { timeoutMs: 20_000 })
    expect(await processor.getUserIdByGithubId(3)).toBeNull()
  } finally {
    await processor.close()
  }
})
