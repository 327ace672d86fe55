// Turns a run's results into what people read: the table on the terminal, bench/RESULTS.md
// (machine, versions, table, DESIGN.md's targets met or not, the addon's per-event
// breakdown, round trips, the 2048-commit push, parse, memory) and bench/results.svg (a
// hand-written bar chart: no chart dependency for one picture). bench/results.json keeps
// the raw numbers; `npm run bench -- --report-only` renders them again.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchResults, ThroughputResult } from './results'
import { storedDoraSection } from './dora-report'

export const RESULTS_JSON = join(__dirname, 'results.json')
const RESULTS_MD = join(__dirname, 'RESULTS.md')
/** Hand-written: what was profiled and what bounds each target not met; copied into RESULTS.md. */
const ANALYSIS_MD = join(__dirname, 'ANALYSIS.md')
const RESULTS_SVG = join(__dirname, 'results.svg')

const fmt = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const ratio = (a: number | undefined, b: number | undefined): string => (a && b && Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : '—')

/** How the rounded columns varied: each row above is its median round. */
function roundsLine(results: BenchResults): string[] {
  const rounded = results.throughput.filter((r) => r.roundsEventsPerSecond)
  if (!rounded.length) return []
  return [
    `Rounds: the database-bound columns ran in ${rounded[0].roundsEventsPerSecond!.length} alternating rounds on fresh databases; each row is its median round. events/s by round: ${rounded
      .map((r) => `${r.label} ${r.roundsEventsPerSecond!.map((x) => fmt(x)).join(' / ')}`)
      .join('; ')}.`,
    '',
  ]
}

function row(results: BenchResults, name: string): ThroughputResult | undefined {
  return results.throughput.find((r) => r.name === name && r.status === 'ok')
}

interface Target {
  what: string
  goal: string
  measured: string
  met: boolean | null
}

