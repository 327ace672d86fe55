// The honest ceiling: pgbench driving the addon's OWN statements, not the pg baseline's. For each
// script kind of the job mix (./workload.ts: pull_request, review, issues, pushes by commit
// count, untracked; the same kinds, weights and representative deliveries as the naive
// ceiling), the addon processes the representative delivery through the counting proxy on one
// connection after a warm-up, and the proxy captures exactly what it sent: its statements as
// prepared (the claim and entity writes composed into one statement, or BEGIN with the link
// barrier, the statements and COMMIT) with their bound values. Each becomes a pgbench script
// that sends the same SQL with the same values as parameters, each cast to the type the addon
// declared for it, so the server plans and runs what it runs for the addon.
//
// What varies per transaction, as in the naive ceiling (./scripts.ts), so rows differ: every
// generated id and the deliveryId (a UUID value, or an array of them, becomes
// gen_random_uuid()), the commit SHAs (random), the entity's GitHub id and number (drawn from as
// many distinct entities as the job mix touches), and its updated_at (random within a year; the
// as-of columns equal to it move with it). Values are recognised by their content: a value
// equal to the payload's pull request, issue or review id or number, or to its updated_at.
// The GitHub Actions events, as their real traffic writes: a deployment_status writes a new
// status each time (its id fresh per transaction, from a range of a billion) of a deployment drawn
// from as many as the mix has (its id also keys the advisory lock, the status's deployment
// lookup and the refresh of the derived fields), and the status's created_at, which GitHub
// also gives the embedded deployment as its updated_at, is random; a workflow_run upserts the run
// attempt (run id drawn from as many runs as the mix has, run_attempt 2 for about one in fifteen
// as re-runs are) with a random updated_at (its completedAt when completed moves with it). The
// run's attempt is recognised as the int4 value bound right after the run's id, not by content
// alone (a 1 is everywhere).
// Statements without parameters (BEGIN with the barrier, COMMIT) go as they are; pgbench sends
// `BEGIN; SELECT pg_advisory_xact_lock_shared(…)` as two commands where the addon sends one
// simple query, one more round trip for the ceiling in the events that need it.

import { WebhookProcessor } from '../../../lib'
import { CountingProxy } from '../../pgproxy'
import type { BenchJob, CeilingResult } from '../types'
import { runScripts } from './index'
import type { Script } from './scripts'
import { distinctPullRequests, scriptKinds, ScriptKind } from './workload'

type Captured = { kind: 'simple'; sql: string } | { kind: 'bound'; sql: string; types: number[]; values: (string | null)[] }

/** Type names of the OIDs sqlx declares for the addon's values (text form for casts). */
const TYPES: Record<number, string> = {
  16: 'bool',
  20: 'int8',
  21: 'int2',
  23: 'int4',
  25: 'text',
  114: 'json',
  700: 'float4',
  701: 'float8',
  1043: 'varchar',
  1114: 'timestamp',
  1184: 'timestamptz',
  2950: 'uuid',
  3802: 'jsonb',
  1000: 'bool[]',
  1005: 'int2[]',
  1007: 'int4[]',
  1009: 'text[]',
  1015: 'varchar[]',
  1016: 'int8[]',
  1115: 'timestamp[]',
}
const ELEMENT: Record<number, number> = { 1000: 16, 1005: 21, 1007: 23, 1009: 25, 1015: 1043, 1016: 20, 1115: 1114 }
const PG_EPOCH_MS = Date.UTC(2000, 0, 1)

function timestampText(micros: bigint): string {
  const ms = Number(micros / 1000n) + PG_EPOCH_MS
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}

