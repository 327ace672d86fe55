// User mapping: the in-process tier, the shared Redis tier, negative caching, linking with
// back-fill and cross-processor invalidation, and Redis failures. Real Redis throughout.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Redis from 'ioredis'
import { WebhookProcessingError, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, insertTeam, insertUser, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { PrivateRedis, SHARED_REDIS_URL, testPrefix } from './helpers/redis'

const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8'))

let db: TestDatabase
let redis: Redis
const { prefix, cleanup } = testPrefix()
const opened: WebhookProcessor[] = []

async function connect(extra: Partial<Parameters<typeof WebhookProcessor.connect>[0]> = {}) {
  const p = await WebhookProcessor.connect({ databaseUrl: db.url, redisUrl: SHARED_REDIS_URL, redisKeyPrefix: prefix, ...extra })
  opened.push(p)
  return p
}

/** The Redis key of a GitHub id, once the tier has written it: keys sit under the prefix and
 * a namespace of the database, so deployments of different databases never share ids. */
async function userKey(githubId: number): Promise<string> {
  const keys = await eventually(() => redis.keys(`${prefix}*:user:g:${githubId}`), (k) => k.length > 0)
  expect(keys).toHaveLength(1)
  return keys[0]
}

/** A push of `n` distinct commits, all by `author`. */
function pushBy(author: { name: string; email: string; username?: string }, n = 1) {
  return {
    ...fixture,
    commits: Array.from({ length: n }, () => ({
      ...fixture.commits[0],
      id: randomUUID().replace(/-/g, '').padEnd(40, '0'),
      author,
    })),
  }
}

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
  redis = new Redis(SHARED_REDIS_URL)
})

afterAll(async () => {
  await Promise.all(opened.map((p) => p.close()))
  redis.disconnect()
  await cleanup()
  await db.drop()
})

test('a lookup is cached in process and in Redis for the TTL', async () => {
  const userId = await insertUser(db.pool, { email: 'cached@example.com', githubId: 1001 })
  const p = await connect({ userCacheTtlSeconds: 120 })
  expect(await p.getUserIdByGithubId(1001)).toBe(userId)
  expect(await p.getUserIdByGithubId(1001)).toBe(userId)
  const s = p.stats()
  expect(s.memoryCache).toMatchObject({ hits: 1, misses: 1 })
  expect(s.redisCache).toMatchObject({ hits: 0, misses: 1 })
  expect(s.redis).toEqual({ configured: true, available: true, errors: 0 })
  // The shared tier is filled off the event's path.
  const ttl = await redis.ttl(await userKey(1001))
  expect(ttl).toBeLessThanOrEqual(120)
  expect(ttl).toBeGreaterThan(100)
})

test('a second processor finds the mapping in Redis without asking the database', async () => {
  const userId = await insertUser(db.pool, { email: 'shared@example.com', githubId: 1002 })
  const a = await connect()
  expect(await a.getUserIdByGithubId(1002)).toBe(userId)
  await userKey(1002)
  // Change the row behind the caches' back: a Redis hit must not see it.
  await db.pool.query(`UPDATE users SET "githubId" = NULL WHERE id = $1`, [userId])
  const b = await connect()
  expect(await b.getUserIdByGithubId(1002)).toBe(userId)
  expect(b.stats().redisCache).toMatchObject({ hits: 1, misses: 0 })
})

test('processors of different databases on one Redis and prefix never share ids', async () => {
  const userId = await insertUser(db.pool, { email: 'scoped@example.com', githubId: 1004 })
  const a = await connect()
  expect(await a.getUserIdByGithubId(1004)).toBe(userId)
  await userKey(1004)
  const other = await createTestDatabase()
  try {
    const otherUserId = await insertUser(other.pool, { email: 'scoped@example.com', githubId: 1004 })
    const b = await connect({ databaseUrl: other.url })
    expect(await b.getUserIdByGithubId(1004)).toBe(otherUserId)
    expect(b.stats().redisCache).toMatchObject({ hits: 0, misses: 1 })
    await b.close()
  } finally {
    await other.drop()
  }
})

