// The reference backend split across processes, as in production: the endpoint (role=api)
// in this process, workers (role=worker) as child processes on the same queue, and the
// replay command as a child process. Real PostgreSQL (a database of this file), Redis and Bull
// (a key prefix of this file), the built addon.
import { createTestDatabase, insertRepository, insertTeam, insertUser, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { testPrefix } from './helpers/redis'
import {
  BackendProcess,
  backendEnv,
  deliver,
  drained,
  fixture,
  pushWithFreshCommits,
  randomSha,
  RunningBackend,
  settled,
  startBackend,
} from './support/backend'

let db: TestDatabase
let api: RunningBackend
let env: Record<string, string>
const redis = testPrefix()
const children: BackendProcess[] = []

function worker(extra: Record<string, string> = {}): BackendProcess {
  const child = BackendProcess.start('examples/backend/src/main.ts', ['--role=worker'], { ...env, ...extra })
  children.push(child)
  return child
}

beforeAll(async () => {
  db = await createTestDatabase()
  const teamId = await insertTeam(db.pool)
  await insertRepository(db.pool, undefined, { teamId })
  await insertUser(db.pool, { email: 'mona@corp.example', githubId: 583231, githubLogin: 'octocat', teamIds: [teamId] })
  env = backendEnv(db.url, redis.prefix)
  api = await startBackend(env, 'api')
})

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()))
  await api?.backend.close()
  await redis.cleanup()
  await db?.drop()
})

const webhooks = () => api.backend.queues.webhooks

async function count(sql: string, params: unknown[]): Promise<number> {
  const { rows } = await db.pool.query(sql, params)
  return rows[0].n
}

/** Worker counters of a child, from its own health endpoint. */
async function childCounters(child: BackendProcess) {
  const health = await (await fetch(`${await child.url()}/api/webhooks/health`)).json()
  return health.worker.counters
}

test('an api-only backend queues but does not process, and serves no worker', async () => {
  const res = await (await fetch(`${api.url}/api/webhooks/health`)).json()
  expect(res).toMatchObject({ status: 'ok', role: 'api', worker: null })
  expect(api.backend.worker).toBeNull()
})

test('two worker processes on one queue never store a row twice', async () => {
  const a = worker({ WORKER_CONCURRENCY: '3' })
  const b = worker({ WORKER_CONCURRENCY: '3' })
  await Promise.all([a.url(), b.url()])

  const shared = randomSha() // one commit in every push: stored once
  const deliveries: { deliveryId: string; jobId: string }[] = []
  const shas: string[] = []
  for (let i = 0; i < 60; i++) {
    const push = pushWithFreshCommits(2, [shared])
    shas.push(...push.shas.slice(0, 2))
    const res = await deliver(api.url, 'push', push.payload)
    expect(res.status).toBe(202)
    deliveries.push({ deliveryId: res.deliveryId, jobId: res.body.jobId })
  }
  // Ten redeliveries of deliveries already sent, and the same PR opened twice under two delivery ids.
  for (const d of deliveries.slice(0, 10)) {
    const original = await webhooks().getJob(d.jobId)
    const res = await deliver(api.url, 'push', original!.data.payload, { deliveryId: d.deliveryId })
    deliveries.push({ deliveryId: d.deliveryId, jobId: res.body.jobId })
  }
  for (let i = 0; i < 2; i++) {
    const res = await deliver(api.url, 'pull_request', fixture('pull-request-opened.json'))
    deliveries.push({ deliveryId: res.deliveryId, jobId: res.body.jobId })
  }

  const states = await settled(webhooks(), deliveries.map((d) => d.jobId), 60_000)
  expect(Object.values(states).filter((s) => s !== 'completed')).toEqual([])

  const distinct = [...new Set(deliveries.map((d) => d.deliveryId))]
  expect(await count('SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1) AND processed', [distinct])).toBe(62)
  expect(await count('SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1)', [distinct])).toBe(62)
  expect(await count('SELECT count(*)::int AS n FROM commits WHERE sha = ANY($1)', [[...shas, shared]])).toBe(121)
  expect(await count('SELECT count(*)::int AS n FROM pull_requests WHERE "githubId" = 1754321001', [])).toBe(1)

  // Both processes took part; together they handled each job once.
  const [ca, cb] = await Promise.all([childCounters(a), childCounters(b)])
  expect(ca.completed).toBeGreaterThan(0)
  expect(cb.completed).toBeGreaterThan(0)
  expect(ca.completed + cb.completed).toBe(deliveries.length)
  expect(ca.byStatus.processed + cb.byStatus.processed).toBe(62)
  expect(ca.byStatus.duplicate + cb.byStatus.duplicate).toBe(10)
  expect(ca.failed + cb.failed).toBe(0)

  a.signal('SIGTERM')
  b.signal('SIGTERM')
  expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0])
})

