// Installed the way users install: every platform package whose binary is built and the main
// package are published to a private registry (Verdaccio on 127.0.0.1), and a fresh project runs
// `npm install @devmetrics/webhook-processor` against it. npm must pick this machine's platform
// package through the main package's optionalDependencies (os/cpu/libc), the generated index.js
// must load it, and the installed package must process a delivery into PostgreSQL. In CI only
// `npm run build`'s linux-x64-gnu exists; after `npm run build:all` every platform is published.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase, insertRepository } from './helpers/db'
import { LocalRegistry, startRegistry } from './support/registry'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const packAll = require('../scripts/pack-all.js')

const packageName = '@devmetrics/webhook-processor'
const fixture = join(__dirname, 'fixtures/push-event.json')
const HOST = 'linux-x64-gnu' // this machine and CI: Linux, x64, glibc

let tmp: string
let registry: LocalRegistry
let project: string
let published: { name: string; platform: string | null; file: string }[]

/** The consuming project's script: migrate, or process one push; prints JSON. */
const consumer = `'use strict'
const fs = require('node:fs')
const webhooks = require(${JSON.stringify(packageName)})
const loaded = () => Object.keys(require.cache).filter((f) => f.endsWith('.node'))

async function main() {
  const [mode, file, deliveryId] = process.argv.slice(2)
  if (mode === 'migrate') {
    await webhooks.migrate(process.env.DATABASE_URL)
    console.log(JSON.stringify({ entry: require.resolve(${JSON.stringify(packageName)}), loaded: loaded() }))
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

function consume(databaseUrl: string, ...args: string[]): Record<string, any> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl }
  delete env.NODE_PATH
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH
  return JSON.parse(execFileSync(process.execPath, ['consumer.js', ...args], { cwd: project, env, encoding: 'utf8' }))
}

beforeAll(async () => {
  expect(`${process.platform}-${process.arch}`).toBe('linux-x64') // the machine this test describes
  tmp = mkdtempSync(join(tmpdir(), 'webhook-processor-registry-'))
  const built = packAll.collectBinaries()
  expect(built.map((p: { platform: string }) => p.platform)).toContain(HOST) // `npm run build` first
  const out = join(tmp, 'packs')
  published = [...built.map((p: unknown) => packAll.packPlatform(p, out)), packAll.packMain(out)]

  registry = await startRegistry(join(tmp, 'registry'))
  for (const { file } of published) registry.npm(['publish', file, '--access', 'public', '--ignore-scripts'], tmp)

  project = join(tmp, 'consumer')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
  writeFileSync(join(project, 'consumer.js'), consumer)
  registry.npm(['install', packageName], project)
}, 240_000)

afterAll(async () => {
  await registry?.stop()
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

test('the registry serves the main package with every platform as an optional dependency at its version', () => {
  const view = JSON.parse(registry.npm(['view', packageName, '--json'], tmp))
  const version = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version
  expect(view.version).toBe(version)
  const expected = Object.fromEntries(packAll.platforms().map((p: { packageName: string }) => [p.packageName, version]))
  expect(view.optionalDependencies).toEqual(expected)
  expect(Object.keys(expected)).toHaveLength(7)
  // Every built platform is there too, each one a package of its own with os/cpu (libc on Linux).
  for (const { name, platform } of published.filter((p) => p.platform)) {
    const pkg = JSON.parse(registry.npm(['view', name, '--json'], tmp))
    expect(pkg.version).toBe(version)
    expect(pkg.os).toEqual([platform!.split('-')[0]])
  }
})

test('npm install picks only this machine’s platform package, and the main package carries no binary', () => {
  const scope = join(project, 'node_modules', '@devmetrics')
  expect(readdirSync(scope).sort()).toEqual(['webhook-processor', `webhook-processor-${HOST}`])
  const main = join(scope, 'webhook-processor')
  expect(readdirSync(main).filter((f) => f.endsWith('.node'))).toEqual([])
  expect(existsSync(join(scope, `webhook-processor-${HOST}`, `webhook-processor.${HOST}.node`))).toBe(true)
  // The lock records every platform published (a lock made here installs elsewhere), marked optional.
  const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8'))
  for (const { name, platform } of published.filter((p) => p.platform)) {
    expect(lock.packages[`node_modules/${name}`]).toMatchObject({ optional: true })
    expect(existsSync(join(scope, `webhook-processor-${platform}`))).toBe(platform === HOST)
  }
})

test('the installed package loads its platform binary and processes a push into PostgreSQL', async () => {
  const db = await createTestDatabase({ migrated: false })
  try {
    const migrated = consume(db.url, 'migrate')
    expect(migrated.entry).toBe(join(project, 'node_modules', packageName, 'lib', 'index.js'))
    expect(migrated.loaded).toEqual([join(project, 'node_modules', '@devmetrics', `webhook-processor-${HOST}`, `webhook-processor.${HOST}.node`)])

    const repoId = await insertRepository(db.pool)
    const deliveryId = `registry-${Date.now()}`
    expect(consume(db.url, 'push', fixture, deliveryId)).toMatchObject({
      status: 'processed',
      deliveryId,
      repoId,
      records: { commits: 3, pullRequests: 0, issues: 0, reviews: 0 },
    })
    const commits = await db.pool.query('SELECT count(*)::int AS n FROM commits WHERE "repoId" = $1', [repoId])
    expect(commits.rows[0].n).toBe(3)
  } finally {
    await db.drop()
  }
})
