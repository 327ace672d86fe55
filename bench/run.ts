// `npm run bench`: the addon against its baselines, side by side in one run, each on a
// fresh database with the same seed rows, the same generated workload and the same
// concurrency, each in its own Node process (see bench/child.ts). Then the 2048-commit
// push and the parse against JSON.parse (part `large`), and with --full the 200k-event
// memory run (part `memory`). Part `bull` is the addon through Bull and Bull with no-op jobs;
// part `bullmq` the same through BullMQ (createBullMQWorker).
// Results go to bench/results.json, bench/RESULTS.md and bench/results.svg (bench/report.ts).
//
//   npm run bench -- [--events 6000] [--warmup 400] [--concurrency 8] [--seed 42]
//                    [--only addon,pg,prisma,ceiling,bull,bullmq,reprocess,large,memory] [--full]
//                    [--memory-events 200000] [--ceiling-seconds 10] [--large-calls 7] [--rounds 3]
//                    [--report-only] [--merge]
//
// --merge keeps, from the bench/results.json already there, every part this run does not run
// (say `--only bull,bullmq,reprocess,large --merge` after a run of the database-bound columns):
// RESULTS.md then says which rows come from which run.
import { execFileSync, fork } from 'node:child_process'
import { loadavg } from 'node:os'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ADMIN_URL } from '../__test__/helpers/db'
import type { ChildMessage, ParentMessage, Task } from './child'
import { BenchDatabase, freshDatabase } from './db'
import { loadCompare } from './implementations'
import { describeMachine } from './machine'
import { ServerCpuMeter } from './measure'
import { printTable, RESULTS_JSON, writeReport } from './report'
import type { BenchResults, LargePushResult, MemoryResult, ParseResult, ThroughputResult } from './results'
import { createSeed, describeJobs, stream, Workload } from './workload'

const ALL = ['addon', 'pg', 'prisma', 'ceiling', 'bull', 'bullmq', 'reprocess', 'large', 'memory'] as const
type Part = (typeof ALL)[number]

const USAGE = `usage: npm run bench -- [--events 6000] [--warmup 400] [--concurrency 8] [--seed 42]
                     [--only addon,pg,prisma,ceiling,bull,bullmq,reprocess,large,memory] [--full]
                     [--memory-events 200000] [--ceiling-seconds 10] [--large-calls 7] [--rounds 3]
                     [--reprocess-batch 200] [--redis-url URL] [--report-only] [--merge]
  Results go to bench/results.json, bench/RESULTS.md and bench/results.svg. -h, --help: this text; runs nothing.`

function parsedArgs() {
  try {
    return parseArgs({
      options: {
        events: { type: 'string', default: '6000' },
        warmup: { type: 'string', default: '400' },
        concurrency: { type: 'string', default: '8' },
        seed: { type: 'string', default: '42' },
        only: { type: 'string' },
        full: { type: 'boolean', default: false },
        'memory-events': { type: 'string', default: '200000' },
        'ceiling-seconds': { type: 'string', default: '10' },
        'large-calls': { type: 'string', default: '7' },
        rounds: { type: 'string', default: '3' },
        'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
        'report-only': { type: 'boolean', default: false },
        merge: { type: 'boolean', default: false },
        'reprocess-batch': { type: 'string', default: '200' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    })
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`)
    process.exit(2)
  }
}
const { values: args } = parsedArgs()
if (args.help) {
  console.log(USAGE)
  process.exit(0)
}

/** A usage error: the message and the usage on stderr, exit 2, before anything runs. */
function usageError(message: string): never {
  console.error(`${message}\n${USAGE}`)
  process.exit(2)
}
// Every numeric option is checked here, before the first part runs (a bad --reprocess-batch used
// to stop the run only when the reprocess part came, minutes in; '' read as 0).
type NumericOption = 'events' | 'warmup' | 'concurrency' | 'seed' | 'ceiling-seconds' | 'rounds' | 'reprocess-batch' | 'large-calls' | 'memory-events'
const int = (name: NumericOption, min: number): number => {
  const v = args[name]
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
    usageError(`--${name} must be an integer ≥ ${min}, not ${JSON.stringify(v)}`)
  }
  return Number(v)
}
const options = {
  events: int('events', 1),
  warmup: int('warmup', 0),
  concurrency: int('concurrency', 1),
  seed: int('seed', 0),
  ceilingSeconds: int('ceiling-seconds', 1),
  rounds: int('rounds', 1),
}
const reprocessBatch = int('reprocess-batch', 1)
const largeCalls = int('large-calls', 1)
const memoryEvents = int('memory-events', 1)
const parts = new Set<Part>(
  args.only !== undefined
    ? args.only.split(',').map((p) => {
        if (!(ALL as readonly string[]).includes(p)) usageError(`--only: unknown part ${JSON.stringify(p)} (${ALL.join(', ')})`)
        return p as Part
      })
    : ALL.filter((p) => p !== 'memory' || args.full),
)
if (args.full) parts.add('memory')

const log = (text: string) => process.stderr.write(`[bench] ${text}\n`)

/** Runs one task in a child process; samples the database's backend CPU while it says so. */
async function inChild<T>(task: Task, db: BenchDatabase): Promise<T> {
  const meter = await ServerCpuMeter.start(ADMIN_URL, db.name)
  const child = fork(join(__dirname, 'child.ts'), [], {
    execArgv: ['-r', join(__dirname, 'register.js'), '--expose-gc', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  try {
    return await new Promise<T>((resolve, reject) => {
      let mark: Map<number, number> | null = null
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'window') {
          const reply = (message: ParentMessage) => child.send(message)
          if (m.phase === 'start') {
            void meter.mark().then((baseline) => {
              mark = baseline
              reply({ type: 'ack' })
            })
          } else {
            void meter.since(mark ?? new Map()).then((serverCpuMs) => reply({ type: 'ack', serverCpuMs }))
          }
        } else if (m.type === 'result') {
          resolve(m.result as T)
        } else {
          reject(new Error(m.message))
        }
      })
      child.on('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before reporting`)))
      child.send({ type: 'task', task } satisfies ParentMessage)
    })
  } finally {
    child.kill()
    await meter.stop()
  }
}