/** DESIGN.md's performance targets, each judged on this run's numbers (null: not measured). */
export function targets(results: BenchResults): Target[] {
  const addon = row(results, 'addon')
  const pg = row(results, 'pg')
  const prisma = row(results, 'prisma')
  const ceiling = row(results, 'ceiling')
  const ownCeiling = row(results, 'ceiling-own')
  const bull = row(results, 'bull')
  const bullmq = row(results, 'bullmq')
  const reprocess = row(results, 'reprocess')
  const reprocessExisting = row(results, 'reprocess-existing')
  const large = results.largePush.find((l) => l.name === 'addon' && l.status === 'ok')
  const vs = (other: ThroughputResult | undefined, goal: number) =>
    addon && other ? { measured: `${(addon.eventsPerSecond / other.eventsPerSecond).toFixed(2)}×`, met: addon.eventsPerSecond / other.eventsPerSecond >= goal } : { measured: 'not measured', met: null }
  const parse = results.parse
  return [
    { what: 'events/s against TypeScript + Prisma 7', goal: '≥ 5×', ...vs(prisma, 5) },
    { what: 'events/s against TypeScript + pg', goal: '≥ 1.5×', ...vs(pg, 1.5) },
    {
      what: 'events/s against the pgbench ceiling (the pg baseline\'s SQL per event)',
      goal: '≥ 90%',
      ...(addon && ceiling
        ? { measured: `${((100 * addon.eventsPerSecond) / ceiling.eventsPerSecond).toFixed(0)}%`, met: addon.eventsPerSecond / ceiling.eventsPerSecond >= 0.9 }
        : { measured: 'not measured', met: null }),
    },
    {
      what: "events/s against pgbench driving the addon's own statements (the honest ceiling)",
      goal: '≥ 90%',
      ...(addon && ownCeiling
        ? {
            measured: `${((100 * addon.eventsPerSecond) / ownCeiling.eventsPerSecond).toFixed(0)}% (${fmt(addon.eventsPerSecond)} / ${fmt(ownCeiling.eventsPerSecond)} events/s; the naive ceiling ran ${ceiling ? fmt(ceiling.eventsPerSecond) : '—'})`,
            met: addon.eventsPerSecond / ownCeiling.eventsPerSecond >= 0.9,
          }
        : { measured: 'not measured', met: null }),
    },
    {
      what: `one 2048-commit push (${large ? (large.bytes / 1e6).toFixed(2) : '≈1.3'} MB), median call`,
      goal: '< 50 ms',
      ...(large ? { measured: `${large.wallMs.median.toFixed(1)} ms`, met: large.wallMs.median < 50 } : { measured: 'not measured', met: null }),
    },
    {
      what: "the same push: the client's share (median wall time minus the addon's median database time, i.e. the JS wrapper, napi, the parse and planning; PostgreSQL's own time for the push is measured in bench/ANALYSIS.md)",
      goal: '≤ 10 ms',
      ...(large?.addonMicros
        ? {
            measured: `${(large.wallMs.median - large.addonMicros.db / 1000).toFixed(1)} ms (of which parse ${(large.addonMicros.parse / 1000).toFixed(1)} ms; database ${(large.addonMicros.db / 1000).toFixed(1)} ms)`,
            met: large.wallMs.median - large.addonMicros.db / 1000 <= 10,
          }
        : { measured: 'not measured', met: null }),
    },
    {
      what: 'payload parse against JSON.parse on the same payload (mixed workload / 2048-commit push), from text (Bull job data) and from bytes (a raw body)',
      goal: '≥ 2×',
      ...(parse
        ? {
            measured: `text ${parse.mixedSpeedup.toFixed(2)}× / ${parse.largeSpeedup.toFixed(2)}×; bytes ${parse.mixedBytesSpeedup.toFixed(2)}× / ${parse.largeBytesSpeedup.toFixed(2)}×`,
            met: Math.min(parse.mixedSpeedup, parse.largeSpeedup, parse.mixedBytesSpeedup, parse.largeBytesSpeedup) >= 2,
          }
        : { measured: 'not measured', met: null }),
    },
    {
      what: 'end to end through Bull (createWebhookWorker)',
      goal: '≥ 1,000 events/s',
      ...(bull ? { measured: `${fmt(bull.eventsPerSecond)} events/s`, met: bull.eventsPerSecond >= 1000 } : { measured: 'not measured', met: null }),
    },
    {
      what: 'end to end through BullMQ (createBullMQWorker)',
      goal: '≥ 1,000 events/s',
      ...(bullmq ? { measured: `${fmt(bullmq.eventsPerSecond)} events/s`, met: bullmq.eventsPerSecond >= 1000 } : { measured: 'not measured', met: null }),
    },
    {
      what: 'reprocessing stored deliveries against live processing (the addon row), rebuild / over existing rows',
      goal: '≥ 3×',
      ...(addon && reprocess
        ? {
            measured:
              `${(reprocess.eventsPerSecond / addon.eventsPerSecond).toFixed(2)}× / ${reprocessExisting ? (reprocessExisting.eventsPerSecond / addon.eventsPerSecond).toFixed(2) : '—'}× (${fmt(reprocess.eventsPerSecond)} / ${fmt(reprocessExisting?.eventsPerSecond)} events/s; ${reprocess.differences?.count ?? '?'} rows differ from live's)` +
              (reprocess.liveEventsPerSecond
                ? `; against the same deliveries processed live in the same process just before (${fmt(reprocess.liveEventsPerSecond)} events/s): ${(reprocess.eventsPerSecond / reprocess.liveEventsPerSecond).toFixed(2)}× / ${reprocessExisting ? (reprocessExisting.eventsPerSecond / reprocess.liveEventsPerSecond).toFixed(2) : '—'}×`
                : ''),
            met: reprocess.eventsPerSecond / addon.eventsPerSecond >= 3 && (reprocessExisting ? reprocessExisting.eventsPerSecond / addon.eventsPerSecond >= 3 : true) && reprocess.differences?.count === 0,
          }
        : { measured: 'not measured', met: null }),
    },
    {
      what: `resident memory growth over ${results.memory ? fmt(results.memory.events) : '200k'} events`,
      goal: '< 20 MB',
      ...(results.memory ? { measured: `${results.memory.growthMb.toFixed(1)} MB`, met: results.memory.growthMb < 20 } : { measured: 'not run (use --full)', met: null }),
    },
  ]
}

const verdict = (met: boolean | null) => (met === null ? '—' : met ? 'met' : 'NOT met')

