#!/usr/bin/env node
'use strict'
// Prepares the reference backend the way DevMetrics consumes the package: packs the package at
// the repository root (lib/, prisma/, index.js: no binary, napi-rs's layout) and this machine's
// platform package (npm/<platform>/ with the .node that `npm run build` wrote), installs both
// tarballs and the backend's other dependencies into examples/backend/node_modules, and compiles
// the backend (src/ → dist/). `npm run backend:setup` at the root runs it; `npm start`,
// `npm run worker` and the recovery commands run it in their own process first (scripts/run.js).
// A user installs the same two packages from a registry by name (npm picks the platform package
// through the main one's optionalDependencies: docs/platforms.md); here the main tarball names
// none, so nothing is looked up on a public registry for them.
//
// Quick when nothing changed: npm pack is deterministic, so the install is skipped while the
// installed copy came from the same tarballs, and tsc builds incrementally.
//
//   node examples/backend/scripts/setup.js [--force]     (or require('./setup').setup())

const { execFileSync } = require('node:child_process')
const { createHash } = require('node:crypto')
const { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs')
const { join, resolve } = require('node:path')
const { parseArgs } = require('node:util')

const backend = resolve(__dirname, '..')
const root = resolve(backend, '..', '..')
const vendor = join(backend, 'vendor')
const TARBALL = join(vendor, 'devmetrics-webhook-processor.tgz') // package.json: "file:vendor/devmetrics-webhook-processor.tgz"
const PLATFORM_TARBALL = join(vendor, 'devmetrics-webhook-processor-platform.tgz') // installed beside it, not saved
const STAMP = join(backend, 'node_modules', '.devmetrics-webhook-processor.sha256')
const USAGE = `usage: node examples/backend/scripts/setup.js [--force]   (npm run backend:setup)
  Packs this repository and its platform package, installs both into examples/backend and
  compiles the backend (src/ → dist/); quick when nothing changed.
  --force      install again even when the installed copy came from the same tarballs
  -h, --help   this text; changes nothing`

const log = (message) => console.log(`[backend setup] ${message}`)
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex')

/** Packs the main package and the host's platform package into vendor/; returns their digest. */
function pack() {
  const packAll = require(join(root, 'scripts', 'pack-all.js'))
  const host = packAll.hostPlatform()
  if (!host) {
    throw new Error('the addon is not built: run `npm run build` at the repository root first')
  }
  packAll.collectBinaries() // copies it into npm/<platform>/
  mkdirSync(vendor, { recursive: true })
  const tmp = join(vendor, '.pack')
  rmSync(tmp, { recursive: true, force: true })
  try {
    const main = packAll.packMain(tmp, { optionalDependencies: false })
    renameSync(main.file, TARBALL)
    const platform = packAll.packPlatform(host, tmp)
    renameSync(platform.file, PLATFORM_TARBALL)
    log(`packed ${main.name} and ${platform.name} (${((main.size + platform.size) / 1e6).toFixed(1)} MB)`)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  return { digest: sha256(TARBALL) + sha256(PLATFORM_TARBALL), platformPackage: host.packageName }
}

function install({ digest, platformPackage }, force) {
  const installed = join(backend, 'node_modules', '@devmetrics', 'webhook-processor', 'package.json')
  const installedPlatform = join(backend, 'node_modules', platformPackage, 'package.json')
  if (!force && existsSync(installed) && existsSync(installedPlatform) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === digest) {
    log('dependencies up to date')
    return
  }
  // A file: tarball whose bytes changed keeps its name, so drop the installed copy and the
  // lock entry first; npm then installs the new bytes (and checks the rest against the lock).
  rmSync(join(backend, 'node_modules', '@devmetrics'), { recursive: true, force: true })
  const lockFile = join(backend, 'package-lock.json')
  if (existsSync(lockFile)) {
    const lock = JSON.parse(readFileSync(lockFile, 'utf8'))
    delete lock.packages?.['node_modules/@devmetrics/webhook-processor']
    writeFileSync(lockFile, `${JSON.stringify(lock, null, 2)}\n`)
  }
  log('npm install (the packed package and the backend dependencies)')
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline'], backend)
  // The platform package depends on which machine built the addon, so it is not in the
  // backend's package.json: installed beside the main package without saving it.
  log(`npm install ${platformPackage} (this machine's binary)`)
  npm(['install', '--no-save', '--no-audit', '--no-fund', '--offline', PLATFORM_TARBALL], backend)
  writeFileSync(STAMP, digest)
}

function build() {
  const tsc = join(backend, 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '-p', backend], { stdio: 'inherit' })
  log('compiled src/ → dist/')
}

/** Packs, installs (unless up to date, or `force`) and compiles; throws on failure. */
function setup({ force = false } = {}) {
  install(pack(), force)
  build()
}

module.exports = { setup }

if (require.main === module) {
  // A plain script (it compiles src/cli/args.ts, so it cannot use it): util.parseArgs, strict.
  let args
  try {
    args = parseArgs({ options: { force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values
  } catch (err) {
    console.error(`${err.message}\n${USAGE}`)
    process.exit(2)
  }
  if (args.help) {
    console.log(USAGE)
    process.exit(0)
  }
  try {
    setup({ force: args.force })
  } catch (err) {
    console.error(`[backend setup] failed: ${err.message}`)
    process.exit(1)
  }
}
