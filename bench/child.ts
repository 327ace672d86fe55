// One measurement in its own Node process, started by bench/run.ts (fork with the
// TypeScript hook): its CPU time and peak RSS are then this implementation's alone, not
// those of whatever ran before it in the same process. It receives a Task over IPC,
// tells the parent when the measured window starts and ends (the parent samples the
// PostgreSQL backends' CPU meanwhile and answers with it) and sends back the result.
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import Bull from 'bull'
import { bullmqWebhookJobOptions, createBullMQWorker, createWebhookWorker, inspectWebhook, ProcessingResult, WebhookProcessor, webhookJobOptions, webhookQueueSettings } from '../lib'
import type { BenchJob, Implementation } from './baselines/types'
import { distribution, drive, fromArray } from './drive'
import { createAddon, loadCeiling, loadImplementation, ThroughputName } from './implementations'
import { median, memoryMb, processCpuMs, resetPeakRss, selfCpuMicros, threadCpuMicros } from './measure'
import { CountingProxy } from './pgproxy'
import { reprocessRows } from './reprocess'
import type { AddonTimings, LargePushResult, MemoryResult, ParseResult, ThroughputResult, WireResult } from './results'
import { createSeed, eventKey, largePush, Workload } from './workload'

interface Common {
  databaseUrl: string
  seed: number
  warmup: number
  events: number
  concurrency: number
}
export type Task =
  | (Common & { kind: 'throughput'; name: ThroughputName; wire: boolean })
  | (Common & { kind: 'ceiling'; seconds: number })
  | (Common & { kind: 'ceiling-own'; seconds: number })
  | (Common & { kind: 'bull'; redisUrl: string; noop: boolean })
  | (Common & { kind: 'bullmq'; redisUrl: string; noop: boolean })
  | (Common & { kind: 'large'; name: 'addon' | 'pg'; calls: number; parseSample: number })
  | (Common & { kind: 'memory'; sampleEvery: number })
  | (Common & { kind: 'reprocess'; batchSize: number })

export type ChildMessage =
  | { type: 'window'; phase: 'start' | 'end' }
  | { type: 'result'; result: ThroughputResult | ThroughputResult[] | { large: LargePushResult; parse: ParseResult | null } | MemoryResult }
  | { type: 'error'; message: string }
export interface ParentMessage {
  type: 'task' | 'ack'
  task?: Task
  /** With the 'end' ack: CPU ms of the database's backends during the window. */
  serverCpuMs?: number | null
}

// ---------------------------------------------------------------- IPC

let pendingAck: ((m: ParentMessage) => void) | null = null
function send(m: ChildMessage): void {
  process.send!(m)
}
function window(phase: 'start' | 'end'): Promise<ParentMessage> {
  return new Promise((resolve) => {
    pendingAck = resolve
    send({ type: 'window', phase })
  })
}

/** The run's jobs: warm-up, then the measured ones with the 2048-commit push in their middle. */
function workloadJobs(t: Common): BenchJob[] {
  const seed = createSeed(t.seed)
  return new Workload(seed, { largePushAt: [t.warmup + Math.floor(t.events / 2)] }).take(t.warmup + t.events)
}

function emptyResult(name: string, label: string, t: Common): ThroughputResult {
  return {
    name,
    label,
    status: 'ok',
    events: 0,
    failures: 0,
    errorSample: [],
    concurrency: t.concurrency,
    wallMs: 0,
    eventsPerSecond: 0,
    latencyMs: { mean: NaN, p50: NaN, p99: NaN, max: NaN },
    cpuMicrosPerEvent: { client: NaN, server: null },
    rssMb: null,
    load1: null,
    notes: [],
  }
}

/**
 * A process's CPU per event by thread kind, largest first: `node` is the JS thread (the bench's
 * driver, the JS wrapper, napi's calls and promises), `tokio-runtime-w` the addon's runtime
 * (parse, planning, sqlx), the rest V8's and libuv's helpers.
 */
function byThread(threads: Map<string, number>, events: number): string {
  return [...threads]
    .filter(([, micros]) => micros > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, micros]) => `${name} ${Math.round(micros / events)} µs`)
    .join(', ')
}

