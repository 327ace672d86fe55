// Redis Cluster: a private three-master cluster (one replica each) carries the queues (Bull and
// BullMQ, hash-tagged prefixes) and the addon's shared user cache. Deliveries go end to end
// through the reference backend while the master holding the queues fails over to its replica
// (CLUSTER FAILOVER); every delivery ends stored once, processed, its commits once. A link made
// by one processor reaches another subscribed on a different node.
import { randomUUID } from 'node:crypto'
import Redis from 'ioredis'
import { WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, insertTeam, insertUser, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { PrivateRedisCluster } from './helpers/redis-cluster'
import { backendEnv, deliver, pushWithFreshCommits, RunningBackend, startBackend } from './support/backend'

let db: TestDatabase
let cluster: PrivateRedisCluster

beforeAll(async () => {
  db = await createTestDatabase()
  const teamId = await insertTeam(db.pool)
  await insertRepository(db.pool, undefined, { teamId })
  await insertUser(db.pool, { email: 'mona@corp.example', githubId: 583231, githubLogin: 'octocat', teamIds: [teamId] })
  cluster = await PrivateRedisCluster.start()
}, 120_000)

afterAll(async () => {
  await cluster?.destroy()
  await db?.drop()
})

describe.each(['bull', 'bullmq'] as const)('on %s', (driver) => {
  let running: RunningBackend | null = null

  afterEach(async () => {
    await running?.backend.close()
    running = null
  })

  test('deliveries end to end through a Redis Cluster, the queue master failed over mid-run: none lost or doubled', async () => {
    const tag = `devmetrics-${driver}-${randomUUID().slice(0, 8)}`
    running = await startBackend(
      backendEnv(db.url, '', {
        QUEUE_DRIVER: driver,
        REDIS_URL: cluster.urls,
        REDIS_CLUSTER: 'true',
        QUEUE_PREFIX: `{${tag}}`,
        CACHE_REDIS_URL: cluster.urls,
        CACHE_KEY_PREFIX: `{${tag}}:cache:`,
      }),
    )
    const { url, backend } = running
    const total = 90
    const failoverAt = 30
    const sent: { deliveryId: string; shas: string[] }[] = []
    let unavailable = 0
    let failedOver: { from: number; to: number } | null = null
    for (let i = 0; i < total; i++) {
      const { payload, shas } = pushWithFreshCommits(2)
      const deliveryId = randomUUID()
      // GitHub redelivers (same X-GitHub-Delivery) what was not answered 2xx.
      const res = await eventually(
        () => deliver(url, 'push', payload, { deliveryId }),
        (r) => r.status === 202 || (r.status === 503 && (unavailable++, false)),
        { timeoutMs: 60_000, intervalMs: 100 },
      )
      expect(res.body).toMatchObject({ status: 'queued' })
      sent.push({ deliveryId, shas })
      if (i === failoverAt) {
        // Mid-run: some jobs done, others waiting or active on the master that fails over.
        await eventually(async () => backend.worker!.health().counters.completed, (n) => n >= 10)
        failedOver = await cluster.failover(`{${tag}}`)
      }
    }
    expect(failedOver).not.toBeNull()

    const ids = sent.map((s) => s.deliveryId)
    const shas = sent.flatMap((s) => s.shas)
    const stored = await eventually(
      async () =>
        (
          await db.pool.query(
            'SELECT count(*)::int AS n, count(*) FILTER (WHERE processed)::int AS processed, count(DISTINCT "deliveryId")::int AS d FROM events WHERE "deliveryId" = ANY($1)',
            [ids],
          )
        ).rows[0],
      (r) => r.processed === total,
      { timeoutMs: 120_000, intervalMs: 200 },
    )
    await eventually(
      () => backend.queues.webhooks.getJobCounts(),
      (c) => c.waiting === 0 && c.active === 0 && c.delayed === 0,
      { timeoutMs: 60_000, intervalMs: 100 },
    )
    const counts = await backend.queues.webhooks.getJobCounts()
    const { rows } = await db.pool.query('SELECT count(*)::int AS n, count(DISTINCT sha)::int AS d FROM commits WHERE sha = ANY($1)', [shas])
    console.log(`${driver} on Redis Cluster: ${JSON.stringify({ total, failedOver, unavailable, counts, worker: backend.worker!.health().counters })}`)

    expect(stored).toEqual({ n: total, processed: total, d: total })
    expect(rows[0]).toEqual({ n: shas.length, d: shas.length })
    expect(counts.failed).toBe(0)
    // The shared user cache ran on the cluster too.
    const cache = backend.processor!.stats()
    expect(cache.redis.configured).toBe(true)
    expect(cache.redisCache.hits + cache.redisCache.misses).toBeGreaterThan(0)
  })
})

test('a link made through one node reaches a processor subscribed on another: invalidation is cluster-wide', async () => {
  const prefix = `{devmetrics-${randomUUID().slice(0, 8)}}:cache:`
  const nodes = cluster.urls.split(',')
  // Each processor's subscriber listens on the first of its startup nodes: different nodes.
  const a = await WebhookProcessor.connect({ databaseUrl: db.url, redisUrl: nodes.join(','), redisKeyPrefix: prefix })
  const b = await WebhookProcessor.connect({ databaseUrl: db.url, redisUrl: [...nodes].reverse().join(','), redisKeyPrefix: prefix })
  try {
    const userId = await insertUser(db.pool, { email: `late-${randomUUID()}@corp.example` })
    const githubId = 900_000_000 + Math.floor(Math.random() * 1_000_000)
    expect(await b.getUserIdByGithubId(githubId)).toBeNull() // cached as nobody in b (and in Redis)
    expect(await a.getUserIdByGithubId(githubId)).toBeNull()
    expect(a.stats().redisCache.hits).toBe(1) // a read b's entry from the cluster
    // b's subscriber must be listening (on the node it starts with) before the link is published.
    const bNode = new Redis([...nodes].reverse()[0])
    try {
      // The channel is `<prefix><database namespace>:user-invalidations`; CHANNELS lists those with a subscriber.
      await eventually(
        async () => (await bNode.pubsub('CHANNELS', `${prefix}*user-invalidations`)) as string[],
        (channels) => channels.length === 1,
      )
    } finally {
      bNode.disconnect()
    }
    await a.linkGithubUser(userId, { id: githubId })
    await eventually(() => b.getUserIdByGithubId(githubId), (id) => id === userId)
  } finally {
    await Promise.all([a.close(), b.close()])
  }
})
