// The webhook worker's side of GitHub API enrichment, with real Bull queues, the real addon
// and a real database: follow-ups land on the github queue under their stable ids, a
// redelivery adds no second job, a failure to queue them is retried, and without a github
// queue (API off) the webhook path is what it was.
import { randomUUID } from 'node:crypto'
import Bull from 'bull'
import { createWebhookWorker, githubJobOptions, webhookJobOptions, webhookQueueSettings, WebhookJobData, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'
import { pushPayload, shaOf } from './helpers/pushes'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'

const REPO_GITHUB_ID = 90210
const FULL_NAME = 'octo-org/enriched'

/** Failures are expected in these tests: kept out of the console. */
const quiet = { info() {}, warn() {}, error() {} }

let db: TestDatabase
let processor: WebhookProcessor
let repoId: string
const { prefix, cleanup } = testPrefix()
const queues: Bull.Queue[] = []

function queue(name: string): Bull.Queue {
  const q = new Bull(name, SHARED_REDIS_URL, { prefix: `${prefix}${name}`, settings: { ...webhookQueueSettings } })
  queues.push(q)
  return q
}

function push(commits: number, seed = randomUUID()): WebhookJobData {
  const body = pushPayload({
    repoGithubId: REPO_GITHUB_ID,
    fullName: FULL_NAME,
    commits: Array.from({ length: commits }, (_, i) => ({ sha: shaOf(seed, i) })),
  })
  return { deliveryId: randomUUID(), event: 'push', payload: body, receivedAt: Date.now() }
}

beforeAll(async () => {
  db = await createTestDatabase()
  repoId = await insertRepository(db.pool, REPO_GITHUB_ID, { fullName: FULL_NAME })
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
})

afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()))
  await processor.close()
  await cleanup()
  await db.drop()
})

test('a push queues one commitStats job under its stable id; a redelivery adds no second job', async () => {
  const webhooks = queue('webhooks-a')
  const github = queue('github-a')
  const worker = createWebhookWorker(webhooks, { processor, githubQueue: github })
  const delivery = push(3)
  const first = await (await webhooks.add(delivery, webhookJobOptions)).finished()
  expect(first).toMatchObject({ status: 'processed', records: { commits: 3 } })
  const [job, ...others] = await github.getJobs(['waiting', 'delayed', 'active'])
  expect(others).toHaveLength(0)
  expect(job.id).toBe(`commitStats:${repoId}:${delivery.deliveryId}`)
  expect(job.data).toEqual({
    kind: 'commitStats',
    repoId,
    repository: FULL_NAME,
    shas: [0, 1, 2].map((i) => JSON.parse(delivery.payload as string).commits[i].id).sort(),
    before: null,
    after: null,
    forced: null,
    deliveryId: delivery.deliveryId,
  })
  expect(job.opts).toMatchObject({ attempts: githubJobOptions.attempts, backoff: githubJobOptions.backoff })

  // GitHub redelivers with the same X-GitHub-Delivery: `duplicate`, the same follow-up, no new job.
  const again = await (await webhooks.add({ ...delivery, receivedAt: Date.now() }, webhookJobOptions)).finished()
  expect(again.status).toBe('duplicate')
  expect(await github.getJobCounts()).toMatchObject({ waiting: 1, delayed: 0, active: 0 })
  expect(worker.health().counters.followUpsQueued).toBe(2)
  await worker.close()
})

test('a truncated push of 2048 commits queues one completePush job carrying the listed commits', async () => {
  const webhooks = queue('webhooks-b')
  const github = queue('github-b')
  const worker = createWebhookWorker(webhooks, { processor, githubQueue: github })
  const delivery = push(2048)
  const done = await (await webhooks.add(delivery, webhookJobOptions)).finished()
  expect(done.records.commits).toBe(2048)
  const jobs = await github.getJobs(['waiting'])
  expect(jobs.map((j) => j.data.kind)).toEqual(['completePush'])
  const body = JSON.parse(delivery.payload as string)
  expect(jobs[0].id).toBe(`completePush:${repoId}:${body.before}:${body.after}`)
  expect(jobs[0].data).toMatchObject({ before: body.before, after: body.after, forced: false })
  expect(jobs[0].data.shas).toHaveLength(2048)
  await worker.close()
})

