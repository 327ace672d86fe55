// processor.reprocessEvents() through the built addon and PostgreSQL: stored deliveries
// rebuild the entity tables exactly, a run stopped part way resumes without redoing its
// finished batches, live deliveries arriving meanwhile converge with it, filters select what
// they say, and no events row is ever written. The deliveries are the bench's deterministic
// GitHub-shaped workload (pull requests with their reviews, issues, pushes).
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Pool } from 'pg'
import { WebhookProcessor } from '../lib'
import { createSeed, seedDatabase, Workload } from '../bench/workload'
import { createTestDatabase, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'

const seed = createSeed(11, { repositories: 4, people: 24 })
const jobs = new Workload(seed).take(360)
const START = Date.UTC(2026, 0, 5, 9, 0, 0)
/** Each delivery received a minute after the one before, so time filters cut the stream. */
const receivedAt = (i: number) => START + i * 60_000

let db: TestDatabase
let processor: WebhookProcessor
/** The entity rows of all deliveries processed live, once each, in order. */
let reference: Snapshot

type Snapshot = Record<string, unknown[]>

/**
 * Every entity row as JSON, without what a re-insert generates anew (row ids, their
 * creation time, the review's pull request row id, which becomes its pull request's GitHub id).
 */
async function snapshot(pool: Pool): Promise<Snapshot> {
  const rows = async (sql: string) => (await pool.query(sql)).rows.map((r) => r.row)
  return {
    pull_requests: await rows(`SELECT to_jsonb(t) - 'id' - 'createdAt' AS row FROM pull_requests t ORDER BY "githubId"`),
    issues: await rows(`SELECT to_jsonb(t) - 'id' - 'createdAt' AS row FROM issues t ORDER BY "githubId"`),
    reviews: await rows(
      `SELECT to_jsonb(t) - 'id' - 'createdAt' - 'pullRequestId' || jsonb_build_object('pr', p."githubId") AS row
       FROM pull_request_reviews t JOIN pull_requests p ON p.id = t."pullRequestId" ORDER BY t."githubId"`,
    ),
    commits: await rows(`SELECT to_jsonb(t) - 'id' - 'createdAt' AS row FROM commits t ORDER BY "repoId", sha`),
    // The delivery tables' createdAt is GitHub's, so it stays in.
    deployments: await rows(`SELECT to_jsonb(t) - 'id' AS row FROM deployments t ORDER BY "githubId"`),
    deployment_statuses: await rows(
      `SELECT to_jsonb(t) - 'id' - 'deploymentId' || jsonb_build_object('deployment', d."githubId") AS row
       FROM deployment_statuses t JOIN deployments d ON d.id = t."deploymentId" ORDER BY t."githubId"`,
    ),
    workflow_runs: await rows(`SELECT to_jsonb(t) - 'id' AS row FROM workflow_runs t ORDER BY "githubId", "runAttempt"`),
  }
}

async function deleteEntityRows(pool: Pool) {
  await pool.query(
    'DELETE FROM pull_request_reviews; DELETE FROM pull_requests; DELETE FROM issues; DELETE FROM commits; DELETE FROM deployment_statuses; DELETE FROM deployments; DELETE FROM workflow_runs',
  )
}

async function countEvents(pool: Pool): Promise<number> {
  return Number((await pool.query('SELECT count(*) FROM events')).rows[0].count)
}

async function processAll(p: WebhookProcessor, from: number, to: number) {
  for (let i = from; i < to; i++) await p.process({ ...jobs[i], receivedAt: receivedAt(i) })
}

/** Processed events per type, as reprocessing counts them. */
async function eventsByType(pool: Pool, where = 'true', params: unknown[] = []): Promise<Record<string, number>> {
  const { rows } = await pool.query(
    `SELECT type, count(*)::int AS n FROM events e WHERE processed
       AND type IN ('push', 'pull_request', 'issues', 'pull_request_review', 'deployment_status', 'workflow_run') AND ${where} GROUP BY type`,
    params,
  )
  return Object.fromEntries(rows.map((r) => [r.type, r.n]))
}

beforeAll(async () => {
  db = await createTestDatabase()
  await seedDatabase(db.url, seed)
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 6 })
  await processAll(processor, 0, jobs.length)
  reference = await snapshot(db.pool)
  expect(reference.pull_requests.length).toBeGreaterThan(10)
  expect(reference.reviews.length).toBeGreaterThan(10)
  expect(reference.issues.length).toBeGreaterThan(10)
  expect(reference.commits.length).toBeGreaterThan(10)
  expect(reference.deployment_statuses.length).toBeGreaterThan(10)
  expect(reference.workflow_runs.length).toBeGreaterThan(10)
}, 120_000)

