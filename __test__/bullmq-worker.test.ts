// createBullMQWorker with real BullMQ queues, the real addon and a real database: the Bull
// glue's semantics (worker.test.ts) on BullMQ.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Backoffs, Job, JobsOptions, Queue, QueueEvents } from 'bullmq'
import {
  bullmqWebhookJobOptions,
  createBullMQWorker,
  WebhookJobData,
  WebhookProcessingError,
  migrate,
  WebhookProcessor,
} from '../lib'
import { Client, Pool } from 'pg'
import { ADMIN_URL, createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'

const fixture = readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8')
const redisUrl = new URL(SHARED_REDIS_URL)
const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379), db: Number(redisUrl.pathname.slice(1) || 0) }

let db: TestDatabase
let processor: WebhookProcessor
const { prefix: keyPrefix, cleanup } = testPrefix()
const prefix = `${keyPrefix}mq`
const closers: { close(): Promise<unknown> }[] = []

function queue(name: string): Queue {
  const q = new Queue(name, { connection, prefix })
  closers.push(q)
  return q
}

/** Resolves with a job's outcome as BullMQ reports it to any process (its QueueEvents stream). */
function queueEvents(name: string): QueueEvents {
  const events = new QueueEvents(name, { connection, prefix })
  closers.push(events)
  return events
}

/** A logger that remembers what it was told. */
function memoryLogger() {
  const lines: { level: string; message: string; meta?: Record<string, unknown> }[] = []
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => lines.push({ level, message, meta })
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

const job = (payload: string | object = fixture): WebhookJobData => ({ deliveryId: randomUUID(), event: 'push', payload, receivedAt: Date.now() })

/** Same policy, 5 ms base delay so a test does not wait 14 s. */
const fastRetries: JobsOptions = { ...bullmqWebhookJobOptions, backoff: { type: 'exponential', delay: 5 } }

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
  await insertUser(db.pool, { email: 'mona@corp.example', githubLogin: 'octocat' })
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
})

afterAll(async () => {
  await Promise.all(closers.map((c) => c.close()))
  await processor.close()
  await cleanup()
  await db.drop()
})

test('the job options retry 3 times after 2 s, 4 s, 8 s and keep the last 500 failures', () => {
  expect(bullmqWebhookJobOptions).toMatchObject({ attempts: 4, removeOnFail: 500 })
  const backoff = Backoffs.normalize(bullmqWebhookJobOptions.backoff!)!
  const delays = [1, 2, 3].map((n) => Backoffs.calculate(backoff, n, new Error('transient'), {} as Job, undefined))
  expect(delays).toEqual([2000, 4000, 8000])
})

test('bad options are CONFIG_ERROR before anything connects', () => {
  expect(() => createBullMQWorker({ processor } as never)).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }))
  expect(() => createBullMQWorker({ connection, processor, concurrency: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }))
  expect(() => createBullMQWorker({ connection, processor, queueName: 'a:b' })).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }))
  // As Bull's glue: a zero or negative delay would try to connect in a busy loop.
  for (const reconnectMaxDelayMs of [-1, 0, 1.5]) {
    expect(() => createBullMQWorker({ connection, databaseUrl: 'postgres://127.0.0.1:1/none', reconnectMaxDelayMs })).toThrow(
      expect.objectContaining({ code: 'CONFIG_ERROR', message: expect.stringMatching(/reconnectMaxDelayMs/) }),
    )
  }
  expect(() => createBullMQWorker({ connection } as never)).toThrow(/processor or a databaseUrl/)
})

test('a queued delivery is processed, its metric jobs queued with their ids, completion logged with timing', async () => {
  const webhooks = queue('webhooks1')
  const metrics = queue('metrics1')
  const events = queueEvents('webhooks1')
  const logger = memoryLogger()
  const w = createBullMQWorker({ queueName: 'webhooks1', connection, prefix, processor, metricsQueue: metrics, logger })
  await events.waitUntilReady()
  const added = await webhooks.add('push', job(), bullmqWebhookJobOptions)
  const returned = await added.waitUntilFinished(events)
  expect(returned).toMatchObject({ status: 'processed', records: { commits: 3 } })

  const metricJobs = await metrics.getJobs(['waiting'])
  expect(metricJobs.length).toBe(returned.metricJobs)
  expect(metricJobs.length).toBeGreaterThan(0)
  for (const m of metricJobs) {
    // The addon's `developer:<user>:<date>:<minute>`, with `.` for `:` (BullMQ refuses `:` in ids).
    expect(m.id).toBe(`${m.data.kind}.${m.data.id}.${m.data.date}.${String(m.id).split('.').pop()}`)
    expect(m.name).toBe(m.data.kind)
    expect(m.opts.removeOnComplete).toBe(true)
  }
  const done = logger.lines.find((l) => l.message === 'webhook job completed')
  expect(done?.meta).toMatchObject({ jobId: added.id, status: 'processed', attempt: 1, durationMs: expect.any(Number) })
  expect(JSON.stringify(logger.lines)).not.toContain('Add metrics collector') // no payload text in logs
  expect(w.health()).toMatchObject({ status: 'running', queue: 'webhooks1', active: 0, counters: { completed: 1, byStatus: { processed: 1 } } })
  await w.close()
})

