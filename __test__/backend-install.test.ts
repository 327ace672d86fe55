// The README's run path with the package as DevMetrics consumes it: examples/backend/scripts/
// setup.js packs this repository and its linux-x64-gnu platform package, installs both tarballs
// (and the backend's dependencies) into examples/backend and compiles it; the compiled backend then creates and migrates a database
// that does not exist yet, registers the sample repository, takes the signed samples that
// `send-sample` posts, and stops cleanly on SIGTERM. Nothing here imports the repository's lib/.
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client, Pool } from 'pg'
import { ADMIN_URL } from './helpers/db'
import { eventually } from './helpers/eventually'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'
import { BackendProcess, ROOT } from './support/backend'

const backendDir = join(ROOT, 'examples', 'backend')
const dbName = `wp_test_backend_${randomUUID().replace(/-/g, '').slice(0, 12)}`
const dbUrl = (() => {
  const u = new URL(ADMIN_URL)
  u.pathname = `/${dbName}`
  return u.toString()
})()
const redis = testPrefix()
const children: BackendProcess[] = []
let pool: Pool | undefined

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  DATABASE_URL: dbUrl,
  REDIS_URL: SHARED_REDIS_URL,
  QUEUE_PREFIX: `${redis.prefix}bull`,
  CACHE_KEY_PREFIX: `${redis.prefix}cache:`,
  PORT: '0',
  ...extra,
})

function run(script: string, args: string[], extra: Record<string, string> = {}) {
  const child = BackendProcess.node([join(backendDir, 'dist', script), ...args], env(extra))
  children.push(child)
  return child
}

beforeAll(() => {
  execFileSync(process.execPath, [join(backendDir, 'scripts', 'setup.js')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
}, 240_000)

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()))
  await pool?.end()
  await redis.cleanup()
  const admin = new Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
  await admin.end()
})

test('setup installs the packed package and its platform package into examples/backend and compiles the backend', () => {
  const installed = join(backendDir, 'node_modules', '@devmetrics', 'webhook-processor')
  const platform = join(backendDir, 'node_modules', '@devmetrics', 'webhook-processor-linux-x64-gnu')
  expect(readdirSync(installed).filter((f) => f.endsWith('.node'))).toEqual([])
  expect(existsSync(join(platform, 'webhook-processor.linux-x64-gnu.node'))).toBe(true)
  expect(existsSync(join(installed, 'lib', 'worker.js'))).toBe(true)
  const lock = JSON.parse(readFileSync(join(backendDir, 'package-lock.json'), 'utf8'))
  expect(lock.packages['node_modules/@devmetrics/webhook-processor'].resolved).toBe('file:vendor/devmetrics-webhook-processor.tgz')
  // The compiled backend resolves the installed copy, not this repository.
  const resolved = execFileSync(process.execPath, ['-p', "require.resolve('@devmetrics/webhook-processor')"], { cwd: join(backendDir, 'dist'), encoding: 'utf8' }).trim()
  expect(resolved).toBe(join(installed, 'lib', 'index.js'))
  // …whose index.js loads the platform package's binary.
  const loaded = execFileSync(process.execPath, ['-p', "require('@devmetrics/webhook-processor'); Object.keys(require.cache).filter((f) => f.endsWith('.node')).join()"], { cwd: join(backendDir, 'dist'), encoding: 'utf8' }).trim()
  expect(loaded).toBe(join(platform, 'webhook-processor.linux-x64-gnu.node'))
  expect(existsSync(join(backendDir, 'dist', 'main.js'))).toBe(true)
})

test('the installed backend migrates a new database, seeds the sample repository, processes signed samples and stops on SIGTERM', async () => {
  const backend = run('main.js', [])
  const { url } = await backend.line('backend started', 60_000)
  expect(await backend.line('database migrated')).toMatchObject({ created: true })
  expect(await backend.line('sample repository registered')).toMatchObject({ repositoryId: expect.any(String) })

  const send = run('cli/send-sample.js', ['--all'], { BACKEND_URL: url as string })
  expect(await send.exited).toBe(0)
  const sent = send.lines.map((l) => l.message).filter((m) => m.includes('→'))
  expect(sent).toHaveLength(11)
  for (const line of sent) expect(line).toMatch(/→ 202 \{"status":"queued"/)

  pool = new Pool({ connectionString: dbUrl, max: 2 })
  const counts = await eventually(
    async () => {
      const { rows } = await pool!.query(`SELECT
          (SELECT count(*) FROM events WHERE processed)::int AS events,
          (SELECT count(*) FROM commits)::int AS commits,
          (SELECT count(*) FROM pull_requests)::int AS "pullRequests",
          (SELECT count(*) FROM issues)::int AS issues,
          (SELECT count(*) FROM pull_request_reviews)::int AS reviews,
          (SELECT count(*) FROM deployments)::int AS deployments,
          (SELECT count(*) FROM deployment_statuses)::int AS "deploymentStatuses",
          (SELECT count(*) FROM workflow_runs)::int AS "workflowRuns",
          (SELECT count(*) FROM workflow_jobs)::int AS "workflowJobs",
          (SELECT count(*) FROM releases)::int AS releases`)
      return rows[0]
    },
    (c) => c.events === 11,
    { timeoutMs: 30_000 },
  )
  // Every fixture: push, pull request (opened, merged), issue (opened, closed), review, and the
  // delivery events (deployment, its success status, workflow run and job, release).
  expect(counts).toEqual({ events: 11, commits: 3, pullRequests: 1, issues: 1, reviews: 1, deployments: 1, deploymentStatuses: 1, workflowRuns: 1, workflowJobs: 1, releases: 1 })
  const mapped = await pool.query(`SELECT count(*)::int AS n FROM commits WHERE "authorLogin" = 'octocat' AND "authorId" IS NOT NULL`)
  expect(mapped.rows[0].n).toBe(1)

  const list = run('cli/replay.js', ['--list'])
  expect(await list.exited).toBe(0)
  expect(list.lines.map((l) => l.message)).toEqual(['the failed set is empty'])

  backend.signal('SIGTERM')
  expect(await backend.exited).toBe(0)
  expect(await backend.line('backend stopped')).toBeDefined()
})
