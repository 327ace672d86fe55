// Reconcile (issue 16): the deliveries GitHub failed to deliver are found in the hook's
// delivery list and redelivered exactly once, and end processed; a dry run changes nothing; a
// second run finds nothing new; untracked types, unknown repositories, deliveries that
// succeeded and deliveries already processed are left alone. The contract server plays
// GitHub's redelivery: when it accepts a redelivery it hands the stored payload, with the
// same guid, to the processor, as the endpoint would.
import { runReconcile } from '../lib'
import { insertRepository } from './helpers/db'
import { eventually } from './helpers/eventually'
import { recoveryEnv, RecoveryEnv, requestsTo } from './recovery/github-env'

const REPO_ID = 61_000_001
const UNKNOWN_REPO_ID = 61_000_999
const HOOK = { kind: 'repo' as const, owner: 'acme', repo: 'widgets', hookId: 42 }
const TARGET = { repo: 'acme/widgets', hookId: 42 }

let env: RecoveryEnv
/** Payloads by guid, as GitHub stored them. */
const payloads = new Map<string, { event: string; payload: string }>()
const redelivered: string[] = []
const processing: Promise<unknown>[] = []

function pushPayload(n: number): string {
  const sha = n.toString(16).padStart(40, 'a')
  return JSON.stringify({
    ref: 'refs/heads/main',
    before: '0'.repeat(40),
    after: sha,
    repository: { id: REPO_ID, full_name: 'acme/widgets' },
    sender: { id: 1, login: 'mona' },
    commits: [{ id: sha, message: `change ${n}`, timestamp: '2026-11-29T10:00:00Z', author: { name: 'Mona', email: 'mona@acme.example', username: 'mona' }, added: [], removed: [], modified: ['a'] }],
  })
}

function issuePayload(n: number): string {
  return JSON.stringify({
    action: 'opened',
    issue: { id: 70_000 + n, number: n, title: `Bug ${n}`, state: 'open', user: { id: 1, login: 'mona' }, created_at: '2026-11-29T10:00:00Z', updated_at: '2026-11-29T10:00:00Z', closed_at: null },
    repository: { id: REPO_ID, full_name: 'acme/widgets' },
  })
}

const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString()

let missing: string[] = []
let oldestMissingAt = ''
let leftAlone: string[] = []

beforeAll(async () => {
  env = await recoveryEnv()
  await insertRepository(env.db.pool, REPO_ID, { fullName: 'acme/widgets' })
  const w = env.server.world
  w.addRepository({ owner: 'acme', name: 'widgets', id: REPO_ID })
  w.onRedeliver = (d) => {
    redelivered.push(d.guid)
    const stored = payloads.get(d.guid)
    if (stored) processing.push(env.processor.process({ deliveryId: d.guid, event: stored.event, payload: stored.payload }))
  }
  // 500 deliveries over the last 2 days, oldest first; most succeeded.
  const kinds = ['push', 'issues', 'pull_request', 'star', 'ping', 'pull_request_review']
  for (let i = 0; i < 500; i++) {
    const event = kinds[i % kinds.length]
    w.addDelivery(TARGET, { event, action: null, repository_id: REPO_ID, status_code: 200, delivered_at: ago(2 * 24 * 60 - i * 5) })
  }
  const add = (event: string, opts: { status: number; repo?: number | null; payload?: string; at: number }) => {
    const d = w.addDelivery(TARGET, { event, repository_id: opts.repo === undefined ? REPO_ID : opts.repo, status_code: opts.status, delivered_at: ago(opts.at) })
    if (opts.payload) payloads.set(d.guid, { event, payload: opts.payload })
    return d
  }
  // Three failed deliveries of tracked types for the registered repository: missing.
  const oldestMissing = add('push', { status: 502, payload: pushPayload(1), at: 30 * 60 })
  oldestMissingAt = oldestMissing.delivered_at
  missing = [
    oldestMissing.guid,
    add('issues', { status: 0, payload: issuePayload(2), at: 20 * 60 }).guid,
    add('push', { status: 503, payload: pushPayload(3), at: 10 }).guid,
  ]
  // Failed, but to be left alone: untracked type, unknown repository, no repository, and a
  // delivery that failed at GitHub's end (a timeout) but was processed all the same.
  const processedAnyway = add('push', { status: 0, payload: pushPayload(4), at: 15 * 60 })
  await env.processor.process({ deliveryId: processedAnyway.guid, event: 'push', payload: pushPayload(4) })
  leftAlone = [
    add('star', { status: 502, at: 25 * 60 }).guid,
    add('push', { status: 502, repo: UNKNOWN_REPO_ID, at: 24 * 60 }).guid,
    add('push', { status: 502, repo: null, at: 23 * 60 }).guid,
    processedAnyway.guid,
  ]
  // A delivery whose first attempt failed and whose manual redelivery succeeded.
  const retried = add('issues', { status: 502, at: 22 * 60 })
  w.addDelivery(TARGET, { guid: retried.guid, event: 'issues', repository_id: REPO_ID, status_code: 202, redelivery: true, delivered_at: ago(21 * 60) })
  leftAlone.push(retried.guid)
})