/** Measured window: GC, reset the RSS peak, CPU before and after, server CPU from the parent. */
async function measured<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; clientCpuMicros: number; threadCpuMicros: Map<string, number>; serverCpuMs: number | null; rss: { start: number; peak: number }; load1: number }> {
  global.gc?.()
  resetPeakRss()
  const start = memoryMb().rss
  await window('start')
  const cpu0 = selfCpuMicros()
  const threads0 = threadCpuMicros()
  const children0 = processCpuMs('self')!.children
  const value = await fn()
  const clientCpuMicros = selfCpuMicros() - cpu0 + (processCpuMs('self')!.children - children0) * 1000
  const threads = threadCpuMicros()
  for (const [name, micros] of threads) threads.set(name, micros - (threads0.get(name) ?? 0))
  const peak = memoryMb().peak
  const load1 = os.loadavg()[0]
  const ack = await window('end')
  return { value, clientCpuMicros, threadCpuMicros: threads, serverCpuMs: ack.serverCpuMs ?? null, rss: { start, peak }, load1 }
}

// ---------------------------------------------------------------- tasks

/** Round trips per event on one connection, one event at a time, after a warm-up on it. */
async function countWire(
  create: (url: string) => Promise<Implementation>,
  databaseUrl: string,
  warm: BenchJob[],
  counted: BenchJob[],
): Promise<WireResult> {
  const url = new URL(databaseUrl)
  const proxy = await CountingProxy.start({ host: url.hostname, port: Number(url.port || 5432) })
  const impl = await create(proxy.urlFor(databaseUrl))
  try {
    for (const job of warm) await impl.process(job)
    const start = proxy.snapshot()
    const byEvent: WireResult['byEvent'] = {}
    let wall = 0
    for (const job of counted) {
      const before = proxy.snapshot()
      const t = process.hrtime.bigint()
      await impl.process(job)
      const micros = Number(process.hrtime.bigint() - t) / 1000
      wall += micros
      const after = proxy.snapshot()
      const e = (byEvent[eventKey(job)] ??= { events: 0, roundTrips: 0, statements: 0, wallMicros: 0 })
      e.events++
      e.roundTrips += after.roundTrips - before.roundTrips
      e.statements += after.statements - before.statements
      e.wallMicros = (e.wallMicros ?? 0) + micros
    }
    const end = proxy.snapshot()
    for (const e of Object.values(byEvent)) {
      e.roundTrips /= e.events
      e.statements /= e.events
      e.wallMicros = (e.wallMicros ?? 0) / e.events
    }
    const n = counted.length
    return {
      events: n,
      roundTripsPerEvent: (end.roundTrips - start.roundTrips) / n,
      statementsPerEvent: (end.statements - start.statements) / n,
      preparesPerEvent: (end.prepares - start.prepares) / n,
      pingsPerEvent: (end.pings - start.pings) / n,
      kbToServerPerEvent: (end.bytesToServer - start.bytesToServer) / 1024 / n,
      kbFromServerPerEvent: (end.bytesFromServer - start.bytesFromServer) / 1024 / n,
      serverMicrosPerEvent: {
        begin: (end.micros.begin - start.micros.begin) / n,
        commit: (end.micros.commit - start.micros.commit) / n,
        statement: (end.micros.statement - start.micros.statement) / n,
        ping: (end.micros.ping - start.micros.ping) / n,
      },
      wallMicrosPerEvent: wall / n,
      byEvent,
    }
  } finally {
    await impl.close()
    await proxy.close()
  }
}

/** Tables a GitHub Actions event type writes: an implementation that left them empty did not track it. */
const ACTIONS_TABLES: Record<string, string> = { deployment_status: 'deployment_statuses', workflow_run: 'workflow_runs' }

/**
 * The GitHub Actions event types of `jobs` whose table an implementation left empty on
 * `databaseUrl`: it stored those deliveries as untracked (ignored) events, so its cost for them
 * is not the same work as the addon's.
 */
