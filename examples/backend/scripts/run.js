#!/usr/bin/env node
'use strict'
// `npm start`, `npm run worker`, `npm run register|backfill|reconcile|reprocess`: prepares the
// backend (setup.js: pack, install, compile) and then runs the compiled entry in this same
// process, so the process that npm starts is the backend itself. A SIGTERM or SIGINT sent to it
// (a process manager, `kill -INT`, npm forwarding its own) reaches the backend's handlers: it
// stops taking jobs, finishes the active ones and exits 0. (It used to be `setup.js && main.js`,
// two processes under a shell that took the signal and died, leaving the backend running.)
// The npm scripts say `exec node …` because npm runs them through `sh -c`, and dash (Debian's
// /bin/sh) forks even for a single command: exec makes this process the one npm signals.
//
//   node examples/backend/scripts/run.js main [--role=worker]
//   node examples/backend/scripts/run.js cli/backfill owner/repo --since 30d

const { existsSync } = require('node:fs')
const { join, resolve } = require('node:path')
const { setup } = require('./setup')

const dist = resolve(__dirname, '..', 'dist')
const [entry, ...args] = process.argv.slice(2)
if (!entry || entry.startsWith('-')) {
  console.error('usage: node examples/backend/scripts/run.js <main|cli/register|cli/backfill|…> [arguments of the entry]')
  process.exit(2)
}
const file = join(dist, `${entry}.js`)
// `--help` only prints the entry's usage: no setup for it once the backend is compiled.
const helpOnly = (args.includes('--help') || args.includes('-h')) && existsSync(file)
try {
  if (!helpOnly) setup()
} catch (err) {
  console.error(`[backend setup] failed: ${err.message}`)
  process.exit(1)
}
if (!existsSync(file)) {
  console.error(`no such entry of the backend: ${entry} (${file})`)
  process.exit(2)
}
// The entry reads its arguments from process.argv as when run as `node dist/<entry>.js …`.
process.argv = [process.argv[0], file, ...args]
require(file)
