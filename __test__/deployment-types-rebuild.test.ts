// From an adversary pass (break-final): a rebuild from stored deliveries (reprocessEvents after deleting the
// entity rows) must give the rows live processing gave, for the deployment data types, with the
// real @octokit/webhooks-examples payloads and deliveries received in one order but processed
// in another (a queue with retries does that).
import { Pool } from 'pg'
import { WebhookProcessor } from '../lib'
import { examplesOf } from './helpers/examples'
import { createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'

const TYPES = ['deployment', 'deployment_status', 'workflow_run', 'workflow_job', 'release']
const REPOS = [186853002, 283462325, 300029405, 376034443, 445650657, 591427149]

let db: TestDatabase
let processor: WebhookProcessor

beforeAll(async () => {
  db = await createTestDatabase()
  for (const id of REPOS) await insertRepository(db.pool, id, { fullName: `o/r${id}` })
  await insertUser(db.pool, { email: 'mona@corp.example', githubId: 21031067, githubLogin: 'Codertocat' })
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4 })
})

afterAll(async () => {
  await processor?.close()
  await db?.drop()
})

async function snapshot(pool: Pool) {
  const rows = async (table: string, order: string) =>
    (await pool.query(`SELECT to_jsonb(t) - 'id' - 'deploymentId' AS row FROM ${table} t ORDER BY ${order}`)).rows.map((r) => r.row)
  return {
    deployments: await rows('deployments', '"githubId"'),
    statuses: await rows('deployment_statuses', '"githubId"'),
    runs: await rows('workflow_runs', '"githubId", "runAttempt"'),
    jobs: await rows('workflow_jobs', '"githubId"'),
    releases: await rows('releases', '"githubId"'),
  }
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x))
const shift = (iso: string, s: number) => new Date(Date.parse(iso) + s * 1000).toISOString().replace('.000Z', 'Z')

function buildDeliveries() {
  const deliveries: { event: string; payload: any; receivedAt: number }[] = []
  let t = Date.parse('2024-06-01T00:00:00Z')
  for (const event of TYPES) {
    for (const [, payload] of examplesOf(event)) deliveries.push({ event, payload, receivedAt: (t += 1000) })
  }
  // Adversarial variants: a later copy of a completed run (same attempt, later updated_at)
  // and of a completed job, and a later edit of a release, each received before the
  // original but processed after it.
  const run = clone(examplesOf('workflow_run').find(([, p]) => (p as any).workflow_run.status === 'completed')![1]) as any
  run.workflow_run.updated_at = shift(run.workflow_run.updated_at, 60)
  run.workflow_run.conclusion = 'failure'
  const job = clone(examplesOf('workflow_job').find(([, p]) => (p as any).workflow_job.status === 'completed')![1]) as any
  job.workflow_job.completed_at = shift(job.workflow_job.completed_at, 60)
  job.workflow_job.conclusion = 'failure'
  const rel = clone(examplesOf('release').find(([, p]) => (p as any).action === 'edited')![1]) as any
  rel.release.name = 'renamed later'
  const dst = clone(examplesOf('deployment_status')[0][1]) as any
  dst.deployment.updated_at = shift(dst.deployment.updated_at, 60)
  dst.deployment.environment = 'staging-later'
  dst.deployment_status.id += 1
  dst.deployment_status.state = 'failure'
  dst.deployment_status.created_at = shift(dst.deployment_status.created_at, 60)
  const early = Date.parse('2024-05-01T00:00:00Z')
  deliveries.push(
    { event: 'workflow_run', payload: run, receivedAt: early },
    { event: 'workflow_job', payload: job, receivedAt: early + 1000 },
    { event: 'release', payload: rel, receivedAt: early + 2000 },
    { event: 'deployment_status', payload: dst, receivedAt: early + 3000 },
  )
  return deliveries
}

test('reprocessEvents after deleting the deployment data rows rebuilds the rows live processing wrote', async () => {
  const deliveries = buildDeliveries()
  let i = 0
  for (const d of deliveries) {
    const r = await processor.process({ deliveryId: `d-${i++}`, event: d.event, payload: d.payload, receivedAt: d.receivedAt })
    expect(['processed', 'ignored']).toContain(r.status)
  }
  const live = await snapshot(db.pool)
  expect(live.deployments.length).toBeGreaterThan(0)
  expect(live.runs.length).toBeGreaterThan(0)

  await db.pool.query('DELETE FROM deployments; DELETE FROM workflow_runs; DELETE FROM workflow_jobs; DELETE FROM releases')
  const result = await processor.reprocessEvents({ types: TYPES as any })
  expect(result.events).toBeGreaterThan(0)
  const rebuilt = await snapshot(db.pool)
  expect(rebuilt).toEqual(live)
})

test('the same deliveries processed in reverse order give the same rows', async () => {
  const other = await createTestDatabase()
  try {
    for (const id of REPOS) await insertRepository(other.pool, id, { fullName: `o/r${id}` })
    await insertUser(other.pool, { email: 'mona@corp.example', githubId: 21031067, githubLogin: 'Codertocat' })
    const p = await WebhookProcessor.connect({ databaseUrl: other.url, maxConnections: 2 })
    try {
      const ds = buildDeliveries()
      for (const [i, d] of ds.entries()) await p.process({ deliveryId: `d-${i}`, event: d.event, payload: d.payload, receivedAt: d.receivedAt })
      const forward = await snapshot(other.pool)
      await other.pool.query('DELETE FROM deployments; DELETE FROM workflow_runs; DELETE FROM workflow_jobs; DELETE FROM releases; DELETE FROM events')
      for (const [i, d] of [...ds.entries()].reverse()) await p.process({ deliveryId: `d-${i}`, event: d.event, payload: d.payload, receivedAt: d.receivedAt })
      const strip = (x: any) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'creatorId' || k === 'actorId' || k === 'authorId' ? undefined : v)))
      expect(strip(await snapshot(other.pool))).toEqual(strip(forward))
    } finally {
      await p.close()
    }
  } finally {
    await other.drop()
  }
})