async function untrackedTypes(databaseUrl: string, jobs: BenchJob[]): Promise<string[]> {
  const present = Object.keys(ACTIONS_TABLES).filter((event) => jobs.some((j) => j.event === event))
  if (present.length === 0) return []
  const { Client } = await import('pg')
  const client = new Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const out: string[] = []
    for (const event of present) {
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ACTIONS_TABLES[event]}`)
      if (rows[0].n === 0) out.push(event)
    }
    return out
  } finally {
    await client.end()
  }
}

/** The addon's result.timings over the measured window. */
class TimingsCollector {
  private readonly parse: number[] = []
  private readonly db: number[] = []
  private readonly total: number[] = []
  private readonly byEvent: AddonTimings['byEvent'] = {}
  private readonly statuses: Record<string, number> = {}
  recording = false
  record = (job: BenchJob, r: ProcessingResult) => {
    if (!this.recording) return
    this.parse.push(r.timings.parseMicros)
    this.db.push(r.timings.dbMicros)
    this.total.push(r.timings.totalMicros)
    this.statuses[r.status] = (this.statuses[r.status] ?? 0) + 1
    const e = (this.byEvent[eventKey(job)] ??= { events: 0, parseMicros: 0, dbMicros: 0, totalMicros: 0 })
    e.events++
    e.parseMicros += r.timings.parseMicros
    e.dbMicros += r.timings.dbMicros
    e.totalMicros += r.timings.totalMicros
  }
  result(): AddonTimings {
    for (const e of Object.values(this.byEvent)) {
      e.parseMicros /= e.events
      e.dbMicros /= e.events
      e.totalMicros /= e.events
    }
    return { parseMicros: distribution(this.parse), dbMicros: distribution(this.db), totalMicros: distribution(this.total), byEvent: this.byEvent, statuses: this.statuses }
  }
}

const LABELS: Record<string, string> = { addon: 'addon (Rust)', pg: 'TypeScript + pg', prisma: 'TypeScript + Prisma 7', ceiling: 'pgbench ceiling', 'ceiling-own': "pgbench on the addon's own SQL", bull: 'addon via Bull', 'bull-noop': 'Bull alone (no-op job)', bullmq: 'addon via BullMQ', 'bullmq-noop': 'BullMQ alone (no-op job)' }

async function throughput(t: Extract<Task, { kind: 'throughput' }>): Promise<ThroughputResult> {
  const result = emptyResult(t.name, LABELS[t.name], t)
  const loaded = loadImplementation(t.name)
  if ('missing' in loaded) return { ...result, status: 'missing', reason: loaded.missing }
  await loaded.prepare?.()
  const timings = t.name === 'addon' ? new TimingsCollector() : null
  const create = (url: string, connections: number) => (timings ? createAddon(url, { connections, onResult: timings.record }) : loaded.factory(url, { connections }))
  const jobs = workloadJobs(t)
  const warm = jobs.slice(0, t.warmup)
  // A quarter of the warm-up primes the counting connection, the next half is counted.
  const wireWarm = Math.floor(t.warmup / 4)
  const wireCount = Math.floor(t.warmup / 2)
  if (t.wire && wireCount > 0) {
    result.wire = await countWire((url) => create(url, 1), t.databaseUrl, warm.slice(0, wireWarm), warm.slice(wireWarm, wireWarm + wireCount))
  }
  const impl = await create(t.databaseUrl, t.concurrency)
  try {
    const rest = warm.slice(t.wire ? wireWarm + wireCount : 0)
    await drive(fromArray(rest), t.concurrency, (job) => impl.process(job))
    if (timings) timings.recording = true
    // Each call's latency by event type, as drive() times it (a failed call counts too).
    const byEvent: NonNullable<ThroughputResult['byEvent']> = {}
    const timed = async (job: BenchJob) => {
      const started = process.hrtime.bigint()
      try {
        await impl.process(job)
      } finally {
        const e = (byEvent[eventKey(job)] ??= { events: 0, latencyMicros: 0 })
        e.events++
        e.latencyMicros += Number(process.hrtime.bigint() - started) / 1000
      }
    }
    const m = await measured(() => drive(fromArray(jobs.slice(t.warmup)), t.concurrency, timed))
    for (const e of Object.values(byEvent)) e.latencyMicros /= e.events
    result.byEvent = byEvent
    result.untrackedTypes = await untrackedTypes(t.databaseUrl, jobs)
    const d = m.value
    Object.assign(result, {
      events: d.completed,
      failures: d.failures,
      errorSample: d.errorSample,
      wallMs: d.wallMs,
      eventsPerSecond: (d.completed / d.wallMs) * 1000,
      latencyMs: distribution(d.latenciesMicros, 1 / 1000),
      cpuMicrosPerEvent: { client: m.clientCpuMicros / d.completed, server: m.serverCpuMs === null ? null : (m.serverCpuMs * 1000) / d.completed },
      rssMb: m.rss,
      load1: m.load1,
    })
    if (timings) {
      result.addonTimings = timings.result()
      result.notes.push(
        `WebhookProcessor.connect({ maxConnections: ${t.concurrency} }).process(job); processWebhook() is the same call on a default instance (10 connections)`,
        `client CPU per event by thread: ${byThread(m.threadCpuMicros, d.completed)}`,
      )
    }
  } finally {
    await impl.close()
  }
  return result
}

async function ceiling(t: Extract<Task, { kind: 'ceiling' }>): Promise<ThroughputResult> {
  const result = emptyResult('ceiling', LABELS.ceiling, t)
  const loaded = loadCeiling()
  if ('missing' in loaded) return { ...result, status: 'missing', reason: loaded.missing }
  const jobs = workloadJobs(t)
  const m = await measured(() => loaded.module.runCeiling(t.databaseUrl, jobs, { clients: t.concurrency, seconds: t.seconds }))
  const c = m.value
  Object.assign(result, {
    events: c.transactions,
    wallMs: (c.transactions / c.eventsPerSecond) * 1000,
    eventsPerSecond: c.eventsPerSecond,
    latencyMs: { mean: NaN, p50: c.latencyMs.p50, p99: c.latencyMs.p99, max: NaN },
    cpuMicrosPerEvent: { client: m.clientCpuMicros / c.transactions, server: m.serverCpuMs === null ? null : (m.serverCpuMs * 1000) / c.transactions },
    rssMb: null,
    load1: m.load1,
    byScript: c.byScript,
    untrackedTypes: await untrackedTypes(t.databaseUrl, jobs),
  })
  result.notes.push(`pgbench, ${c.clients} clients, script ${c.script}; client CPU is pgbench's own (a waited-for child of this process)`)
  return result
}

