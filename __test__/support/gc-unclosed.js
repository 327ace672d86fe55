// Run by __test__/lifecycle.test.ts in a child Node (`node --expose-gc gc-unclosed.js <databaseUrl>`):
// processors that are never closed, and a connect() whose promise nobody awaits, are
// garbage-collected while the process keeps working. The parent checks the exit code, that
// the sessions were released, and the warning on stderr.
'use strict'
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { Client } = require('pg')
const { WebhookProcessor } = require('../../lib')

const databaseUrl = process.argv[2]
// A Redis tier (its connection and subscriber go away with the processor too), under the
// parent's key prefix.
const redisUrl = process.argv[3]
const redisKeyPrefix = process.argv[4]
const body = readFileSync(join(__dirname, '../fixtures/pull-request-opened.json'), 'utf8')

async function sessions(client) {
  const { rows } = await client.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor'`,
  )
  return rows[0].n
}

// Polls `probe` until `done`, collecting garbage between tries (bounded: 20 s).
async function until(probe, done) {
  const deadline = Date.now() + 20_000
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`gave up waiting; last value ${value}`)
    global.gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

async function main() {
  const client = new Client({ connectionString: databaseUrl })
  await client.connect()
  // Processors that did work (so each holds idle connections), then lost without close().
  await (async () => {
    for (let i = 0; i < 3; i++) {
      const redis = i === 0 ? { redisUrl, redisKeyPrefix } : {}
      const p = await WebhookProcessor.connect({ databaseUrl, maxConnections: 2, ...redis })
      await p.process({ deliveryId: `gc-${i}`, event: 'pull_request', payload: body })
    }
  })()
  // A connect() abandoned by a Promise.race timeout that won: nobody keeps the processor
  // it resolves with, only a flag saying it has.
  const abandoned = { settled: false }
  const raced = await Promise.race([
    WebhookProcessor.connect({ databaseUrl }).then(() => {
      abandoned.settled = true
    }),
    Promise.resolve('timed out'),
  ])
  if (raced !== 'timed out') throw new Error('the race was meant to be lost')
  await until(async () => abandoned.settled, (settled) => settled)
  global.gc()
  await until(() => sessions(client), (n) => n === 0)
  // The process lives on and keeps working.
  const p = await WebhookProcessor.connect({ databaseUrl })
  const result = await p.process({ deliveryId: 'after-gc', event: 'pull_request', payload: body })
  await p.close()
  await client.end()
  console.log(JSON.stringify({ status: result.status }))
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
