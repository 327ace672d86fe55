// A delivery whose metric jobs could not be queued is not reported done: the attempt fails
// retryable (the rows are committed; a retry answers `duplicate` and queues the jobs the
// stored payload gives). A worker that swallowed the failure would lose those metric jobs.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Bull from 'bull'
import { Queue as BullMQQueue, QueueEvents } from 'bullmq'
import { createBullMQWorker, createWebhookWorker, webhookQueueSettings, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'

const fixture = readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8')
const { prefix, cleanup } = testPrefix()
let db: TestDatabase
let processor: WebhookProcessor
const queues: Bull.Queue[] = []

function queue(name: string): Bull.Queue {
  const q = new Bull(name, SHARED_REDIS_URL, { prefix: `${prefix}${name}`, settings: webhookQueueSettings })
  queues.push(q)
  return q
}

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
  // The push's author maps, so the delivery has developer metric jobs to queue.
  await insertUser(db.pool, { email: 'mona@corp.example', githubLogin: 'octocat' })
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
})

afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()))
  await processor.close()
  await cleanup()
  await db.drop()
})

test('a failure to queue metric jobs fails the attempt, retryable, after the rows are committed', async () => {
  const webhooks = queue('webhooks')
  const metrics = queue('metrics')
  await metrics.isReady()
  await metrics.close() // every addBulk now rejects: "Connection is closed."
  const worker = createWebhookWorker(webhooks, { processor, metricsQueue: metrics, concurrency: 1, logger: { info() {}, warn() {}, error() {} } })
  const deliveryId = randomUUID()
  const job = await webhooks.add({ deliveryId, event: 'push', payload: fixture, receivedAt: Date.now() }, { attempts: 1 })
  await expect(job.finished()).rejects.toThrow(/metric jobs or follow-ups not queued/)
  expect(worker.health().counters).toMatchObject({ completed: 0, failed: 1, failuresByCode: { DATABASE_UNAVAILABLE: 1 } })
  const failed = await webhooks.getJob(job.id!)
  expect(await failed!.getState()).toBe('failed')
  // The rows are there: a retry would answer `duplicate` and queue the jobs again.
  const { rows } = await db.pool.query(`SELECT processed FROM events WHERE "deliveryId" = $1`, [deliveryId])
  expect(rows).toEqual([{ processed: true }])
  const again = await processor.process({ deliveryId, event: 'push', payload: fixture })
  expect(again.status).toBe('duplicate')
  expect(again.metricJobs.length).toBeGreaterThan(0)
  await worker.close()
})

test('on BullMQ the same: the attempt fails retryable after the rows are committed, and the job is not discarded', async () => {
  const url = new URL(SHARED_REDIS_URL)
  const connection = { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0) }
  const mqPrefix = `${prefix}mq`
  const webhooks = new BullMQQueue('webhooks', { connection, prefix: mqPrefix })
  const metrics = new BullMQQueue('metrics', { connection, prefix: mqPrefix })
  await metrics.waitUntilReady()
  await metrics.close() // every addBulk now rejects
  const events = new QueueEvents('webhooks', { connection, prefix: mqPrefix })
  await events.waitUntilReady()
  const worker = createBullMQWorker({ connection, prefix: mqPrefix, processor, metricsQueue: metrics, concurrency: 1, logger: { info() {}, warn() {}, error() {} } })
  try {
    const deliveryId = randomUUID()
    // Two attempts: a retryable failure is retried (an UnrecoverableError would fail it after one).
    const job = await webhooks.add('push', { deliveryId, event: 'push', payload: fixture, receivedAt: Date.now() }, { attempts: 2, backoff: { type: 'fixed', delay: 10 } })
    await expect(job.waitUntilFinished(events)).rejects.toThrow(/metric jobs or follow-ups not queued/)
    expect(worker.health().counters).toMatchObject({ completed: 0, failed: 2, retried: 1, discarded: 0, failuresByCode: { DATABASE_UNAVAILABLE: 2 } })
    const { rows } = await db.pool.query(`SELECT processed FROM events WHERE "deliveryId" = $1`, [deliveryId])
    expect(rows).toEqual([{ processed: true }])
  } finally {
    await worker.close()
    await events.close()
    await webhooks.close()
  }
})