/**
 * The round with the median events/s, carrying every round's rate and the first round's
 * database comparison; a failed round is the result, so a failure is never hidden.
 */
function medianRound(all: ThroughputResult[], timeBoxed: boolean): ThroughputResult {
  const failed = all.find((r) => r.status !== 'ok')
  const chosen = failed ?? [...all].sort((a, b) => a.eventsPerSecond - b.eventsPerSecond)[Math.floor((all.length - 1) / 2)]
  const result = { ...chosen, differences: all[0].differences, notes: [...chosen.notes] }
  if (all.length > 1) result.roundsEventsPerSecond = all.map((r) => r.eventsPerSecond)
  if (timeBoxed && result.status === 'ok') result.notes.push('time-boxed: its database is not compared')
  return result
}

function failedResult(name: string, err: unknown): ThroughputResult {
  return {
    name,
    label: name,
    status: 'failed',
    reason: (err as Error)?.message ?? String(err),
    events: 0,
    failures: 0,
    errorSample: [],
    concurrency: options.concurrency,
    wallMs: 0,
    eventsPerSecond: NaN,
    latencyMs: { mean: NaN, p50: NaN, p99: NaN, max: NaN },
    cpuMicrosPerEvent: { client: NaN, server: null },
    rssMb: null,
    load1: null,
    notes: [],
  }
}