afterAll(async () => {
  await processor?.close()
  await db?.drop()
})

test('rows deleted from the entity tables come back identical, and no events row is written', async () => {
  const events = await countEvents(db.pool)
  const expected = await eventsByType(db.pool)
  await deleteEntityRows(db.pool)

  const result = await processor.reprocessEvents({ batchSize: 25, concurrency: 3 })

  expect(result).toMatchObject({ skipped: 0, complete: true, resumed: false })
  expect(result.byType).toEqual(expected)
  expect(result.events).toBe(Object.values(expected).reduce((a, b) => a + b, 0))
  expect(result.totalEvents).toBe(result.events)
  expect(await snapshot(db.pool)).toEqual(reference)
  expect(await countEvents(db.pool)).toBe(events)
})

test('a reprocess over rows that are already right changes nothing', async () => {
  const result = await processor.reprocessEvents({ batchSize: 50 })
  expect(result.complete).toBe(true)
  expect(await snapshot(db.pool)).toEqual(reference)
})

test('stopped after some batches and started again: same rows, finished batches not redone', async () => {
  await deleteEntityRows(db.pool)
  const first = await processor.reprocessEvents({
    types: ['pull_request', 'pull_request_review', 'issues', 'deployment_status', 'workflow_run'],
    batchSize: 20,
    concurrency: 2,
    maxBatches: 3,
  })
  expect(first).toMatchObject({ complete: false, resumed: false })
  const batches = async () =>
    (
      await db.pool.query(
        `SELECT seq, "finishedAt", applied, events, "repoId" FROM reprocess_batches WHERE "runId" = $1 ORDER BY seq`,
        [first.runId],
      )
    ).rows
  const afterFirst = await batches()
  const finished = afterFirst.filter((b) => b.finishedAt !== null)
  expect(finished).toHaveLength(3)
  expect(first.events).toBe(finished.reduce((n, b) => n + b.applied, 0))
  // Batches of at most 20 events, each of one repository, covering every selected event.
  expect(afterFirst.every((b) => b.events >= 1 && b.events <= 20)).toBe(true)
  expect(afterFirst.reduce((n, b) => n + b.events, 0)).toBe(first.totalEvents)
  expect(new Set(afterFirst.slice(0, 3).map((b) => b.repoId)).size).toBe(3)

  // Same filters (types in another order): the same run, resumed. A different batchSize is
  // ignored: the run keeps the batches it was planned with.
  const progress: number[] = []
  const second = await processor.reprocessEvents({
    types: ['workflow_run', 'issues', 'deployment_status', 'pull_request_review', 'pull_request'],
    batchSize: 7,
    onProgress: (p) => {
      progress.push(p.batchesDone)
    },
  })
  expect(second).toMatchObject({ runId: first.runId, resumed: true, complete: true })
  expect(second.events).toBe(first.totalEvents - first.events)
  const afterSecond = await batches()
  expect(afterSecond.every((b) => b.finishedAt !== null)).toBe(true)
  for (const b of finished) {
    expect(afterSecond.find((a) => a.seq === b.seq)!.finishedAt).toEqual(b.finishedAt)
  }
  expect(await snapshot(db.pool)).toEqual({ ...reference, commits: [] })
  // Progress calls arrive through the event loop; the call's promise may settle first.
  await eventually(async () => progress.length, (n) => n === afterSecond.length - 3)
  expect(Math.max(...progress)).toBe(afterSecond.length)

  // Finished: the same filters now plan a new run.
  const third = await processor.reprocessEvents({ types: ['deployment_status', 'pull_request', 'workflow_run', 'issues', 'pull_request_review'], maxBatches: 1 })
  expect(third.runId).not.toBe(first.runId)
  expect(third.resumed).toBe(false)
})

test('two calls with the same filters at once share the run: every batch is written once', async () => {
  await deleteEntityRows(db.pool)
  const other = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4 })
  try {
    const options = { types: ['issues', 'pull_request'] as ('issues' | 'pull_request')[], batchSize: 15 }
    const [a, b] = await Promise.all([processor.reprocessEvents(options), other.reprocessEvents(options)])
    expect(a.runId).toBe(b.runId)
    expect(a.events + b.events).toBe(a.totalEvents)
    expect(a.complete || b.complete).toBe(true)
    // Each call waits for the batches the other held before it returns: both see the run finished.
    expect([a.complete, b.complete]).toEqual([true, true])
    const { rows } = await db.pool.query(
      'SELECT count(*) FILTER (WHERE "finishedAt" IS NULL)::int AS pending, sum(applied)::int AS applied FROM reprocess_batches WHERE "runId" = $1',
      [a.runId],
    )
    expect(rows[0]).toEqual({ pending: 0, applied: a.totalEvents })
    const after = await snapshot(db.pool)
    expect(after.issues).toEqual(reference.issues)
    expect(after.pull_requests.length).toBe(reference.pull_requests.length)
  } finally {
    await other.close()
  }
})

