// The ceiling: the pg baseline's SQL per event, driven by the `pgbench` binary instead of
// Node.js, on the bench's job mix (./workload.ts: one script per event kind, weighted by its
// share of the jobs; ./scripts.ts: what each script runs and how it maps to the pg baseline's
// statements). pgbench runs `-M prepared` (statements parsed once per connection), `-n` (no
// vacuum of its own tables), `clients` connections on up to 2 threads for `seconds`, and logs
// every transaction (`-l`): p50/p99 come from those logs, events/s is pgbench's tps (one
// transaction per event). Each client's first run of each script also loads its text variables
// from a helper table; those runs are left out of the latencies. The helper table lives in the
// bench database only while pgbench runs.

import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { findRepository, loadUsers } from '../pg/lookups'
import { createPool } from '../pg/pool'
import { parseJson, readEnvelope } from '../shared/payload'
import { planIdentities } from '../shared/plan'
import type { BenchJob, CeilingResult } from '../types'
import { buildScript, Script } from './scripts'
import { distinctPullRequests, scriptKinds } from './workload'

/** The pgbench binary: $PGBENCH, else the newest /usr/lib/postgresql/<v>/bin/pgbench, else PATH. */
export function pgbenchBinary(): string {
  if (process.env.PGBENCH) return process.env.PGBENCH
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : []
  const found = versions.map((v) => join(root, v, 'bin/pgbench')).find((p) => existsSync(p))
  return found ?? 'pgbench'
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/** Per-transaction latencies (ms) from pgbench's logs (`client tx latency_us script epoch us`),
 * without each client's first run of each script (it loads the variables); and per script
 * (its number in the command line) their count and sum in µs. */
function latencies(dir: string): { sorted: number[]; byScript: Map<number, { transactions: number; micros: number }> } {
  const seen = new Set<string>()
  const out: number[] = []
  const byScript = new Map<number, { transactions: number; micros: number }>()
  for (const file of readdirSync(dir).filter((f) => f.startsWith('tx.'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const [client, , latency, script] = line.split(' ')
      if (latency === undefined) continue
      const key = `${client}/${script}`
      if (!seen.has(key)) {
        seen.add(key)
        continue
      }
      out.push(Number(latency) / 1000)
      const s = byScript.get(Number(script)) ?? { transactions: 0, micros: 0 }
      s.transactions++
      s.micros += Number(latency)
      byScript.set(Number(script), s)
    }
  }
  return { sorted: out.sort((a, b) => a - b), byScript }
}

/** Where the scripts of the last run are kept for readers (bench/pgbench/<keep>/): bench/RESULTS.md links them. */
const SCRIPTS_ROOT = join(__dirname, '..', '..', 'pgbench')

/**
 * The command line, with each script named by its copy under bench/pgbench/<keep>/ (a
 * Markdown link from bench/RESULTS.md) instead of pasted: the scripts hold the payloads.
 */
function describe(scripts: Script[], args: string[], dir: string, keep: string | null, pgoptions: string): string {
  if (keep === null) return `\`PGOPTIONS='${pgoptions}' pgbench ${args.slice(0, -1).join(' ')} <databaseUrl>\` (scripts not kept)`
  const kept = join(SCRIPTS_ROOT, keep)
  mkdirSync(kept, { recursive: true })
  for (const f of readdirSync(kept)) if (f.endsWith('.sql')) rmSync(join(kept, f))
  for (const s of scripts) writeFileSync(join(kept, `${s.name}.sql`), `-- ${s.name}: pgbench weight ${s.weight}\n${s.text}`)
  // The database URL (last) may carry a password: never in the description; temporary paths are
  // shown as the kept copies.
  const shown = args.slice(0, -1).map((a) => a.split(dir).join(`pgbench/${keep}`).replace(/--log-prefix=\S+/, '--log-prefix=<tmp>/tx'))
  const links = scripts.map((s) => `[${s.name}.sql](pgbench/${keep}/${s.name}.sql) (weight ${s.weight})`).join(', ')
  return `\`PGOPTIONS='${pgoptions}' pgbench ${shown.join(' ')} <databaseUrl>\`; scripts: ${links}`
}

/** Runs the ceiling on `databaseUrl` (fresh, migrated and seeded like the implementations').
 * `keep: null` leaves the kept scripts of the last bench (bench/pgbench/ceiling/) alone: checks. */
export async function runCeiling(
  databaseUrl: string,
  jobs: BenchJob[],
  opts: { clients: number; seconds?: number; keep?: string | null },
): Promise<CeilingResult> {
  const pool = createPool(databaseUrl, 1)
  const table = 'pgbench_ceiling' // the database is the run's own: a fixed name keeps the kept scripts stable
  try {
    const { rows } = await pool.query<{ id: number }>('SELECT "githubId"::float8 AS id FROM repositories')
    const repos = new Set(rows.map((r) => r.id))
    const kinds = scriptKinds(jobs, repos)
    if (kinds.length === 0) throw new Error('runCeiling: no job writes anything in this database')
    const pullRequests = distinctPullRequests(jobs, repos)
    const scripts: Script[] = []
    for (const kind of kinds) {
      const envelope = readEnvelope(parseJson(kind.job.payload))
      const repo = envelope.repositoryId === null ? null : await findRepository(pool, envelope.repositoryId)
      if (!repo) throw new Error(`runCeiling: repository ${envelope.repositoryId} vanished`)
      const users = kind.plan ? await loadUsers(pool, planIdentities(kind.plan)) : new Map()
      scripts.push(buildScript(kind, { repo, users, envelope, pullRequests, table }))
    }
    return await runScripts(databaseUrl, scripts, { clients: opts.clients, seconds: opts.seconds, table, keep: opts.keep === undefined ? 'ceiling' : opts.keep })
  } finally {
    await pool.end()
  }
}

/**
 * Runs pgbench over `scripts` (weighted) on `databaseUrl`: their text variables go into the
 * helper table `table` first, the scripts are kept under bench/pgbench/<keep>/ for readers.
 */
export async function runScripts(
  databaseUrl: string,
  scripts: Script[],
  opts: { clients: number; seconds?: number; table: string; keep: string | null; sessionSettings?: Record<string, string> },
): Promise<CeilingResult> {
  const seconds = opts.seconds ?? 10
  const { table } = opts
  const pool = createPool(databaseUrl, 1)
  const dir = mkdtempSync(join(tmpdir(), 'ceiling-'))
  try {
    const names = scripts.flatMap((s) => [...s.variables.keys()])
    const texts = scripts.flatMap((s) => [...s.variables.values()])
    await pool.query(`CREATE TABLE ${table} (name text PRIMARY KEY, value text NOT NULL)`)
    await pool.query(`INSERT INTO ${table} SELECT * FROM UNNEST($1::text[], $2::text[])`, [names, texts])

    const args = ['-n', '-M', 'prepared', '-c', String(opts.clients), '-j', String(Math.min(2, opts.clients)), '-T', String(seconds)]
    for (const s of scripts) {
      const file = join(dir, `${s.name}.sql`)
      writeFileSync(file, s.text)
      args.push('-D', `l_${s.name}=0`, '-f', `${file}@${s.weight}`)
    }
    args.push('-l', `--log-prefix=${join(dir, 'tx')}`, databaseUrl)
    // Session settings, as the implementation whose SQL this is runs its sessions.
    const pgoptions = Object.entries({ TimeZone: 'UTC', ...opts.sessionSettings })
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(' ')
    const { stdout } = await promisify(execFile)(pgbenchBinary(), args, {
      env: { ...process.env, PGOPTIONS: pgoptions },
      maxBuffer: 64 * 1024 * 1024,
    }).catch((e: Error & { stderr?: string }) => {
      throw new Error(`pgbench failed: ${e.stderr?.trim().split('\n').slice(-5).join('\n') ?? e.message}`)
    })
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)
    const processed = /number of transactions actually processed: (\d+)/.exec(stdout)
    const failed = /number of failed transactions: (\d+)/.exec(stdout)
    if (!tps || !processed) throw new Error(`pgbench: unexpected output:\n${stdout}`)
    if (failed && Number(failed[1]) > 0) throw new Error(`pgbench: ${failed[1]} transactions failed:\n${stdout}`)
    const { sorted, byScript } = latencies(dir)
    return {
      eventsPerSecond: Number(tps[1]),
      latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99) },
      transactions: Number(processed[1]),
      clients: opts.clients,
      script: describe(scripts, args, dir, opts.keep, pgoptions),
      // pgbench numbers the scripts from 0 in the order of their -f options.
      byScript: Object.fromEntries(
        scripts.map((s, i) => {
          const t = byScript.get(i)
          return [s.name, { transactions: t?.transactions ?? 0, latencyMicros: t && t.transactions ? t.micros / t.transactions : NaN }]
        }),
      ),
    }
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
    await pool.end()
    rmSync(dir, { recursive: true, force: true })
  }
}