/** pgbench on the addon's own statements, captured on the wire (baselines/pgbench/own.ts). */
async function ceilingOwn(t: Extract<Task, { kind: 'ceiling-own' }>): Promise<ThroughputResult> {
  const result = emptyResult('ceiling-own', LABELS['ceiling-own'], t)
  const { prepareOwnCeiling } = await import('./baselines/pgbench/own')
  const run = await prepareOwnCeiling(t.databaseUrl, workloadJobs(t), { clients: t.concurrency, seconds: t.seconds, warmup: t.warmup })
  const m = await measured(run)
  const c = m.value
  Object.assign(result, {
    events: c.transactions,
    wallMs: (c.transactions / c.eventsPerSecond) * 1000,
    eventsPerSecond: c.eventsPerSecond,
    latencyMs: { mean: NaN, p50: c.latencyMs.p50, p99: c.latencyMs.p99, max: NaN },
    cpuMicrosPerEvent: { client: m.clientCpuMicros / c.transactions, server: m.serverCpuMs === null ? null : (m.serverCpuMs * 1000) / c.transactions },
    rssMb: null,
    load1: m.load1,
    byScript: c.byScript,
  })
  result.notes.push(
    `pgbench on the addon's own statements (captured from the addon on the wire, its values as parameters cast to the addon's types), ${c.clients} clients, ${c.script}`,
  )
  return result
}

/** The Redis server's CPU time so far (user + system), from INFO cpu. */
async function redisCpuSeconds(queue: Bull.Queue): Promise<number> {
  const info = await queue.client.info('cpu')
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN)
  return field('used_cpu_user') + field('used_cpu_sys')
}

/**
 * Bull end to end: a real queue on Redis, createWebhookWorker, from the first add to the
 * last completion. With `noop` the same queue and jobs run a processor that does nothing:
 * what Bull and Redis alone allow on this machine, the bound of the end-to-end number.
 */
