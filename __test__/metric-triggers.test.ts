// Metric triggers are never lost (issue 22, items 4, 5 and 6), with real Bull and BullMQ queues
// on the shared Redis, the real addon on PostgreSQL and the contract GitHub server:
// - a trigger that arrives while a metric job of the same id is active (or failed and kept)
//   becomes a job of its own, from the webhook worker and from the line counts' re-run, on
//   both drivers, and coalesces into a job that has not started;
// - a commitStats attempt that wrote the counts and then could not queue their metric jobs is
//   retried into queueing them;
// - a batch GitHub can never answer costs only its own commits' counts, and the catch-up asks
//   for counts still unknown later.
import { randomUUID } from 'node:crypto'
import Bull from 'bull'
import { Queue as BullMQQueue, Worker as BullMQWorker } from 'bullmq'
import { createBullMQWorker, createGitHubClient, createWebhookWorker, webhookJobOptions, WebhookProcessor, queueUnknownCommitStats } from '../lib'
import { createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { pushPayload } from './helpers/pushes'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'
import { GitHubServer, startGitHubServer } from './github/server'
import type { WorldRepository } from './github/world'

// The job kinds as the github workers run them (`run(job, context)`); plain JS, no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { JOBS } = require('../lib/github/job-runner')

const TOKEN = 'metric-triggers-token'
const quiet = { info() {}, warn() {}, error() {} }
const redisUrl = new URL(SHARED_REDIS_URL)
const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) }

let db: TestDatabase
let processor: WebhookProcessor
let gh: GitHubServer
const { prefix, cleanup } = testPrefix()
const closers: (() => Promise<unknown>)[] = []
let repoCount = 0

beforeAll(async () => {
  db = await createTestDatabase()
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
  gh = await startGitHubServer({ tokens: [TOKEN] })
})

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await processor.close()
  await gh.close()
  await cleanup()
  await db.drop()
})

afterEach(() => gh.assertNoViolations())

/** A repository on the contract server and in the database, with one mapped developer. */
async function setup() {
  repoCount++
  const world = gh.world.addRepository({ owner: 'acme', name: `metrics-${repoCount}` })
  const fullName = `acme/${world.name}`
  const repoId = await insertRepository(db.pool, world.id, { fullName })
  const login = `dev${repoCount}`
  const userId = await insertUser(db.pool, { email: `${login}@example.test`, githubLogin: login })
  const commits = gh.world.commitChain(world, 3, 'main', `m${repoCount}`)
  return { world, fullName, repoId, login, userId, commits }
}

function pushOf(world: WorldRepository, login: string, commits: { sha: string }[]) {
  const payload = pushPayload({
    repoGithubId: world.id,
    fullName: `acme/${world.name}`,
    commits: commits.map((c) => ({ sha: c.sha, username: login, email: `${login}@example.test`, timestamp: '2026-01-05T10:00:00Z' })),
  })
  return { deliveryId: randomUUID(), event: 'push', payload, receivedAt: Date.now() }
}

/** The ids the addon gives a developer's job for 2026-01-05 in this minute and the next. */
function idsAround(userId: string): string[] {
  const minute = Math.floor(Date.now() / 60_000)
  return [minute, minute + 1].map((m) => `developer:${userId}:2026-01-05:${m}`)
}