/** The main table as Markdown rows. */
function throughputTable(results: BenchResults): string[] {
  const pg = row(results, 'pg')
  const prisma = row(results, 'prisma')
  const ceiling = row(results, 'ceiling')
  const ownCeiling = row(results, 'ceiling-own')
  const lines = [
    '| implementation | events/s | p50 ms | p99 ms | CPU µs/event client + server | peak RSS MB (at start) | round trips/event | × pg | × Prisma | of ceiling | of own-SQL ceiling | DB differences from the addon | load |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ]
  for (const r of results.throughput) {
    if (r.status !== 'ok') {
      lines.push(`| ${r.label} | ${r.reason ?? r.status} | | | | | | | | | | | |`)
      continue
    }
    const redis = r.cpuMicrosPerEvent.redis === undefined ? '' : ` + ${fmt(r.cpuMicrosPerEvent.redis)} Redis`
    const cpu = `${fmt(r.cpuMicrosPerEvent.client)} + ${fmt(r.cpuMicrosPerEvent.server)}${redis}`
    const rss = r.rssMb ? `${fmt(r.rssMb.peak)} (${fmt(r.rssMb.start)})` : '—'
    const diffs = r.differences === undefined ? '—' : r.differences === null ? 'not compared' : String(r.differences.count)
    const failures = r.failures > 0 ? ` (${r.failures} failed)` : ''
    const ofCeiling = ceiling ? `${((100 * r.eventsPerSecond) / ceiling.eventsPerSecond).toFixed(0)}%` : '—'
    const ofOwn = ownCeiling ? `${((100 * r.eventsPerSecond) / ownCeiling.eventsPerSecond).toFixed(0)}%` : '—'
    lines.push(
      `| ${r.label} | ${fmt(r.eventsPerSecond)}${failures} | ${fmt(r.latencyMs.p50, 2)} | ${fmt(r.latencyMs.p99, 2)} | ${cpu} | ${rss} | ${fmt(r.wire?.roundTripsPerEvent, 1)} | ${ratio(r.eventsPerSecond, pg?.eventsPerSecond)} | ${ratio(r.eventsPerSecond, prisma?.eventsPerSecond)} | ${ofCeiling} | ${ofOwn} | ${diffs} | ${fmt(r.load1, 1)} |`,
    )
  }
  return lines
}

/** The event type of a per-action key (`pull_request.closed` → `pull_request`). */
function eventTypeOf(key: string): string {
  return key === 'push (2048 commits)' ? key : key.split('.')[0]
}

/** The event type a pgbench script kind stands for (bench/baselines/pgbench/workload.ts names them). */
function eventTypeOfScript(name: string): string {
  if (name === 'review') return 'pull_request_review'
  if (/^push_\d+$/.test(name)) return 'push'
  if (name === 'ignored') return '(untracked events)'
  return name
}

/** Weighted means by group: `value` averaged with weight `weight` over the entries of each group. */
function grouped<T>(entries: [string, T][], group: (key: string) => string, weight: (t: T) => number, value: (t: T) => number | undefined): Map<string, { weight: number; mean: number }> {
  const acc = new Map<string, { weight: number; sum: number; valued: number }>()
  for (const [key, t] of entries) {
    const g = acc.get(group(key)) ?? { weight: 0, sum: 0, valued: 0 }
    const w = weight(t)
    const v = value(t)
    g.weight += w
    if (v !== undefined && Number.isFinite(v)) {
      g.sum += v * w
      g.valued += w
    }
    acc.set(group(key), g)
  }
  return new Map([...acc].map(([k, g]) => [k, { weight: g.weight, mean: g.valued > 0 ? g.sum / g.valued : NaN }]))
}

/**
 * Cost per event type, beside each other: for the addon and the baselines, the measured
 * window's events and their mean latency with `concurrency` in flight, and the round trips
 * counted on the wire; for the two pgbench ceilings, the mean latency of each type's scripts in
 * their own run. Rows by event type (actions together), then all events.
 */
export function perTypeTable(results: BenchResults): string[] {
  const impls = ['addon', 'pg', 'prisma'].map((n) => row(results, n)).filter((r): r is ThroughputResult => !!r && !!r.byEvent)
  if (impls.length === 0) return []
  const ceilings = ['ceiling', 'ceiling-own'].map((n) => row(results, n)).filter((r): r is ThroughputResult => !!r && !!r.byScript)
  const addon = impls.find((r) => r.name === 'addon')
  const own = ceilings.find((r) => r.name === 'ceiling-own')
  const lat = new Map(impls.map((r) => [r.name, grouped(Object.entries(r.byEvent!), eventTypeOf, (e) => e.events, (e) => e.latencyMicros)]))
  const rts = new Map(impls.map((r) => [r.name, grouped(Object.entries(r.wire?.byEvent ?? {}), eventTypeOf, (e) => e.events, (e) => e.roundTrips)]))
  const ceil = new Map(ceilings.map((r) => [r.name, grouped(Object.entries(r.byScript!), eventTypeOfScript, (e) => e.transactions, (e) => e.latencyMicros)]))
  const types = [...new Set(impls.flatMap((r) => [...lat.get(r.name)!.keys()]))]
  const first = lat.get(impls[0].name)!
  types.sort((a, b) => (first.get(b)?.weight ?? 0) - (first.get(a)?.weight ?? 0))
  const total = (r: ThroughputResult) => Object.values(r.byEvent!).reduce((n, e) => n + e.events, 0)
  const addonTime = addon ? [...lat.get('addon')!.values()].reduce((n, g) => n + g.weight * (Number.isFinite(g.mean) ? g.mean : 0), 0) : 0
  const lines = [
    `| event type | ${impls.map((r) => `${r.label}: events | µs/event | round trips`).join(' | ')} | ${ceilings.map((r) => `${r.label}: µs/event`).join(' | ')} | share of the addon's time | addon of own-SQL ceiling, by µs |`,
    `|---|${impls.map(() => '--:|--:|--:|').join('')}${ceilings.map(() => '--:|').join('')}--:|--:|`,
  ]
  const cells = (type: string | null) => {
    const out: string[] = []
    for (const r of impls) {
      const g = type === null ? { weight: total(r), mean: Object.values(r.byEvent!).reduce((n, e) => n + e.events * e.latencyMicros, 0) / total(r) } : lat.get(r.name)!.get(type)
      const rt = type === null ? r.wire?.roundTripsPerEvent : rts.get(r.name)!.get(type)?.mean
      const ignored = type !== null && r.untrackedTypes?.includes(type) ? ' (ignored)' : ''
      out.push(fmt(g?.weight), `${fmt(g?.mean)}${ignored}`, fmt(rt, 1))
    }
    const ceilingMeans = ceilings.map((c) => {
      if (type === null) {
        const all = Object.values(c.byScript!)
        const n = all.reduce((a, e) => a + e.transactions, 0)
        return all.reduce((a, e) => a + e.transactions * (Number.isFinite(e.latencyMicros) ? e.latencyMicros : 0), 0) / n
      }
      return ceil.get(c.name)!.get(type)?.mean
    })
    out.push(...ceilingMeans.map((m, i) => `${fmt(m)}${type !== null && ceilings[i].untrackedTypes?.includes(type) ? ' (ignored)' : ''}`))
    const a = addon ? (type === null ? { weight: total(addon), mean: Object.values(addon.byEvent!).reduce((n, e) => n + e.events * e.latencyMicros, 0) / total(addon) } : lat.get('addon')!.get(type)) : undefined
    out.push(a && addonTime ? `${((100 * a.weight * a.mean) / addonTime).toFixed(0)}%` : '—')
    const o = own ? ceilingMeans[ceilings.indexOf(own)] : undefined
    out.push(a && o && Number.isFinite(o) && Number.isFinite(a.mean) ? `${((100 * o) / a.mean).toFixed(0)}%` : '—')
    return out
  }
  for (const type of types) lines.push(`| ${type} | ${cells(type).join(' | ')} |`)
  lines.push(`| all events | ${cells(null).join(' | ')} |`)
  const untracked = ceilings.some((c) => ceil.get(c.name)!.has('(untracked events)'))
  lines.push(
    '',
    `µs/event is the mean latency of a call of that type with ${results.options.concurrency} in flight, over the measured window (${fmt(results.options.events)} events; for the pgbench rows, every logged transaction of that type's scripts in their ${results.options.ceilingSeconds}-second run, each client's first run of a script left out). With a fixed number in flight, events/s is that number divided by the mean latency, so a type's events × µs is its part of the run (the share column, for the addon), and the last column (the own-SQL ceiling's µs over the addon's) says which types pull the addon's ratio to its own-SQL ceiling above or below the run's. Round trips are the wire count below (one connection, one event at a time, over ${fmt(impls[0].wire?.events ?? 0)} events of the warm-up stream). ` +
      (untracked ? 'The pgbench ceilings also ran the untracked-event insert, which no row above stands for. ' : '') +
      ([...impls, ...ceilings].some((r) => r.untrackedTypes?.length)
        ? `(ignored): that column wrote no rows for the type (${[...impls, ...ceilings]
            .filter((r) => r.untrackedTypes?.length)
            .map((r) => `${r.label}: ${r.untrackedTypes!.join(', ')}`)
            .join('; ')}): it stored those deliveries as untracked events, a cheaper job than the addon's, so its µs and round trips there are not the same work. `
        : '') +
      'Per action, and the addon\'s own parse/database split: "The addon, per event" below.',
  )
  return lines
}

/** Prints the table and the targets on stdout. */
export function printTable(results: BenchResults): void {
  const out = [
    '',
    `${fmt(results.options.events)} events after ${fmt(results.options.warmup)} warm-up, concurrency ${results.options.concurrency}`,
    ...throughputTable(results),
    '',
    '| target | goal | measured | |',
    '|---|---|---|---|',
    ...targets(results).map((t) => `| ${t.what} | ${t.goal} | ${t.measured} | ${verdict(t.met)} |`),
    '',
  ]
  process.stdout.write(out.join('\n') + '\n')
}

function breakdown(results: BenchResults): string[] {
  const addon = row(results, 'addon')
  const t = addon?.addonTimings
  if (!addon || !t) return ['Not measured (the addon column did not run).']
  const wires = results.throughput.filter((r) => r.status === 'ok' && r.wire)
  const kinds = Object.keys(t.byEvent).sort()
  const lines = [
    `From \`result.timings\` over the ${fmt(addon.events)} measured events (statuses: ${Object.entries(t.statuses)
      .map(([k, v]) => `${fmt(v)} ${k}`)
      .join(', ')}). \`parseMicros\` runs from the start of the Rust call (after napi copied the JS string into Rust) to the typed payload: validation, the NUL-escape scan, one copy of the bytes for simd-json and the parse; \`dbMicros\` is the rest (repository lookup, user mapping, the transaction). Time in the JS wrapper and the boundary copy is in neither; the wall-clock latency in the table includes them and the wait for a pool connection.`,
    '',
    `Overall: parse mean ${fmt(t.parseMicros.mean)} µs (p50 ${fmt(t.parseMicros.p50)}, p99 ${fmt(t.parseMicros.p99)}); database mean ${fmt(t.dbMicros.mean)} µs (p50 ${fmt(t.dbMicros.p50)}, p99 ${fmt(t.dbMicros.p99)}); total mean ${fmt(t.totalMicros.mean)} µs.`,
    '',
    `| event | events | parse µs (mean) | db µs (mean) | total µs (mean) | ${wires.map((w) => `round trips: ${w.label}`).join(' | ')} |`,
    `|---|--:|--:|--:|--:|${wires.map(() => '--:|').join('')}`,
  ]
  for (const k of kinds) {
    const e = t.byEvent[k]
    const rts = wires.map((w) => fmt(w.wire!.byEvent[k]?.roundTrips, 1))
    lines.push(`| ${k} | ${fmt(e.events)} | ${fmt(e.parseMicros)} | ${fmt(e.dbMicros)} | ${fmt(e.totalMicros)} | ${rts.join(' | ')} |`)
  }
  lines.push(
    '',
    'Round trips are counted on the wire by `bench/pgproxy.ts` (a counting proxy: one ReadyForQuery per simple query or Sync), with each implementation on one connection, one event at a time, after a warm-up on that connection, over ' +
      `${wires[0]?.wire?.events ?? 0} events of the warm-up stream (an event type missing from that window shows —). The shared PostgreSQL has no pg_stat_statements in shared_preload_libraries, and it may not be restarted.`,
    '',
    '| implementation | round trips/event | statements/event | of which prepared (Parse) | pings (a lone Sync) | KB sent/event | KB received/event |',
    '|---|--:|--:|--:|--:|--:|--:|',
    ...wires.map(
      (w) =>
        `| ${w.label} | ${fmt(w.wire!.roundTripsPerEvent, 2)} | ${fmt(w.wire!.statementsPerEvent, 2)} | ${fmt(w.wire!.preparesPerEvent, 2)} | ${fmt(w.wire!.pingsPerEvent, 2)} | ${fmt(w.wire!.kbToServerPerEvent, 1)} | ${fmt(w.wire!.kbFromServerPerEvent, 1)} |`,
    ),
  )
  const timed = wires.filter((w) => w.wire!.serverMicrosPerEvent)
  if (timed.length) {
    lines.push(
      '',
      'Where one event\'s time goes, on the same single connection (mean µs per event): waiting on the server per kind of round trip, timed at the proxy (so each includes a loopback hop), and the rest of the call\'s wall time, which is the client\'s own work: JSON parsing, user mapping from the caches, building and encoding the statements, the driver, and the proxy\'s own forwarding, which runs in the same process. The server side of a statement is the SQL; of COMMIT, the WAL flush. A ping (a lone Sync, which sqlx\'s pool sends when a connection goes back to it) comes after the call has returned, so it is not subtracted from the wall time; the addon keeps its own idle connections and sends none.',
      '',
      '| implementation | wall µs/event | BEGIN | statements (SQL) | COMMIT | pings | client work (rest) |',
      '|---|--:|--:|--:|--:|--:|--:|',
      ...timed.map((w) => {
        const t = w.wire!.serverMicrosPerEvent
        const waited = t.begin + t.commit + t.statement
        return `| ${w.label} | ${fmt(w.wire!.wallMicrosPerEvent)} | ${fmt(t.begin)} | ${fmt(t.statement)} | ${fmt(t.commit)} | ${fmt(t.ping)} | ${fmt(w.wire!.wallMicrosPerEvent - waited)} |`
      }),
    )
  }
  return lines
}

function markdown(results: BenchResults): string {
  const m = results.machine
  const o = results.options
  const seedRows = results.workload.seedRows
  const mix = Object.entries(results.workload.mix)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ')
  const large = results.largePush.map((l) =>
    l.status === 'ok'
      ? `| ${l.name} | ${fmt(l.bytes / 1e6, 2)} MB, ${l.commits} commits | ${l.calls} | ${fmt(l.wallMs.median, 1)} | ${fmt(l.wallMs.min, 1)} | ${fmt(l.wallMs.max, 1)} | ${l.addonMicros ? `${fmt(l.addonMicros.parse / 1000, 1)} / ${fmt(l.addonMicros.db / 1000, 1)}` : '—'} |`
      : `| ${l.name} | ${l.reason ?? l.status} | | | | | |`,
  )
  const notes = results.throughput.flatMap((r) => [
    ...r.notes.map((n) => `- ${r.label}: ${n}`),
    ...r.errorSample.map((e) => `- ${r.label} error: \`${e.replace(/`/g, "'")}\``),
    ...(r.differences?.sample ?? []).map((d) => `- ${r.label} differs: ${d}`),
  ])
  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${m.date}. Numbers from a shared 2-core machine are noisy; re-run before quoting them.` +
      (m.uptimeStart ? ` \`uptime\` before the run: ${m.uptimeStart.trim()}; after: ${m.uptimeEnd?.trim() ?? 'not recorded'}.` : '') +
      (m.mergedFrom
        ? ` Parts of this report ran separately (\`--merge\`): ${[m.mergedFrom.rows.length ? `the rows ${m.mergedFrom.rows.join(', ')}` : '', m.mergedFrom.large ? 'the 2048-commit push and the parse' : '', m.mergedFrom.memory ? 'memory' : ''].filter((x) => x).join(', ') || 'nothing'} come from the run of ${m.mergedFrom.date} (\`uptime\` before it: ${m.mergedFrom.uptimeStart?.trim() ?? 'not recorded'}; after: ${m.mergedFrom.uptimeEnd?.trim() ?? 'not recorded'}); ratios between rows of different runs (reprocess against the addon row) compare two runs.`
        : ''),
    '',
    '## Summary',
    '',
    ...throughputTable(results),
    '',
    ...(() => {
      const t = perTypeTable(results)
      return t.length ? ['### Cost per event type', '', ...t, ''] : []
    })(),
    '| target | goal | measured | |',
    '|---|---|---|---|',
    ...targets(results).map((t) => `| ${t.what} | ${t.goal} | ${t.measured} | ${verdict(t.met)} |`),
    '',
    ...storedDoraSection(),
    'Details of each row (how it was measured, CPU, rounds, notes) follow; bench/ANALYSIS.md (at the end) says what bounds each target not met.',
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGb} GB; ${m.kernel}; load average at start ${m.loadAverage.join(' / ')}`,
    `- Versions: ${Object.entries(m.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}`,
    '',
    '## Workload',
    '',
    `${fmt(o.warmup)} warm-up + ${fmt(o.events)} measured deliveries (seed ${o.seed}; ${fmt(results.workload.bytes / 2 ** 20, 1)} MB of payloads) from bench/workload.ts: ${mix}. ` +
      `Each implementation gets a fresh database (migrated with the addon's migrate(), seeded with ${seedRows.teams} teams and ${seedRows.repositories} repositories; of the ${seedRows.people} GitHub accounts, ${seedRows.linked} are linked DevMetrics users and ${seedRows.bots} are bots), ` +
      `runs in its own Node process, and keeps ${o.concurrency} events in flight on ${o.concurrency} connections.`,
    '',
    '## Throughput',
    '',
    'The table is the summary\'s. CPU per event: *client* is the measuring process\'s own CPU time (process.cpuUsage: every thread, so the addon\'s tokio workers too; for pgbench, pgbench\'s own) over the measured window; *server* is the CPU time of the PostgreSQL backends connected to that database (from /proc/<pid>/stat, sampled every 100 ms from the parent process); WAL writer and checkpointer are not counted; for the Bull rows, *Redis* is the Redis server\'s own CPU time over the window (`INFO cpu`, which counts all its clients: nothing else uses it during the run). *Load* is the machine\'s 1-minute load average at the end of the window (2 cores: above 2, something else was competing). Peak RSS is VmHWM of the measuring process, reset at the start of the window; it includes the workload\'s payload strings, the same for every column.',
    '',
    ...roundsLine(results),
    ...(notes.length ? ['Notes:', '', ...notes, ''] : []),
    '## The addon, per event',
    '',
    ...breakdown(results),
    '',
    '## The 2048-commit push',
    '',
    'One call at a time on a fresh database, after one warm-up call; each call has its own delivery id and 2048 new commit SHAs. Wall time of `process()` as the caller sees it.',
    '',
    '| implementation | payload | calls | median ms | min ms | max ms | addon parse / db ms (median) |',
    '|---|---|--:|--:|--:|--:|--:|',
    ...(large.length ? large : ['| — | not run | | | | | |']),
    '',
    '## Parse against JSON.parse',
    '',
    ...(results.parse
      ? [
          'The addon\'s side is `inspectWebhook(event, payload)` timed from JavaScript: the copy of the payload into Rust (a string as UTF-16, transcoded to UTF-8 in Rust), the size check, simd-json into typed structs that read only the fields a processor stores, and the planning (timestamps, SHAs, commit sorting) that `process()` does before the database. JSON.parse only builds the object graph, with no validation. From text is what a Bull job carries; from bytes is a raw request body, which JavaScript must decode before JSON.parse (`JSON.parse(body.toString())`, as body parsers do). Interleaved calls, medians per event type. `in Rust` is `result.timings.parseMicros` of `process()`. The last three columns come from `crates/core/examples/parse_profile.rs` on the same payloads, in Rust without the boundary: simd-json building its tape alone (no typed extraction: the least any simd-json parse of these bytes costs), the typed parse, and the planning.',
          '',
          '| payload | mean bytes | samples | JSON.parse µs | addon from text µs | speed-up | JSON.parse from bytes µs | addon from bytes µs | speed-up | in Rust (parseMicros) µs | simd-json tape alone µs | typed parse µs | planning µs |',
          '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
          ...results.parse.rows.map(
            (r) =>
              `| ${r.kind} | ${fmt(r.bytes)} | ${r.samples} | ${fmt(r.jsonParseMicros, 1)} | ${fmt(r.addonMicros, 1)} | ${ratio(r.jsonParseMicros, r.addonMicros)} | ${fmt(r.jsonFromBytesMicros, 1)} | ${fmt(r.addonFromBytesMicros, 1)} | ${ratio(r.jsonFromBytesMicros, r.addonFromBytesMicros)} | ${fmt(r.inRustMicros, 1)} | ${fmt(r.tapeMicros, 1)} | ${fmt(r.typedMicros, 1)} | ${fmt(r.planMicros, 1)} |`,
          ),
          '',
          `Over the whole mixed sample (sum of JSON.parse time / sum of addon time): ${results.parse.mixedSpeedup.toFixed(2)}× from text, ${results.parse.mixedBytesSpeedup.toFixed(2)}× from bytes; the 2048-commit push: ${results.parse.largeSpeedup.toFixed(2)}× from text, ${results.parse.largeBytesSpeedup.toFixed(2)}× from bytes. ` +
            (results.parse.mixedTapeBound !== null && results.parse.largeTapeBound !== null
              ? `JSON.parse against simd-json\'s tape alone, the bound for any simd-json parse with nothing else to do: ${results.parse.mixedTapeBound.toFixed(2)}× on the mixed sample, ${results.parse.largeTapeBound.toFixed(2)}× on the 2048-commit push.`
              : 'simd-json alone was not measured (cargo could not run `parse_profile`; see the run\'s stderr).'),
        ]
      : ['Not measured.']),
    '',
    '## Memory over time',
    '',
    ...(results.memory
      ? [
          `${fmt(results.memory.events)} events through the addon at concurrency ${results.memory.concurrency} in ${fmt(results.memory.wallMs / 1000)} s (${results.memory.failures} failed), the stream generated as it goes (with a 2048-commit push every 20k); RSS after a GC every 10k events. Growth from the first sample to the last: **${results.memory.growthMb.toFixed(1)} MB** (highest sample ${fmt(Math.max(...results.memory.samples.map((s) => s.rssMb)) - results.memory.samples[0].rssMb, 1)} MB above the first).`,
          '',
          '| events | RSS MB | JS heap used MB | external MB |',
          '|--:|--:|--:|--:|',
          ...results.memory.samples.map((s) => `| ${fmt(s.events)} | ${fmt(s.rssMb, 1)} | ${fmt(s.heapUsedMb, 1)} | ${fmt(s.externalMb, 1)} |`),
        ]
      : ['Not run: `npm run bench -- --full` runs 200,000 events through the addon and samples RSS every 10,000.']),
    '',
    '![events per second](results.svg)',
    '',
    // The analysis is written by people from profiles and EXPLAIN ANALYZE, not by this
    // run: it says which measurements it rests on, so a reader can check them above.
    readFileSync(ANALYSIS_MD, 'utf8').trim(),
    '',
  ]
  return lines.join('\n')
}