test('a delivery processed again (a redelivery) queues its metric jobs again: each coalesces only within its minute', async () => {
  const webhooks = queue('webhooks1b')
  const metrics = queue('metrics1b')
  const events = queueEvents('webhooks1b')
  const w = createBullMQWorker({ queueName: 'webhooks1b', connection, prefix, processor, metricsQueue: metrics })
  await events.waitUntilReady()
  const data = job()
  const first = await (await webhooks.add('push', data, bullmqWebhookJobOptions)).waitUntilFinished(events)
  const again = await (await webhooks.add('push', data, bullmqWebhookJobOptions)).waitUntilFinished(events)
  expect(first.status).toBe('processed')
  expect(again).toMatchObject({ status: 'duplicate', metricJobs: first.metricJobs })
  await w.close()
})

test('a permanently bad payload fails once with UnrecoverableError, goes to the failed set, and alerts once', async () => {
  const webhooks = queue('webhooks2')
  const logger = memoryLogger()
  const alerts: [Job, WebhookProcessingError][] = []
  let alerted: () => void
  const alertedOnce = new Promise<void>((resolve) => (alerted = resolve))
  const w = createBullMQWorker({
    queueName: 'webhooks2',
    connection,
    prefix,
    processor,
    logger,
    onPermanentFailure: (j, e) => {
      alerts.push([j, e])
      alerted()
    },
  })
  const failedErrors: Error[] = []
  w.worker.on('failed', (_j, err) => failedErrors.push(err))
  const added = await webhooks.add('push', job('{"ref": '), fastRetries)
  await alertedOnce
  await eventually(async () => (await webhooks.getJob(added.id!))?.getState(), (s) => s === 'failed')
  await w.close()
  const failed = await webhooks.getJob(added.id!)
  expect(failed?.attemptsMade).toBe(1) // 4 attempts allowed, 1 used
  expect(failed?.failedReason).toMatch(/invalid payload/)
  expect(failedErrors.map((e) => [e.name, (e as WebhookProcessingError).code])).toEqual([['UnrecoverableError', 'INVALID_PAYLOAD']])
  expect(alerts.map(([j, e]) => [j.id, e.code])).toEqual([[added.id, 'INVALID_PAYLOAD']])
  const logged = logger.lines.find((l) => l.level === 'error')
  expect(logged?.meta).toMatchObject({ jobId: added.id, code: 'INVALID_PAYLOAD', retryable: false, willRetry: false, attempt: 1 })
  expect(w.health().counters).toMatchObject({ failed: 1, discarded: 1, retried: 0, failuresByCode: { INVALID_PAYLOAD: 1 } })
})

test('a retryable failure is retried with the backoff, then fails and alerts once', async () => {
  const webhooks = queue('webhooks3')
  const closed = await WebhookProcessor.connect({ databaseUrl: db.url })
  await closed.close() // every attempt now fails PROCESSOR_CLOSED, which is retryable
  const alerts: string[] = []
  let alerted: () => void
  const alertedOnce = new Promise<void>((resolve) => (alerted = resolve))
  const w = createBullMQWorker({
    queueName: 'webhooks3',
    connection,
    prefix,
    processor: closed,
    logger: memoryLogger(),
    onPermanentFailure: (_j, e) => {
      alerts.push(e.code)
      alerted()
    },
  })
  const added = await webhooks.add('push', job(), fastRetries)
  await alertedOnce
  await eventually(async () => (await webhooks.getJob(added.id!))?.getState(), (s) => s === 'failed')
  await w.close()
  const failed = await webhooks.getJob(added.id!)
  expect(failed?.attemptsMade).toBe(4)
  expect(alerts).toEqual(['PROCESSOR_CLOSED'])
  expect(w.health().counters).toMatchObject({ failed: 4, retried: 3, discarded: 0 })
})

