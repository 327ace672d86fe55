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
// The long steps (npm install, tsc) run as child processes this one waits for without blocking,
// so a stop request (`setup({ signal })`, an AbortSignal: run.js aborts it on SIGTERM/SIGINT)
// kills the step running and rejects once it has exited: nothing is left running behind a
// stopped setup. (With execFileSync a SIGTERM killed this process and left npm or tsc running.)
//
// Quick when nothing changed: npm pack is deterministic, so the install is skipped while the
// installed copy came from the same tarballs, and tsc builds incrementally.
//
//   node examples/backend/scripts/setup.js [--force]     (or require('./setup').setup())

const { spawn } = require('node:child_process')
const { createHash } = require('node:crypto')
const { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs')
const { constants } = require('node:os')
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

/** Set on the error of a setup that a stop request ended; `signal` is the abort reason (the signal's name). */
class SetupStopped extends Error {}

/**
 * Runs `command` and resolves once it exited 0 (its stdout discarded unless `inheritStdout`,
 * stderr shown). When `signal` aborts, the command gets the abort reason as its signal
 * (SIGTERM unless the reason names one) and the promise rejects with SetupStopped once it has exited.
 */
function run(command, args, { cwd, signal, inheritStdout = false }) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new SetupStopped(`stopped by ${signal.reason}`))
    const child = spawn(command, args, { cwd, stdio: ['ignore', inheritStdout ? 'inherit' : 'ignore', 'inherit'] })
    const stop = () => child.kill(/^SIG[A-Z]+$/.test(String(signal.reason)) ? signal.reason : 'SIGTERM')
    signal?.addEventListener('abort', stop, { once: true })
    child.on('error', (err) => {
      signal?.removeEventListener('abort', stop)
      reject(err)
    })
    child.on('close', (code, killedBy) => {
      signal?.removeEventListener('abort', stop)
      if (signal?.aborted) reject(new SetupStopped(`stopped by ${signal.reason}`))
      else if (code === 0) resolve()
      else reject(new Error(`${command} ${args.join(' ')} ${killedBy ? `was killed by ${killedBy}` : `exited with ${code}`}`))
    })
  })
}
const npm = (args, cwd, signal) => run('npm', args, { cwd, signal })
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

async function install({ digest, platformPackage }, force, signal) {
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
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline'], backend, signal)
  // The platform package depends on which machine built the addon, so it is not in the
  // backend's package.json: installed beside the main package without saving it.
  log(`npm install ${platformPackage} (this machine's binary)`)
  await npm(['install', '--no-save', '--no-audit', '--no-fund', '--offline', PLATFORM_TARBALL], backend, signal)
  writeFileSync(STAMP, digest)
}

async function build(signal) {
  const tsc = join(backend, 'node_modules', 'typescript', 'bin', 'tsc')
  await run(process.execPath, [tsc, '-p', backend], { signal, inheritStdout: true })
  log('compiled src/ → dist/')
}

/**
 * Packs, installs (unless up to date, or `force`) and compiles; rejects on failure, and with
 * SetupStopped when `signal` aborts (after the step running has exited).
 */
async function setup({ force = false, signal } = {}) {
  const packed = pack() // npm pack: a second or two, synchronous
  if (signal?.aborted) throw new SetupStopped(`stopped by ${signal.reason}`)
  await install(packed, force, signal)
  await build(signal)
}

/**
 * setup() for a command line (setup.js itself and run.js): a SIGTERM or SIGINT during it stops
 * the step running and, once that has exited, exits 128 + the signal's number; a failure is
 * printed and exits 1. Resolves after a completed setup with its signal handlers removed (the
 * command that follows installs its own).
 */
async function runSetup(options = {}) {
  const controller = new AbortController()
  const onSignal = (signal) => controller.abort(signal)
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  try {
    await setup({ ...options, signal: controller.signal })
  } catch (err) {
    if (!controller.signal.aborted) {
      console.error(`[backend setup] failed: ${err.message}`)
      process.exit(1)
    }
  }
  process.off('SIGTERM', onSignal)
  process.off('SIGINT', onSignal)
  if (controller.signal.aborted) {
    const signal = controller.signal.reason
    log(`stopped by ${signal}: nothing started, nothing left running`)
    process.exit(128 + (constants.signals[signal] ?? constants.signals.SIGTERM))
  }
}

module.exports = { setup, runSetup, SetupStopped }

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
  runSetup({ force: args.force }).then(() => process.exit(0))
}
