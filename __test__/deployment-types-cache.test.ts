// From an adversary pass (break-final): a row deleted and re-created under the processor's caches
// (repository, user, deployment) must not make a later delivery fail or write to the old row.
import { WebhookProcessor } from '../lib'
import { examplesOf } from './helpers/examples'
import { createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'

const REPO = 186853002
let db: TestDatabase
let processor: WebhookProcessor

beforeAll(async () => {
  db = await createTestDatabase()
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4 })
})

afterAll(async () => {
  await processor?.close()
  await db?.drop()
})

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x))
let n = 0
const bump = (p: any) => {
  const c = clone(p)
  n += 1
  if (c.deployment_status) c.deployment_status.id += n
  return c
}

test('repository, user and deployment rows deleted and re-created: later deliveries land on the new rows', async () => {
  const status = examplesOf('deployment_status')[0][1] as any
  const login = status.deployment.creator.login
  const ghUser = status.deployment.creator.id
  const repo1 = await insertRepository(db.pool, REPO)
  const user1 = await insertUser(db.pool, { email: 'a@x.example', githubId: ghUser, githubLogin: login })
  const r1 = await processor.process({ deliveryId: 'c-1', event: 'deployment_status', payload: bump(status) })
  expect(r1.status).toBe('processed')
  expect((await db.pool.query('SELECT "repoId", "creatorId" FROM deployments')).rows).toEqual([{ repoId: repo1, creatorId: user1 }])

  // The user is deleted and re-created with the same GitHub account.
  await db.pool.query('DELETE FROM users WHERE id = $1', [user1])
  const user2 = await insertUser(db.pool, { email: 'b@x.example', githubId: ghUser, githubLogin: login })
  const r2 = await processor.process({ deliveryId: 'c-2', event: 'deployment_status', payload: bump(status) })
  expect(r2.status).toBe('processed')
  expect((await db.pool.query('SELECT "creatorId" FROM deployments')).rows).toEqual([{ creatorId: user2 }])

  // The deployment row is deleted; a later status re-creates it from the embedded deployment.
  await db.pool.query('DELETE FROM deployments')
  const r3 = await processor.process({ deliveryId: 'c-3', event: 'deployment_status', payload: bump(status) })
  expect(r3.status).toBe('processed')
  expect((await db.pool.query('SELECT count(*)::int AS n FROM deployment_statuses')).rows[0].n).toBe(1)
  expect((await db.pool.query('SELECT "repoId", "creatorId" FROM deployments')).rows).toEqual([{ repoId: repo1, creatorId: user2 }])

  // The repository is deleted and registered again under a new DevMetrics id.
  await db.pool.query('DELETE FROM repositories WHERE id = $1', [repo1])
  const repo2 = await insertRepository(db.pool, REPO)
  const r4 = await processor.process({ deliveryId: 'c-4', event: 'deployment_status', payload: bump(status) })
  expect(r4.status).toBe('processed')
  expect((await db.pool.query('SELECT "repoId" FROM deployments')).rows).toEqual([{ repoId: repo2 }])
  for (const [event, idx] of [['workflow_job', 1], ['release', 0], ['deployment', 0]] as const) {
    const r = await processor.process({ deliveryId: `c-${event}`, event, payload: examplesOf(event)[idx][1] })
    expect(r.status).toBe('processed')
  }
  const { rows } = await db.pool.query(
    `SELECT 'job' AS t, "repoId" FROM workflow_jobs UNION ALL SELECT 'rel', "repoId" FROM releases`,
  )
  for (const r of rows) expect(r.repoId).toBe(repo2)
})