test('the dead letter set keeps the last 500 failures', async () => {
  const webhooks = queue('webhooks5')
  const w = createBullMQWorker({ queueName: 'webhooks5', connection, prefix, processor, concurrency: 20, logger: { info() {}, warn() {}, error() {} } })
  const total = 520
  await webhooks.addBulk(Array.from({ length: total }, () => ({ name: 'push', data: job('{"ref": '), opts: bullmqWebhookJobOptions })))
  await eventually(() => Promise.resolve(w.health().counters.failed), (n) => n === total, { timeoutMs: 120_000, intervalMs: 100 })
  await w.close()
  const counts = await webhooks.getJobCounts('failed', 'waiting', 'active')
  expect(counts).toMatchObject({ failed: 500, waiting: 0, active: 0 })
})

test("a result's follow-ups are queued on the GitHub queue, named by kind, with the github job options; an ignored event queues none", async () => {
  const webhooks = queue('webhooks6')
  const github = queue('github6')
  const events = queueEvents('webhooks6')
  const w = createBullMQWorker({ queueName: 'webhooks6', connection, prefix, processor, githubQueue: github })
  await events.waitUntilReady()
  const data = job()
  const pushed = await (await webhooks.add('push', data, bullmqWebhookJobOptions)).waitUntilFinished(events)
  const ignored = await (await webhooks.add('watch', { ...job(), event: 'watch' }, bullmqWebhookJobOptions)).waitUntilFinished(events)
  const expected = (await processor.process(data)).followUps // a duplicate re-derives the same follow-ups
  expect(expected.length).toBeGreaterThan(0)
  expect([pushed.followUps, ignored.followUps]).toEqual([expected.length, 0])
  const queued = await github.getJobs(['waiting'])
  expect(queued.map((j) => [j.id, j.name, j.data.kind, j.data.deliveryId, j.data.shas, j.opts.attempts, j.opts.removeOnFail])).toEqual(
    expected.map((f) => [f.jobId.replaceAll(':', '.'), f.kind, f.kind, data.deliveryId, f.shas, 8, 500]),
  )
  expect(w.health().counters.followUpsQueued).toBe(expected.length)
  await w.close()
})

test('a metric job the queue does not take fails the attempt as retryable; the retry queues it', async () => {
  const webhooks = queue('webhooks7')
  const events = queueEvents('webhooks7')
  const metrics = new Queue('metrics7', { connection, prefix })
  await metrics.close() // adds now reject
  const working = queue('metrics7')
  // The first attempt meets the closed queue (the look-up before the add rejects), the retry the working one.
  let calls = 0
  const flaky = {
    getJob: (id: string) => (++calls === 1 ? metrics.getJob(id) : working.getJob(id)),
    addBulk: (jobs: never) => working.addBulk(jobs),
  } as unknown as Queue
  const logger = memoryLogger()
  const w = createBullMQWorker({ queueName: 'webhooks7', connection, prefix, processor, metricsQueue: flaky, logger })
  await events.waitUntilReady()
  const returned = await (await webhooks.add('push', job(), fastRetries)).waitUntilFinished(events)
  expect(returned).toMatchObject({ status: 'duplicate' })
  expect(await working.getJobCounts('waiting')).toMatchObject({ waiting: returned.metricJobs })
  expect(logger.lines.find((l) => l.level === 'error')?.meta).toMatchObject({ code: 'DATABASE_UNAVAILABLE', willRetry: true })
  await w.close()
})