test('SIGTERM to a worker process mid-batch loses no job: active jobs finish, the rest are processed by another worker', async () => {
  const deliveries: { deliveryId: string; jobId: string }[] = []
  for (let i = 0; i < 300; i++) {
    const res = await deliver(api.url, 'push', pushWithFreshCommits(2).payload)
    expect(res.status).toBe(202)
    deliveries.push({ deliveryId: res.deliveryId, jobId: res.body.jobId })
  }
  const ids = deliveries.map((d) => d.deliveryId)
  const stored = () => count('SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1) AND processed', [ids])

  const first = worker({ WORKER_CONCURRENCY: '2' })
  await first.url()
  await eventually(stored, (n) => n >= 20, { timeoutMs: 30_000 })
  first.signal('SIGTERM')
  expect(await first.exited).toBe(0)
  const closed = await first.line('webhook worker closed')
  const handledByFirst = (closed.counters as { completed: number }).completed
  expect(handledByFirst).toBeGreaterThanOrEqual(20)
  expect(handledByFirst).toBeLessThan(300) // stopped mid-batch
  expect(await first.line('backend stopped')).toBeDefined()
  // Everything the first worker finished is stored; nothing it held is half-done.
  expect(await stored()).toBe(handledByFirst)

  // Another worker takes the rest (a job the stopped worker had fetched as it closed is
  // recovered by the stalled-job check, every STALLED_INTERVAL_MS here).
  const second = worker({ WORKER_CONCURRENCY: '4' })
  await second.url()
  await drained(webhooks())
  const states = await settled(webhooks(), deliveries.map((d) => d.jobId), 60_000)
  expect(Object.values(states).filter((s) => s !== 'completed')).toEqual([])
  expect(await stored()).toBe(300)
  expect(await count('SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1)', [ids])).toBe(300)
  const secondCounters = await childCounters(second)
  expect(secondCounters.failed).toBe(0)
  expect(handledByFirst + secondCounters.byStatus.processed).toBe(300)
  second.signal('SIGTERM')
  expect(await second.exited).toBe(0)
})

test('SIGKILL of a worker process mid-batch loses no job: its jobs are taken again once their locks expire; each delivery stored once', async () => {
  const deliveries: { deliveryId: string; jobId: string; shas: string[] }[] = []
  for (let i = 0; i < 200; i++) {
    const { payload, shas } = pushWithFreshCommits(2)
    const res = await deliver(api.url, 'push', payload)
    expect(res.status).toBe(202)
    deliveries.push({ deliveryId: res.deliveryId, jobId: res.body.jobId, shas })
  }
  const ids = deliveries.map((d) => d.deliveryId)
  const stored = () => count('SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1) AND processed', [ids])
  // Locks of 2 s instead of 30 s, so the killed worker's jobs are free again soon.
  const fastLocks = { LOCK_DURATION_MS: '2000' }

  const first = worker({ ...fastLocks, WORKER_CONCURRENCY: '4' })
  await first.url()
  await eventually(stored, (n) => n >= 20, { timeoutMs: 30_000 })
  first.signal('SIGKILL') // no shutdown: transactions in flight roll back, its Bull jobs stay active and locked
  expect(await first.exited).toBeNull()
  const storedAtKill = await stored()
  expect(storedAtKill).toBeLessThan(200) // killed mid-batch

  const second = worker({ ...fastLocks, WORKER_CONCURRENCY: '4' })
  await second.url()
  await drained(webhooks())
  const states = await settled(webhooks(), deliveries.map((d) => d.jobId), 60_000)
  expect(Object.values(states).filter((s) => s !== 'completed')).toEqual([])
  expect(await stored()).toBe(200)
  expect(await count('SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1)', [ids])).toBe(200)
  const shas = deliveries.flatMap((d) => d.shas)
  expect(await count('SELECT count(DISTINCT sha)::int AS n FROM commits WHERE sha = ANY($1)', [shas])).toBe(400)
  expect(await count('SELECT count(*)::int AS n FROM commits WHERE sha = ANY($1)', [shas])).toBe(400)
  const c = await childCounters(second)
  console.log(
    `SIGKILL: 200 sent, ${storedAtKill} stored when the worker was killed, the second worker processed ${c.byStatus.processed} ` +
      `and answered ${c.byStatus.duplicate} duplicate (committed before the kill, not yet acknowledged to Bull), ${c.failed} failed; 200 stored once`,
  )
  expect(c.failed).toBe(0)
  expect(storedAtKill + c.byStatus.processed).toBe(200)
  second.signal('SIGTERM')
  expect(await second.exited).toBe(0)
})

