// Repositories auto-registration registers are backfilled (issue 25, docs/repositories.md):
// through the webhook worker on real Bull and BullMQ queues and the built addon, an
// installation_repositories delivery that registers repositories, and a delivery of an unknown
// repository under an installation, queue one `backfill` job per registered repository on the
// `github` queue when the worker is given `autoBackfill`; a redelivery queues none again, a
// worker without `autoBackfill` queues none, and a bad `autoBackfill` is a CONFIG_ERROR.
import { randomUUID } from 'node:crypto'
import Bull from 'bull'
import { Queue as BullMQQueue, QueueEvents } from 'bullmq'
import { createBullMQWorker, createWebhookWorker, webhookJobOptions, WebhookProcessor } from '../lib'
import { createTestDatabase, type TestDatabase } from './helpers/db'
import { examplesOf } from './helpers/examples'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'

const quiet = { info() {}, warn() {}, error() {} }
const redisUrl = new URL(SHARED_REDIS_URL)
const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) }

let db: TestDatabase
let processor: WebhookProcessor
const { prefix, cleanup } = testPrefix()
const closers: (() => Promise<unknown>)[] = []
let nextId = 7_100

beforeAll(async () => {
  db = await createTestDatabase()
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, autoRegisterRepositories: true })
})

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await processor.close()
  await cleanup()
  await db.drop()
})

type Delivery = { deliveryId: string; event: string; payload: string; receivedAt: number }

/** A webhook worker of `driver` feeding a fresh github queue (no consumer): `send` runs a delivery through it. */
async function pipeline(driver: 'bull' | 'bullmq', autoBackfill?: string) {
  const name = randomUUID().slice(0, 6)
  if (driver === 'bull') {
    const github = new Bull(`github-${name}`, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
    const webhooks = new Bull(`webhooks-${name}`, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
    const worker = createWebhookWorker(webhooks, { processor, githubQueue: github, autoBackfill, logger: quiet })
    closers.push(() => github.close(), () => webhooks.close(), () => worker.close())
    return {
      send: async (d: Delivery) => (await webhooks.add(d, webhookJobOptions)).finished(),
      jobs: async () => (await github.getJobs(['waiting'])).map((j) => ({ id: String(j.id), data: j.data, attempts: j.opts.attempts })),
    }
  }
  const queueName = `webhooks-${name}`
  const github = new BullMQQueue(`github-${name}`, { connection, prefix: `${prefix}mq` })
  const webhooks = new BullMQQueue(queueName, { connection, prefix: `${prefix}mq` })
  const worker = createBullMQWorker({ queueName, connection, prefix: `${prefix}mq`, processor, githubQueue: github, autoBackfill, logger: quiet })
  const events = new QueueEvents(queueName, { connection, prefix: `${prefix}mq` })
  closers.push(() => github.close(), () => webhooks.close(), () => worker.close(), () => events.close())
  await events.waitUntilReady()
  return {
    send: async (d: Delivery) => (await webhooks.add(d.event, d)).waitUntilFinished(events),
    jobs: async () => (await github.getJobs(['waiting'])).map((j) => ({ id: String(j.id).replaceAll('.', ':'), data: j.data, attempts: j.opts.attempts })),
  }
}

/** An installation_repositories `added` delivery adding two new repositories under a new installation. */
function added() {
  const [, example] = examplesOf('installation_repositories').find(([, p]) => p.action === 'added') as [string, Record<string, any>]
  const installation = ++nextId
  const repos = [++nextId, ++nextId].map((id) => ({ id, node_id: `R${id}`, name: `r${id}`, full_name: `octo/r${id}`, private: false }))
  const payload = { ...example, installation: { ...example.installation, id: installation }, repositories_added: repos, repositories_removed: [] }
  return { installation, repos, delivery: { deliveryId: randomUUID(), event: 'installation_repositories', payload: JSON.stringify(payload), receivedAt: Date.now() } }
}

const repoIdOf = async (githubId: number) => (await db.pool.query(`SELECT id FROM repositories WHERE "githubId" = $1`, [githubId])).rows[0].id as string

describe.each(['bull', 'bullmq'] as const)('on %s', (driver) => {
  test('the repositories an installation_repositories delivery registers are backfilled once, redelivered or not', async () => {
    const github = await pipeline(driver, '90d')
    const { repos, delivery } = added()
    const result = await github.send(delivery)
    expect(result).toMatchObject({ status: 'processed', followUps: 2 })
    await github.send({ ...delivery }) // GitHub redelivers it: a duplicate, nothing more.

    const ids = await Promise.all(repos.map((r) => repoIdOf(r.id)))
    const jobs = (await github.jobs()).sort((a, b) => a.id.localeCompare(b.id))
    expect(jobs).toEqual(
      repos
        .map((r, i) => ({
          id: `backfill:${ids[i]}:registered`,
          data: { kind: 'backfill', repository: r.full_name, repoId: ids[i], since: '90d', deliveryId: delivery.deliveryId },
          attempts: 10,
        }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    )
  })

  test('an unknown repository a delivery names under an installation is registered and backfilled', async () => {
    const github = await pipeline(driver, '30d')
    const [, opened] = examplesOf('issues').find(([, p]) => p.action === 'opened') as [string, Record<string, any>]
    const githubId = ++nextId
    const payload = { ...opened, repository: { ...opened.repository, id: githubId, full_name: `octo/i${githubId}`, name: `i${githubId}` }, issue: { ...opened.issue, id: githubId }, installation: { id: ++nextId, node_id: 'I' } }
    const result = await github.send({ deliveryId: randomUUID(), event: 'issues', payload: JSON.stringify(payload), receivedAt: Date.now() })
    expect(result).toMatchObject({ status: 'processed', records: { issues: 1 }, followUps: 1 })
    const repoId = await repoIdOf(githubId)
    expect(await github.jobs()).toEqual([
      { id: `backfill:${repoId}:registered`, data: expect.objectContaining({ kind: 'backfill', repository: `octo/i${githubId}`, repoId, since: '30d' }), attempts: 10 },
    ])
  })

  test('without autoBackfill nothing is backfilled', async () => {
    const github = await pipeline(driver)
    const { repos, delivery } = added()
    expect(await github.send(delivery)).toMatchObject({ status: 'processed', followUps: 0 })
    expect(await repoIdOf(repos[0].id)).toEqual(expect.any(String))
    expect(await github.jobs()).toEqual([])
  })
})

test('a bad autoBackfill, or one without a githubQueue, is a CONFIG_ERROR', () => {
  const webhooks = new Bull(`webhooks-${randomUUID().slice(0, 6)}`, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
  const github = new Bull(`github-${randomUUID().slice(0, 6)}`, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
  closers.push(() => webhooks.close(), () => github.close())
  expect(() => createWebhookWorker(webhooks, { processor, githubQueue: github, autoBackfill: 'soon', logger: quiet })).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }))
  expect(() => createWebhookWorker(webhooks, { processor, autoBackfill: '90d', logger: quiet })).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }))
  expect(() => createBullMQWorker({ connection, processor, githubQueue: github as never, autoBackfill: 7 as never, logger: quiet })).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }))
})
