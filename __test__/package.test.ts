// The package as the DevMetrics backend consumes it: `npm pack`, install the tarball into a
// fresh project, and call the addon from a plain `node` process there. Nothing builds on
// install, so this only works if the tarball carries the built .node and everything the
// main entry requires.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'

const root = resolve(__dirname, '..')
const fixture = join(__dirname, 'fixtures/push-event.json')
const packageName = '@devmetrics/webhook-processor'

let tmp: string
let project: string
let tarball: string
let packedFiles: string[]

/** What the consuming project runs: `node consumer.js migrate` or `node consumer.js push <file> <deliveryId>`. */
const consumer = `'use strict'
const fs = require('node:fs')
const webhooks = require(${JSON.stringify(packageName)})

async function main() {
  const [mode, file, deliveryId] = process.argv.slice(2)
  if (mode === 'migrate') {
    await webhooks.migrate(process.env.DATABASE_URL)
    console.log(JSON.stringify({ entry: require.resolve(${JSON.stringify(packageName)}) }))
    return
  }
  const result = await webhooks.processWebhook({ deliveryId, event: 'push', payload: fs.readFileSync(file, 'utf8') })
  await webhooks.closeDefaultProcessor()
  console.log(JSON.stringify(result))
}

main().catch((error) => {
  console.error(error && error.code, error && error.message)
  process.exit(1)
})
`

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Runs the consumer in the fresh project with DATABASE_URL set; returns its JSON output. */
function consume(databaseUrl: string, ...args: string[]): Record<string, any> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl }
  delete env.REDIS_URL
  delete env.NODE_PATH
  return JSON.parse(run(process.execPath, ['consumer.js', ...args], project, env))
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'webhook-processor-pack-'))
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tmp], root))
  tarball = join(tmp, packed[0].filename)
  packedFiles = packed[0].files.map((f: { path: string }) => f.path)

  project = join(tmp, 'consumer')
  mkdirSync(project)
  run('npm', ['init', '-y'], project)
  run('npm', ['install', tarball, '--no-audit', '--no-fund'], project)
  writeFileSync(join(project, 'consumer.js'), consumer)
}, 120_000)

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

test('the tarball carries the built addon, the JS entry, its types and the Prisma migrations', () => {
  expect(existsSync(tarball)).toBe(true)
  expect(packedFiles).toEqual(
    expect.arrayContaining([
      'package.json',
      'index.js',
      'index.d.ts',
      'webhook-processor.linux-x64-gnu.node',
      'lib/index.js',
      'lib/index.d.ts',
      'lib/errors.js',
      'lib/validate.js',
      'prisma/schema.prisma',
      'prisma/migrations/migration_lock.toml',
      'prisma/migrations/20261128120000_init/migration.sql',
    ]),
  )
  // Nothing from the development tree: sources, tests, build output.
  for (const path of packedFiles) {
    expect(path).not.toMatch(/^(src|crates|__test__|target|node_modules|bench|scripts)\//)
  }
})

test('installed from the tarball into a fresh project, it migrates and processes a push', async () => {
  const db: TestDatabase = await createTestDatabase({ migrated: false })
  try {
    const migrated = consume(db.url, 'migrate')
    // The package resolved is the installed copy, not this repository.
    expect(migrated.entry).toBe(join(project, 'node_modules', packageName, 'lib', 'index.js'))
    const { rows } = await db.pool.query('SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL')
    expect(rows.map((r) => r.migration_name)).toContain('20261128120000_init')

    const repoId = await insertRepository(db.pool)
    const deliveryId = `pack-${Date.now()}`
    const result = consume(db.url, 'push', fixture, deliveryId)
    expect(result).toMatchObject({
      status: 'processed',
      deliveryId,
      event: 'push',
      repoId,
      records: { commits: 3, pullRequests: 0, issues: 0, reviews: 0 },
    })
    const commits = await db.pool.query('SELECT count(*)::int AS n FROM commits WHERE "repoId" = $1', [repoId])
    expect(commits.rows[0].n).toBe(3)
    const events = await db.pool.query('SELECT processed FROM events WHERE "deliveryId" = $1', [deliveryId])
    expect(events.rows).toEqual([{ processed: true }])
  } finally {
    await db.drop()
  }
})
