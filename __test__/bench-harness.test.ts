// The benchmark's own parts, which its numbers rest on: the workload is deterministic and
// is GitHub-shaped enough that the addon accepts every delivery of it, the 2048-commit push
// is what it claims to be, and the wire-counting proxy counts round trips exactly, for
// node-postgres and for the addon's sqlx (which asks for TLS first). Nothing is timed here.
import { Client } from 'pg'
import { WebhookProcessor } from '../lib'
import { CountingProxy } from '../bench/pgproxy'
import { createSeed, describeJobs, largePush, seedDatabase, Workload } from '../bench/workload'
import { createTestDatabase, TestDatabase } from './helpers/db'

const seed = createSeed(7)
let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase()
  await seedDatabase(db.url, seed)
})
afterAll(async () => {
  await db?.drop()
})

test('the same seed gives the same deliveries byte for byte, another seed others', () => {
  const a = new Workload(seed).take(200)
  const b = new Workload(seed).take(200)
  const c = new Workload(createSeed(8)).take(200)
  expect(b).toEqual(a)
  expect(c.map((j) => j.payload)).not.toEqual(a.map((j) => j.payload))
  expect(new Set(a.map((j) => j.deliveryId)).size).toBe(200)
})

test('the mix covers every tracked event type and lifecycle action', () => {
  const { mix } = describeJobs(new Workload(seed).take(1000))
  expect(Object.keys(mix).sort()).toEqual([
    'deployment_status',
    'issues.closed',
    'issues.opened',
    'issues.reopened',
    'pull_request.closed',
    'pull_request.edited',
    'pull_request.opened',
    'pull_request.review_requested',
    'pull_request.synchronize',
    'pull_request_review.submitted',
    'push',
    'workflow_run.completed',
    'workflow_run.in_progress',
    'workflow_run.requested',
  ])
})

test('workflow runs and deployments follow their lifecycles: a run requested → in_progress → completed, re-runs as the next attempt; a deployment queued/in_progress → success, failure or error', () => {
  const jobs = new Workload(seed).take(3000)
  const runs = new Map<string, string[]>()
  const statuses = new Map<number, string[]>()
  const environments = new Set<string>()
  for (const job of jobs) {
    const p = JSON.parse(job.payload)
    if (job.event === 'workflow_run') {
      const key = `${p.workflow_run.id}/${p.workflow_run.run_attempt}`
      runs.set(key, [...(runs.get(key) ?? []), p.workflow_run.status])
    } else if (job.event === 'deployment_status') {
      expect(p.deployment.updated_at).toBe(p.deployment_status.created_at)
      environments.add(p.deployment.environment)
      statuses.set(p.deployment.id, [...(statuses.get(p.deployment.id) ?? []), p.deployment_status.state])
    }
  }
  const lifecycle = /^queued(,in_progress(,completed)?)?$/
  expect([...runs.values()].map((s) => s.join(',')).filter((s) => !lifecycle.test(s))).toEqual([])
  expect([...runs.keys()].some((k) => k.endsWith('/2'))).toBe(true)
  const deployment = /^(queued,?)?(in_progress,?)?(success|failure|error)?$/
  expect([...statuses.values()].map((s) => s.join(',')).filter((s) => s === '' || !deployment.test(s))).toEqual([])
  expect([...environments].sort()).toEqual(['production', 'staging'])
})

test('the addon processes every delivery of the workload, mapping linked people and leaving the others unmapped', async () => {
  const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4 })
  try {
    const jobs = new Workload(seed).take(300)
    const results = await Promise.all(jobs.map((job) => processor.process(job)))
    expect(results.filter((r) => r.status !== 'processed')).toEqual([])
    const unmapped = new Set(results.flatMap((r) => r.unmappedUsers))
    const unlinked = seed.people.filter((p) => p.kind === 'unlinked').map((p) => p.login)
    expect([...unmapped].some((u) => unlinked.includes(u))).toBe(true)
    const linked = new Set(seed.users.map((u) => u.githubLogin.toLowerCase()))
    expect([...unmapped].filter((u) => linked.has(u.toLowerCase()))).toEqual([])
  } finally {
    await processor.close()
  }
})

