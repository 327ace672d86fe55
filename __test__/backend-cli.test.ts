// The reference backend's commands as a newcomer types them (issue 25): every one answers
// --help with its usage and does nothing else, and an unknown option exits 2 with a clear
// message before it does anything. Run as child processes from source (support/run-backend.js)
// against a running backend (in this process), a database of this file and Redis under a key
// prefix of this file.
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'
import { testPrefix } from './helpers/redis'
import { BackendProcess, backendEnv, RunningBackend, startBackend } from './support/backend'

let db: TestDatabase
let running: RunningBackend
let env: Record<string, string>
const redis = testPrefix()

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool) // the fixtures' repository
  env = backendEnv(db.url, redis.prefix)
  running = await startBackend(env)
  env = { ...env, BACKEND_URL: running.url, NODE_ENV: 'development' }
})

afterAll(async () => {
  await running?.backend.close()
  await redis.cleanup()
  await db?.drop()
})

async function run(entry: string, ...args: string[]) {
  const child = BackendProcess.start(`examples/backend/src/${entry}.ts`, args, env)
  const code = await child.exited
  return { code, stdout: child.lines.map((l) => l.message).join('\n'), stderr: child.errors }
}

/** Rows and queued jobs that a command could have written. */
async function footprint() {
  const { rows } = await db.pool.query('SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM repositories)::int AS repositories')
  const counts = await running.backend.queues.webhooks.getJobCounts()
  return { ...rows[0], jobs: Object.values(counts).reduce((a, b) => a + b, 0) }
}

const COMMANDS: [string, string][] = [
  ['cli/send-sample', 'npm run send-sample'],
  ['cli/replay', 'npm run replay'],
  ['cli/register', 'npm run register'],
  ['cli/backfill', 'npm run backfill'],
  ['cli/reconcile', 'npm run reconcile'],
  ['cli/reprocess', 'npm run reprocess'],
  ['main', 'node dist/main.js'],
]

test('send-sample --help prints its usage and posts nothing; without options it posts (the control)', async () => {
  const before = await footprint()
  const help = await run('cli/send-sample', '--help')
  expect(help.stdout).toMatch(/^usage: npm run send-sample -- /)
  expect(help.stdout).toMatch(/--event name/)
  expect(help.code).toBe(0)
  expect(await footprint()).toEqual(before)

  const sent = await run('cli/send-sample')
  expect(sent.stdout).toMatch(/push-event\.json \(push, delivery \S+\) → 202/)
  expect(sent.code).toBe(0)
  expect((await footprint()).jobs).toBe(before.jobs + 1)
})

test.each(COMMANDS)('%s: --help and -h print the usage, exit 0 and do nothing', async (entry, usage) => {
  const before = await footprint()
  for (const flag of ['--help', '-h']) {
    const r = await run(entry, flag)
    expect(r.stdout.startsWith(`usage: ${usage}`)).toBe(true)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
  }
  expect(await footprint()).toEqual(before)
})

test.each(COMMANDS)('%s: an unknown option exits 2 with a clear message and does nothing', async (entry, usage) => {
  const before = await footprint()
  // A valid call otherwise, so only the unknown option stops it.
  const valid: Record<string, string[]> = { 'cli/send-sample': [], 'cli/register': ['acme/newcomer', '--github-id', '99'], 'cli/replay': ['--all'] }
  const r = await run(entry, ...(valid[entry] ?? []), '--frobnicate')
  expect(r.stderr).toMatch(/^unknown option --frobnicate\n/)
  expect(r.stderr).toContain(`usage: ${usage}`)
  expect(r.code).toBe(2)
  expect(await footprint()).toEqual(before)
})

test('a missing value names the option', async () => {
  const r = await run('cli/reconcile', '--since')
  expect(r.stderr).toMatch(/^--since needs a value\n/)
  expect(r.code).toBe(2)
})
