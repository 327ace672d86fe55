// Faults under load, through a real Bull queue and createWebhookWorker on the built addon:
// a private PostgreSQL restarted cleanly and crashed mid-run, a pool of one connection
// under 100 concurrent calls, and the user-cache Redis (a private redis-server) stopped
// mid-run. After Bull's retries every delivery is stored exactly once and no partial rows
// remain. Each run prints its numbers (sent, stored, retried, failed). The queues live on
// the shared Redis under this file's prefix; the shared PostgreSQL and Redis are never stopped.
// fault-injection.bullmq.test.ts runs the queue faults again on BullMQ (createBullMQWorker).
import { randomUUID } from 'node:crypto'
import Bull from 'bull'
import { Queue as BullMQQueue } from 'bullmq'
import { Pool } from 'pg'
import {
  bullmqWebhookJobOptions,
  createBullMQWorker,
  createWebhookWorker,
  migrate,
  webhookJobOptions,
  webhookQueueSettings,
  WebhookJobData,
  WebhookProcessor,
} from '../lib'
import { insertRepository, insertUser } from './helpers/db'
import { eventually } from './helpers/eventually'
import { PrivatePostgres } from './helpers/postgres'
import { PrivateRedis, SHARED_REDIS_URL, testPrefix } from './helpers/redis'
import { drained, pushWithFreshCommits, settled } from './support/backend'
import { suiteDriver } from './support/driver'

let pg: PrivatePostgres
let databaseUrl: string
let pool: Pool
const redis = testPrefix()

beforeAll(async () => {
  pg = await PrivatePostgres.start()
  databaseUrl = await pg.createDatabase('faults')
  await migrate(databaseUrl)
  pool = new Pool({ connectionString: databaseUrl, max: 2 })
  // The restarts end this pool's idle sessions too; pg reports that here and reconnects.
  pool.on('error', () => undefined)
  await insertRepository(pool)
  await insertUser(pool, { email: 'mona@corp.example', githubLogin: 'octocat' })
}, 60_000)

afterAll(async () => {
  await pool?.end()
  await pg?.destroy()
  await redis.cleanup()
})

interface RunNumbers {
  sent: number
  /** Jobs completed when the fault was injected. */
  completedAtFault: number
  stored: number
  retried: number
  failedAttempts: Record<string, number>
  permanentlyFailed: number
}

/** A push of two fresh commits, as the endpoint queues it. */
function pushJob(author?: { name: string; email: string; username: string }): { data: WebhookJobData; shas: string[] } {
  const { payload, shas } = pushWithFreshCommits(2)
  if (author) for (const c of payload.commits) c.author = c.committer = author
  return { data: { deliveryId: randomUUID(), event: 'push', payload: JSON.stringify(payload), receivedAt: new Date().toISOString() }, shas }
}

/**
 * Queues `jobs`, runs a worker on them, injects `fault` once `faultAfter` jobs completed,
 * waits for every job to complete or fail for good, and checks what was stored.
 */
async function runWithFault(
  name: string,
  jobs: { data: WebhookJobData; shas: string[] }[],
  opts: { processor: WebhookProcessor; faultAfter: number; fault: () => Promise<void> },
): Promise<RunNumbers> {
  const permanent: string[] = []
  const { queue, worker, addBulk, closeQueue } = startQueue(`faults-${name}`, opts.processor, permanent)
  try {
    const added = await addBulk(jobs.map(({ data }) => data))
    await eventually(async () => worker.health().counters.completed, (n) => n >= opts.faultAfter, { timeoutMs: 60_000 })
    const completedAtFault = worker.health().counters.completed
    await opts.fault()
    // Counts first (one call per poll), then each job's final state once.
    await drained(queue, 120_000)
    const states = await settled(queue, added.map((j) => String(j.id)))

    const ids = jobs.map((j) => j.data.deliveryId)
    const shas = jobs.flatMap((j) => j.shas)
    const { rows: events } = await pool.query(
      'SELECT count(*)::int AS n, count(*) FILTER (WHERE processed)::int AS processed FROM events WHERE "deliveryId" = ANY($1)',
      [ids],
    )
    const { rows: commits } = await pool.query('SELECT count(*)::int AS n, count(DISTINCT sha)::int AS d FROM commits WHERE sha = ANY($1)', [shas])
    const counters = worker.health().counters
    const numbers: RunNumbers = {
      sent: jobs.length,
      completedAtFault,
      stored: events[0].processed,
      retried: counters.retried,
      failedAttempts: counters.failuresByCode,
      permanentlyFailed: permanent.length,
    }
    console.log(`${name}: ${JSON.stringify(numbers)}`)

    expect(completedAtFault).toBeLessThan(jobs.length) // the fault came mid-run
    expect(Object.values(states).filter((s) => s !== 'completed')).toEqual([])
    expect(permanent).toEqual([])
    // Exactly once: one processed events row per delivery, none left unprocessed, every
    // commit once and no other rows of these deliveries.
    expect(events[0]).toEqual({ n: jobs.length, processed: jobs.length })
    expect(commits[0]).toEqual({ n: shas.length, d: shas.length })
    expect(counters.byStatus.processed + counters.byStatus.duplicate).toBe(jobs.length)
    return numbers
  } finally {
    await worker.close()
    await closeQueue()
  }
}