async function main(): Promise<void> {
  if (args['report-only']) {
    const results: BenchResults = JSON.parse(readFileSync(RESULTS_JSON, 'utf8'))
    printTable(results)
    writeReport(results)
    return
  }
  const previous = args.merge ? previousResults() : null
  const seed = createSeed(options.seed)
  const common = { seed: options.seed, warmup: options.warmup, events: options.events, concurrency: options.concurrency }
  const machine = await describeMachine(ADMIN_URL)
  machine.uptimeStart = uptime()
  const described = describeJobs(stream(new Workload(seed, { largePushAt: [options.warmup + Math.floor(options.events / 2)] }), options.warmup + options.events))
  const workload = {
    ...described,
    seedRows: {
      teams: seed.teams.length,
      repositories: seed.repositories.length,
      people: seed.people.length,
      linked: seed.users.length,
      bots: seed.people.filter((p) => p.kind === 'bot').length,
    },
  }
  log(`${options.warmup} warm-up + ${options.events} events (${(workload.bytes / 2 ** 20).toFixed(0)} MB of payloads), concurrency ${options.concurrency}; parts: ${[...parts].join(', ')}`)

  const results: BenchResults = {
    machine,
    options,
    workload,
    throughput: [],
    largePush: [],
    parse: null,
    memory: null,
  }
  const compare = loadCompare()
  let reference: BenchDatabase | null = null
  try {
    const columns: { part: Part; title: string; task: (db: BenchDatabase) => Task }[] = [
      { part: 'addon', title: 'addon', task: (db) => ({ ...common, kind: 'throughput', name: 'addon', databaseUrl: db.url, wire: true }) },
      { part: 'pg', title: 'pg', task: (db) => ({ ...common, kind: 'throughput', name: 'pg', databaseUrl: db.url, wire: true }) },
      { part: 'prisma', title: 'prisma', task: (db) => ({ ...common, kind: 'throughput', name: 'prisma', databaseUrl: db.url, wire: true }) },
      { part: 'ceiling', title: 'ceiling', task: (db) => ({ ...common, kind: 'ceiling', databaseUrl: db.url, seconds: options.ceilingSeconds }) },
      { part: 'ceiling', title: 'ceiling (own SQL)', task: (db) => ({ ...common, kind: 'ceiling-own', databaseUrl: db.url, seconds: options.ceilingSeconds }) },
      { part: 'bull', title: 'bull', task: (db) => ({ ...common, kind: 'bull', databaseUrl: db.url, redisUrl: args['redis-url']!, noop: false }) },
      { part: 'bull', title: 'bull (no-op jobs)', task: (db) => ({ ...common, kind: 'bull', databaseUrl: db.url, redisUrl: args['redis-url']!, noop: true }) },
      { part: 'bullmq', title: 'bullmq', task: (db) => ({ ...common, kind: 'bullmq', databaseUrl: db.url, redisUrl: args['redis-url']!, noop: false }) },
      { part: 'bullmq', title: 'bullmq (no-op jobs)', task: (db) => ({ ...common, kind: 'bullmq', databaseUrl: db.url, redisUrl: args['redis-url']!, noop: true }) },
    ]
    // The machine is shared and its disk's flush times wander: one run of a column can be
    // 15% off the next. The database-bound columns are run in alternating rounds (addon,
    // pg, Prisma, ceiling, then again) and each reports its median round, so a slow minute
    // hits every implementation alike instead of deciding a ratio.
    const ROUNDED: readonly Part[] = ['addon', 'pg', 'prisma', 'ceiling']
    const runs = new Map<string, ThroughputResult[]>()
    for (let round = 0; round < options.rounds; round++) {
      for (const column of columns) {
        if (!parts.has(column.part) || (round > 0 && !ROUNDED.includes(column.part))) continue
        const of = ROUNDED.includes(column.part) ? ` (round ${round + 1} of ${options.rounds})` : ''
        log(`${column.title}${of}: fresh database, warm-up, ${options.events} events…`)
        const db = await freshDatabase(seed)
        let result: ThroughputResult
        try {
          result = await inChild<ThroughputResult>(column.task(db), db)
        } catch (err) {
          result = failedResult(column.part, err)
        }
        // Every round runs the same workload; the first round's databases are compared.
        const writesRows = column.part !== 'ceiling' && result.name !== 'bull-noop' && result.name !== 'bullmq-noop'
        if (round === 0 && result.status === 'ok' && column.part !== 'addon' && writesRows) {
          result.differences = null
          if (!reference) result.notes.push('database not compared: the addon column did not run')
          else if ('missing' in compare) result.notes.push(`database not compared: compareDatabases ${compare.missing}`)
          else {
            try {
              const differences = await compare.module.compareDatabases(reference.url, db.url)
              result.differences = { count: differences.length, sample: differences.slice(0, 5) }
            } catch (err) {
              result.notes.push(`compareDatabases failed: ${(err as Error).message}`)
            }
          }
        }
        const diffs = result.differences ? `, ${result.differences.count} differences from the addon's database` : ''
        log(`${result.name}: ${result.status === 'ok' ? `${result.eventsPerSecond.toFixed(0)} events/s${diffs}` : result.reason}`)
        runs.set(column.title, [...(runs.get(column.title) ?? []), result])
        if (round === 0 && column.part === 'addon' && result.status === 'ok') reference = db
        else await db.drop()
      }
    }
    for (const column of columns) {
      const all = runs.get(column.title)
      if (all) results.throughput.push(medianRound(all, column.part === 'ceiling'))
    }
    if (parts.has('reprocess')) {
      // After the rounds, beside the live addon row: the same deliveries stored, then applied again.
      log(`reprocess: fresh database, ${options.warmup + options.events} deliveries stored live, then reprocessed…`)
      const db = await freshDatabase(seed)
      try {
        const rows = await inChild<ThroughputResult[]>({ ...common, kind: 'reprocess', databaseUrl: db.url, batchSize: reprocessBatch }, db)
        for (const r of rows) log(`${r.label}: ${r.eventsPerSecond.toFixed(0)} events/s, ${r.differences?.count ?? '?'} differences`)
        results.throughput.push(...rows)
      } catch (err) {
        results.throughput.push(failedResult('reprocess', err))
      } finally {
        await db.drop()
      }
    }
    if (parts.has('large')) {
      for (const name of ['addon', 'pg'] as const) {
        log(`large push: ${name}…`)
        const db = await freshDatabase(seed)
        try {
          const r = await inChild<{ large: LargePushResult; parse: ParseResult | null }>(
            { ...common, kind: 'large', name, databaseUrl: db.url, calls: largeCalls, parseSample: 300 },
            db,
          )
          results.largePush.push(r.large)
          if (r.parse) results.parse = r.parse
        } catch (err) {
          results.largePush.push({ name, status: 'failed', reason: (err as Error).message, bytes: 0, commits: 2048, calls: 0, wallMs: { median: NaN, min: NaN, max: NaN } })
        } finally {
          await db.drop()
        }
      }
    }
    if (parts.has('memory')) {
      const events = memoryEvents
      log(`memory: ${events} events through the addon…`)
      const db = await freshDatabase(seed)
      try {
        results.memory = await inChild<MemoryResult>({ ...common, kind: 'memory', events, databaseUrl: db.url, sampleEvery: 10_000 }, db)
      } finally {
        await db.drop()
      }
    }
  } finally {
    await reference?.drop()
  }
  results.machine.uptimeEnd = uptime()
  if (previous) mergePrevious(results, previous)
  printTable(results)
  writeReport(results)
}

