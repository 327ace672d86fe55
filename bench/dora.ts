// `npm run bench:dora`: processor.doraMetrics() on a year of a 100-repository organisation, and
// on the same organisation ten times over (1,000 repositories), with the real addon and
// PostgreSQL. DESIGN.md asks for "one SQL pass per metric on indexes": the time of one team's
// figures must follow the team's deployments, not the size of the tables, so 10× the data must
// cost far less than 10× the time.
//
// Seeding is SQL (generate_series), not webhooks: per repository and day one production
// deployment (with 4–12 shipped commits) and one staging deployment of the same sha; every 15th
// day a re-run of the same sha, every 20th a failure status after success, every 25th an
// incident issue, every 30th a deployment that never succeeds, every 50th a rollback; a `bug`
// issue every 10th day. Teams have 10 repositories.
//
// Writes bench/dora-results.json and bench/DORA-PLANS.md (EXPLAIN ANALYZE of both statements),
// and puts its table into bench/RESULTS.md (between the `dora` markers, after the summary).
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Pool } from 'pg'
import { WebhookProcessor } from '../lib'
import { createTestDatabase } from '../__test__/helpers/db'
import { doraSection, DoraBenchResults, DoraCase, DoraScale } from './dora-report'
import { seedSql } from './dora-seed'

const WARMUP = 2
const RUNS = 7
const YEAR_START = '2026-01-01T00:00:00Z'
const YEAR_END = '2027-01-01T00:00:00Z'
const DAYS_90 = '2026-10-03T00:00:00Z'

async function counts(pool: Pool): Promise<DoraScale['rows']> {
  const n = async (sql: string) => Number((await pool.query(sql)).rows[0].n)
  return {
    repositories: await n('SELECT count(*) AS n FROM repositories'),
    deployments: await n('SELECT count(*) AS n FROM deployments'),
    statuses: await n('SELECT count(*) AS n FROM deployment_statuses'),
    changes: await n('SELECT count(*) AS n FROM deployment_changes'),
    issues: await n('SELECT count(*) AS n FROM issues'),
  }
}

/** doraMetrics' statements, from the core crate (crates/core/examples/dora_sql.rs). */
function statements(): string[] {
  const out = execFileSync('cargo', ['run', '--quiet', '-p', 'devmetrics-webhook-core', '--example', 'dora_sql'], {
    cwd: join(__dirname, '..'),
    encoding: 'utf8',
  })
  return JSON.parse(out).production
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function measure(processor: WebhookProcessor, name: string, options: Parameters<WebhookProcessor['doraMetrics']>[0]): Promise<DoraCase> {
  let result = await processor.doraMetrics(options)
  for (let i = 1; i < WARMUP; i++) await processor.doraMetrics(options)
  const ms: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now()
    result = await processor.doraMetrics(options)
    ms.push(performance.now() - t)
  }
  return {
    name,
    medianMs: median(ms),
    minMs: Math.min(...ms),
    maxMs: Math.max(...ms),
    deployments: result.deploymentFrequency.deployments,
    commits: result.leadTime.commits,
    failed: result.changeFailRate.failed,
  }
}

async function explain(pool: Pool, sql: string, since: string, until: string, teamId: string): Promise<string> {
  const client = await pool.connect()
  try {
    await client.query(`PREPARE dora_q(timestamp, timestamp, int8[], text, text[], float8, text) AS ${sql}`)
    const toTs = (iso: string) => iso.replace('T', ' ').replace('Z', '')
    const { rows } = await client.query(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE dora_q('${toTs(since)}', '${toTs(until)}', NULL, NULL, ARRAY['incident'], 168, '${teamId}')`,
    )
    await client.query('DEALLOCATE dora_q')
    return rows.map((r) => r['QUERY PLAN']).join('\n')
  } finally {
    client.release()
  }
}

async function main(): Promise<void> {
  const sql = statements()
  const results: DoraBenchResults = { generatedAt: new Date().toISOString(), runs: RUNS, scales: [] }
  const plans: string[] = []
  for (const scale of [1, 10]) {
    const repositories = 100 * scale
    const db = await createTestDatabase()
    try {
      process.stderr.write(`[dora] seeding ${repositories} repositories…\n`)
      const t = performance.now()
      for (const statement of seedSql(repositories)) await db.pool.query(statement)
      const seedMs = performance.now() - t
      const rows = await counts(db.pool)
      process.stderr.write(`[dora] seeded in ${(seedMs / 1000).toFixed(1)} s: ${JSON.stringify(rows)}\n`)
      const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
      try {
        const team = { teamId: 'team-1' }
        const cases = [
          await measure(processor, 'one team (10 repositories), 90 days', { ...team, since: DAYS_90, until: YEAR_END }),
          await measure(processor, 'one team (10 repositories), the year', { ...team, since: YEAR_START, until: YEAR_END }),
          await measure(processor, `the whole organisation (${repositories} repositories), 90 days`, { since: DAYS_90, until: YEAR_END }),
        ]
        results.scales.push({ scale, seedMs, rows, cases })
      } finally {
        await processor.close()
      }
      for (const [label, since] of [
        ['90 days', DAYS_90],
        ['the year', YEAR_START],
      ]) {
        for (const [i, statement] of sql.entries()) {
          const what = i === 0 ? 'frequency, change fail rate, recovery, rework' : 'lead time'
          plans.push(`## ${repositories} repositories, one team, ${label}: ${what}\n\n\`\`\`\n${await explain(db.pool, statement, since, YEAR_END, 'team-1')}\n\`\`\`\n`)
        }
      }
    } finally {
      await db.drop()
    }
  }
  writeFileSync(join(__dirname, 'dora-results.json'), `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(
    join(__dirname, 'DORA-PLANS.md'),
    `# doraMetrics: query plans\n\nWritten by \`npm run bench:dora\` (bench/dora.ts) on ${results.generatedAt}: \`EXPLAIN (ANALYZE, BUFFERS)\` of doraMetrics' two statements (crates/core/src/dora.rs), production, team-1, on the seeded organisations. The statements are the addon's own (printed by crates/core/examples/dora_sql.rs), prepared with the same parameter types.\n\n${plans.join('\n')}`,
  )
  const resultsMd = join(__dirname, 'RESULTS.md')
  const section = doraSection(results).join('\n')
  const md = readFileSync(resultsMd, 'utf8')
  const start = md.indexOf('<!-- dora:start -->')
  const end = md.indexOf('<!-- dora:end -->')
  let next: string
  if (start >= 0 && end > start) next = md.slice(0, start) + section + md.slice(end + '<!-- dora:end -->'.length)
  else {
    const anchor = md.indexOf('Details of each row')
    next = anchor >= 0 ? `${md.slice(0, anchor)}${section}\n\n${md.slice(anchor)}` : `${md}\n${section}\n`
  }
  writeFileSync(resultsMd, next)
  process.stdout.write(`${section}\n`)
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`)
    process.exit(1)
  })
}
