// The package as the DevMetrics backend's dev flow consumes it (examples/backend/scripts/
// setup.js): `npm pack` of the main package and of this machine's platform package, both
// tarballs installed into a fresh project, and the addon called from a plain `node` process
// there. Nothing builds on install, and the main package ships no binary (napi-rs's layout:
// docs/platforms.md), so this only works if the platform tarball carries the built .node and
// the main tarball everything its entry requires. registry-install.test.ts installs the same
// packages from a registry, by name, the way users do.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const packAll = require('../scripts/pack-all.js')

const fixture = join(__dirname, 'fixtures/push-event.json')
const packageName = '@devmetrics/webhook-processor'
const HOST = 'linux-x64-gnu' // this machine and CI

let tmp: string
let project: string
let release: { file: string; files: string[] }
let platform: { file: string; files: string[] }

/** What the consuming project runs: `node consumer.js migrate` or `node consumer.js push <file> <deliveryId>`. */
const consumer = `'use strict'
const fs = require('node:fs')
const webhooks = require(${JSON.stringify(packageName)})

async function main() {
  const [mode, file, deliveryId] = process.argv.slice(2)
  if (mode === 'migrate') {
    await webhooks.migrate(process.env.DATABASE_URL)
    const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
    console.log(JSON.stringify({ entry: require.resolve(${JSON.stringify(packageName)}), loaded }))
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
  const host = packAll.collectBinaries().find((p: { platform: string }) => p.platform === HOST)
  expect(host).toBeDefined() // `npm run build` first
  platform = packAll.packPlatform(host, join(tmp, 'platform'))
  release = packAll.packMain(join(tmp, 'release'))
  // The dev flow's main tarball names no optionalDependencies, so installing it looks nothing up.
  const dev = packAll.packMain(join(tmp, 'dev'), { optionalDependencies: false })

  project = join(tmp, 'consumer')
  mkdirSync(project)
  run('npm', ['init', '-y'], project)
  // The package's runtime dependencies (octokit) come from npm's cache when it has them, else
  // from npm's configured registry: --offline failed whenever the cache held a newer packument
  // than tarball for one of them (ENOTCACHED on a transitive dependency).
  run('npm', ['install', dev.file, platform.file, '--no-audit', '--no-fund', '--prefer-offline'], project)
  writeFileSync(join(project, 'consumer.js'), consumer)
}, 120_000)

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

test('the main tarball carries the JS entry, its types and the Prisma migrations, and no binary', () => {
  expect(existsSync(release.file)).toBe(true)
  expect(release.files).toEqual(
    expect.arrayContaining([
      'package.json',
      'index.js',
      'index.d.ts',
      'lib/index.js',
      'lib/index.d.ts',
      'lib/errors.js',
      'lib/validate.js',
      'prisma/schema.prisma',
      'prisma/migrations/migration_lock.toml',
      'prisma/migrations/20261128120000_init/migration.sql',
    ]),
  )
  // Nothing from the development tree (sources, tests, build output), and no binary.
  for (const path of release.files) {
    expect(path).not.toMatch(/^(src|crates|__test__|target|node_modules|bench|scripts|npm|artifacts)\//)
    expect(path).not.toMatch(/\.node$/)
  }
})

test('the platform tarball carries its binary and a manifest that npm installs only on its platform', () => {
  expect(platform.files.sort()).toEqual(['README.md', `webhook-processor.${HOST}.node`, 'package.json'].sort())
  const manifest = JSON.parse(execFileSync('tar', ['xzOf', platform.file, 'package/package.json'], { encoding: 'utf8' }))
  expect(manifest).toMatchObject({ name: `${packageName}-${HOST}`, main: `webhook-processor.${HOST}.node`, os: ['linux'], cpu: ['x64'], libc: ['glibc'] })
})

test('installed from the two tarballs into a fresh project, it migrates and processes a push', async () => {
  const db: TestDatabase = await createTestDatabase({ migrated: false })
  try {
    const migrated = consume(db.url, 'migrate')
    // The package resolved is the installed copy, not this repository.
    expect(migrated.entry).toBe(join(project, 'node_modules', packageName, 'lib', 'index.js'))
    // index.js found no binary beside it and loaded the platform package's.
    expect(migrated.loaded).toEqual([join(project, 'node_modules', `${packageName}-${HOST}`, `webhook-processor.${HOST}.node`)])
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