test('a batch that fails rejects the call; started again, the run finishes with the same rows', async () => {
  await deleteEntityRows(db.pool)
  // One issue's row cannot be written until the trigger goes.
  const blocked = Math.max(...reference.issues.map((i: any) => Number(i.githubId)))
  await db.pool.query(`CREATE FUNCTION block_issue() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW."githubId" = ${blocked} THEN RAISE EXCEPTION 'blocked for the test'; END IF; RETURN NEW; END $$`)
  await db.pool.query('CREATE TRIGGER block_issue BEFORE INSERT OR UPDATE ON issues FOR EACH ROW EXECUTE FUNCTION block_issue()')

  const since = new Date(receivedAt(0)).toISOString()
  let failure: any
  try {
    await processor.reprocessEvents({ since, batchSize: 30, concurrency: 2 })
  } catch (err) {
    failure = err
  }
  expect(failure).toMatchObject({ name: 'WebhookProcessingError', code: 'DATABASE_ERROR' })
  const { rows: run } = await db.pool.query(
    `SELECT r.id, count(*) FILTER (WHERE b."finishedAt" IS NULL)::int AS pending, r."finishedAt"
     FROM reprocess_runs r JOIN reprocess_batches b ON b."runId" = r.id WHERE r.since IS NOT NULL GROUP BY r.id`,
  )
  expect(run).toHaveLength(1)
  expect(run[0].pending).toBeGreaterThan(0)
  expect(run[0].finishedAt).toBeNull()

  await db.pool.query('DROP TRIGGER block_issue ON issues; DROP FUNCTION block_issue()')
  const resumed = await processor.reprocessEvents({ since, batchSize: 30 })
  expect(resumed).toMatchObject({ runId: run[0].id, resumed: true, complete: true })
  expect(await snapshot(db.pool)).toEqual(reference)
})

test('connections the server kills while the run goes are replaced: the run finishes with the same rows', async () => {
  await deleteEntityRows(db.pool)
  let killed = 0
  // After each batch, every session of the processor on this database is terminated (idle ones
  // and any that is reading or writing the next batch).
  const kill = async () => {
    const { rows } = await db.pool.query(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor'`,
    )
    killed += rows[0].n
  }
  const kills: Promise<void>[] = []
  const result = await processor.reprocessEvents({
    until: new Date(receivedAt(jobs.length)).toISOString(), // a run of its own (runs are named by their filters)
    batchSize: 20,
    concurrency: 2,
    onProgress: () => {
      kills.push(kill())
    },
  })
  await Promise.all(kills)
  expect(killed).toBeGreaterThan(0)
  expect(result).toMatchObject({ skipped: 0, complete: true })
  expect(await snapshot(db.pool)).toEqual(reference)
})

