// The recovery commands of the reference backend as a newcomer runs them (issue 16):
// `npm run register -- owner/repo --team T --backfill 30d`, `npm run backfill`, and
// `npm run reconcile -- --dry-run` and `npm run stats-catch-up`, as child processes against the contract server (through
// GITHUB_API_URL and GITHUB_TOKEN), a database of this file and Bull on the shared Redis.
import Bull from 'bull'
import { insertRepository } from './helpers/db'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'
import { recoveryEnv, RecoveryEnv, TOKEN } from './recovery/github-env'
import { BackendProcess } from './support/backend'

const REPO_ID = 64_000_001
let env: RecoveryEnv
const redis = testPrefix()
let childEnv: Record<string, string>

beforeAll(async () => {
  env = await recoveryEnv()
  const w = env.server.world
  const repo = w.addRepository({ owner: 'acme', name: 'widgets', id: REPO_ID })
  const recent = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString().replace(/\.\d+Z$/, 'Z')
  repo.pulls.push({ id: 9_100_001, number: 1, title: 'Add it', state: 'open', draft: false, user: { login: 'mona' }, created_at: recent(300), updated_at: recent(200), closed_at: null, merged_at: null })
  repo.reviews.set(1, [{ id: 9_200_001, state: 'APPROVED', submitted_at: recent(250), user: w.account('hubot'), commit_id: 'f'.repeat(40) }])
  repo.issues.push({ id: 9_300_001, number: 2, title: 'Bug', state: 'open', user: { login: 'mona' }, created_at: recent(100), updated_at: recent(100), closed_at: null })
  w.addCommit(repo, { sha: 'a'.repeat(40), message: 'first', author: { name: 'Mona', email: 'mona@acme.example', date: recent(50) } }, 'main')
  w.addDelivery({ repo: 'acme/widgets', hookId: 42 }, { event: 'push', repository_id: REPO_ID, status_code: 502, delivered_at: recent(30) })
  w.addDelivery({ repo: 'acme/widgets', hookId: 42 }, { event: 'push', repository_id: REPO_ID, status_code: 200, delivered_at: recent(20) })
  childEnv = {
    DATABASE_URL: env.db.url,
    REDIS_URL: SHARED_REDIS_URL,
    QUEUE_PREFIX: redis.prefix.slice(0, -1),
    GITHUB_TOKEN: TOKEN,
    GITHUB_API_URL: env.server.url,
    GITHUB_HOOKS: 'acme/widgets#42',
    NODE_ENV: 'development',
  }
})

afterAll(async () => {
  await env.close()
  await redis.cleanup()
})

async function run(cli: string, ...args: string[]) {
  const child = BackendProcess.start(`examples/backend/src/cli/${cli}.ts`, args, childEnv)
  const code = await child.exited
  return { code, out: child.lines.map((l) => l.message).join('\n') }
}

test('register looks the id up, creates the team and queues the backfill on the github queue', async () => {
  const { code, out } = await run('register', 'acme/widgets', '--team', 'Platform', '--backfill', '30d')
  expect(out).toMatch(/^registered acme\/widgets \(GitHub id 64000001, id \S+, team Platform\)/m)
  expect(code).toBe(0)
  const { rows } = await env.db.pool.query('SELECT r.id, t.name FROM repositories r JOIN teams t ON t.id = r."teamId"')
  expect(rows).toEqual([{ id: expect.any(String), name: 'Platform' }])
  const queue = new Bull('github', SHARED_REDIS_URL, { prefix: childEnv.QUEUE_PREFIX })
  try {
    const job = await queue.getJob(`backfill:${rows[0].id}:${new Date().toISOString().slice(0, 10)}`)
    expect(job?.data).toEqual({ kind: 'backfill', repository: 'acme/widgets', repoId: rows[0].id, since: '30d' })
  } finally {
    await queue.close()
  }
  expect(out).toMatch(/queued the backfill of the last 30d as job/)
})

