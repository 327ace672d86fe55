// What each measurement returns: the child processes send these to bench/run.ts, which
// keeps them in bench/results.json for bench/report.ts.

/** Distribution of a per-event quantity. */
export interface Distribution {
  mean: number
  p50: number
  p99: number
  max: number
}

/** Round trips and statements per event, counted on the wire by bench/pgproxy.ts. */
export interface WireResult {
  /** Events counted (one connection, one event at a time, after a warm-up on that connection). */
  events: number
  roundTripsPerEvent: number
  statementsPerEvent: number
  /** Parse messages: statements prepared (not served from a prepared-statement cache). */
  preparesPerEvent: number
  /** Syncs alone: connection checks, a round trip each. */
  pingsPerEvent: number
  kbToServerPerEvent: number
  kbFromServerPerEvent: number
  /** Mean µs per event waiting on the server, by kind of round trip, and the mean wall µs of a call: the rest is the client's own work (parse, mapping, encoding). */
  serverMicrosPerEvent: Record<'begin' | 'commit' | 'statement' | 'ping', number>
  wallMicrosPerEvent: number
  /** Mean round trips, statements and wall µs of a call (one at a time, through the proxy) per event, by event type (and action). */
  byEvent: Record<string, { events: number; roundTrips: number; statements: number; wallMicros?: number }>
}

/** The addon's own split of each call (result.timings), over the measured events. */
export interface AddonTimings {
  parseMicros: Distribution
  dbMicros: Distribution
  totalMicros: Distribution
  byEvent: Record<string, { events: number; parseMicros: number; dbMicros: number; totalMicros: number }>
  statuses: Record<string, number>
}

/** One column of the table: an implementation run over the workload at fixed concurrency. */
export interface ThroughputResult {
  name: string
  label: string
  /** 'missing': the module is not there yet; 'failed': it threw. */
  status: 'ok' | 'missing' | 'failed'
  reason?: string
  events: number
  failures: number
  errorSample: string[]
  concurrency: number
  wallMs: number
  eventsPerSecond: number
  /** Per event; for Bull, the job's processing time by Bull's own timestamps (ms resolution). */
  latencyMs: Distribution
  /** Client process CPU (all its threads; for pgbench, pgbench itself) and PostgreSQL backend CPU, µs per event; for Bull, Redis's own CPU too (INFO cpu). */
  cpuMicrosPerEvent: { client: number; server: number | null; redis?: number }
  /** Resident memory of the client process at the start of the measured window and its peak during it. */
  rssMb: { start: number; peak: number } | null
  /** 1-minute load average at the end of the measured window: the machine is shared, this says how much. */
  load1: number | null
  wire?: WireResult
  addonTimings?: AddonTimings
  /** Per event type (and action) over the measured window: calls and their mean latency (µs) with `concurrency` in flight. */
  byEvent?: Record<string, { events: number; latencyMicros: number }>
  /** pgbench rows: per script kind, transactions and their mean latency (µs) in the same run (each client's first run of a script left out). */
  byScript?: Record<string, { transactions: number; latencyMicros: number }>
  /** GitHub Actions event types of the workload this column wrote no rows for (it stored them as ignored events). */
  untrackedTypes?: string[]
  /** Differences from the addon's database after the same workload (compareDatabases), null when not compared. */
  differences?: { count: number; sample: string[] } | null
  /** Reprocess rows: events/s of live processing of the same deliveries, in the same process just before. */
  liveEventsPerSecond?: number
  /** events/s of every round, in order, when the column ran in rounds (this result is the median round). */
  roundsEventsPerSecond?: number[]
  notes: string[]
}

/** The 2048-commit push, timed call by call on a fresh database. */
export interface LargePushResult {
  name: string
  status: 'ok' | 'missing' | 'failed'
  reason?: string
  bytes: number
  commits: number
  calls: number
  wallMs: { median: number; min: number; max: number }
  /** The addon's own split (result.timings), medians. */
  addonMicros?: { parse: number; db: number; total: number }
}

/** The addon's parse against JSON.parse of the same text. */
export interface ParseResult {
  /**
   * Per payload kind, medians in µs: JSON.parse of the text and inspectWebhook of the text
   * (the addon's parse and planning from JS, boundary copy included); the same from the
   * bytes (JSON.parse after decoding them); result.timings.parseMicros inside Rust; and,
   * from `parse_profile` in Rust without the boundary, simd-json's tape alone, the typed
   * parse and the planning (null when cargo could not run it).
   */
  rows: {
    kind: string
    bytes: number
    samples: number
    jsonParseMicros: number
    addonMicros: number
    jsonFromBytesMicros: number
    addonFromBytesMicros: number
    inRustMicros: number
    tapeMicros: number | null
    typedMicros: number | null
    planMicros: number | null
  }[]
  /** Sum over the mixed sample of JSON.parse µs / addon µs, from text. */
  mixedSpeedup: number
  largeSpeedup: number
  /** The same from the raw bytes. */
  mixedBytesSpeedup: number
  largeBytesSpeedup: number
  /** JSON.parse µs / simd-json tape-alone µs: the most any simd-json parse could reach. */
  mixedTapeBound: number | null
  largeTapeBound: number | null
}

/** RSS over a long addon run. */
export interface MemoryResult {
  events: number
  concurrency: number
  wallMs: number
  samples: { events: number; rssMb: number; heapUsedMb: number; externalMb: number }[]
  /** Last sample minus the first (taken after the first 10k events). */
  growthMb: number
  failures: number
}

export interface MachineInfo {
  date: string
  cpu: string
  cores: number
  memoryGb: number
  kernel: string
  loadAverage: number[]
  versions: Record<string, string>
  /** `uptime` when the run started and when it ended (the machine is shared: how loaded it was). */
  uptimeStart?: string
  uptimeEnd?: string
  /** --merge: the earlier run whose other parts this report keeps, and the rows kept from it. */
  mergedFrom?: { date: string; uptimeStart?: string; uptimeEnd?: string; rows: string[]; large: boolean; memory: boolean }
}

export interface BenchResults {
  machine: MachineInfo
  options: { events: number; warmup: number; concurrency: number; seed: number; ceilingSeconds: number; rounds?: number }
  workload: {
    mix: Record<string, number>
    bytes: number
    events: number
    seedRows: { teams: number; repositories: number; people: number; linked: number; bots: number }
  }
  throughput: ThroughputResult[]
  largePush: LargePushResult[]
  parse: ParseResult | null
  memory: MemoryResult | null
}