test('the deliveries of the new event types are processed, and their rows do not depend on the order they come in', async () => {
  const jobs = new Workload(seed).take(600).filter((j) => j.event === 'deployment_status' || j.event === 'workflow_run')
  expect(jobs.length).toBeGreaterThan(100)
  const rows = async (url: string) => {
    const client = new Client({ connectionString: url })
    await client.connect()
    try {
      const runs = await client.query(
        'SELECT "githubId", "runAttempt", status, conclusion, "updatedAt", "completedAt", "runStartedAt", "pullRequestNumbers" FROM workflow_runs ORDER BY 1, 2',
      )
      const deployments = await client.query(
        'SELECT "githubId", state, environment, "isProduction", "productionReason", "firstSuccessAt", "failedAt", "finishedAt", "updatedAt", "workflowRunId" FROM deployments ORDER BY 1',
      )
      const statuses = await client.query('SELECT "githubId", state, "createdAt" FROM deployment_statuses ORDER BY 1')
      return { runs: runs.rows, deployments: deployments.rows, statuses: statuses.rows }
    } finally {
      await client.end()
    }
  }
  const forwards = await createTestDatabase()
  const reversed = await createTestDatabase()
  try {
    await seedDatabase(forwards.url, seed)
    await seedDatabase(reversed.url, seed)
    const inOrder = await WebhookProcessor.connect({ databaseUrl: forwards.url, maxConnections: 1 })
    const backwards = await WebhookProcessor.connect({ databaseUrl: reversed.url, maxConnections: 4 })
    try {
      for (const job of jobs) expect((await inOrder.process(job)).status).toBe('processed')
      // Backwards, four at a time: each lifecycle's last delivery first.
      const results = await Promise.all([...jobs].reverse().map((job) => backwards.process(job)))
      expect(results.filter((r) => r.status !== 'processed')).toEqual([])
    } finally {
      await inOrder.close()
      await backwards.close()
    }
    const expected = await rows(forwards.url)
    expect(expected.runs.length).toBeGreaterThan(20)
    expect(expected.deployments.length).toBeGreaterThan(5)
    expect(await rows(reversed.url)).toEqual(expected)
  } finally {
    await forwards.drop()
    await reversed.drop()
  }
})

test('the large case is one push of 2048 new commits, about 1.3 MB', async () => {
  const job = largePush(seed, 1)
  expect(Buffer.byteLength(job.payload)).toBeGreaterThan(1.2e6)
  expect(Buffer.byteLength(job.payload)).toBeLessThan(1.4e6)
  expect(largePush(seed, 2).deliveryId).not.toBe(job.deliveryId)
  const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 1 })
  try {
    expect((await processor.process(job)).records.commits).toBe(2048)
    expect((await processor.process(largePush(seed, 2))).records.commits).toBe(2048)
  } finally {
    await processor.close()
  }
})

describe('the counting proxy', () => {
  let proxy: CountingProxy
  beforeAll(async () => {
    const url = new URL(db.url)
    proxy = await CountingProxy.start({ host: url.hostname, port: Number(url.port || 5432) })
  })
  afterAll(async () => {
    await proxy?.close()
  })

  test('counts one round trip per query of node-postgres, simple or extended', async () => {
    const client = new Client({ connectionString: proxy.urlFor(db.url) })
    await client.connect()
    try {
      const before = proxy.snapshot()
      await client.query('SELECT 1')
      await client.query('SELECT $1::int AS n', [2])
      await client.query('BEGIN')
      await client.query('COMMIT')
      const after = proxy.snapshot()
      expect(after.roundTrips - before.roundTrips).toBe(4)
      expect(after.statements - before.statements).toBe(4)
      expect(after.pings - before.pings).toBe(0)
      expect(after.bytesToServer).toBeGreaterThan(before.bytesToServer)
    } finally {
      await client.end()
    }
  })

  test('carries the addon (its TLS request answered in plaintext) and sees its statements', async () => {
    const processor = await WebhookProcessor.connect({ databaseUrl: proxy.urlFor(db.url), maxConnections: 1 })
    try {
      const before = proxy.snapshot()
      const result = await processor.process(new Workload(createSeed(9)).take(1)[0])
      const after = proxy.snapshot()
      expect(result.status).toBe('processed')
      expect(after.roundTrips - before.roundTrips).toBeGreaterThan(0)
      expect(after.statements - before.statements).toBeGreaterThan(0)
    } finally {
      await processor.close()
    }
  })
})
