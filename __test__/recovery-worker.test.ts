// The github worker runs the recovery jobs (issue 16): a `backfill` job queued by the register
// step and a `reconcile` job (as its repeatable schedule queues it) go through
// createGitHubWorker like the other kinds, with their cursors in PostgreSQL, and a reconcile
// run also runs the commit-stats catch-up (issue 22 item 6);
// recovery-worker.bullmq.test.ts runs the same through createGitHubBullMQWorker.
import Bull from 'bull'
import { Queue as BullMQQueue, QueueEvents } from 'bullmq'
import { createGitHubBullMQWorker, createGitHubWorker, GitHubWorker, queueBackfill } from '../lib'
import { insertRepository } from './helpers/db'
import { eventually } from './helpers/eventually'
import { pushPayload } from './helpers/pushes'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'
import { recoveryEnv, RecoveryEnv } from './recovery/github-env'
import { suiteDriver } from './support/driver'

const REPO_ID = 67_000_001
let env: RecoveryEnv
const redis = testPrefix()
let queue: Bull.Queue | BullMQQueue
let events: QueueEvents | null = null
let worker: GitHubWorker
let repoId: string

beforeAll(async () => {
  env = await recoveryEnv()
  repoId = await insertRepository(env.db.pool, REPO_ID, { fullName: 'acme/widgets' })
  const w = env.server.world
  const repo = w.addRepository({ owner: 'acme', name: 'widgets', id: REPO_ID })
  const recent = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString().replace(/\.\d+Z$/, 'Z')
  for (let i = 1; i <= 3; i++) {
    repo.pulls.push({ id: 9_700_000 + i, number: i, title: `PR ${i}`, state: 'open', draft: false, user: { login: 'mona' }, created_at: recent(500), updated_at: recent(400 - i), closed_at: null, merged_at: null })
  }
  w.addDelivery({ repo: 'acme/widgets', hookId: 7 }, { event: 'issues', repository_id: REPO_ID, status_code: 500, delivered_at: recent(30) })
  const options = { client: env.client, processor: env.processor, databaseUrl: env.db.url, concurrency: 1 }
  if (suiteDriver.current === 'bull') {
    queue = new Bull('github', SHARED_REDIS_URL, { prefix: redis.prefix.slice(0, -1) })
    worker = createGitHubWorker(queue, options)
  } else {
    const url = new URL(SHARED_REDIS_URL)
    const where = { connection: { host: url.hostname, port: Number(url.port || 6379) }, prefix: redis.prefix.slice(0, -1) }
    queue = new BullMQQueue('github', where)
    events = new QueueEvents('github', where)
    await events.waitUntilReady()
    worker = createGitHubBullMQWorker({ ...options, ...where })
  }
})

/** A job's result once it completed, on either driver. */
async function finished(job: any): Promise<any> {
  return events ? job.waitUntilFinished(events) : job.finished()
}

afterAll(async () => {
  await worker.close()
  await events?.close()
  await queue.close()
  await env.close()
  await redis.cleanup()
})

test('a queued backfill job imports the history; a reconcile job redelivers the failed delivery', async () => {
  const job = await queueBackfill(queue, { id: repoId, fullName: 'acme/widgets' }, '30d')
  const done = await finished(job)
  expect(done).toMatchObject({ repository: 'acme/widgets', items: 3 })
  const { rows } = await env.db.pool.query('SELECT count(*)::int AS n FROM pull_requests')
  expect(rows[0].n).toBe(3)

  const data = { kind: 'reconcile', hooks: [{ kind: 'repo', owner: 'acme', repo: 'widgets', hookId: 7 }] }
  const reconcile = queue instanceof BullMQQueue ? await queue.add('reconcile', data) : await queue.add(data)
  const report = await finished(reconcile)
  expect(report.totals).toMatchObject({ found: 1, redelivered: 1 })
  // The worker's counters (what /api/webhooks/stats and /metrics show) carry the run's totals.
  expect(worker.health().counters.reconcile).toEqual({ runs: 1, found: 1, redelivered: 1, stillMissing: 0, olderThanWindow: 0 })
  const cursor = await env.db.pool.query('SELECT hook FROM github_reconcile_cursors')
  expect(cursor.rows).toEqual([{ hook: 'repo:acme/widgets#7' }])
})

test('a reconcile job also asks again for the line counts still unknown an hour after their commits were written', async () => {
  // A commit whose counts GitHub never gave (its commitStats job was discarded, or failed for good).
  const repo = env.server.world.repository('acme', 'widgets')!
  const [commit] = env.server.world.commitChain(repo, 1, 'main', 'catchup')
  const payload = pushPayload({ repoGithubId: REPO_ID, fullName: 'acme/widgets', commits: [{ sha: commit.sha, timestamp: commit.author.date }] })
  await env.processor.process({ deliveryId: `catch-up-${suiteDriver.current}`, event: 'push', payload, receivedAt: Date.now() })
  await env.db.pool.query(`UPDATE commits SET "createdAt" = "createdAt" - interval '2 hours' WHERE sha = $1`, [commit.sha])

  const data = { kind: 'reconcile', hooks: [{ kind: 'repo', owner: 'acme', repo: 'widgets', hookId: 7 }] }
  const reconcile = queue instanceof BullMQQueue ? await queue.add('reconcile', data) : await queue.add(data)
  const report = await finished(reconcile)
  expect(report.statsCatchUp).toEqual({ commits: 1, jobs: 1, repositories: 1 })
  // The worker runs the commitStats job it queued: the counts land.
  const counts = async () => (await env.db.pool.query('SELECT additions, "statsFetchedAt" IS NOT NULL AS fetched FROM commits WHERE sha = $1', [commit.sha])).rows[0]
  await eventually(counts, (row) => row.fetched)
  expect(await counts()).toEqual({ additions: commit.additions, fetched: true })
})
