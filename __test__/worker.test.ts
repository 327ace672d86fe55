// createWebhookWorker with real Bull queues, the real addon and a real database.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Bull from 'bull'
import {
  createWebhookWorker,
  webhookBackoff,
  webhookJobOptions,
  webhookQueueSettings,
  WebhookJobData,
  WebhookProcessingError,
  WebhookProcessor,
} from '../lib'
import { createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'

const fixture = readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8')

let db: TestDatabase
let processor: WebhookProcessor
const { prefix, cleanup } = testPrefix()
const queues: Bull.Queue[] = []

function queue(name: string, settings: Bull.AdvancedSettings = {}): Bull.Queue {
  const q = new Bull(name, SHARED_REDIS_URL, { prefix: `${prefix}${name}`, settings: { ...webhookQueueSettings, ...settings } })
  queues.push(q)
  return q
}

/** A logger that remembers what it was told. */
function memoryLogger() {
  const lines: { level: string; message: string; meta?: Record<string, unknown> }[] = []
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => lines.push({ level, message, meta })
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

const job = (payload: string | object = fixture): WebhookJobData => ({ deliveryId: randomUUID(), event: 'push', payload, receivedAt: Date.now() })

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
  await insertUser(db.pool, { email: 'mona@corp.example', githubLogin: 'octocat' })
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
})

afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()))
  await processor.close()
  await cleanup()
  await db.drop()
})

test('the backoff is 2 s, 4 s, 8 s and stops for non-retryable errors', () => {
  expect([1, 2, 3].map((n) => webhookBackoff(n, new Error('transient')))).toEqual([2000, 4000, 8000])
  expect(webhookBackoff(1, new WebhookProcessingError('INVALID_PAYLOAD', 'x'))).toBe(-1)
  expect(webhookJobOptions).toMatchObject({ attempts: 4, removeOnFail: 500 })
  expect(webhookQueueSettings).toMatchObject({ lockDuration: 30_000, lockRenewTime: 15_000, stalledInterval: 30_000 })
})

test('a queued delivery is processed, its metric jobs queued with their ids, completion logged with timing', async () => {
  const webhooks = queue('webhooks-1')
  const metrics = queue('metrics-1')
  const logger = memoryLogger()
  const worker = createWebhookWorker(webhooks, { processor, metricsQueue: metrics, logger })
  const added = await webhooks.add(job(), webhookJobOptions)
  const returned = await added.finished()
  expect(returned).toMatchObject({ status: 'processed', records: { commits: 3 } })

  const metricJobs = await metrics.getJobs(['waiting'])
  expect(metricJobs.length).toBe(returned.metricJobs)
  for (const m of metricJobs) {
    expect(m.id).toBe(`${m.data.kind}:${m.data.id}:${m.data.date}:${String(m.id).split(':').pop()}`)
    expect(m.opts.removeOnComplete).toBe(true)
  }
  const done = logger.lines.find((l) => l.message === 'webhook job completed')
  expect(done?.meta).toMatchObject({ jobId: added.id, status: 'processed', attempt: 1, durationMs: expect.any(Number) })
  expect(JSON.stringify(logger.lines)).not.toContain('Add metrics collector') // no payload text in logs
  expect(worker.health()).toMatchObject({ status: 'running', active: 0, counters: { completed: 1, byStatus: { processed: 1 } } })
  await worker.close()
})

