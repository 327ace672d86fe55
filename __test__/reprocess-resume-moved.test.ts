// From an adversary pass (break-final): a rebuild interrupted after one batch, resumed after the list of
// stored deliveries moved (new deliveries received meanwhile, some of them earlier than the
// resumed position by receivedAt), ends with the rows live processing wrote.
import { Pool } from 'pg'
import { WebhookProcessor } from '../lib'
import { examplesOf } from './helpers/examples'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'

let db: TestDatabase
let processor: WebhookProcessor

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4 })
})

afterAll(async () => {
  await processor?.close()
  await db?.drop()
})

const rows = async (pool: Pool) =>
  (await pool.query(`SELECT to_jsonb(t) - 'id' AS row FROM deployments t ORDER BY "githubId"`)).rows.map((r) => r.row)

test('a resumed rebuild after new deliveries arrived ends with the live rows', async () => {
  const base = examplesOf('deployment_status')[0][1] as any
  const status = (dep: number, k: number, state: string, at: string) => {
    const p = JSON.parse(JSON.stringify(base))
    Object.assign(p.deployment, { id: dep, environment: 'production' })
    Object.assign(p.deployment_status, { id: dep * 10 + k, state, created_at: at, updated_at: at, environment: 'production' })
    return p
  }
  const T = Date.UTC(2026, 0, 1)
  for (let d = 1; d <= 6; d++) {
    await processor.process({ deliveryId: `a-${d}`, event: 'deployment_status', payload: status(d, 1, 'success', `2026-01-0${d}T10:00:00Z`), receivedAt: T + d * 1000 })
  }
  await db.pool.query('DELETE FROM deployments')
  const first = await processor.reprocessEvents({ types: ['deployment_status'], batchSize: 2, maxBatches: 1 })
  expect(first.complete).toBe(false)
  // Meanwhile: deliveries received earlier than the resumed position, and later ones, for
  // deployments the first batch covered and ones it did not.
  await processor.process({ deliveryId: 'b-1', event: 'deployment_status', payload: status(1, 2, 'failure', '2026-01-01T09:00:00Z'), receivedAt: T + 500 })
  await processor.process({ deliveryId: 'b-5', event: 'deployment_status', payload: status(5, 2, 'error', '2026-01-05T11:00:00Z'), receivedAt: T + 9000 })
  await processor.process({ deliveryId: 'b-7', event: 'deployment_status', payload: status(7, 1, 'success', '2026-01-07T10:00:00Z'), receivedAt: T + 1500 })
  const rest = await processor.reprocessEvents({ types: ['deployment_status'], batchSize: 2 })
  expect(rest).toMatchObject({ resumed: true, complete: true })
  const resumed = await rows(db.pool)
  // Live: the same deliveries, all processed.
  await db.pool.query('DELETE FROM deployments')
  const full = await processor.reprocessEvents({ types: ['deployment_status'] })
  expect(full.events).toBe(9)
  expect(resumed).toEqual(await rows(db.pool))
  expect(resumed).toHaveLength(7)
})