describe('the replay command (npm run replay)', () => {
  const replay = (...args: string[]) => {
    const child = BackendProcess.start('examples/backend/src/cli/replay.ts', args, env)
    children.push(child)
    return child
  }
  const output = (child: BackendProcess) => child.lines.map((l) => l.message)

  /** A delivery queued while its repository existed, then failed because it had been removed. */
  async function failedDelivery(githubId: number) {
    const repoId = await insertRepository(db.pool, githubId, { fullName: `octo/r${githubId}` })
    const push = pushWithFreshCommits(1)
    push.payload.repository.id = githubId
    const res = await deliver(api.url, 'push', push.payload)
    expect(res.status).toBe(202)
    await db.pool.query('DELETE FROM repositories WHERE id = $1', [repoId])
    return { repoId, githubId, jobId: res.body.jobId as string, deliveryId: res.deliveryId }
  }
  const restore = (d: { repoId: string; githubId: number }) =>
    db.pool.query('INSERT INTO repositories (id, "githubId", "fullName") VALUES ($1, $2, $3)', [d.repoId, d.githubId, 'octo/restored'])

  test('replays one failed job by id, then the whole failed set with --all; each delivery is stored once', async () => {
    const deliveries = [await failedDelivery(700_000_001), await failedDelivery(700_000_002), await failedDelivery(700_000_003)]
    const w = worker()
    await w.url()
    const states = await settled(webhooks(), deliveries.map((d) => d.jobId))
    expect(Object.values(states)).toEqual(['failed', 'failed', 'failed'])
    const failed = await webhooks().getJob(deliveries[0].jobId)
    expect(failed!.attemptsMade).toBe(1) // UNKNOWN_REPOSITORY is not retryable

    const listed = replay('--list')
    expect(await listed.exited).toBe(0)
    for (const d of deliveries) {
      expect(output(listed)).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^${d.jobId}\\t.*\\t${d.deliveryId}\\tUNKNOWN_REPOSITORY\\t`))]))
    }

    // The cause is fixed (the repository is back); replay the first one by its id.
    await Promise.all(deliveries.map(restore))
    const one = replay(deliveries[0].jobId)
    expect(await one.exited).toBe(0)
    const [, replayedId] = /^replayed job \S+ as job (\S+) /.exec(output(one)[0]) ?? []
    expect(replayedId).toBeDefined()
    expect(await settled(webhooks(), [replayedId])).toEqual({ [replayedId]: 'completed' })
    const replayed = await webhooks().getJob(replayedId)
    expect(replayed!.data).toMatchObject({ deliveryId: deliveries[0].deliveryId, replayOf: deliveries[0].jobId })
    expect(replayed!.opts).toMatchObject({ attempts: 4 }) // the full retry policy again
    expect(await webhooks().getJob(deliveries[0].jobId)).toBeNull() // out of the failed set

    // The rest in one go.
    const all = replay('--all')
    expect(await all.exited).toBe(0)
    const ids = output(all).map((line) => /^replayed job \S+ as job (\S+) /.exec(line)?.[1])
    expect(ids).toHaveLength(2)
    await settled(webhooks(), ids as string[])
    expect((await webhooks().getJobCounts()).failed).toBe(0)

    const stored = await db.pool.query('SELECT "deliveryId", processed FROM events WHERE "deliveryId" = ANY($1)', [deliveries.map((d) => d.deliveryId)])
    expect(stored.rows).toHaveLength(3)
    expect(stored.rows.every((r) => r.processed)).toBe(true)

    // Nothing left to replay; an id that is no failed job is an error.
    const empty = replay('--all')
    expect(await empty.exited).toBe(0)
    expect(output(empty)).toEqual(['the failed set is empty'])
    const bad = replay(replayedId, 'no-such-job')
    expect(await bad.exited).toBe(1)
    expect(bad.errors).toMatch(`job ${replayedId}: not failed (completed)`)
    expect(bad.errors).toMatch('job no-such-job: not found')
    const usage = replay()
    expect(await usage.exited).toBe(2)

    w.signal('SIGTERM')
    expect(await w.exited).toBe(0)
  })
})