test('a github queue that cannot take the follow-ups fails the attempt as retryable; the retry queues them', async () => {
  const webhooks = queue('webhooks-c')
  const broken = new Bull('github-c', SHARED_REDIS_URL, { prefix: `${prefix}github-c` })
  await broken.close() // adds now reject
  const worker = createWebhookWorker(webhooks, { processor, githubQueue: broken, logger: quiet })
  const delivery = push(2)
  const added = await webhooks.add(delivery, { ...webhookJobOptions, backoff: { type: 'fixed', delay: 1 } })
  await expect(added.finished()).rejects.toThrow(/follow-ups not queued/)
  const failed = await webhooks.getJob(added.id)
  expect(failed?.attemptsMade).toBe(4) // retried to the end, never discarded
  expect(worker.health().counters).toMatchObject({ retried: 3, discarded: 0 })
  await worker.close()

  // A worker with a working queue: the delivery answers `duplicate` and queues its follow-up.
  const github = queue('github-c2')
  const again = queue('webhooks-c') // the same queue, a new Bull instance (one handler each)
  const fixed = createWebhookWorker(again, { processor, githubQueue: github })
  const retried = await (await again.add(delivery, webhookJobOptions)).finished()
  expect(retried.status).toBe('duplicate')
  expect((await github.getJobs(['waiting'])).map((j) => j.id)).toEqual([`commitStats:${repoId}:${delivery.deliveryId}`])
  await fixed.close()
})

test('without a github queue (API off) a push is processed as before and nothing is queued for GitHub', async () => {
  const webhooks = queue('webhooks-d')
  const metrics = queue('metrics-d')
  const worker = createWebhookWorker(webhooks, { processor, metricsQueue: metrics })
  const done = await (await webhooks.add(push(3), webhookJobOptions)).finished()
  expect(done).toMatchObject({ status: 'processed', records: { commits: 3 } })
  expect(worker.health().counters.followUpsQueued).toBe(0)
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM commits WHERE "statsFetchedAt" IS NULL AND NOT "statsMissing"')
  expect(rows[0].n).toBeGreaterThanOrEqual(3) // counts unknown, not zero
  await worker.close()
})

test('the API-answer methods refuse bad arguments and untrustworthy answers with documented codes, writing nothing', async () => {
  const shas = [shaOf('args', 1), shaOf('args', 2)]
  const delivery = push(0)
  const body = JSON.parse(delivery.payload as string)
  body.commits = shas.map((id) => ({ id, message: 'm', timestamp: '2024-01-01T00:00:00Z', author: { name: 'N', email: 'n@example.com' }, added: [], removed: [], modified: [] }))
  await processor.process({ ...delivery, payload: JSON.stringify(body) })

  const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e) => e.code)
  expect(await codeOf(processor.applyCommitStats(42 as never, '{}'))).toBe('INVALID_JOB')
  expect(await codeOf(processor.applyCommitStats(repoId, { data: {} } as never))).toBe('INVALID_JOB')
  expect(await codeOf(processor.completePush('', '[]'))).toBe('INVALID_JOB')
  expect(await codeOf(processor.commitsLackingStats(repoId, 'abc' as never))).toBe('INVALID_JOB')
  const half = `{"data":{"repository":{"c${shas[0]}":{"oid":"${shas[0]}","additions":5,"deletions":1},"c${shas[1]}":{"oid":"${shas[1]}","additions":-1`
  expect(await codeOf(processor.applyCommitStats(repoId, half))).toBe('INVALID_PAYLOAD')
  expect(await codeOf(processor.applyCommitStats(repoId, Buffer.from('{"data":{"repository":null}}')))).toBe('INVALID_PAYLOAD')
  expect(await codeOf(processor.completePush(repoId, '{"message":"Not Found"}'))).toBe('INVALID_PAYLOAD')
  expect(await codeOf(processor.applyCommitStats('no-such-repository', '{"data":{"repository":{}}}'))).toBe('UNKNOWN_REPOSITORY')
  expect(await processor.commitsLackingStats(repoId, shas)).toEqual([...shas].sort())

  const ok = `{"data":{"repository":{"c${shas[0]}":{"oid":"${shas[0]}","additions":5,"deletions":1,"changedFilesIfAvailable":2},"c${shas[1]}":null}}}`
  expect(await processor.applyCommitStats(repoId, Buffer.from(ok))).toMatchObject({ updated: 1, missing: 1, unknown: 0 })
  expect(await processor.commitsLackingStats(repoId, shas)).toEqual([])
})
