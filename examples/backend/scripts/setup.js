#!/usr/bin/env node
'use strict'
// Prepares the reference backend the way DevMetrics consumes the package: packs the package at
// the repository root (`npm pack`: the built .node, lib/, prisma/), installs that tarball and
// the backend's other dependencies into examples/backend/node_modules, and compiles the backend
// (src/ → dist/). `npm start`, `npm run worker` and `npm run backend:setup` at the root run it.
//
// Quick when nothing changed: npm pack is deterministic, so the install is skipped while the
// installed copy came from the same tarball, and tsc builds incrementally.
//
//   node examples/backend/scripts/setup.js [--force]

const { execFileSync } = require('node:child_process')
const { createHash } = require('node:crypto')
const { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs')
const { join, resolve } = require('node:path')

const backend = resolve(__dirname, '..')
const root = resolve(backend, '..', '..')
const vendor = join(backend, 'vendor')
const TARBALL = join(vendor, 'devmetrics-webhook-processor.tgz') // package.json: "file:vendor/devmetrics-webhook-processor.tgz"
const STAMP = join(backend, 'node_modules', '.devmetrics-webhook-processor.sha256')
const force = process.argv.includes('--force')

const log = (message) => console.log(`[backend setup] ${message}`)
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex')

function pack() {
  if (!readdirSync(root).some((f) => f.endsWith('.node'))) {
    throw new Error('the addon is not built: run `npm run build` at the repository root first')
  }
  mkdirSync(vendor, { recursive: true })
  const tmp = join(vendor, '.pack')
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp)
  try {
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], root))
    renameSync(join(tmp, packed.filename), TARBALL)
    log(`packed ${packed.name}@${packed.version} (${(packed.size / 1e6).toFixed(1)} MB, ${packed.entryCount} files)`)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  return sha256(TARBALL)
}

function install(digest) {
  const installed = join(backend, 'node_modules', '@devmetrics', 'webhook-processor', 'package.json')
  if (!force && existsSync(installed) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === digest) {
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
  writeFileSync(STAMP, digest)
}

function build() {
  const tsc = join(backend, 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '-p', backend], { stdio: 'inherit' })
  log('compiled src/ → dist/')
}

try {
  install(pack())
  build()
} catch (err) {
  console.error(`[backend setup] failed: ${err.message}`)
  process.exit(1)
}
