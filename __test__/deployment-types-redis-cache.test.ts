// From an adversary pass (break-final): a user row deleted and re-created directly in SQL while the shared
// Redis tier holds its old id: a second processor (fresh memory tier) must not write the old id
// (a foreign key to a deleted user) nor fail the delivery.
import { WebhookProcessor } from '../lib'
import { examplesOf } from './helpers/examples'
import { createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'

let db: TestDatabase
const redis = testPrefix()
let a: WebhookProcessor
let b: WebhookProcessor | undefined

beforeAll(async () => {
  db = await createTestDatabase()
  a = await WebhookProcessor.connect({ databaseUrl: db.url, redisUrl: SHARED_REDIS_URL, redisKeyPrefix: redis.prefix })
})

afterAll(async () => {
  await a?.close()
  await b?.close()
  await db?.drop()
  await redis.cleanup()
})

test('a user re-created in SQL under the shared Redis cache: a new processor attributes to the new row', async () => {
  const status = JSON.parse(JSON.stringify(examplesOf('deployment_status')[0][1])) as any
  const gh = status.deployment.creator.id
  await insertRepository(db.pool)
  const u1 = await insertUser(db.pool, { email: 'a@x.example', githubId: gh, githubLogin: status.deployment.creator.login })
  expect((await a.process({ deliveryId: 'r-1', event: 'deployment_status', payload: status })).status).toBe('processed')
  await db.pool.query('DELETE FROM users WHERE id = $1', [u1])
  const u2 = await insertUser(db.pool, { email: 'b@x.example', githubId: gh, githubLogin: status.deployment.creator.login })
  b = await WebhookProcessor.connect({ databaseUrl: db.url, redisUrl: SHARED_REDIS_URL, redisKeyPrefix: redis.prefix })
  status.deployment_status.id += 1
  const r = await b.process({ deliveryId: 'r-2', event: 'deployment_status', payload: status })
  expect(r.status).toBe('processed')
  const { rows } = await db.pool.query('SELECT "creatorId" FROM deployments')
  expect(rows).toEqual([{ creatorId: u2 }])
  expect(await b.getUserIdByGithubId(gh)).toBe(u2)
})