async function bull(t: Extract<Task, { kind: 'bull' }>): Promise<ThroughputResult> {
  const result = emptyResult(t.noop ? 'bull-noop' : 'bull', t.noop ? LABELS['bull-noop'] : LABELS.bull, t)
  const prefix = `bench-${randomUUID().slice(0, 8)}`
  const queue = new Bull('webhooks', t.redisUrl, { prefix, settings: webhookQueueSettings })
  const metrics = new Bull('metrics', t.redisUrl, { prefix })
  const errorSample: string[] = []
  const processor = t.noop ? null : await WebhookProcessor.connect({ databaseUrl: t.databaseUrl, maxConnections: t.concurrency })
  const quiet = { info() {}, warn() {}, error() {} }
  const worker = processor
    ? createWebhookWorker(queue, { processor, metricsQueue: metrics, concurrency: t.concurrency, logger: quiet })
    : null
  if (!processor) queue.process(t.concurrency, async () => ({ status: 'noop' })).catch((err) => errorSample.push(String(err)))
  const jobs = workloadJobs(t)
  const latencies: number[] = []
  let completed = 0
  let failed = 0
  let waiting: { target: number; resolve: () => void } | null = null
  const check = () => {
    if (waiting && completed + failed >= waiting.target) waiting.resolve()
  }
  queue.on('completed', (job) => {
    completed++
    latencies.push((job.finishedOn ?? Date.now()) - (job.processedOn ?? job.timestamp))
    check()
  })
  queue.on('failed', (job, err) => {
    // Only a job out of attempts is done; a retried one completes (or fails) later.
    if (job.attemptsMade < (job.opts.attempts ?? 1) && err && (err as { retryable?: boolean }).retryable !== false) return
    failed++
    if (errorSample.length < 5) errorSample.push(`${job.data.event} ${job.data.deliveryId}: ${err.message}`.slice(0, 300))
    check()
  })
  const enqueueAndWait = async (batch: BenchJob[]) => {
    const target = completed + failed + batch.length
    const done = new Promise<void>((resolve) => (waiting = { target, resolve }))
    for (let i = 0; i < batch.length; i += 500) {
      await queue.addBulk(batch.slice(i, i + 500).map((data) => ({ data, opts: webhookJobOptions })))
    }
    check()
    await done
  }
  try {
    await enqueueAndWait(jobs.slice(0, t.warmup))
    latencies.length = 0
    const before = { completed, failed }
    const redisBefore = await redisCpuSeconds(queue)
    const m = await measured(async () => {
      const started = process.hrtime.bigint()
      await enqueueAndWait(jobs.slice(t.warmup))
      return Number(process.hrtime.bigint() - started) / 1e6
    })
    const n = completed - before.completed + (failed - before.failed)
    const redisCpuMicros = ((await redisCpuSeconds(queue)) - redisBefore) * 1e6
    Object.assign(result, {
      events: n,
      failures: failed - before.failed,
      errorSample,
      wallMs: m.value,
      eventsPerSecond: (n / m.value) * 1000,
      latencyMs: distribution(latencies),
      cpuMicrosPerEvent: {
        client: m.clientCpuMicros / n,
        server: m.serverCpuMs === null ? null : (m.serverCpuMs * 1000) / n,
        redis: redisCpuMicros / n,
      },
      rssMb: m.rss,
      load1: m.load1,
    })
    result.notes.push(
      t.noop
        ? 'the same queue, jobs and producer with a processor that does nothing: the bound Bull and Redis set on this machine'
        : `producer and worker in one process (as in \`npm start\`); jobs added with webhookJobOptions in batches of 500, metric jobs queued on a "metrics" queue; latency = Bull's processedOn→finishedOn (ms resolution)`,
    )
  } finally {
    if (worker) await worker.close()
    else await queue.pause(true)
    await processor?.close()
    await queue.obliterate({ force: true })
    await metrics.obliterate({ force: true })
    await queue.close()
    await metrics.close()
  }
  return result
}

/** Median µs of `runs` calls of `fn`. */
function medianMicros(fn: () => unknown, runs: number): number {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint()
    fn()
    times.push(Number(process.hrtime.bigint() - t) / 1000)
  }
  return median(times)
}

interface ParsePair {
  /** JSON.parse(text) and inspectWebhook(event, text): the string a Bull job carries. */
  json: number
  addon: number
  /** From the raw body's bytes: JSON.parse(bytes.toString()) and inspectWebhook(event, bytes). */
  jsonBytes: number
  addonBytes: number
}

/**
 * The same payload through JSON.parse and through inspectWebhook (the addon's parse and
 * planning, called from JS: the boundary copy included), as text and as bytes, interleaved
 * so load hits all alike.
 */
function parsePair(event: string, text: string, runs: number): ParsePair {
  const bytes = Buffer.from(text)
  const times: Record<keyof ParsePair, number[]> = { json: [], addon: [], jsonBytes: [], addonBytes: [] }
  for (let i = 0; i < runs; i++) {
    times.json.push(medianMicros(() => JSON.parse(text), 1))
    times.addon.push(medianMicros(() => inspectWebhook(event, text), 1))
    times.jsonBytes.push(medianMicros(() => JSON.parse(bytes.toString('utf8')), 1))
    times.addonBytes.push(medianMicros(() => inspectWebhook(event, bytes), 1))
  }
  return { json: median(times.json), addon: median(times.addon), jsonBytes: median(times.jsonBytes), addonBytes: median(times.addonBytes) }
}

/** A stage profile of one payload by `parse_profile` (crates/core/examples), in µs. */
interface StageProfile {
  tapeMicros: number
  typedMicros: number
  planMicros: number
}

/**
 * simd-json's own cost on the same payloads, in Rust without the boundary: the tape alone
 * bounds what any simd-json parse can reach against JSON.parse. Built and run with cargo
 * (there wherever the addon builds); null, with the reason on stderr, if that fails.
 */
