// The host process is sacred (DESIGN.md, "Lifecycle"): a processor garbage-collected
// without close(), or a connect() whose promise nobody awaits any more, must not take Node
// down. Run in a child Node with --expose-gc, the real built addon and a real database.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'

let db: TestDatabase
const { prefix, cleanup } = testPrefix()

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
})

afterAll(async () => {
  await cleanup()
  await db.drop()
})

function runNode(args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, DEVMETRICS_LOG: 'warn' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

test('processors collected without close(), and an abandoned connect(), release their connections; the process lives on', async () => {
  const run = await runNode(['--expose-gc', join(__dirname, 'support/gc-unclosed.js'), db.url, SHARED_REDIS_URL, prefix])
  expect({ code: run.code, signal: run.signal, stderr: run.code === 0 ? '' : run.stderr }).toEqual({
    code: 0,
    signal: null,
    stderr: '',
  })
  expect(JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}')).toEqual({ status: 'processed' })
  // One warning per processor dropped unclosed: three that worked, one abandoned connect.
  expect(run.stderr.match(/dropped without close\(\)/g)).toHaveLength(4)
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE processed`)
  expect(rows[0].n).toBe(4)
})