/** The throughput rows each part writes (run.ts's columns, reprocess's two rows). */
const ROWS_OF: Record<Part, string[]> = {
  addon: ['addon'],
  pg: ['pg'],
  prisma: ['prisma'],
  ceiling: ['ceiling', 'ceiling-own'],
  bull: ['bull', 'bull-noop'],
  bullmq: ['bullmq', 'bullmq-noop'],
  reprocess: ['reprocess', 'reprocess-existing'],
  large: [],
  memory: [],
}

/** --merge: the bench/results.json there, checked before anything runs (same workload options). */
function previousResults(): BenchResults {
  let previous: BenchResults
  try {
    previous = JSON.parse(readFileSync(RESULTS_JSON, 'utf8'))
  } catch (err) {
    usageError(`--merge: cannot read bench/results.json: ${(err as Error).message}`)
  }
  const same = (['events', 'warmup', 'concurrency', 'seed'] as const).every((k) => previous.options[k] === options[k])
  if (!same) usageError('--merge: the previous bench/results.json ran other workload options (events, warmup, concurrency, seed); run them alike')
  return previous
}

/**
 * --merge: the parts of the previous bench/results.json this run did not run, kept beside this
 * run's, each kept row noting the run it comes from.
 */
function mergePrevious(results: BenchResults, previous: BenchResults): void {
  const ran = new Set([...parts].flatMap((p) => ROWS_OF[p]))
  const from = `from the run of ${previous.machine.date} (kept by --merge; \`uptime\` then: ${previous.machine.uptimeStart?.trim() ?? 'not recorded'})`
  const kept = previous.throughput.filter((r) => !ran.has(r.name)).map((r) => ({ ...r, notes: [...r.notes, from] }))
  // Kept rows in the order run.ts writes them: the database-bound columns first.
  const order = Object.values(ROWS_OF).flat()
  results.throughput = [...results.throughput, ...kept].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))
  if (!parts.has('large')) {
    results.largePush = previous.largePush
    results.parse = previous.parse
  }
  if (!parts.has('memory')) results.memory = previous.memory
  results.machine.mergedFrom = {
    date: previous.machine.date,
    uptimeStart: previous.machine.uptimeStart,
    uptimeEnd: previous.machine.uptimeEnd,
    rows: kept.map((r) => r.label),
    large: !parts.has('large') && previous.largePush.length > 0,
    memory: !parts.has('memory') && previous.memory !== null,
  }
  const m = results.machine.mergedFrom
  log(`--merge: kept ${kept.length} rows${m.large ? ', the large push and parse' : ''}${m.memory ? ', memory' : ''} from ${previous.machine.date}`)
}

/** The `uptime` line (load averages), or the load averages alone where the command is missing. */
function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim()
  } catch {
    return `load average: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