/**
 * The queue and the package's worker on the suite's driver, with the production policy
 * (4 attempts, doubling delays) from a 0.5 s base instead of 2 s: the outages here last about
 * a second, well within 0.5 + 1 + 2 s.
 */
function startQueue(name: string, processor: WebhookProcessor, permanent: string[]) {
  const common = {
    processor,
    concurrency: 4,
    logger: { info() {}, warn() {}, error() {} },
    onPermanentFailure: (_job: unknown, error: { code: string }) => void permanent.push(error.code),
  }
  if (suiteDriver.current === 'bullmq') {
    const url = new URL(SHARED_REDIS_URL)
    const connection = { host: url.hostname, port: Number(url.port || 6379) }
    const prefix = `${redis.prefix}bullmq`
    const queue = new BullMQQueue<WebhookJobData>(name, { connection, prefix })
    const worker = createBullMQWorker({ ...common, queueName: name, connection, prefix, workerOptions: { stalledInterval: 1_000 } })
    const jobOptions = { ...bullmqWebhookJobOptions, backoff: { type: 'exponential', delay: 500 } }
    return {
      queue: { getJob: async (id: string) => (await queue.getJob(id)) ?? null, getJobCounts: async () => (await queue.getJobCounts()) as unknown as Bull.JobCounts },
      worker,
      addBulk: (data: WebhookJobData[]) => queue.addBulk(data.map((d) => ({ name: d.event, data: d, opts: jobOptions }))),
      closeQueue: () => queue.close(),
    }
  }
  const queue = new Bull<WebhookJobData>(name, SHARED_REDIS_URL, {
    prefix: `${redis.prefix}bull`,
    settings: { ...webhookQueueSettings, stalledInterval: 1_000 },
  })
  const worker = createWebhookWorker(queue, common)
  const jobOptions: Bull.JobOptions = { ...webhookJobOptions, backoff: { type: 'devmetricsWebhook', options: { baseDelayMs: 500 } } }
  return {
    queue,
    worker,
    addBulk: (data: WebhookJobData[]) => queue.addBulk(data.map((d) => ({ data: d, opts: jobOptions }))),
    closeQueue: () => queue.close(),
  }
}

describe('PostgreSQL stopped mid-run', () => {
  test.each([
    ['restarted (fast shutdown: sessions terminated)', 'fast'],
    ['crashed (immediate shutdown, recovery at start)', 'immediate'],
  ] as const)('%s: every delivery is stored exactly once after the retries', async (_label, mode) => {
    const processor = await WebhookProcessor.connect({ databaseUrl, maxConnections: 4 })
    try {
      const numbers = await runWithFault(`pg-${mode}`, Array.from({ length: 200 }, () => pushJob()), {
        processor,
        faultAfter: 40,
        fault: () => pg.restart(mode),
      })
      // Jobs the outage hit failed with a retryable code and were retried. (Whether any
      // did depends on timing: the pool also waits up to 10 s for a new connection.)
      expect(Object.keys(numbers.failedAttempts).every((c) => c === 'DATABASE_UNAVAILABLE' || c === 'DATABASE_ERROR')).toBe(true)
    } finally {
      await processor.close()
    }
  })
})

// No queue in this one: it is defined once, in the Bull suite.
const withoutQueue = suiteDriver.current === 'bull' ? test : ((() => undefined) as unknown as typeof test)

withoutQueue('a pool of one connection serves 100 concurrent calls', async () => {
  const processor = await WebhookProcessor.connect({ databaseUrl, maxConnections: 1 })
  try {
    const jobs = Array.from({ length: 100 }, () => pushJob())
    const results = await Promise.allSettled(jobs.map((j) => processor.process(j.data)))
    const rejected = results.filter((r) => r.status === 'rejected')
    console.log(`pool of 1: 100 concurrent calls, ${results.length - rejected.length} processed, ${rejected.length} rejected`)
    expect(rejected).toEqual([])
    expect(results.map((r) => (r as PromiseFulfilledResult<{ status: string }>).value.status)).toEqual(Array(100).fill('processed'))
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1) AND processed', [
      jobs.map((j) => j.data.deliveryId),
    ])
    expect(rows[0].n).toBe(100)
  } finally {
    await processor.close()
  }
})

test('the user-cache Redis stopped mid-run: processing goes on with database lookups, nothing retried or lost', async () => {
  const cache = await PrivateRedis.start()
  const processor = await WebhookProcessor.connect({ databaseUrl, redisUrl: cache.url, redisKeyPrefix: `${redis.prefix}cache:`, maxConnections: 4 })
  try {
    // A fresh author per delivery: every event misses the in-process tier and asks Redis.
    const jobs = Array.from({ length: 200 }, (_, i) => pushJob({ name: `Dev ${i}`, email: `dev${i}@cache.example`, username: `dev-${i}` }))
    const numbers = await runWithFault('redis-cache', jobs, { processor, faultAfter: 40, fault: () => cache.stop() })
    expect(numbers.retried).toBe(0)
    expect(numbers.failedAttempts).toEqual({})
    const stats = processor.stats()
    console.log(`redis-cache: tier ${JSON.stringify(stats.redis)}, redis hits/misses ${stats.redisCache.hits}/${stats.redisCache.misses}`)
    expect(stats.redis).toMatchObject({ configured: true, available: false })
    expect(stats.redis.errors).toBeGreaterThan(0)
  } finally {
    await processor.close()
    await cache.destroy()
  }
})