test('a batch held by a session that dies mid-transaction is written before the call returns: complete, same rows', async () => {
  await deleteEntityRows(db.pool)
  const filters = {
    types: ['pull_request', 'pull_request_review', 'issues', 'push', 'deployment_status', 'workflow_run'] as ('pull_request' | 'pull_request_review' | 'issues' | 'push' | 'deployment_status' | 'workflow_run')[],
    batchSize: 40,
  }
  const first = await processor.reprocessEvents({ ...filters, maxBatches: 1 })
  expect(first.complete).toBe(false)
  // Another session holds the run's batch 1 (as a writer would), then dies without committing.
  const holder = new Pool({ connectionString: db.url, max: 1 })
  const held = await holder.connect()
  try {
    await held.query('BEGIN')
    const { rows } = await held.query(
      `SELECT pg_backend_pid() AS pid FROM reprocess_batches WHERE "runId" = $1 AND seq = 1 AND "finishedAt" IS NULL FOR UPDATE`,
      [first.runId],
    )
    expect(rows).toHaveLength(1)
    held.on('error', () => {}) // its connection is about to be terminated
    const call = processor.reprocessEvents(filters)
    // The call has written every other batch and now waits for that lock.
    await eventually(
      async () =>
        (
          await db.pool.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()
               AND application_name = 'devmetrics-webhook-processor' AND wait_event_type = 'Lock'`,
          )
        ).rows[0].n,
      (n) => n > 0,
    )
    await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0].pid])
    const result = await call
    expect(result).toMatchObject({ runId: first.runId, resumed: true, complete: true, skipped: 0 })
    expect(first.events + result.events).toBe(result.totalEvents)
    expect(await snapshot(db.pool)).toEqual(reference)
  } finally {
    held.release(true)
    await holder.end().catch(() => {})
  }
})

test('while deliveries for the same pull requests arrive, the rows converge to those of all deliveries', async () => {
  const live = await createTestDatabase()
  try {
    await seedDatabase(live.url, seed)
    const p = await WebhookProcessor.connect({ databaseUrl: live.url, maxConnections: 6 })
    try {
      const half = jobs.length / 2
      await processAll(p, 0, half)
      const events = await countEvents(live.pool)
      // Stored deliveries go again while the rest of the stream (updates, reviews, merges of
      // the same pull requests among them) arrives.
      const [result] = await Promise.all([
        p.reprocessEvents({ batchSize: 10, concurrency: 3 }),
        processAll(p, half, jobs.length),
      ])
      expect(result.complete).toBe(true)
      expect(await countEvents(live.pool)).toBe(events + (jobs.length - half))
      expect(await snapshot(live.pool)).toEqual(reference)
    } finally {
      await p.close()
    }
  } finally {
    await live.drop()
  }
}, 120_000)

test('filters select exactly the events they name', async () => {
  await deleteEntityRows(db.pool)
  const repo = seed.repositories[1]
  const since = receivedAt(100)
  const until = receivedAt(250)
  const where = `e."receivedAt" >= $1 AND e."receivedAt" < $2 AND e.type = 'issues'
                 AND e."repoId" = (SELECT id FROM repositories WHERE "githubId" = $3)`
  const params = [new Date(since).toISOString().replace('Z', ''), new Date(until).toISOString().replace('Z', ''), repo.githubId]
  const expected = await eventsByType(db.pool, where, params)
  expect(expected.issues).toBeGreaterThan(0)
  const { rows: wanted } = await db.pool.query(
    `SELECT DISTINCT (e.payload->'issue'->>'id')::int8 AS id FROM events e WHERE ${where} ORDER BY 1`,
    params,
  )

  const result = await processor.reprocessEvents({
    since: new Date(since),
    until,
    types: ['issues'],
    repositoryGithubIds: [repo.githubId],
  })

  expect(result.byType).toEqual(expected)
  const after = await snapshot(db.pool)
  expect(after.pull_requests).toEqual([])
  expect(after.reviews).toEqual([])
  expect(after.commits).toEqual([])
  expect(after.issues.map((i: any) => String(i.githubId))).toEqual(wanted.map((r) => String(r.id)))
})

test('bad options are CONFIG_ERROR and plan nothing', async () => {
  const runs = async () => Number((await db.pool.query('SELECT count(*) FROM reprocess_runs')).rows[0].count)
  const before = await runs()
  const bad: unknown[] = [
    'all',
    { types: ['star'] },
    { types: 'push' },
    { since: 'yesterday' },
    // A day the calendar lacks (Date.parse rolls it into December).
    { since: '2026-11-31' },
    { since: 2000, until: 1000 },
    { repositoryGithubIds: [0] },
    { batchSize: 0 },
    { batchBytes: 0 },
    { concurrency: 1.5 },
    { maxBatches: -1 },
    { onProgress: 'bar' },
    // An empty list is not "everything": a caller who computed no types or repositories
    // gets an error, not a full rebuild.
    { types: [] },
    { repositoryGithubIds: [] },
    // Within JavaScript's Date range, before PostgreSQL's.
    { since: -8e15 },
    { until: -8e15 },
  ]
  for (const options of bad) {
    await expect(processor.reprocessEvents(options as any)).rejects.toMatchObject({
      name: 'WebhookProcessingError',
      code: 'CONFIG_ERROR',
    })
  }
  expect(await runs()).toBe(before)
})

test('on a server in New York, a since without an offset is UTC, as doraMetrics reads it', async () => {
  // The options reprocessEvents hands the addon, computed in a process whose local time is not UTC.
  const script = `const { normalizeReprocessOptions } = require(${JSON.stringify(join(__dirname, '../lib/reprocess'))})
    const { native } = normalizeReprocessOptions({ since: '2026-01-05T09:30:00', until: '2026-01-05T10:30' })
    console.log(JSON.stringify([native.sinceMs, native.untilMs]))`
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { ...process.env, TZ: 'America/New_York' } })
  expect(JSON.parse(stdout)).toEqual([Date.UTC(2026, 0, 5, 9, 30), Date.UTC(2026, 0, 5, 10, 30)])
})

test('a fractional since selects no event of the whole millisecond before it', async () => {
  const since = receivedAt(100) + 0.5
  const until = receivedAt(103)
  const params = [new Date(receivedAt(101)).toISOString().replace('Z', ''), new Date(until).toISOString().replace('Z', '')]
  const expected = await eventsByType(db.pool, `e."receivedAt" >= $1 AND e."receivedAt" < $2`, params)
  const result = await processor.reprocessEvents({ since, until })
  expect(result.byType).toEqual(expected)
  expect(result.totalEvents).toBe(Object.values(expected).reduce((a, b) => a + b, 0))
})

test('a receivedAt before the earliest time PostgreSQL holds is INVALID_JOB and writes nothing', async () => {
  const events = await countEvents(db.pool)
  await expect(processor.process({ ...jobs[0], deliveryId: 'too-early', receivedAt: -8e15 })).rejects.toMatchObject({
    code: 'INVALID_JOB',
  })
  expect(await countEvents(db.pool)).toBe(events)
})

test('an onProgress that throws or rejects stops neither the run nor the process', async () => {
  // Without the wrapper's guard, a throw inside a threadsafe-function call is an uncaught
  // exception of the process (it would end this test run).
  let calls = 0
  const result = await processor.reprocessEvents({
    types: ['push'],
    batchSize: 40,
    onProgress: () => {
      calls++
      if (calls % 2) throw new Error('display broke')
      return Promise.reject(new Error('async display broke'))
    },
  })
  expect(result.complete).toBe(true)
  expect(result.events).toBeGreaterThan(40)
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM reprocess_batches WHERE "runId" = $1', [result.runId])
  const batches = rows[0].n
  expect(batches).toBeGreaterThan(1)
  // Progress calls arrive through the event loop; the call's promise may settle first.
  await eventually(async () => calls, (n) => n === batches)
})

test('a closed processor rejects PROCESSOR_CLOSED', async () => {
  const p = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
  await p.close()
  await expect(p.reprocessEvents({})).rejects.toMatchObject({ code: 'PROCESSOR_CLOSED' })
})

/** `npm run reprocess` as the backend runs it, from source (see support/run-backend.js). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = join(__dirname, '..')
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [join(__dirname, 'support', 'run-backend.js'), join(root, 'examples/backend/src/cli/reprocess.ts'), ...args],
      { env: { ...process.env, DATABASE_URL: db.url, NODE_ENV: 'development', ...env }, cwd: root },
    )
    return { code: 0, stdout, stderr }
  } catch (err: any) {
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

test('npm run reprocess: filters by repository name and type, prints counts per type; bad arguments exit 2', async () => {
  await deleteEntityRows(db.pool)
  const repo = seed.repositories[2]
  const expected = await eventsByType(db.pool, `e."repoId" = $1 AND e.type IN ('issues', 'pull_request')`, [repo.id])

  const run = await cli(['--repo', repo.fullName.toUpperCase(), '--types', 'issues,pull_request', '--until', '2030-01-01'])

  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  for (const [type, n] of Object.entries(expected)) expect(run.stdout).toMatch(new RegExp(`^${type}\\s+${n}$`, 'm'))
  const total = Object.values(expected).reduce((a, b) => a + b, 0)
  expect(run.stdout).toMatch(new RegExp(`^total\\s+${total}$`, 'm'))
  expect(run.stdout).toMatch(/^skipped\s+0$/m)
  const after = await snapshot(db.pool)
  expect(after.reviews).toEqual([])
  expect(new Set(after.issues.map((i: any) => i.repoId))).toEqual(new Set([repo.id]))

  for (const bad of [['--since'], ['--types', 'star'], ['--frobnicate', '1']]) {
    const r = await cli(bad)
    expect(r.code).toBe(bad[1] === 'star' ? 1 : 2)
  }
  expect((await cli(['--repo', 'nobody/nothing'])).code).toBe(2)
}, 180_000)

test('npm run reprocess on a server in New York reads --since without an offset as UTC', async () => {
  await deleteEntityRows(db.pool)
  const expected = await eventsByType(db.pool, `e.type = 'issues' AND e."receivedAt" >= $1`, ['2026-01-05 12:00:00'])
  expect(Object.keys(expected)).toEqual(['issues'])
  const run = await cli(['--types', 'issues', '--since', '2026-01-05T12:00:00'], { TZ: 'America/New_York' })
  expect(run.code).toBe(0)
  expect(run.stdout).toMatch(new RegExp(`^issues\\s+${expected.issues}$`, 'm'))
}, 180_000)
