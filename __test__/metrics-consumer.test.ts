// The reference backend's example consumer of the `metrics` queue (METRICS_CONSUMER=on,
// examples/backend/src/metrics-consumer.ts): the queue drains, and each developer and team day
// is recomputed from the rows, never incremented. Real PostgreSQL (a database of this file),
// Redis and the suite's queue driver (a key prefix of this file), the built addon.
import { createTestDatabase, insertRepository, insertTeam, insertUser, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { testPrefix } from './helpers/redis'
import { backendEnv, deliver, drained, pushWithFreshCommits, RunningBackend, settled, startBackend } from './support/backend'
import { loadConfig } from '../examples/backend/src/config'
import { createQueues } from '../examples/backend/src/queues'
import { startMetricsConsumer } from '../examples/backend/src/metrics-consumer'
import { suiteDriver } from './support/driver'

let db: TestDatabase
let running: RunningBackend
let teamId: string
let octocatId: string
const redis = testPrefix()

beforeAll(async () => {
  db = await createTestDatabase()
  teamId = await insertTeam(db.pool, 'Platform')
  await insertRepository(db.pool, undefined, { teamId })
  octocatId = await insertUser(db.pool, { email: 'mona@corp.example', githubId: 583231, githubLogin: 'octocat', teamIds: [teamId] })
  running = await startBackend(backendEnv(db.url, redis.prefix, { METRICS_CONSUMER: 'true' }))
})

afterAll(async () => {
  await running?.backend.close()
  await redis.cleanup()
  await db?.drop()
})

/** Delivers a push of `count` fresh commits by octocat (dated 2024-03-04 UTC), waits for its job. */
async function push(count: number): Promise<void> {
  const res = await deliver(running.url, 'push', pushWithFreshCommits(count).payload)
  expect(res.status).toBe(202)
  expect(await settled(running.backend.queues.webhooks, [res.body.jobId])).toEqual({ [res.body.jobId]: 'completed' })
}

const days = () => running.logger.lines.filter((l) => l.message === 'metrics recomputed')

test('the metrics queue drains: the developer and team days of a push are recomputed from the rows', async () => {
  await push(3)
  const counts = await drained(running.backend.queues.metrics)
  // Completed metric jobs are removed; none failed: the queue holds nothing.
  expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0)
  expect(days()).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ kind: 'developer', userId: octocatId, date: '2024-03-04', commits: 3, additions: 0, reviewsGiven: 0 }),
      expect.objectContaining({ kind: 'team', teamId, date: '2024-03-04', members: 1, commits: 3 }),
    ]),
  )
})

test('a later push of the same day recomputes the day from every row (5 commits, not 2)', async () => {
  await push(2)
  await drained(running.backend.queues.metrics)
  const developer = await eventually(
    async () => days().filter((d) => d.kind === 'developer' && d.userId === octocatId),
    (d) => d.some((x) => x.commits === 5),
  )
  expect(developer.map((d) => d.commits)).not.toContain(2)
})

// Bull only: its queue.process() rejects when the queue closes before processing has started
// (BullMQ's Worker has no such promise).
if (suiteDriver.current === 'bull') test('a consumer whose queue closes while it starts does not crash the process (no unhandled rejection)', async () => {
  const config = loadConfig(backendEnv(db.url, `${redis.prefix}early:`, { METRICS_CONSUMER: 'true' }), ['--role=worker'])
  const queues = createQueues(config)
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason ?? 'undefined')
  process.on('unhandledRejection', onUnhandled)
  try {
    const consumer = startMetricsConsumer(config, queues, db.pool, { logger: running.logger })
    // The backend stopped at once (a SIGTERM right after start), as backend.close() does it:
    // the consumer, then the queues, while the consumer's processing is still starting.
    await consumer.close()
    await queues.close()
    // Let Node dispatch any rejection left unhandled by the microtasks above.
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('unhandledRejection', onUnhandled)
    // Bull, closed while process() starts, leaves its blocking client connected (the backend's
    // main exits the process after close; a test must end it itself).
    ;(queues.metricsNative as { bclient?: { disconnect(): void } }).bclient?.disconnect()
  }
  expect(unhandled).toEqual([])
})
