// The reprocess rows: processor.reprocessEvents() over the deliveries the addon stored live, on
// the same workload, machine and connection count as the live "addon" row of the same run
// (DESIGN.md, "Reprocessing stored deliveries": at least 3× the live rate). Two measured
// windows in one child process (bench/child.ts runs it):
//
//   rebuild        the entity tables emptied, every stored delivery applied again: the rows
//                  are compared with those live processing wrote (they must be the same)
//   over existing  the same again on the rebuilt rows (what an upgrade that reads one more
//                  field does): every upsert finds its row
//
// The live processing that stores the deliveries is setup here, not measured: the "addon" row
// measures it.
import type { Pool } from 'pg'
import { WebhookProcessor } from '../lib'
import { createPool } from './baselines/pg/pool'
import type { BenchJob } from './baselines/types'
import { drive, fromArray } from './drive'
import type { ThroughputResult } from './results'

export interface ReprocessSettings {
  databaseUrl: string
  concurrency: number
  batchSize: number
}

type Measured = <T>(fn: () => Promise<T>) => Promise<{ value: T; clientCpuMicros: number; serverCpuMs: number | null; rss: { start: number; peak: number }; load1: number }>

/** The entity rows without what a re-insert generates anew (ids, creation times, the review's pull request row id). */
const PROJECTIONS: Record<string, string> = {
  pull_requests: `SELECT to_jsonb(t) - 'id' - 'createdAt' AS row FROM pull_requests t`,
  issues: `SELECT to_jsonb(t) - 'id' - 'createdAt' AS row FROM issues t`,
  pull_request_reviews: `SELECT to_jsonb(t) - 'id' - 'createdAt' - 'pullRequestId' || jsonb_build_object('pr', p."githubId") AS row
                         FROM pull_request_reviews t JOIN pull_requests p ON p.id = t."pullRequestId"`,
  commits: `SELECT to_jsonb(t) - 'id' - 'createdAt' AS row FROM commits t`,
}

async function keep(pool: Pool): Promise<void> {
  for (const [table, sql] of Object.entries(PROJECTIONS)) await pool.query(`CREATE TABLE bench_keep_${table} AS ${sql}`)
}

/** Rows in one side and not the other, over the four tables, with a few examples. */
async function differences(pool: Pool): Promise<{ count: number; sample: string[] }> {
  let count = 0
  const sample: string[] = []
  for (const [table, sql] of Object.entries(PROJECTIONS)) {
    const { rows } = await pool.query(
      `(SELECT 'missing' AS side, row FROM bench_keep_${table} EXCEPT ALL SELECT 'missing', row FROM (${sql}) now)
       UNION ALL
       (SELECT 'extra', row FROM (${sql}) now EXCEPT ALL SELECT 'extra', row FROM bench_keep_${table})`,
    )
    count += rows.length
    for (const r of rows.slice(0, 2)) sample.push(`${table}: ${r.side} ${JSON.stringify(r.row).slice(0, 200)}`)
  }
  return { count, sample: sample.slice(0, 5) }
}

export async function reprocessRows(s: ReprocessSettings, jobs: BenchJob[], measured: Measured, base: () => ThroughputResult): Promise<ThroughputResult[]> {
  const pool = createPool(s.databaseUrl, 1)
  const processor = await WebhookProcessor.connect({ databaseUrl: s.databaseUrl, maxConnections: s.concurrency })
  try {
    const live = await drive(fromArray(jobs), s.concurrency, (job) => processor.process(job))
    if (live.failures > 0) throw new Error(`storing the deliveries: ${live.failures} failed (${live.errorSample[0]})`)
    // The same deliveries processed live, in this process, right before: a side-by-side rate
    // under the same load (warm-up included, so a little slower than the measured addon row).
    const liveEventsPerSecond = (live.completed / live.wallMs) * 1000
    const stored = Number((await pool.query(`SELECT count(*) FROM events`)).rows[0].count)
    await keep(pool)
    await pool.query('DELETE FROM pull_request_reviews; DELETE FROM pull_requests; DELETE FROM issues; DELETE FROM commits')
    await pool.query('VACUUM ANALYZE pull_request_reviews, pull_requests, issues, commits')

    const options = { batchSize: s.batchSize, concurrency: s.concurrency }
    const out: ThroughputResult[] = []
    for (const [name, label] of [
      ['reprocess', 'addon reprocess: rebuild (rows deleted)'],
      ['reprocess-existing', 'addon reprocess: over existing rows'],
    ] as const) {
      const m = await measured(() => processor.reprocessEvents(options))
      const r = m.value
      const result = base()
      Object.assign(result, {
        name,
        label,
        events: r.events,
        failures: r.skipped,
        wallMs: r.durationMs,
        eventsPerSecond: (r.events / r.durationMs) * 1000,
        cpuMicrosPerEvent: { client: m.clientCpuMicros / r.events, server: m.serverCpuMs === null ? null : (m.serverCpuMs * 1000) / r.events },
        rssMb: m.rss,
        load1: m.load1,
        differences: await differences(pool),
        liveEventsPerSecond,
      })
      result.notes.push(
        `reprocessEvents({ batchSize: ${options.batchSize}, concurrency: ${options.concurrency} }) on WebhookProcessor.connect({ maxConnections: ${s.concurrency} }) over the ${r.events} deliveries stored by live processing (warm-up and measured), which ran ${liveEventsPerSecond.toFixed(0)} events/s in the same process just before (${(result.eventsPerSecond / liveEventsPerSecond).toFixed(2)}× that); DB differences are rows that differ from what live processing wrote`,
      )
      out.push(result)
    }
    const after = Number((await pool.query(`SELECT count(*) FROM events`)).rows[0].count)
    if (after !== stored) throw new Error(`reprocessing wrote events rows: ${stored} before, ${after} after`)
    return out
  } finally {
    await processor.close()
    await pool.end()
  }
}