/** A metrics queue of either driver, with a consumer that holds two jobs active until `release()` (others wait). */
async function heldMetrics(driver: 'bull' | 'bullmq') {
  const name = `metrics-${driver}-${randomUUID().slice(0, 6)}`
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  if (driver === 'bull') {
    const queue = new Bull(name, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
    closers.push(() => queue.close())
    void queue.process(2, () => gate)
    return {
      queue,
      release,
      add: (id: string, data: object) => queue.add(data, { jobId: id, removeOnComplete: true }),
      active: () => queue.getActiveCount(),
      waiting: async () => (await queue.getJobs(['waiting', 'delayed'])).map((j) => ({ id: String(j.id), data: j.data })),
    }
  }
  const queue = new BullMQQueue(name, { connection, prefix: `${prefix}mq` })
  const worker = new BullMQWorker(name, () => gate, { connection, prefix: `${prefix}mq`, concurrency: 2 })
  closers.push(() => queue.close(), () => worker.close())
  return {
    queue,
    release,
    add: (id: string, data: object) => queue.add('developer', data, { jobId: id.replaceAll(':', '.'), removeOnComplete: true }),
    active: () => queue.getActiveCount(),
    waiting: async () => (await queue.getJobs(['waiting', 'delayed', 'prioritized'])).map((j) => ({ id: String(j.id), data: j.data })),
  }
}

describe.each(['bull', 'bullmq'] as const)('on %s', (driver) => {
  test('a trigger that arrives while the metric job of its id runs is queued again, from the webhook worker and from the line counts', async () => {
    const { world, fullName, repoId, login, userId, commits } = await setup()
    const metrics = await heldMetrics(driver)
    // An earlier trigger's job, under the id this minute's (or the next minute's) trigger takes, runs.
    for (const id of idsAround(userId)) await metrics.add(id, { kind: 'developer', id: userId, date: '2026-01-05' })
    await eventually(() => metrics.active(), (n) => n === 2)

    // The webhook worker's trigger.
    let result: { metricJobs: number }
    if (driver === 'bull') {
      const webhooks = new Bull(`webhooks-${randomUUID().slice(0, 6)}`, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
      const worker = createWebhookWorker(webhooks, { processor, metricsQueue: metrics.queue as Bull.Queue, logger: quiet })
      closers.push(() => webhooks.close(), () => worker.close())
      result = await (await webhooks.add(pushOf(world, login, commits), webhookJobOptions)).finished()
    } else {
      const queueName = `webhooks-${randomUUID().slice(0, 6)}`
      const webhooks = new BullMQQueue(queueName, { connection, prefix: `${prefix}mq` })
      const worker = createBullMQWorker({ queueName, connection, prefix: `${prefix}mq`, processor, metricsQueue: metrics.queue as BullMQQueue, logger: quiet })
      closers.push(() => webhooks.close(), () => worker.close())
      const { QueueEvents } = await import('bullmq')
      const events = new QueueEvents(queueName, { connection, prefix: `${prefix}mq` })
      closers.push(() => events.close())
      await events.waitUntilReady()
      result = await (await webhooks.add('push', pushOf(world, login, commits))).waitUntilFinished(events)
    }
    expect(result.metricJobs).toBe(1)
    let waiting = await metrics.waiting()
    expect(waiting.map((w) => w.data)).toEqual([expect.objectContaining({ kind: 'developer', id: userId, date: '2026-01-05' })])

    // The line counts land meanwhile: their re-run is queued too (coalesced into the job that
    // has not started, unless the minute turned), never dropped.
    const client = createGitHubClient({ token: TOKEN, baseUrl: gh.url, retries: 0, writeSpacingMs: 0 })
    const stats = { data: { kind: 'commitStats', repoId, repository: fullName, shas: commits.map((c) => c.sha) }, attemptsMade: 0, opts: { attempts: 8 } }
    const done = await JOBS.commitStats.run(stats, { processor, client, metricsQueue: metrics.queue })
    expect(done).toMatchObject({ updated: 3, metricJobs: 1 })
    waiting = await metrics.waiting()
    expect(waiting.length).toBeGreaterThanOrEqual(1)
    for (const w of waiting) expect(w.data).toMatchObject({ kind: 'developer', id: userId, date: '2026-01-05' })
    metrics.release()
  })
})

test('commitStats: counts written, metric jobs not queued (Redis gone), the retry queues them', async () => {
  const { world, fullName, repoId, login, userId, commits } = await setup()
  await processor.process(pushOf(world, login, commits))
  const name = `metrics-retry-${randomUUID().slice(0, 6)}`
  const broken = new Bull(name, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
  await broken.close()
  const client = createGitHubClient({ token: TOKEN, baseUrl: gh.url, retries: 0, writeSpacingMs: 0 })
  const job = { data: { kind: 'commitStats', repoId, repository: fullName, shas: commits.map((c) => c.sha) }, attemptsMade: 0, opts: { attempts: 8 } }
  await expect(JOBS.commitStats.run(job, { processor, client, metricsQueue: broken })).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE', retryable: true })
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM commits WHERE "repoId" = $1 AND "statsFetchedAt" IS NOT NULL', [repoId])
  expect(rows[0].n).toBe(3)

  const metrics = new Bull(name, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
  closers.push(() => metrics.close())
  const retried = await JOBS.commitStats.run({ ...job, attemptsMade: 1 }, { processor, client, metricsQueue: metrics })
  expect(retried).toMatchObject({ metricJobs: 1 })
  expect((await metrics.getJobs(['waiting'])).map((j) => j.data)).toEqual([expect.objectContaining({ kind: 'developer', id: userId, date: '2026-01-05' })])
})

test('completePush: the truncation check wrote the counts, their metric jobs not queued (Redis gone), the retry queues them', async () => {
  const { world, fullName, repoId, login, userId } = await setup()
  // A range of three commits after a base, pushed with `forced: false`: the truncation check
  // asks for the listed commits' counts (and the range's size) in its first batch.
  const [base, ...range] = gh.world.commitChain(world, 4, 'main', `cp${repoCount}`)
  const payload = pushPayload({
    repoGithubId: world.id,
    fullName,
    before: base.sha,
    forced: false,
    commits: range.map((c) => ({ sha: c.sha, username: login, email: `${login}@example.test`, timestamp: '2026-01-05T10:00:00Z' })),
  })
  await processor.process({ deliveryId: randomUUID(), event: 'push', payload, receivedAt: Date.now() })
  const name = `metrics-cp-${randomUUID().slice(0, 6)}`
  const broken = new Bull(name, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
  await broken.close()
  const client = createGitHubClient({ token: TOKEN, baseUrl: gh.url, retries: 0, writeSpacingMs: 0 })
  const job = {
    data: { kind: 'completePush', repoId, repository: fullName, before: base.sha, after: range[range.length - 1].sha, shas: range.map((c) => c.sha), forced: false } as Record<string, unknown>,
    attemptsMade: 0,
    opts: { attempts: 8 },
    update: async (data: Record<string, unknown>) => {
      job.data = data
    },
  }
  await expect(JOBS.completePush.run(job, { processor, client, metricsQueue: broken, githubQueue: null })).rejects.toMatchObject({ retryable: true })
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM commits WHERE "repoId" = $1 AND "statsFetchedAt" IS NOT NULL', [repoId])
  expect(rows[0].n).toBe(3)

  // The retry asks for the saved batch again (its counts known by now) and queues the jobs.
  const metrics = new Bull(name, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
  closers.push(() => metrics.close())
  const retried = await JOBS.completePush.run({ ...job, attemptsMade: 1 }, { processor, client, metricsQueue: metrics, githubQueue: null })
  expect(retried).toMatchObject({ metricJobs: 1, complete: true })
  expect((await metrics.getJobs(['waiting'])).map((j) => j.data)).toEqual([expect.objectContaining({ kind: 'developer', id: userId, date: '2026-01-05' })])
})

test('commitStats: a commit GitHub never answers costs only its own counts; the catch-up asks for it again later', async () => {
  const { world, fullName, repoId, login } = await setup()
  const commits = gh.world.commitChain(world, 6, 'main', `bad${repoCount}`)
  await processor.process(pushOf(world, login, commits))
  const bad = commits[4].sha
  const fault = gh.failWhile((r) => r.path === '/graphql' && JSON.stringify(r.body).includes(bad))
  const client = createGitHubClient({ token: TOKEN, baseUrl: gh.url, retries: 0, writeSpacingMs: 0 })
  const job = { data: { kind: 'commitStats', repoId, repository: fullName, shas: commits.map((c) => c.sha) }, attemptsMade: 0, opts: { attempts: 8 } }
  const done = await JOBS.commitStats.run(job, { processor, client, metricsQueue: null })
  expect(done).toMatchObject({ updated: 5, unresolved: 1 })
  const unknown = async () => (await db.pool.query('SELECT sha FROM commits WHERE "repoId" = $1 AND "statsFetchedAt" IS NULL', [repoId])).rows.map((r) => r.sha)
  expect(await unknown()).toEqual([bad])

  // GitHub answers again; the catch-up queues the commits still unknown.
  fault.stop()
  const github = new Bull(`github-${randomUUID().slice(0, 6)}`, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
  closers.push(() => github.close())
  const queued = await queueUnknownCommitStats(github, { pool: db.pool, olderThanMs: 0 })
  expect(queued).toMatchObject({ commits: 1, jobs: 1 })
  const [catchUp] = await github.getJobs(['waiting'])
  expect(catchUp.data).toMatchObject({ kind: 'commitStats', repoId, repository: fullName, shas: [bad] })
  await JOBS.commitStats.run(catchUp, { processor, client, metricsQueue: null })
  expect(await unknown()).toEqual([])
})

test('the catch-up takes turns: commits never asked for come before those it asked for already, so unanswered ones cannot hold every run\'s places', async () => {
  const { world, repoId, login } = await setup()
  const commits = gh.world.commitChain(world, 5, 'main', `turns${repoCount}`)
  await processor.process(pushOf(world, login, commits))
  const github = new Bull(`github-${randomUUID().slice(0, 6)}`, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
  closers.push(() => github.close())
  // Three runs of two places each: every unknown commit gets asked for (the first run's two
  // again in the third, having been asked longest ago).
  const asked: string[][] = []
  for (let run = 0; run < 3; run++) {
    const before = new Set((await github.getJobs(['waiting'])).map((j) => String(j.id)))
    expect(await queueUnknownCommitStats(github, { pool: db.pool, olderThanMs: 0, limit: 2, repoId })).toMatchObject({ commits: 2, jobs: 1 })
    const added = (await github.getJobs(['waiting'])).filter((j) => !before.has(String(j.id)))
    asked.push(added.flatMap((j) => j.data.shas).sort())
  }
  expect(new Set(asked.flat())).toEqual(new Set(commits.map((c) => c.sha)))
  expect(asked[2]).toContain(asked[0][0])
})

test('commitStats: when GitHub fails every request, the job fails for the queue to retry later', async () => {
  const { world, fullName, repoId, login } = await setup()
  const commits = gh.world.commitChain(world, 4, 'main', `down${repoCount}`)
  await processor.process(pushOf(world, login, commits))
  const fault = gh.failWhile((r) => r.path === '/graphql')
  try {
    const client = createGitHubClient({ token: TOKEN, baseUrl: gh.url, retries: 0, writeSpacingMs: 0 })
    const job = { data: { kind: 'commitStats', repoId, repository: fullName, shas: commits.map((c) => c.sha) }, attemptsMade: 0, opts: { attempts: 8 } }
    await expect(JOBS.commitStats.run(job, { processor, client, metricsQueue: null })).rejects.toMatchObject({ code: 'GITHUB_UNAVAILABLE', retryable: true })
  } finally {
    fault.stop()
  }
})