test('backfill imports the history and ends with a summary; no progress bar when stdout is not a terminal', async () => {
  const { code, out } = await run('backfill', 'acme/widgets', '--since', '30d')
  expect(code).toBe(0)
  expect(out).toMatch(/backfill of acme\/widgets done in/)
  // The pull request is written by its page, then again when its review sets firstReviewAt.
  expect(out).toMatch(/writes that inserted or changed a row: 2 pull requests, 1 reviews, 1 issues, 1 commits/)
  const rows = await env.db.pool.query('SELECT (SELECT count(*) FROM pull_requests)::int AS p, (SELECT count(*) FROM issues)::int AS i, (SELECT count(*) FROM commits)::int AS c')
  expect(rows.rows[0]).toEqual({ p: 1, i: 1, c: 1 })
  expect(out).not.toMatch(/█|░/)
  const queue = new Bull('github', SHARED_REDIS_URL, { prefix: childEnv.QUEUE_PREFIX })
  try {
    const stats = (await queue.getJobs(['waiting'])).filter((j) => j.data.kind === 'commitStats')
    expect(stats.map((j) => j.data.shas)).toEqual([['a'.repeat(40)]])
  } finally {
    await queue.close()
  }
  const again = await run('backfill', 'acme/widgets', '--since', '30d')
  expect(again.out).toMatch(/already imported/)
})

test('reconcile --dry-run prints the missing delivery and what it would do, and changes nothing', async () => {
  const { code, out } = await run('reconcile', '--dry-run', '--since', '24h')
  expect(code).toBe(0)
  expect(out).toMatch(/hook repo:acme\/widgets#42/)
  expect(out).toMatch(/would redeliver/)
  expect(out).toMatch(/dry run, nothing changed: found 1, redelivered 0, still missing 1, older than the window 0/)
  expect(env.server.requests.filter((r) => r.method === 'POST')).toHaveLength(0)
})

test('stats-catch-up queues commitStats jobs for the counts still unknown; --dry-run queues nothing', async () => {
  // The commit backfill wrote (above) has no counts yet: no github worker ran its job.
  await env.db.pool.query(`UPDATE commits SET "createdAt" = "createdAt" - interval '2 hours'`)
  const queue = new Bull('github', SHARED_REDIS_URL, { prefix: childEnv.QUEUE_PREFIX })
  try {
    const catchUps = async () => (await queue.getJobs(['waiting'])).filter((j) => String(j.id).includes(':catchup:'))
    const dry = await run('stats-catch-up', '--dry-run')
    expect(dry.code).toBe(0)
    expect(dry.out).toMatch(/dry run, nothing queued: would queue 1 commitStats jobs for 1 commits of 1 repositories/)
    expect(await catchUps()).toHaveLength(0)
    const { code, out } = await run('stats-catch-up')
    expect(code).toBe(0)
    expect(out).toMatch(/^queued 1 commitStats jobs for 1 commits of 1 repositories/m)
    expect((await catchUps()).map((j) => j.data)).toEqual([expect.objectContaining({ kind: 'commitStats', repository: 'acme/widgets', shas: ['a'.repeat(40)] })])
  } finally {
    await queue.close()
  }
})

test('usage errors exit 2 and say how to call the command', async () => {
  const none = await run('register')
  expect(none.code).toBe(2)
  const bad = await run('reconcile', '--since')
  expect(bad.code).toBe(2)
  const since = await run('backfill', 'acme/widgets', '--since', 'soon')
  expect(since.code).toBe(1)
  expect((await run('stats-catch-up', 'acme/widgets')).code).toBe(2)
  expect((await run('stats-catch-up', '--older-than', 'soon')).code).toBe(2)
  const help = await run('stats-catch-up', '--help')
  expect(help.code).toBe(0)
  expect(help.out).toMatch(/usage: npm run stats-catch-up/)
})