test('a permanently bad payload fails once, goes to the failed set, and alerts once', async () => {
  const webhooks = queue('webhooks-2')
  const logger = memoryLogger()
  const alerts: [Bull.Job, WebhookProcessingError][] = []
  let alerted: () => void
  const alertedOnce = new Promise<void>((resolve) => (alerted = resolve))
  const worker = createWebhookWorker(webhooks, {
    processor,
    logger,
    onPermanentFailure: (j, e) => {
      alerts.push([j, e])
      alerted()
    },
  })
  const added = await webhooks.add(job('{"ref": '), webhookJobOptions)
  await alertedOnce
  await worker.close()
  const failed = await webhooks.getJob(added.id)
  expect(await failed?.getState()).toBe('failed')
  expect(failed?.attemptsMade).toBe(1)
  expect(failed?.failedReason).toMatch(/invalid payload/)
  expect(alerts.map(([j, e]) => [j.id, e.code])).toEqual([[added.id, 'INVALID_PAYLOAD']])
  const logged = logger.lines.find((l) => l.level === 'error')
  expect(logged?.meta).toMatchObject({ jobId: added.id, code: 'INVALID_PAYLOAD', retryable: false, willRetry: false, attempt: 1 })
  expect(worker.health().counters).toMatchObject({ failed: 1, discarded: 1, retried: 0, failuresByCode: { INVALID_PAYLOAD: 1 } })
})

test('a retryable failure is retried with the backoff, then fails and alerts once', async () => {
  const webhooks = queue('webhooks-3')
  const closed = await WebhookProcessor.connect({ databaseUrl: db.url })
  await closed.close() // every attempt now fails PROCESSOR_CLOSED, which is retryable
  const alerts: string[] = []
  let alerted: () => void
  const alertedOnce = new Promise<void>((resolve) => (alerted = resolve))
  const worker = createWebhookWorker(webhooks, {
    processor: closed,
    logger: memoryLogger(),
    onPermanentFailure: (_j, e) => {
      alerts.push(e.code)
      alerted()
    },
  })
  // Same policy, shorter base delay so the test does not wait 14 s.
  const opts: Bull.JobOptions = { ...webhookJobOptions, backoff: { type: 'devmetricsWebhook', options: { baseDelayMs: 5 } } }
  const added = await webhooks.add(job(), opts)
  await alertedOnce
  await worker.close()
  const failed = await webhooks.getJob(added.id)
  expect(await failed?.getState()).toBe('failed')
  expect(failed?.attemptsMade).toBe(4)
  expect(alerts).toEqual(['PROCESSOR_CLOSED'])
  expect(worker.health().counters).toMatchObject({ failed: 4, retried: 3, discarded: 0 })
})

test('close() finishes active jobs and stops taking new ones; another worker takes the rest, each delivery stored once', async () => {
  // Closing aborts Bull's blocking fetch; a job the server had just moved to `active` is
  // then recovered by another worker's stalled-job check. A short interval keeps the test fast.
  const fastStallCheck = { stalledInterval: 300 }
  const webhooks = queue('webhooks-4', fastStallCheck)
  const jobs = Array.from({ length: 20 }, () => job())
  for (const j of jobs) await webhooks.add(j, webhookJobOptions)
  const first = createWebhookWorker(webhooks, { processor, concurrency: 2 })
  const firstDone = await new Promise<number>((resolve) => webhooks.once('completed', () => resolve(1)))
  await first.close()
  expect(first.health()).toMatchObject({ status: 'closing', active: 0 })
  const handledByFirst = first.health().counters.completed
  expect(handledByFirst).toBeGreaterThanOrEqual(firstDone)

  // A second worker is a second Queue object on the same queue, as another process would have.
  const secondQueue = queue('webhooks-4', fastStallCheck)
  const second = createWebhookWorker(secondQueue, { databaseUrl: db.url, concurrency: 4 })
  await new Promise<void>((resolve) => {
    const check = async () => {
      const counts = await secondQueue.getJobCounts()
      if (counts.waiting === 0 && counts.active === 0 && counts.delayed === 0) resolve()
    }
    secondQueue.on('completed', check)
    void check()
  })
  await second.close()
  // At least once from Bull, exactly once in effect: a re-run would answer `duplicate`.
  expect(first.health().counters.byStatus.processed + second.health().counters.byStatus.processed).toBe(20)
  const { rows } = await db.pool.query(
    `SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1) AND processed`,
    [jobs.map((j) => j.deliveryId)],
  )
  expect(rows[0].n).toBe(20)
})