function profileStages(payloads: { event: string; text: string }[], runs: number): (StageProfile | null)[] {
  const dir = mkdtempSync(join(os.tmpdir(), 'parse-profile-'))
  try {
    const args = payloads.map((p, i) => {
      const file = join(dir, `${i}.json`)
      writeFileSync(file, p.text)
      return `${p.event}=${file}`
    })
    const out = execFileSync(
      'cargo',
      ['run', '--release', '--quiet', '-p', 'devmetrics-webhook-core', '--example', 'parse_profile', '--', String(runs), ...args],
      { cwd: join(__dirname, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 },
    )
    const byFile = new Map(out.trim().split('\n').map((line) => {
      const r = JSON.parse(line) as StageProfile & { file: string }
      return [r.file, r] as const
    }))
    return args.map((a) => byFile.get(a.slice(a.indexOf('=') + 1)) ?? null)
  } catch (err) {
    process.stderr.write(`parse profile not measured: ${(err as Error).message}\n`)
    return payloads.map(() => null)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The 2048-commit push, call by call on a fresh database; for the addon, parse against JSON.parse too. */
async function large(t: Extract<Task, { kind: 'large' }>): Promise<{ large: LargePushResult; parse: ParseResult | null }> {
  const seed = createSeed(t.seed)
  const first = largePush(seed, 0)
  const base: LargePushResult = { name: t.name, status: 'ok', bytes: Buffer.byteLength(first.payload), commits: 2048, calls: t.calls, wallMs: { median: NaN, min: NaN, max: NaN } }
  const loaded = loadImplementation(t.name)
  if ('missing' in loaded) return { large: { ...base, status: 'missing', reason: loaded.missing }, parse: null }
  const results: ProcessingResult[] = []
  const onResult = (_: BenchJob, r: ProcessingResult) => results.push(r)
  const impl = t.name === 'addon' ? await createAddon(t.databaseUrl, { connections: 2, onResult }) : await loaded.factory(t.databaseUrl, { connections: 2 })
  const texts: string[] = []
  try {
    await impl.process(first) // warm-up: connections, prepared statements, caches
    results.length = 0
    const wall: number[] = []
    for (let v = 1; v <= t.calls; v++) {
      const job = largePush(seed, v)
      texts.push(job.payload)
      const started = process.hrtime.bigint()
      await impl.process(job)
      wall.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
    base.wallMs = { median: median(wall), min: Math.min(...wall), max: Math.max(...wall) }
    if (t.name !== 'addon') return { large: base, parse: null }
    base.addonMicros = {
      parse: median(results.map((r) => r.timings.parseMicros)),
      db: median(results.map((r) => r.timings.dbMicros)),
      total: median(results.map((r) => r.timings.totalMicros)),
    }
    // Parse: inspectWebhook (what process() does before the database, called from JS, so
    // the boundary copy is in) against JSON.parse of the same texts, one call at a time,
    // interleaved; parseMicros of process() beside them for the part inside Rust.
    const largeParse = results.map((r) => r.timings.parseMicros)
    results.length = 0
    const sample = new Workload(seed).take(t.parseSample)
    for (const job of sample) await impl.process(job)
    const pairs = sample.map((job) => parsePair(job.event, job.payload, 5))
    const largePairs = texts.map((text) => parsePair('push', text, 5))
    const stages = profileStages(
      [...sample.map((job) => ({ event: job.event, text: job.payload })), ...texts.map((text) => ({ event: 'push', text }))],
      20,
    )
    type Row = { kind: string; bytes: number; pairs: ParsePair[]; inRust: number[]; stages: (StageProfile | null)[] }
    const rows = new Map<string, Row>()
    sample.forEach((job, i) => {
      const kind = eventKey(job)
      const row = rows.get(kind) ?? { kind, bytes: 0, pairs: [], inRust: [], stages: [] }
      row.bytes += Buffer.byteLength(job.payload)
      row.pairs.push(pairs[i])
      row.inRust.push(results[i].timings.parseMicros)
      row.stages.push(stages[i])
      rows.set(kind, row)
    })
    rows.set('push (2048 commits)', {
      kind: 'push (2048 commits)',
      bytes: base.bytes * largePairs.length,
      pairs: largePairs,
      inRust: largeParse,
      stages: stages.slice(sample.length),
    })
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
    const ofPairs = (ps: ParsePair[], k: keyof ParsePair) => ps.map((p) => p[k])
    // A tape time for every payload, or no bound at all: a partial sum would flatter it.
    const tapeBound = (ps: ParsePair[], st: (StageProfile | null)[]) =>
      st.every((x) => x) ? sum(ofPairs(ps, 'json')) / sum(st.map((x) => x!.tapeMicros)) : null
    const mixedStages = stages.slice(0, sample.length)
    const largeStages = stages.slice(sample.length)
    const parse: ParseResult = {
      rows: [...rows.values()].map((r) => {
        const med = (k: keyof ParsePair) => median(ofPairs(r.pairs, k))
        const stage = (k: keyof StageProfile) => (r.stages.every((x) => x) ? median(r.stages.map((x) => x![k])) : null)
        return {
          kind: r.kind,
          bytes: r.bytes / r.pairs.length,
          samples: r.pairs.length,
          jsonParseMicros: med('json'),
          addonMicros: med('addon'),
          jsonFromBytesMicros: med('jsonBytes'),
          addonFromBytesMicros: med('addonBytes'),
          inRustMicros: median(r.inRust),
          tapeMicros: stage('tapeMicros'),
          typedMicros: stage('typedMicros'),
          planMicros: stage('planMicros'),
        }
      }),
      mixedSpeedup: sum(ofPairs(pairs, 'json')) / sum(ofPairs(pairs, 'addon')),
      largeSpeedup: median(ofPairs(largePairs, 'json')) / median(ofPairs(largePairs, 'addon')),
      mixedBytesSpeedup: sum(ofPairs(pairs, 'jsonBytes')) / sum(ofPairs(pairs, 'addonBytes')),
      largeBytesSpeedup: median(ofPairs(largePairs, 'jsonBytes')) / median(ofPairs(largePairs, 'addonBytes')),
      mixedTapeBound: tapeBound(pairs, mixedStages),
      largeTapeBound: tapeBound(largePairs, largeStages),
    }
    return { large: base, parse }
  } finally {
    await impl.close()
  }
}

/** 200k events (--full) through the addon, the stream generated as it goes; RSS every `sampleEvery`. */
async function memory(t: Extract<Task, { kind: 'memory' }>): Promise<MemoryResult> {
  const seed = createSeed(t.seed)
  const largeAt = Array.from({ length: Math.floor(t.events / 20_000) }, (_, i) => 5_000 + i * 20_000)
  const workload = new Workload(seed, { largePushAt: largeAt })
  let handed = 0
  const next = () => (handed < t.events ? (handed++, workload.next()) : null)
  const impl = await createAddon(t.databaseUrl, { connections: t.concurrency })
  const samples: MemoryResult['samples'] = []
  try {
    const d = await drive(next, t.concurrency, (job) => impl.process(job), (done) => {
      if (done % t.sampleEvery !== 0) return
      global.gc?.()
      const mem = process.memoryUsage()
      samples.push({ events: done, rssMb: memoryMb().rss, heapUsedMb: mem.heapUsed / 2 ** 20, externalMb: mem.external / 2 ** 20 })
    })
    return {
      events: d.completed,
      concurrency: t.concurrency,
      wallMs: d.wallMs,
      samples,
      growthMb: samples.length > 1 ? samples[samples.length - 1].rssMb - samples[0].rssMb : NaN,
      failures: d.failures,
    }
  } finally {
    await impl.close()
  }
}

/**
 * BullMQ end to end, measured as `bull` is: a real queue, createBullMQWorker (a BullMQ
 * Worker), from the first add to the last completion; `noop` runs a Worker whose processor
 * does nothing, the bound BullMQ and Redis set.
 */
async function bullmq(t: Extract<Task, { kind: 'bullmq' }>): Promise<ThroughputResult> {
  const result = emptyResult(t.noop ? 'bullmq-noop' : 'bullmq', t.noop ? LABELS['bullmq-noop'] : LABELS.bullmq, t)
  const { Queue, Worker } = await import('bullmq')
  const url = new URL(t.redisUrl)
  const connection = { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0) }
  const prefix = `bench-${randomUUID().slice(0, 8)}`
  const queue = new Queue('webhooks', { connection, prefix })
  const metrics = new Queue('metrics', { connection, prefix })
  const errorSample: string[] = []
  const processor = t.noop ? null : await WebhookProcessor.connect({ databaseUrl: t.databaseUrl, maxConnections: t.concurrency })
  const quiet = { info() {}, warn() {}, error() {} }
  const running = processor
    ? createBullMQWorker({ queueName: 'webhooks', connection, prefix, processor, metricsQueue: metrics, concurrency: t.concurrency, logger: quiet })
    : null
  const worker = running?.worker ?? new Worker('webhooks', async () => ({ status: 'noop' }), { connection, prefix, concurrency: t.concurrency })
  worker.on('error', (err) => errorSample.length < 5 && errorSample.push(String(err)))
  const jobs = workloadJobs(t)
  const latencies: number[] = []
  let completed = 0
  let failed = 0
  let waiting: { target: number; resolve: () => void } | null = null
  const check = () => {
    if (waiting && completed + failed >= waiting.target) waiting.resolve()
  }
  worker.on('completed', (job) => {
    completed++
    latencies.push((job.finishedOn ?? Date.now()) - (job.processedOn ?? job.timestamp))
    check()
  })
  worker.on('failed', (job, err) => {
    // Only a job out of attempts (or unrecoverable) is done; a retried one completes (or fails) later.
    if (job && job.attemptsMade < (job.opts.attempts ?? 1) && err.name !== 'UnrecoverableError') return
    failed++
    if (errorSample.length < 5) errorSample.push(`${job?.data.event} ${job?.data.deliveryId}: ${err.message}`.slice(0, 300))
    check()
  })
  const enqueueAndWait = async (batch: BenchJob[]) => {
    const target = completed + failed + batch.length
    const done = new Promise<void>((resolve) => (waiting = { target, resolve }))
    for (let i = 0; i < batch.length; i += 500) {
      await queue.addBulk(batch.slice(i, i + 500).map((data) => ({ name: data.event, data, opts: bullmqWebhookJobOptions })))
    }
    check()
    await done
  }
  const client = (await queue.client) as unknown as import('ioredis').Redis
  const redisCpu = async () => {
    const info = await client.info('cpu')
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN)
    return field('used_cpu_user') + field('used_cpu_sys')
  }
  try {
    await enqueueAndWait(jobs.slice(0, t.warmup))
    latencies.length = 0
    const before = { completed, failed }
    const redisBefore = await redisCpu()
    const m = await measured(async () => {
      const started = process.hrtime.bigint()
      await enqueueAndWait(jobs.slice(t.warmup))
      return Number(process.hrtime.bigint() - started) / 1e6
    })
    const n = completed - before.completed + (failed - before.failed)
    const redisCpuMicros = ((await redisCpu()) - redisBefore) * 1e6
    Object.assign(result, {
      events: n,
      failures: failed - before.failed,
      errorSample,
      wallMs: m.value,
      eventsPerSecond: (n / m.value) * 1000,
      latencyMs: distribution(latencies),
      cpuMicrosPerEvent: {
        client: m.clientCpuMicros / n,
        server: m.serverCpuMs === null ? null : (m.serverCpuMs * 1000) / n,
        redis: redisCpuMicros / n,
      },
      rssMb: m.rss,
      load1: m.load1,
    })
    result.notes.push(
      t.noop
        ? 'the same queue, jobs and producer with a BullMQ Worker that does nothing: the bound BullMQ and Redis set on this machine'
        : 'producer and worker in one process; jobs added with bullmqWebhookJobOptions in batches of 500, metric jobs queued on a "metrics" queue; latency = processedOn→finishedOn (ms resolution)',
    )
  } finally {
    if (running) await running.close()
    else await worker.close()
    await processor?.close()
    await queue.obliterate({ force: true })
    await metrics.obliterate({ force: true })
    await queue.close()
    await metrics.close()
  }
  return result
}

// ---------------------------------------------------------------- main

async function runTask(task: Task) {
  switch (task.kind) {
    case 'throughput':
      return throughput(task)
    case 'ceiling':
      return ceiling(task)
    case 'ceiling-own':
      return ceilingOwn(task)
    case 'bull':
      return bull(task)
    case 'bullmq':
      return bullmq(task)
    case 'large':
      return large(task)
    case 'memory':
      return memory(task)
    case 'reprocess':
      return reprocessRows(task, workloadJobs(task), measured, () => emptyResult('reprocess', 'addon reprocess', task))
  }
}

process.on('message', (m: ParentMessage) => {
  if (m.type === 'ack') {
    const resolve = pendingAck
    pendingAck = null
    resolve?.(m)
    return
  }
  if (m.type === 'task' && m.task) {
    runTask(m.task).then(
      (result) => send({ type: 'result', result }),
      (err) => send({ type: 'error', message: (err as Error)?.stack ?? String(err) }),
    )
  }
})

// With BENCH_CPU_PROF (see run.ts), exit normally when the parent is done with this child,
// so node's --cpu-prof writes the profile.
if (process.env.BENCH_CPU_PROF) process.on('SIGTERM', () => process.exit(0))