/** A binary-format value as PostgreSQL's text form of its type. */
function binaryToText(oid: number, b: Buffer): string {
  switch (oid) {
    case 16:
      return b[0] ? 'true' : 'false'
    case 20:
      return b.readBigInt64BE(0).toString()
    case 21:
      return String(b.readInt16BE(0))
    case 23:
      return String(b.readInt32BE(0))
    case 700:
      return String(b.readFloatBE(0))
    case 701:
      return String(b.readDoubleBE(0))
    case 1114:
    case 1184:
      return timestampText(b.readBigInt64BE(0))
    case 2950: {
      const h = b.toString('hex')
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
    }
    case 3802:
      return b.subarray(1).toString('utf8') // version byte, then the text
    case 25:
    case 1043:
    case 114:
      return b.toString('utf8')
  }
  const element = ELEMENT[oid]
  if (element === undefined) throw new Error(`own ceiling: no decoder for type oid ${oid}`)
  // Array: ndim, has-null flag, element oid, then (size, lower bound) per dimension, then elements.
  const ndim = b.readInt32BE(0)
  if (ndim === 0) return '{}'
  if (ndim !== 1) throw new Error('own ceiling: multi-dimensional array')
  const count = b.readInt32BE(12)
  let at = 20
  const items: string[] = []
  for (let i = 0; i < count; i++) {
    const len = b.readInt32BE(at)
    at += 4
    if (len < 0) {
      items.push('NULL')
      continue
    }
    const text = binaryToText(element, b.subarray(at, at + len))
    at += len
    items.push(`"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)
  }
  return `{${items.join(',')}}`
}

/** Reads the statements one connection sends: Parse gives a statement's text and types, Bind its values. */
class StatementCapture {
  private readonly prepared = new Map<string, { sql: string; types: number[] }>()
  captured: Captured[] = []
  readonly onMessage = (type: string, m: Buffer) => {
    let at = 5
    const cstring = () => {
      const end = m.indexOf(0, at)
      const s = m.toString('utf8', at, end)
      at = end + 1
      return s
    }
    if (type === 'Q') {
      this.captured.push({ kind: 'simple', sql: cstring() })
    } else if (type === 'P') {
      const name = cstring()
      const sql = cstring()
      const n = m.readInt16BE(at)
      at += 2
      const types = Array.from({ length: n }, (_, i) => m.readInt32BE(at + 4 * i))
      this.prepared.set(name, { sql, types })
    } else if (type === 'B') {
      cstring() // portal
      const statement = this.prepared.get(cstring())
      if (!statement) throw new Error('own ceiling: Bind of a statement not seen prepared')
      const nFormats = m.readInt16BE(at)
      at += 2
      const formats = Array.from({ length: nFormats }, (_, i) => m.readInt16BE(at + 2 * i))
      at += 2 * nFormats
      const n = m.readInt16BE(at)
      at += 2
      const values: (string | null)[] = []
      for (let i = 0; i < n; i++) {
        const len = m.readInt32BE(at)
        at += 4
        if (len < 0) {
          values.push(null)
          continue
        }
        const raw = m.subarray(at, at + len)
        at += len
        const binary = (nFormats === 1 ? formats[0] : (formats[i] ?? 0)) === 1
        values.push(binary ? binaryToText(statement.types[i], raw) : raw.toString('utf8'))
      }
      this.captured.push({ kind: 'bound', sql: statement.sql, types: statement.types, values })
    }
  }
}

/** The pull request, issue, review, deployment (and status) or run a delivery describes: the values a script varies. */
function entityOf(job: BenchJob): { ids: Map<string, string>; updatedAt: string | null; run: { id: string; attempt: string } | null } {
  const p = JSON.parse(job.payload)
  const ids = new Map<string, string>()
  let updatedAt: string | null = null
  let run: { id: string; attempt: string } | null = null
  const at = (t: string | undefined) => (t ? new Date(t).toISOString().replace('T', ' ').replace('Z', '') : null)
  if (job.event === 'deployment_status' && p.deployment && p.deployment_status) {
    ids.set(String(p.deployment.id), ':dpid').set(String(p.deployment_status.id), ':dsid')
    updatedAt = at(p.deployment_status.created_at)
  }
  if (job.event === 'workflow_run' && p.workflow_run) {
    ids.set(String(p.workflow_run.id), ':wrid')
    run = { id: String(p.workflow_run.id), attempt: String(p.workflow_run.run_attempt) }
    updatedAt = at(p.workflow_run.updated_at)
  }
  if (p.pull_request) {
    ids.set(String(p.pull_request.id), ':prid').set(String(p.pull_request.number), ':prnum')
    updatedAt = at(p.pull_request.updated_at)
  }
  if (p.review) ids.set(String(p.review.id), ':rvid')
  if (p.issue) {
    ids.set(String(p.issue.id), ':isid').set(String(p.issue.number), ':isnum')
    updatedAt = at(p.issue.updated_at)
  }
  return { ids, updatedAt, run }
}

/** A UUID v7: the ids the addon generates for new rows (`store::new_id`). */
const GENERATED = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const BASE = { pullRequest: 900_000_000_000, issue: 910_000_000_000, review: 920_000_000_000, number: 1_000_000, deployment: 930_000_000_000, status: 940_000_000_000, run: 950_000_000_000 }
const UPDATED_AT = `('2024-01-01'::timestamp + (:upd)::int * interval '1 second')`

/** One captured event as a pgbench script. */
function toScript(kind: ScriptKind, captured: Captured[], pullRequests: number, table: string): Script {
  const variables = new Map<string, string>()
  const entity = entityOf(kind.job)
  const expression = (oid: number, value: string | null, previous: string | null | undefined): string => {
    const type = TYPES[oid]
    const cast = (e: string) => (type ? `(${e})::${type}` : e)
    if (value === null) return cast('NULL')
    if (oid === 23 && entity.run && value === entity.run.attempt && previous === entity.run.id) return cast(':wrat')
    // Ids the addon generated (UUID v7) and the delivery id are fresh per transaction; other
    // UUIDs are references (repository, users) and stay.
    if ((oid === 25 || oid === 2950) && (GENERATED.test(value) || value === kind.job.deliveryId)) return cast('gen_random_uuid()::text')
    if ((oid === 20 || oid === 23) && entity.ids.has(value)) return cast(entity.ids.get(value)!)
    if (oid === 1114 && entity.updatedAt !== null && value === entity.updatedAt) return UPDATED_AT
    if (oid === 1009 && value.length > 2) {
      const items = value.slice(2, -2).split('","')
      const series = `FROM generate_series(1, ${items.length})`
      if (items.every((i) => GENERATED.test(i))) return `ARRAY(SELECT gen_random_uuid()::text ${series})`
      if (items.every((i) => /^[0-9a-f]{40}$/.test(i))) return `ARRAY(SELECT md5(random()::text) || left(md5(random()::text), 8) ${series} ORDER BY 1)`
    }
    if (oid === 16 || oid === 20 || oid === 21 || oid === 23) return cast(value)
    const name = `${kind.name}_${variables.size + 1}`
    variables.set(name, value)
    return cast(`:${name}`)
  }
  const body = captured.map((c) => {
    if (c.kind === 'simple') return c.sql.split(';').map((s) => `${s.trim()};`).filter((s) => s !== ';').join('\n')
    // One line: pgbench reads a command up to its semicolon; comments and newlines go.
    const sql = c.sql
      .replace(/--[^\n]*/g, ' ')
      .replace(/\$(\d+)/g, (_, n) => expression(c.types[Number(n) - 1] ?? 0, c.values[Number(n) - 1], c.values[Number(n) - 2]))
      .replace(/\s+/g, ' ')
      .trim()
    return `${sql};`
  })
  const sets = [
    `\\set r random(1, ${pullRequests})`,
    `\\set prid ${BASE.pullRequest} + :r`,
    `\\set prnum ${BASE.number} + :r`,
    `\\set rvid ${BASE.review} + random(1, ${Math.max(1, kind.distinct)})`,
    `\\set i random(1, ${Math.max(1, kind.distinct)})`,
    `\\set isid ${BASE.issue} + :i`,
    `\\set isnum ${BASE.number} + :i`,
    '\\set upd random(0, 31535999)',
    ...(kind.job.event === 'deployment_status'
      ? [`\\set dpid ${BASE.deployment} + random(1, ${Math.max(1, kind.distinct)})`, `\\set dsid ${BASE.status} + random(1, 1000000000)`]
      : []),
    ...(kind.job.event === 'workflow_run' ? [`\\set wrid ${BASE.run} + random(1, ${Math.max(1, kind.distinct)})`, '\\set wrat random(1, 100) / 94 + 1'] : []),
  ]
  const flag = `l_${kind.name}`
  const columns = [...variables.keys()].map((name) => `max(value) FILTER (WHERE name = '${name}') AS ${name}`)
  const load = columns.length ? [`\\if :${flag} = 0`, `SELECT ${columns.join(', ')} FROM ${table} \\gset`, `\\set ${flag} 1`, '\\endif'] : []
  return { name: kind.name, weight: kind.weight, text: [...load, ...sets, ...body].join('\n') + '\n', variables }
}

/** The addon's statements for each kind's representative delivery, captured on the wire. */
async function captureKinds(databaseUrl: string, kinds: ScriptKind[], warm: BenchJob[]): Promise<Map<string, Captured[]>> {
  const url = new URL(databaseUrl)
  const proxy = await CountingProxy.start({ host: url.hostname, port: Number(url.port || 5432) })
  const processor = await WebhookProcessor.connect({ databaseUrl: proxy.urlFor(databaseUrl), maxConnections: 1 })
  const capture = new StatementCapture()
  // From the start: sqlx prepares each statement once per connection, so its text is seen then.
  proxy.onClientMessage = capture.onMessage
  try {
    // Caches warm, entities there: the representative then runs as in the middle of a run.
    const representatives = new Set(kinds.map((k) => k.job.deliveryId))
    for (const job of warm) if (!representatives.has(job.deliveryId)) await processor.process(job)
    for (const kind of kinds) await processor.process({ ...kind.job, deliveryId: `warm-${kind.job.deliveryId}` })
    const out = new Map<string, Captured[]>()
    for (const kind of kinds) {
      capture.captured = []
      await processor.process(kind.job)
      out.set(kind.name, capture.captured)
    }
    return out
  } finally {
    proxy.onClientMessage = null
    await processor.close()
    await proxy.close()
  }
}

/**
 * Captures the addon's statements on `databaseUrl` (fresh, migrated and seeded) and returns
 * the pgbench run over them, to start when the caller's measured window does.
 */
export async function prepareOwnCeiling(
  databaseUrl: string,
  jobs: BenchJob[],
  opts: { clients: number; seconds?: number; warmup: number },
): Promise<() => Promise<CeilingResult>> {
  const table = 'pgbench_own' // the database is the run's own: a fixed name keeps the kept scripts stable
  const { Client } = await import('pg')
  const client = new Client({ connectionString: databaseUrl })
  await client.connect()
  let repos: Set<number>
  try {
    repos = new Set((await client.query<{ id: number }>('SELECT "githubId"::float8 AS id FROM repositories')).rows.map((r) => r.id))
  } finally {
    await client.end()
  }
  const kinds = scriptKinds(jobs, repos)
  if (kinds.length === 0) throw new Error('runOwnCeiling: no job writes anything in this database')
  const captured = await captureKinds(databaseUrl, kinds, jobs.slice(0, opts.warmup))
  const pullRequests = distinctPullRequests(jobs, repos)
  const scripts = kinds.map((k) => toScript(k, captured.get(k.name) ?? [], pullRequests, table))
  // The addon's sessions run with these settings (crates/core/src/store/mod.rs, SESSION_OPTIONS):
  // its statements are driven as the addon runs them.
  const sessionSettings = { TimeZone: 'UTC', plan_cache_mode: 'force_generic_plan' }
  return () => runScripts(databaseUrl, scripts, { clients: opts.clients, seconds: opts.seconds, table, keep: 'own', sessionSettings })
}
