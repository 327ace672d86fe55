// `npm run worker` and `npm start` as a process manager runs them (issue 25): the real npm
// (which runs the script through `sh -c`), the real setup (pack, install, compile), and a
// signal sent to the pid npm has. The backend must get it: stop taking jobs, finish the active
// ones, exit 0, and leave no process behind. It used to be `setup.js && main.js` under a shell
// that took the signal and died, leaving the backend running. Real PostgreSQL (a database of
// this file), Redis (a key prefix of this file), the built addon packed as users install it.
import { realpathSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { testPrefix } from './helpers/redis'
import { BackendProcess, backendEnv, deliver, pushWithFreshCommits, RunningBackend, startBackend } from './support/backend'

// npm as the shell finds it: its JavaScript entry, run by this node.
const NPM = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim())
let db: TestDatabase
let api: RunningBackend
let env: Record<string, string>
const redis = testPrefix()
const children: BackendProcess[] = []
const backendPids: number[] = []

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
  env = { ...backendEnv(db.url, redis.prefix), npm_config_update_notifier: 'false', npm_config_fund: 'false' }
  api = await startBackend(env, 'api')
})

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()))
  // A backend that outlived its npm (the bug) is stopped here, not left running.
  for (const pid of backendPids.filter(alive)) process.kill(pid, 'SIGKILL')
  await api?.backend.close()
  await redis.cleanup()
  await db?.drop()
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function npm(script: string, extra: Record<string, string> = {}): BackendProcess {
  const child = BackendProcess.node([NPM, 'run', script], { ...env, ...extra })
  children.push(child)
  return child
}

async function started(child: BackendProcess): Promise<number> {
  const pid = (await child.line('backend started', 240_000)).pid as number
  backendPids.push(pid)
  return pid
}

async function stored(ids: string[]): Promise<number> {
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1) AND processed', [ids])
  return rows[0].n
}

test('SIGTERM to npm run worker: the backend finishes its active jobs, exits 0 and leaves no process', async () => {
  const ids: string[] = []
  for (let i = 0; i < 300; i++) {
    const res = await deliver(api.url, 'push', pushWithFreshCommits(2).payload)
    expect(res.status).toBe(202)
    ids.push(res.deliveryId)
  }
  const worker = npm('worker', { WORKER_CONCURRENCY: '2' })
  const pid = await started(worker)
  expect(pid).not.toBe(worker.pid) // npm's child, not npm
  await eventually(() => stored(ids), (n) => n >= 20, { timeoutMs: 60_000 })

  worker.signal('SIGTERM') // what a process manager does to the pid it started

  expect(await worker.exited).toBe(0)
  const closed = await worker.line('webhook worker closed')
  const handled = (closed.counters as { completed: number }).completed
  expect(handled).toBeLessThan(300) // stopped mid-batch…
  expect(await stored(ids)).toBe(handled) // …with every job it took finished, none half-done
  expect(await worker.line('backend stopped')).toBeDefined()
  expect(alive(pid)).toBe(false)
}, 300_000)

test('SIGINT to npm start (kill -INT): the backend stops and exits 0', async () => {
  const backend = npm('start')
  const pid = await started(backend)

  backend.signal('SIGINT')

  expect(await backend.exited).toBe(0)
  expect(await backend.line('shutting down')).toMatchObject({ signal: 'SIGINT' })
  expect(await backend.line('backend stopped')).toBeDefined()
  expect(alive(pid)).toBe(false)
}, 300_000)
