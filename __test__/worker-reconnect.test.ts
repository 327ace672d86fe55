// createWebhookWorker({ databaseUrl }) started before its database exists, then before it
// is migrated: it keeps connecting with backoff, health() says what it waits for, and the
// jobs queued meanwhile succeed once the database is ready (none lands in the failed set).
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Bull from 'bull'
import { Client, Pool } from 'pg'
import { createGitHubClient, createGitHubWorker, createWebhookWorker, githubJobOptions, migrate, webhookJobOptions, webhookQueueSettings, WebhookWorker } from '../lib'
import { ADMIN_URL, insertRepository } from './helpers/db'
import { eventually } from './helpers/eventually'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'

const fixture = readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8')
const { prefix, cleanup } = testPrefix()
const name = `wp_test_late_${randomUUID().replace(/-/g, '').slice(0, 12)}`
const url = (() => {
  const u = new URL(ADMIN_URL)
  u.pathname = `/${name}`
  return u.toString()
})()
const queues: Bull.Queue[] = []
const workers: Pick<WebhookWorker, 'close'>[] = []
const quiet = { info() {}, warn() {}, error() {} }

async function admin(sql: string): Promise<void> {
  const client = new Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

function queue(queueName: string): Bull.Queue {
  const q = new Bull(queueName, SHARED_REDIS_URL, { prefix: `${prefix}${queueName}`, settings: webhookQueueSettings })
  queues.push(q)
  return q
}

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()))
  await Promise.all(queues.map((q) => q.close()))
  await cleanup()
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
})

test('a worker started before its database connects once it exists and is migrated; queued jobs succeed', async () => {
  const webhooks = queue('webhooks')
  const worker = createWebhookWorker(webhooks, { databaseUrl: url, concurrency: 2, reconnectMaxDelayMs: 200, logger: quiet })
  workers.push(worker)
  const jobs = await Promise.all(
    [1, 2, 3].map((i) =>
      webhooks.add({ deliveryId: `late-${i}`, event: 'push', payload: fixture, receivedAt: Date.now() }, webhookJobOptions),
    ),
  )

  // No database yet.
  const absent = await eventually(async () => worker.health().waitingFor, (w) => w !== null && w.attempts >= 2)
  expect(absent).toMatchObject({ what: 'database', code: 'DATABASE_UNAVAILABLE' })
  expect(absent!.message).toContain('does not exist')
  expect(worker.health().processor).toBeNull()

  // A database without the schema.
  await admin(`CREATE DATABASE ${name}`)
  const unmigrated = await eventually(async () => worker.health().waitingFor, (w) => w?.code === 'SCHEMA_MISMATCH')
  expect(unmigrated!.attempts).toBeGreaterThan(absent!.attempts)

  // Migrated: the waiting jobs go through.
  await migrate(url)
  const pool = new Pool({ connectionString: url, max: 1 })
  try {
    await insertRepository(pool)
    const results = await Promise.all(jobs.map((j) => j.finished()))
    expect(results.map((r) => r.status)).toEqual(['processed', 'processed', 'processed'])
    expect(worker.health()).toMatchObject({ waitingFor: null, counters: { completed: 3, failed: 0 } })
    expect(worker.health().processor).not.toBeNull()
    expect(await webhooks.getFailedCount()).toBe(0)
  } finally {
    await pool.end()
  }
})

test('close() of a worker still waiting for its database returns, and its job is left to retry', async () => {
  const webhooks = queue('never')
  const never = new URL(ADMIN_URL)
  never.pathname = `/wp_test_never_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  const worker = createWebhookWorker(webhooks, { databaseUrl: never.toString(), concurrency: 1, reconnectMaxDelayMs: 100, logger: quiet })
  const job = await webhooks.add({ deliveryId: 'never-1', event: 'push', payload: fixture, receivedAt: Date.now() }, webhookJobOptions)
  await eventually(async () => worker.health().active, (n) => n === 1)
  await worker.close()
  expect(worker.health().counters.failuresByCode).toEqual({ PROCESSOR_CLOSED: 1 })
  const state = await (await webhooks.getJob(job.id))!.getState()
  expect(['delayed', 'waiting']).toContain(state)
})

test('a github worker started before its database waits for it the same way; its job then completes, none fails', async () => {
  const late = `wp_test_late_gh_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  const lateUrl = new URL(ADMIN_URL)
  lateUrl.pathname = `/${late}`
  const github = queue('github-late')
  // No request is made: the job's commits are not in the table, so none lacks counts.
  const client = createGitHubClient({ token: 'unused', baseUrl: 'http://127.0.0.1:9' })
  const worker = createGitHubWorker(github, { client, databaseUrl: lateUrl.toString(), concurrency: 1, reconnectMaxDelayMs: 200, logger: quiet })
  workers.push(worker)
  try {
    const job = await github.add(
      { kind: 'commitStats', repoId: randomUUID(), repository: 'acme/late', shas: ['a'.repeat(40)], before: null, after: null },
      { ...githubJobOptions, jobId: `late-${randomUUID()}` },
    )
    const absent = await eventually(async () => worker.health().waitingFor, (w) => w !== null && w.attempts >= 2)
    expect(absent).toMatchObject({ what: 'database', code: 'DATABASE_UNAVAILABLE' })
    await admin(`CREATE DATABASE ${late}`)
    await migrate(lateUrl.toString())
    expect(await job.finished()).toMatchObject({ requests: 0 })
    expect(worker.health()).toMatchObject({ waitingFor: null, counters: { completed: 1, failed: 0 } })
    expect(await github.getFailedCount()).toBe(0)
  } finally {
    await worker.close()
    await admin(`DROP DATABASE IF EXISTS ${late} WITH (FORCE)`)
  }
})
