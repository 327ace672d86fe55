// Pooled connections the server closed while idle (a restart, a failover, an idle timeout,
// pg_terminate_backend) must not fail the next delivery: the pool does not ping before
// each use (a round trip per event), so the processor notices when the event's first
// statement fails (BEGIN, or the event's only statement when every person in it is mapped)
// and takes another connection.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'

const body = readFileSync(join(__dirname, 'fixtures/pull-request-opened.json'), 'utf8')

let db: TestDatabase

beforeEach(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
})

afterEach(async () => {
  await db.drop()
})

async function terminateProcessorSessions(): Promise<number> {
  const { rows } = await db.pool.query(
    `SELECT count(*)::int AS n FROM (
       SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor') t`,
  )
  return rows[0].n
}

test.each([
  ['unmapped: a transaction begun with the link barrier', false],
  ['mapped: the whole event is one statement', true],
])('deliveries after every pooled connection was terminated are processed, author %s', async (_, mapped) => {
  // The fixture's author, octocat.
  if (mapped) await insertUser(db.pool, { email: 'mona@corp.example', githubId: 583231, githubLogin: 'octocat' })
  const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 3 })
  // Fill the pool: three concurrent deliveries hold three connections.
  const first = await Promise.all(
    [1, 2, 3].map((i) => processor.process({ deliveryId: `warm-${i}`, event: 'pull_request', payload: body })),
  )
  expect(first.map((r) => r.status)).toEqual(['processed', 'processed', 'processed'])
  expect(await terminateProcessorSessions()).toBeGreaterThan(0)

  const after = await Promise.all(
    [1, 2, 3, 4].map((i) => processor.process({ deliveryId: `after-${i}`, event: 'pull_request', payload: body })),
  )
  expect(after.map((r) => r.status)).toEqual(['processed', 'processed', 'processed', 'processed'])
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE "deliveryId" LIKE 'after-%' AND processed`)
  expect(rows[0].n).toBe(4)
  expect(processor.stats().failed).toBe(0)
  const authors = await db.pool.query(`SELECT count(*)::int AS n FROM pull_requests WHERE "authorId" IS NOT NULL`)
  expect(authors.rows[0].n).toBe(mapped ? 1 : 0)
  await processor.close()
})

async function processorSessions(): Promise<number> {
  const { rows } = await db.pool.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor'`,
  )
  return rows[0].n
}

test('connections kept between calls stay within maxConnections, whatever the calls need, and close() ends them', async () => {
  // Connections go back to the processor's own idle list (no ping), not to sqlx's pool, so
  // the cap must hold across writes, user and repository lookups (fresh caches) and failure
  // records, all at once on a pool smaller than the calls in flight.
  const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
  const payload = JSON.parse(body)
  const calls = Array.from({ length: 40 }, (_, i) => {
    const p = structuredClone(payload)
    p.pull_request.id = 7_000_000 + i
    p.pull_request.number = 7_000 + i
    p.pull_request.user.id = 8_000_000 + (i % 7) // unmapped authors: a users lookup each
    if (i % 10 === 9) p.pull_request.created_at = 'not a time' // fails: a failure row
    return processor
      .process({ deliveryId: `cap-${i}`, event: 'pull_request', payload: JSON.stringify(p) })
      .then((r) => r.status, (e: { code: string }) => e.code)
  })
  const sessionsDuring: number[] = []
  while (sessionsDuring.length < 5) sessionsDuring.push(await processorSessions())
  const outcomes = await Promise.all(calls)
  expect(outcomes.filter((o) => o === 'processed')).toHaveLength(36)
  expect(outcomes.filter((o) => o === 'INVALID_PAYLOAD')).toHaveLength(4)
  expect(Math.max(...sessionsDuring, await processorSessions())).toBeLessThanOrEqual(2)
  const failures = await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE "deliveryId" LIKE 'cap-%' AND NOT processed`)
  expect(failures.rows[0].n).toBe(4)
  await processor.close()
  // close() has sent each session its Terminate; the server ends the backends right after,
  // so ask until they are gone (bounded).
  let left = await processorSessions()
  for (let asked = 1; left > 0 && asked < 200; asked++) left = await processorSessions()
  expect(left).toBe(0)
})
