// createGitHubBullMQWorker's own contract, beyond what the shared suites check on both drivers
// (github-enrich, recovery-worker): bad options are refused before anything is created, and
// close() lets the active job finish, takes no new one, and leaves the rest to another worker.
// Real BullMQ, Redis, PostgreSQL, the built addon and the contract server.
import { randomUUID } from 'node:crypto'
import { JobsOptions, Queue, QueueEvents } from 'bullmq'
import Redis from 'ioredis'
import { createGitHubBullMQWorker, createGitHubClient, githubJobOptions, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'
import { pushPayload } from './helpers/pushes'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'
import { GitHubServer, startGitHubServer } from './github/server'

const TOKEN = 'bullmq-worker-token'
const quiet = { info() {}, warn() {}, error() {} }
const url = new URL(SHARED_REDIS_URL)
const connection = { host: url.hostname, port: Number(url.port || 6379) }

let db: TestDatabase
let processor: WebhookProcessor
let gh: GitHubServer
const redis = testPrefix()
const prefix = `${redis.prefix}mq`

beforeAll(async () => {
  db = await createTestDatabase()
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
  gh = await startGitHubServer({ tokens: [TOKEN] })
})

afterAll(async () => {
  await processor.close()
  await gh.close()
  await redis.cleanup()
  await db.drop()
})

test('bad options are CONFIG_ERROR at the call, and nothing is created in Redis', async () => {
  const client = createGitHubClient({ token: TOKEN, baseUrl: gh.url })
  const metrics = new Queue('metrics-x', { connection, prefix })
  const bad: Record<string, unknown>[] = [
    { client, processor },
    { connection, processor },
    { connection, client },
    { connection, client, processor, queueName: 'git:hub' },
    { connection, client, processor, concurrency: 0 },
    { connection, client, processor, prefix: '' },
    { connection, client, processor, metricsQueue: { add() {} } },
    { connection, client, databaseUrl: 'postgres://127.0.0.1:1/none', reconnectMaxDelayMs: -1 },
  ]
  for (const options of bad) {
    expect(() => createGitHubBullMQWorker(options as never)).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR', message: expect.stringMatching(/^createGitHubBullMQWorker: /) }))
  }
  await metrics.close()
  const keys = new Redis(SHARED_REDIS_URL)
  try {
    expect(await keys.keys(`${prefix}:github*`)).toEqual([])
  } finally {
    keys.disconnect()
  }
})

test('close() lets the active job finish and takes no new one; another worker runs what is left', async () => {
  const world = gh.world.addRepository({ owner: 'acme', name: 'closing' })
  const repoId = await insertRepository(db.pool, world.id, { fullName: 'acme/closing' })
  const commits = gh.world.commitChain(world, 4)
  const payload = pushPayload({
    repoGithubId: world.id,
    fullName: 'acme/closing',
    commits: commits.map((c) => ({ sha: c.sha, message: c.message, timestamp: c.author.date, name: c.author.name, email: c.author.email })),
  })
  await processor.process({ deliveryId: randomUUID(), event: 'push', payload, receivedAt: Date.now() })
  const queueName = `github-${randomUUID().slice(0, 6)}`
  const queue = new Queue(queueName, { connection, prefix })
  const events = new QueueEvents(queueName, { connection, prefix })
  await events.waitUntilReady()
  const client = createGitHubClient({ token: TOKEN, baseUrl: gh.url })

  // The first worker's writes wait at a gate, so close() is called while its job is active.
  let reached!: () => void
  const atGate = new Promise<void>((resolve) => (reached = resolve))
  let open!: () => void
  const gate = new Promise<void>((resolve) => (open = resolve))
  const gated = {
    commitsLackingStats: (repo: string, shas: string[]) => processor.commitsLackingStats(repo, shas),
    async applyCommitStats(repo: string, text: string) {
      reached()
      await gate
      return processor.applyCommitStats(repo, text)
    },
  } as unknown as WebhookProcessor
  const first = createGitHubBullMQWorker({ queueName, connection, prefix, client, processor: gated, logger: quiet, concurrency: 1 })
  const job = (shas: string[]) =>
    queue.add('commitStats', { kind: 'commitStats', repoId, repository: 'acme/closing', shas, before: null, after: null }, { ...(githubJobOptions as JobsOptions), jobId: `stats-${randomUUID()}` })

  const active = await job(commits.slice(0, 2).map((c) => c.sha))
  await atGate
  const closed = first.close()
  expect(first.health().status).toBe('closing')
  const left = await job(commits.slice(2).map((c) => c.sha))
  open()
  await closed
  expect(await active.waitUntilFinished(events)).toMatchObject({ requests: 1, updated: 2 })
  expect(await left.getState()).toBe('waiting')

  const second = createGitHubBullMQWorker({ queueName, connection, prefix, client, processor, logger: quiet })
  try {
    expect(await left.waitUntilFinished(events)).toMatchObject({ requests: 1, updated: 2, skipped: 0 })
  } finally {
    await second.close()
    await events.close()
    await queue.close()
  }
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM commits WHERE "repoId" = $1 AND "statsFetchedAt" IS NOT NULL', [repoId])
  expect(rows[0].n).toBe(4)
  gh.assertNoViolations()
})
