// A quick look at throughput while the real harness (bench/run.ts) does not exist yet: a
// PR-heavy mix built from the fixtures (70% pull_request, 15% reviews, 10% issues, 5% pushes of
// 3 commits, over 500 pull requests and 200 issues with random updated_at) through the addon,
// the pg and the Prisma baselines at N connections (N deliveries in flight), each on a fresh
// database, and the pgbench ceiling on the same mix. Not a benchmark: one short run each, on a
// shared 2-core machine. Run: `node -r ./bench/register.js bench/baselines/rate.ts
// [--jobs 3000] [--connections 8]`.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { WebhookProcessor } from '../../lib'
import { createTestDatabase } from '../../__test__/helpers/db'
import { seedCheckDatabase } from './check'
import { connectPgBaseline } from './pg'
import { runCeiling } from './pgbench'
import { connectPrismaBaseline } from './prisma'
import type { BenchJob, Implementation } from './types'

const FIXTURES = join(__dirname, '../../__test__/fixtures')
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'))

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}

/** A deterministic pseudo-random sequence, so every implementation gets the same jobs. */
function random(seed: number): () => number {
  let s = seed
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
}

function time(rand: () => number): string {
  return new Date(Date.UTC(2024, 0, 1) + Math.floor(rand() * 365 * 86_400) * 1000).toISOString().replace('.000', '')
}

export function prHeavyMix(count: number): BenchJob[] {
  const rand = random(7)
  const pr = fixture('pull-request-opened.json')
  const merged = fixture('pull-request-merged.json')
  const review = fixture('pull-request-review.json')
  const issue = fixture('issue-opened.json')
  const push = fixture('push-event.json')
  const jobs: BenchJob[] = []
  for (let n = 0; n < count; n++) {
    const r = rand()
    const p = 1 + Math.floor(rand() * 500)
    let event: string
    let payload: Record<string, any>
    if (r < 0.7) {
      event = 'pull_request'
      payload = structuredClone(rand() < 0.2 ? merged : pr)
    } else if (r < 0.85) {
      event = 'pull_request_review'
      payload = structuredClone(review)
      payload.review.id = 10_000_000 + n
      payload.review.submitted_at = time(rand)
    } else if (r < 0.95) {
      event = 'issues'
      payload = structuredClone(issue)
      payload.issue.id = 20_000_000 + Math.floor(rand() * 200)
      payload.issue.number = 10_000 + (payload.issue.id % 1000)
      payload.issue.updated_at = time(rand)
    } else {
      event = 'push'
      payload = structuredClone(push)
      payload.commits.forEach((c: { id: string }, i: number) => (c.id = (n * 4 + i).toString(16).padStart(40, '0')))
    }
    if (payload.pull_request) {
      payload.pull_request.id = 30_000_000 + p
      payload.pull_request.number = p
      payload.pull_request.updated_at = time(rand)
    }
    jobs.push({ deliveryId: `rate-${n}`, event, payload: JSON.stringify(payload) })
  }
  return jobs
}

async function measure(name: string, connect: (url: string, connections: number) => Promise<Implementation>, jobs: BenchJob[], connections: number): Promise<void> {
  const db = await createTestDatabase()
  try {
    await seedCheckDatabase(db.pool)
    const impl = await connect(db.url, connections)
    const queue = [...jobs].reverse()
    const started = process.hrtime.bigint()
    await Promise.all(
      Array.from({ length: connections }, async () => {
        for (let job = queue.pop(); job; job = queue.pop()) await impl.process(job)
      }),
    )
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    await impl.close()
    console.log(`${name.padEnd(8)} ${(jobs.length / seconds).toFixed(0).padStart(6)} events/s (${jobs.length} in ${seconds.toFixed(2)} s)`)
  } finally {
    await db.drop()
  }
}

async function main(): Promise<void> {
  const connections = arg('connections', 8)
  const jobs = prHeavyMix(arg('jobs', 3000))
  console.log(`${jobs.length} jobs, ${connections} connections`)
  const addon = async (url: string, max: number): Promise<Implementation> => {
    const p = await WebhookProcessor.connect({ databaseUrl: url, maxConnections: max })
    return { name: 'addon', process: async (job) => void (await p.process(job)), close: () => p.close() }
  }
  await measure('addon', addon, jobs, connections)
  await measure('pg', connectPgBaseline, jobs, connections)
  await measure('prisma', connectPrismaBaseline, jobs.slice(0, Math.ceil(jobs.length / 3)), connections)
  const db = await createTestDatabase()
  try {
    await seedCheckDatabase(db.pool)
    const ceiling = await runCeiling(db.url, jobs, { clients: connections, seconds: 10, keep: null })
    console.log(`ceiling  ${ceiling.eventsPerSecond.toFixed(0).padStart(6)} events/s (p50 ${ceiling.latencyMs.p50} ms, p99 ${ceiling.latencyMs.p99} ms, ${ceiling.transactions} tx)`)
  } finally {
    await db.drop()
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