afterAll(async () => {
  await Promise.allSettled(processing)
  await env.close()
})

const ctx = () => ({ client: env.client, pool: env.db.pool, hooks: [HOOK] })

async function processedOf(guids: string[]): Promise<number> {
  const { rows } = await env.db.pool.query('SELECT count(*)::int AS n FROM events WHERE processed AND "deliveryId" = ANY($1)', [guids])
  return rows[0].n
}

test('a dry run finds the three missing deliveries and changes nothing, the cursor included', async () => {
  const before = await env.db.pool.query('SELECT count(*)::int AS n FROM events')
  const report = await runReconcile({ data: { dryRun: true } }, ctx())
  expect(report.totals).toMatchObject({ found: 3, redelivered: 0, stillMissing: 3, olderThanWindow: 0 })
  expect(report.totals.listed).toBeGreaterThanOrEqual(508)
  expect(report.hooks[0].deliveries.map((d) => d.guid).sort()).toEqual([...missing].sort())
  expect(report.hooks[0].deliveries.every((d) => d.outcome === 'would redeliver')).toBe(true)
  expect(requestsTo(env.server, 'POST', /attempts$/)).toHaveLength(0)
  expect(redelivered).toEqual([])
  const cursors = await env.db.pool.query('SELECT count(*)::int AS n FROM github_reconcile_cursors')
  expect(cursors.rows[0].n).toBe(0)
  const after = await env.db.pool.query('SELECT count(*)::int AS n FROM events')
  expect(after.rows[0].n).toBe(before.rows[0].n)
})

test('500 deliveries of which 3 failed: the 3 are redelivered exactly once and end processed; the rest are left alone', async () => {
  const report = await runReconcile({ data: {} }, ctx())
  expect(report.totals).toMatchObject({ found: 3, redelivered: 3, stillMissing: 0, olderThanWindow: 0 })
  expect([...redelivered].sort()).toEqual([...missing].sort())
  expect(requestsTo(env.server, 'POST', /attempts$/)).toHaveLength(3)
  await Promise.all(processing)
  await eventually(() => processedOf(missing), (n) => n === 3)
  for (const guid of leftAlone) expect(redelivered).not.toContain(guid)
  // The rows the missing deliveries carry are there now.
  const commits = await env.db.pool.query('SELECT count(*)::int AS n FROM commits')
  expect(commits.rows[0].n).toBe(3) // pushes 1 and 3, and the push processed anyway
  const issues = await env.db.pool.query('SELECT number FROM issues')
  expect(issues.rows).toEqual([{ number: 2 }])
})

test('a second run finds nothing new and redelivers nothing', async () => {
  const posts = requestsTo(env.server, 'POST', /attempts$/).length
  const report = await runReconcile({ data: {} }, ctx())
  expect(report.totals).toMatchObject({ found: 0, redelivered: 0, stillMissing: 0 })
  expect(requestsTo(env.server, 'POST', /attempts$/)).toHaveLength(posts)
  expect(redelivered).toHaveLength(3)
  // It read from the stored cursor: just before the oldest delivery it redelivered, whose
  // redelivery it had to see succeed; not the whole window.
  expect(report.hooks[0].from).toBe(new Date(Date.parse(oldestMissingAt) - 1).toISOString())
})

test('a delivery whose redelivery fails too is asked for again on the next run, at most maxAttempts times, then reported as still missing and never asked for again', async () => {
  const w = env.server.world
  w.redeliveryStatusCode = 502
  const stuck = w.addDelivery(TARGET, { event: 'push', repository_id: REPO_ID, status_code: 504, delivered_at: ago(1) })
  payloads.delete(stuck.guid)
  const runs = []
  for (let i = 0; i < 4; i++) runs.push((await runReconcile({ data: { maxAttempts: 2 } }, ctx())).totals)
  expect(runs.map((t) => t.redelivered)).toEqual([1, 1, 0, 0])
  expect(runs.map((t) => t.stillMissing)).toEqual([0, 0, 1, 1])
  expect(redelivered.filter((g) => g === stuck.guid)).toHaveLength(2)
  w.redeliveryStatusCode = 200
})

test('bad options are refused before any request', async () => {
  const count = env.server.requests.length
  await expect(runReconcile({ data: { maxRedeliveries: -1 } }, ctx())).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(runReconcile({ data: { since: 'yesterday' } }, ctx())).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(runReconcile({ data: {} }, { client: env.client, pool: env.db.pool })).rejects.toMatchObject({ code: 'CONFIG_ERROR' })
  expect(env.server.requests.length).toBe(count)
})