test('entries expire after the TTL in both tiers, and the next lookup reads the database', async () => {
  const before = await insertUser(db.pool, { email: 'moved.before@example.com', githubId: 1006 })
  const p = await connect({ userCacheTtlSeconds: 2 })
  expect(await p.getUserIdByGithubId(1006)).toBe(before)
  const key = await userKey(1006)
  expect(await redis.pttl(key)).toBeLessThanOrEqual(2000)
  // The account moves to another user behind the caches' back: only expiry can reveal it.
  await db.pool.query(`UPDATE users SET "githubId" = NULL WHERE id = $1`, [before])
  const after = await insertUser(db.pool, { email: 'moved.after@example.com', githubId: 1006 })
  expect(await p.getUserIdByGithubId(1006)).toBe(before)
  await eventually(() => p.getUserIdByGithubId(1006), (id) => id === after)
  expect(p.stats().memoryCache.hits).toBeGreaterThan(0)
})

test('unknown users are cached negatively for at most 60 seconds', async () => {
  const p = await connect()
  expect(await p.getUserIdByGithubId(1003)).toBeNull()
  const key = await userKey(1003)
  const ttl = await redis.ttl(key)
  expect(ttl).toBeGreaterThan(0)
  expect(ttl).toBeLessThanOrEqual(60)
  expect(await redis.get(key)).toBe('-')
  // A user added directly in the database is not seen until the entry expires or a link invalidates it.
  await insertUser(db.pool, { email: 'late@example.com', githubId: 1003 })
  expect(await p.getUserIdByGithubId(1003)).toBeNull()
})

test('a user linked after their first commits owns those rows, in every processor', async () => {
  const a = await connect()
  const b = await connect()
  const teamId = await insertTeam(db.pool, 'Newcomers')
  const author = { name: 'New Person', email: 'new.person@example.com', username: 'new-person' }
  const first = await a.process({ deliveryId: randomUUID(), event: 'push', payload: pushBy(author, 3) })
  expect(first.unmappedUsers).toEqual(['new-person'])
  expect(await a.getUserIdByGithubId(4242)).toBeNull() // a negative entry in A's memory tier

  const userId = await insertUser(db.pool, { email: 'person@corp.example', teamIds: [teamId] })
  const link = await b.linkGithubUser(userId, { id: 4242, login: 'New-Person' })
  expect(link.userId).toBe(userId)
  expect(link.backfilled).toEqual({ commits: 3, pullRequests: 0, issues: 0, reviews: 0, deployments: 0, deploymentStatuses: 0, workflowRuns: 0, workflowJobs: 0, releases: 0 })
  expect(link.metricJobs.map((j) => `${j.kind}:${j.id}`).sort()).toEqual([`developer:${userId}`, `team:${teamId}`])

  const { rows } = await db.pool.query(`SELECT DISTINCT "authorId" FROM commits WHERE "authorLogin" = 'new-person'`)
  expect(rows).toEqual([{ authorId: userId }])
  const linked = await db.pool.query(`SELECT "githubId", "githubLogin" FROM users WHERE id = $1`, [userId])
  expect(linked.rows).toEqual([{ githubId: '4242', githubLogin: 'New-Person' }])

  // A's negative entry is invalidated through Redis pub/sub.
  await eventually(() => a.getUserIdByGithubId(4242), (id) => id === userId)
  // New activity maps at once, in either processor.
  const next = await a.process({ deliveryId: randomUUID(), event: 'push', payload: pushBy(author, 1) })
  expect(next.unmappedUsers).toEqual([])
  expect(next.metricJobs.some((j) => j.kind === 'developer' && j.id === userId)).toBe(true)
})

test('a commit email given to a link back-fills commits by that address, and later pushes by it map', async () => {
  const p = await connect()
  const author = { name: 'Email Only', email: 'Only@Mail.example' }
  await p.process({ deliveryId: randomUUID(), event: 'push', payload: pushBy(author, 2) })
  const userId = await insertUser(db.pool, { email: 'work@corp.example' })
  const link = await p.linkGithubUser(userId, { email: 'only@mail.example' })
  expect(link.backfilled.commits).toBe(2)
  // Stored as the user's commit email (user_github_emails); users.email stays the backend's.
  const { rows } = await db.pool.query(`SELECT email, "githubId", "githubLogin" FROM users WHERE id = $1`, [userId])
  expect(rows).toEqual([{ email: 'work@corp.example', githubId: null, githubLogin: null }])
  const linked = await db.pool.query(`SELECT email FROM user_github_emails WHERE "userId" = $1`, [userId])
  expect(linked.rows).toEqual([{ email: 'only@mail.example' }])
  const later = await p.process({ deliveryId: randomUUID(), event: 'push', payload: pushBy(author, 1) })
  expect(later.unmappedUsers).toEqual([])
  expect(later.metricJobs.some((j) => j.kind === 'developer' && j.id === userId)).toBe(true)
})

