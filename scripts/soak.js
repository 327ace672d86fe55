#!/usr/bin/env node
'use strict'
// Soak: a long stream of realistic deliveries through the built addon (pushes, pull
// requests, issues and reviews from __test__/fixtures, each with fresh ids so every one
// inserts), reporting per window resident memory, the JS heap, the addon's connections as
// PostgreSQL sees them, and call latency. Fails (exit 1) when memory grew more than
// --max-growth-mb from the end of the first window to the end of the run, or when a delivery
// was not stored exactly once. Latency is reported, never judged: speed is bench/'s business.
//
// "Memory" is judged in two parts, because resident memory also holds the heap V8 reserves
// for this script's own garbage: V8 grows its young generation in steps under allocation
// pressure (16 → 24 → 40 MB of heap for 6 MB live here), which shows as RSS steps of 6 and
// 14 MB that are not the addon's. So the bound applies to native memory (RSS minus V8's heap:
// the addon, its buffers, libc) and to live JS heap (after a forced GC) separately; RSS is
// reported beside them.
//
//   npm run soak -- --events 200000            # the long run (the contract: < 20 MB growth over 200k)
//   npm run soak -- --events 5000 --window 1000 --max-growth-mb 64 --json   # CI's short run (__test__/soak.test.ts)
//
// Options: --events N (default 200000) --window N (default events/20) --concurrency N (5)
// --max-growth-mb N (20) --redis-url URL (adds the Redis user-cache tier) --json (one summary
// line of JSON at the end). The database is a fresh one on TEST_DATABASE_URL's server (default
// postgres://postgres@127.0.0.1:5432/postgres), dropped at the end.

const { randomBytes, randomUUID } = require('node:crypto')
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { parseArgs } = require('node:util')
const { Client } = require('pg')
const { WebhookProcessor, migrate } = require('../lib')

const USAGE = `usage: npm run soak -- [--events N] [--window N] [--concurrency N] [--max-growth-mb N] [--redis-url URL] [--json]
  --events N          deliveries to process (default 200000)
  --window N          deliveries per reported window (default events/20)
  --concurrency N     calls at once (default 5)
  --max-growth-mb N   the memory bound judged (default 20)
  --redis-url URL     adds the Redis user-cache tier
  --json              one summary line of JSON at the end
  -h, --help          this text; runs nothing
  The database is a fresh one on TEST_DATABASE_URL's server, dropped at the end.`

