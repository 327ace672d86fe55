// The github worker runs the recovery jobs (issue 16): a `backfill` job queued by the register
// step and a `reconcile` job (as its repeatable schedule queues it) go through
// createGitHubWorker like the other kinds, with their cursors in PostgreSQL.
import Bull from 'bull'
import { createGitHubWorker, queueBackfill } from '../lib'
import { insertRepository } from './helpers/db'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'
import { recoveryEnv, RecoveryEnv } from './recovery/github-env'

const REPO_ID = 67_000_001
let env: RecoveryEnv
const redis = testPrefix()
let queue: Bull.Queue
let worker: ReturnType<typeof createGitHubWorker>
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
  queue = new Bull('github', SHARED_REDIS_URL, { prefix: redis.prefix.slice(0, -1) })
  worker = createGitHubWorker(queue, { client: env.client, processor: env.processor, databaseUrl: env.db.url, concurrency: 1 })
})

afterAll(async () => {
  await worker.close()
  await queue.close()
  await env.close()
  await redis.cleanup()
})

test('a queued backfill job imports the history; a reconcile job redelivers the failed delivery', async () => {
  const job = await queueBackfill(queue, { id: repoId, fullName: 'acme/widgets' }, '30d')
  const done = await job.finished()
  expect(done).toMatchObject({ repository: 'acme/widgets', items: 3 })
  const { rows } = await env.db.pool.query('SELECT count(*)::int AS n FROM pull_requests')
  expect(rows[0].n).toBe(3)

  const reconcile = await queue.add({ kind: 'reconcile', hooks: [{ kind: 'repo', owner: 'acme', repo: 'widgets', hookId: 7 }] })
  const report = await reconcile.finished()
  expect(report.totals).toMatchObject({ found: 1, redelivered: 1 })
  // The worker's counters (what /api/webhooks/stats and /metrics show) carry the run's totals.
  expect(worker.health().counters.reconcile).toEqual({ runs: 1, found: 1, redelivered: 1, stillMissing: 0, olderThanWindow: 0 })
  const cursor = await env.db.pool.query('SELECT hook FROM github_reconcile_cursors')
  expect(cursor.rows).toEqual([{ hook: 'repo:acme/widgets#7' }])
})