/** A horizontal bar chart of events/s, one bar per implementation that ran. */
function svg(results: BenchResults): string {
  const rows = results.throughput.filter((r) => r.status === 'ok' && Number.isFinite(r.eventsPerSecond))
  const width = 760
  const left = 190
  const barHeight = 26
  const gap = 12
  const top = 44
  const height = top + rows.length * (barHeight + gap) + 30
  const max = Math.max(1, ...rows.map((r) => r.eventsPerSecond))
  const scale = (width - left - 90) / max
  const colors: Record<string, string> = { addon: '#d9480f', bull: '#f08c00', bullmq: '#e8590c', pg: '#1c7ed6', prisma: '#5f3dc4', ceiling: '#495057' }
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
  const bars = rows.map((r, i) => {
    const y = top + i * (barHeight + gap)
    const w = Math.max(1, r.eventsPerSecond * scale)
    return [
      `<text x="${left - 10}" y="${y + barHeight / 2 + 5}" text-anchor="end">${esc(r.label)}</text>`,
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${colors[r.name] ?? '#868e96'}" rx="3"/>`,
      `<text x="${(left + w + 8).toFixed(1)}" y="${y + barHeight / 2 + 5}">${fmt(r.eventsPerSecond)}</text>`,
    ].join('\n  ')
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="14">`,
    `  <rect width="100%" height="100%" fill="#fff"/>`,
    `  <text x="${left}" y="24" font-size="16" font-weight="bold">events/s, ${fmt(results.options.events)} events, concurrency ${results.options.concurrency} (higher is better)</text>`,
    `  ${bars.join('\n  ')}`,
    `  <text x="${left}" y="${height - 10}" font-size="11" fill="#666">${esc(results.machine.cpu)}, ${results.machine.cores} cores, ${esc(results.machine.date.slice(0, 10))}</text>`,
    '</svg>',
    '',
  ].join('\n')
}

/** Writes bench/results.json, bench/RESULTS.md and bench/results.svg. */
export function writeReport(results: BenchResults): void {
  writeFileSync(RESULTS_JSON, JSON.stringify(results, null, 2) + '\n')
  writeFileSync(RESULTS_MD, markdown(results))
  writeFileSync(RESULTS_SVG, svg(results))
  process.stderr.write(`[bench] wrote ${RESULTS_MD}, ${RESULTS_SVG} and ${RESULTS_JSON}\n`)
}