test('link errors have documented codes', async () => {
  const p = await connect()
  const taken = await insertUser(db.pool, { email: 'taken@example.com', githubId: 5005 })
  const other = await insertUser(db.pool, { email: 'other@example.com' })
  await expect(p.linkGithubUser(randomUUID(), { id: 5006 })).rejects.toMatchObject({ code: 'CONSTRAINT_VIOLATION' })
  await expect(p.linkGithubUser(other, { id: 5005 })).rejects.toMatchObject({ code: 'CONSTRAINT_VIOLATION' })
  await expect(p.linkGithubUser(other, {})).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(p.linkGithubUser('', { id: 1 })).rejects.toBeInstanceOf(WebhookProcessingError)
  await expect(p.linkGithubUser(other, { id: -3 })).rejects.toMatchObject({ code: 'INVALID_JOB' })
  expect(taken).toBeTruthy()
})

test('a realistic stream (many events by a few dozen people) hits the caches over 80% of the time', async () => {
  const p = await connect()
  const people = Array.from({ length: 30 }, (_, i) => ({ name: `Dev ${i}`, email: `dev${i}@stream.example`, username: `dev-${i}` }))
  for (const [i, person] of people.entries()) {
    if (i % 3 !== 0) await insertUser(db.pool, { email: `corp${i}@stream.example`, githubLogin: person.username })
  }
  for (let i = 0; i < 200; i++) {
    const payload = { ...fixture, commits: [0, 1, 2].map((k) => ({ ...pushBy(people[(i * 7 + k * 11) % 30]).commits[0] })) }
    expect((await p.process({ deliveryId: randomUUID(), event: 'push', payload })).status).toBe('processed')
  }
  const { memoryCache } = p.stats()
  expect(memoryCache.hitRate).toBeGreaterThan(0.8)
})

test('an invalid redisUrl is CONFIG_ERROR', async () => {
  await expect(WebhookProcessor.connect({ databaseUrl: db.url, redisUrl: 'not-a-url' })).rejects.toMatchObject({
    code: 'CONFIG_ERROR',
  })
})

describe('Redis failures degrade to database lookups', () => {
  let privateRedis: PrivateRedis

  beforeAll(async () => {
    privateRedis = await PrivateRedis.start()
  })
  afterAll(async () => {
    await privateRedis.destroy()
  })

  test('Redis down at connect: processing works, the tier is reported unavailable', async () => {
    const port = privateRedis.port + 1 // nothing listens there
    const p = await connect({ redisUrl: `redis://127.0.0.1:${port}` })
    const r = await p.process({ deliveryId: randomUUID(), event: 'push', payload: pushBy({ name: 'x', email: 'x@down.example' }) })
    expect(r.status).toBe('processed')
    expect(p.stats().redis).toMatchObject({ configured: true, available: false })
  })

  test('Redis stopped mid-run loses no event, and the tier recovers by itself', async () => {
    const p = await connect({ redisUrl: privateRedis.url })
    const sent: string[] = []
    const send = async (i: number) => {
      const deliveryId = randomUUID()
      sent.push(deliveryId)
      // Fresh identities every event: each misses the memory tier and asks Redis.
      const author = { name: `R ${i}`, email: `r${i}@redis.example`, username: `r-${i}` }
      return p.process({ deliveryId, event: 'push', payload: pushBy(author) })
    }
    for (let i = 0; i < 10; i++) expect((await send(i)).status).toBe('processed')
    expect(p.stats().redis.available).toBe(true)

    await privateRedis.stop()
    for (let i = 10; i < 30; i++) expect((await send(i)).status).toBe('processed')
    // New identities force a Redis lookup, which fails over to the database.
    expect(p.stats().redis).toMatchObject({ available: false })
    expect(p.stats().redis.errors).toBeGreaterThan(0)

    await privateRedis.start()
    let i = 30
    await eventually(
      async () => {
        await send(i++)
        return p.stats().redis.available
      },
      (available) => available,
      { timeoutMs: 15_000, intervalMs: 200 },
    )
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1) AND processed`, [sent])
    expect(rows[0].n).toBe(sent.length)
  })
})