const args = (() => {
  try {
    return parseArgs({
      options: {
        events: { type: 'string', default: '200000' },
        window: { type: 'string' },
        concurrency: { type: 'string', default: '5' },
        'max-growth-mb': { type: 'string', default: '20' },
        'redis-url': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values
  } catch (err) {
    console.error(`${err.message}\n${USAGE}`)
    process.exit(2)
  }
})()
if (args.help) {
  console.log(USAGE)
  process.exit(0)
}
const EVENTS = positive('events')
const WINDOW = args.window ? positive('window') : Math.max(1, Math.floor(EVENTS / 20))
const CONCURRENCY = positive('concurrency')
const MAX_GROWTH_MB = Number(args['max-growth-mb'])
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const REPO_GITHUB_ID = 186853002

function positive(name) {
  const n = Number(args[name])
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`)
  return n
}

const fixture = (name) => JSON.parse(readFileSync(join(__dirname, '..', '__test__', 'fixtures', name), 'utf8'))
const templates = {
  push: fixture('push-event.json'),
  pull_request: fixture('pull-request-opened.json'),
  issues: fixture('issue-opened.json'),
  pull_request_review: fixture('pull-request-review.json'),
}
const sha = () => randomBytes(20).toString('hex')

/** The n-th delivery: 50% pushes of 3 commits, 25% pull requests, 15% issues, 10% reviews. */
function delivery(n) {
  const slot = n % 20
  const id = 7_000_000_000 + n // GitHub ids and numbers of their own per delivery
  const number = 1_000_000 + n
  let event
  let payload
  if (slot < 10) {
    event = 'push'
    payload = { ...templates.push, commits: templates.push.commits.slice(0, 1).flatMap((c) => [1, 2, 3].map(() => ({ ...c, id: sha() }))) }
    payload.head_commit = payload.commits[2]
  } else if (slot < 15) {
    event = 'pull_request'
    payload = { ...templates.pull_request, pull_request: { ...templates.pull_request.pull_request, id, number } }
  } else if (slot < 18) {
    event = 'issues'
    payload = { ...templates.issues, issue: { ...templates.issues.issue, id, number } }
  } else {
    event = 'pull_request_review'
    const t = templates.pull_request_review
    payload = { ...t, review: { ...t.review, id }, pull_request: { ...t.pull_request, id, number } }
  }
  return { deliveryId: randomUUID(), event, payload: JSON.stringify(payload), receivedAt: Date.now() }
}

const mb = (bytes) => Math.round((bytes / 1048576) * 10) / 10

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0
}

async function admin(sql) {
  const c = new Client({ connectionString: ADMIN_URL })
  await c.connect()
  try {
    await c.query(sql)
  } finally {
    await c.end()
  }
}

async function main() {
  const name = `wp_soak_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const databaseUrl = url.toString()
  const monitor = new Client({ connectionString: databaseUrl, application_name: 'devmetrics-soak-monitor' })
  let processor
  try {
    await migrate(databaseUrl)
    await monitor.connect()
    await monitor.query(`INSERT INTO repositories (id, "githubId", "fullName") VALUES ($1, $2, 'Codertocat/Hello-World')`, [randomUUID(), REPO_GITHUB_ID])
    await monitor.query(`INSERT INTO users (id, email, "githubId", "githubLogin") VALUES ($1, 'octocat@corp.example', 583231, 'octocat')`, [randomUUID()])
    processor = await WebhookProcessor.connect({ databaseUrl, redisUrl: args['redis-url'], maxConnections: CONCURRENCY })
    return await run(processor, monitor)
  } finally {
    await processor?.close()
    await monitor.end().catch(() => undefined)
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  }
}

/** Samples memory after a collection when node runs with --expose-gc (npm run soak does). */
function memory() {
  if (global.gc) global.gc()
  const m = process.memoryUsage()
  return {
    rssMb: mb(m.rss),
    nativeMb: mb(m.rss - m.heapTotal),
    heapMb: mb(m.heapUsed),
    heapTotalMb: mb(m.heapTotal),
    externalMb: mb(m.external),
  }
}

async function connections(monitor) {
  const { rows } = await monitor.query(
    `SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor' GROUP BY 1`,
  )
  return Object.fromEntries(rows.map((r) => [r.state, r.n]))
}

async function run(processor, monitor) {
  const windows = []
  let next = 0
  let latencies = []
  let failed = 0
  let windowStart = process.hrtime.bigint()

  const report = async (done) => {
    // Taken before any await: the lanes go on pushing into the next window's list.
    const sorted = latencies.sort((a, b) => a - b)
    latencies = []
    const elapsed = Number(process.hrtime.bigint() - windowStart) / 1e9
    windowStart = process.hrtime.bigint()
    const w = {
      events: done,
      ...memory(),
      pool: await connections(monitor),
      latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 },
      eventsPerSecond: Math.round(sorted.length / elapsed),
    }
    windows.push(w)
    if (!args.json) {
      const pool = Object.entries(w.pool).map(([s, n]) => `${s} ${n}`).join(', ')
      console.log(
        `${String(done).padStart(8)} events  rss ${w.rssMb} MB  native ${w.nativeMb} MB  heap ${w.heapMb}/${w.heapTotalMb} MB  external ${w.externalMb} MB  ` +
          `pool [${pool}]  latency p50 ${w.latencyMs.p50} ms p99 ${w.latencyMs.p99} ms max ${w.latencyMs.max} ms  ${w.eventsPerSecond}/s`,
      )
    }
  }

  let completed = 0
  let reported = 0
  let reporting = Promise.resolve()
  async function lane() {
    while (next < EVENTS) {
      const job = delivery(next++)
      const t = process.hrtime.bigint()
      try {
        await processor.process(job)
      } catch (err) {
        failed++
        if (failed <= 5) console.error(`delivery failed: ${err.code} ${err.message}`)
      }
      latencies.push(Math.round(Number(process.hrtime.bigint() - t) / 1e4) / 100)
      completed++
      if (completed - reported >= WINDOW) {
        reported = completed
        const done = completed
        // Every lane waits for the sample, so a window's numbers are not skewed by work in flight.
        reporting = reporting.then(() => report(done))
        await reporting
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane))
  await reporting
  if (completed > reported) await report(completed)

  const { rows } = await monitor.query(
    'SELECT count(*)::int AS n, count(*) FILTER (WHERE processed)::int AS processed FROM events',
  )
  const first = windows[0]
  const last = windows[windows.length - 1]
  const growth = (key) => Math.round((last[key] - first[key]) * 10) / 10
  const summary = {
    events: EVENTS,
    stored: rows[0].processed,
    eventRows: rows[0].n,
    failed,
    windows: windows.length,
    rssMb: { afterFirstWindow: first.rssMb, end: last.rssMb, max: Math.max(...windows.map((w) => w.rssMb)) },
    growthMb: { native: growth('nativeMb'), heap: growth('heapMb'), rss: growth('rssMb'), heapTotal: growth('heapTotalMb') },
    maxGrowthMb: MAX_GROWTH_MB,
    processorStats: processor.stats(),
    samples: windows,
  }
  const problems = []
  for (const part of ['native', 'heap']) {
    const g = summary.growthMb[part]
    if (g > MAX_GROWTH_MB) problems.push(`${part} memory grew ${g} MB, over ${MAX_GROWTH_MB} MB`)
  }
  if (failed > 0 || summary.stored !== EVENTS || summary.eventRows !== EVENTS) {
    problems.push(`${EVENTS} sent, ${summary.stored} stored, ${summary.eventRows} events rows, ${failed} failed`)
  }
  summary.ok = problems.length === 0
  summary.problems = problems
  if (args.json) console.log(JSON.stringify(summary))
  else {
    const g = summary.growthMb
    console.log(
      `${EVENTS} events: ${summary.stored} stored once, ${failed} failed; growth after the first window: ` +
        `native ${g.native} MB, live heap ${g.heap} MB (bound ${MAX_GROWTH_MB} MB each); rss ${first.rssMb} → ${last.rssMb} MB ` +
        `(${g.rss} MB, of which V8's reserved heap ${g.heapTotal} MB)`,
    )
    for (const p of problems) console.error(`FAIL: ${p}`)
  }
  return summary.ok
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err) => {
    console.error(err)
    process.exit(2)
  },
)