test('close() finishes active jobs and stops taking new ones; another worker takes the rest, each delivery stored once', async () => {
  const webhooks = queue('webhooks4')
  const jobs = Array.from({ length: 20 }, () => job())
  await webhooks.addBulk(jobs.map((data) => ({ name: 'push', data, opts: bullmqWebhookJobOptions })))
  const first = createBullMQWorker({ queueName: 'webhooks4', connection, prefix, processor, concurrency: 2 })
  await new Promise<void>((resolve) => first.worker.once('completed', () => resolve()))
  const closing = first.close()
  expect(first.close()).toBe(closing) // memoised
  await closing
  expect(first.health()).toMatchObject({ status: 'closing', active: 0 })
  const handledByFirst = first.health().counters.completed
  expect(handledByFirst).toBeGreaterThanOrEqual(1)
  expect(await webhooks.getJobCounts('active')).toMatchObject({ active: 0 })

  const second = createBullMQWorker({ queueName: 'webhooks4', connection, prefix, databaseUrl: db.url, concurrency: 4 })
  await eventually(
    () => webhooks.getJobCounts('waiting', 'active', 'delayed', 'completed'),
    (c) => c.waiting === 0 && c.active === 0 && c.delayed === 0 && c.completed === 20,
    { timeoutMs: 60_000, intervalMs: 50 },
  )
  await second.close()
  expect(first.health().counters.byStatus.processed + second.health().counters.byStatus.processed).toBe(20)
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1) AND processed`, [
    jobs.map((j) => j.deliveryId),
  ])
  expect(rows[0].n).toBe(20)
})

test('bullmq is optional: without it the package loads and runs Bull, and createBullMQWorker says what to install', async () => {
  // A fresh Node where `bullmq` cannot be resolved, as in a Bull-only backend.
  const script = `
    const Module = require('node:module')
    const resolve = Module._resolveFilename
    Module._resolveFilename = function (request, ...rest) {
      if (request === 'bullmq') throw Object.assign(new Error("Cannot find module 'bullmq'"), { code: 'MODULE_NOT_FOUND' })
      return resolve.call(this, request, ...rest)
    }
    const lib = require(${JSON.stringify(join(__dirname, '..', 'lib'))})
    let code = null
    try { lib.createBullMQWorker({ connection: {}, databaseUrl: 'postgres://x' }) } catch (err) { code = err.code + ': ' + err.message }
    console.log(JSON.stringify({ bull: typeof lib.createWebhookWorker, options: lib.bullmqWebhookJobOptions.attempts, code }))
  `
  const { execFileSync } = await import('node:child_process')
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
  expect(out).toEqual({ bull: 'function', options: 4, code: 'CONFIG_ERROR: createBullMQWorker needs the bullmq package: npm install bullmq' })
})

test('a BullMQ worker started before its database connects once it exists and is migrated; queued jobs succeed', async () => {
  const name = `wp_test_mqlate_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const admin = async (sql: string) => {
    const client = new Client({ connectionString: ADMIN_URL })
    await client.connect()
    try {
      await client.query(sql)
    } finally {
      await client.end()
    }
  }
  const queueName = `late-${randomUUID().slice(0, 8)}`
  const webhooks = queue(queueName)
  const events = queueEvents(queueName)
  const quiet = { info() {}, warn() {}, error() {} }
  const worker = createBullMQWorker({ queueName, connection, prefix, databaseUrl: url.toString(), concurrency: 2, reconnectMaxDelayMs: 200, logger: quiet })
  try {
    const jobs = await Promise.all(
      [1, 2].map((i) => webhooks.add('push', { deliveryId: `mq-late-${i}`, event: 'push', payload: fixture, receivedAt: Date.now() }, bullmqWebhookJobOptions)),
    )
    // No database yet: it keeps trying, and says why.
    const absent = await eventually(async () => worker.health().waitingFor, (w) => w !== null && w.attempts >= 2)
    expect(absent).toMatchObject({ what: 'database', code: 'DATABASE_UNAVAILABLE' })

    // The database appears whole (migrated, repository registered) under the name the worker
    // waits for: prepared under another name and renamed, so the worker cannot connect between
    // the migration and the registration and fail the jobs UNKNOWN_REPOSITORY.
    const staging = new URL(url.toString())
    staging.pathname = `/${name}_staging`
    await admin(`CREATE DATABASE ${name}_staging`)
    await migrate(staging.toString())
    const stagingPool = new Pool({ connectionString: staging.toString(), max: 1 })
    try {
      await insertRepository(stagingPool)
    } finally {
      await stagingPool.end()
    }
    await admin(`ALTER DATABASE ${name}_staging RENAME TO ${name}`)
    const pool = new Pool({ connectionString: url.toString(), max: 1 })
    try {
      const results = await Promise.all(jobs.map((j) => j.waitUntilFinished(events)))
      expect(results.map((r) => r.status)).toEqual(['processed', 'processed'])
      expect(worker.health()).toMatchObject({ waitingFor: null, counters: { completed: 2, failed: 0 } })
    } finally {
      await pool.end()
    }
  } finally {
    await worker.close()
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin(`DROP DATABASE IF EXISTS ${name}_staging WITH (FORCE)`)
  }
})
