// Measuring helpers of the bench: percentiles, the process's own CPU and resident memory
// (from /proc, Linux), and the CPU time of the PostgreSQL backends serving one database.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Client } from 'pg'

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux). */
const CLK_TCK = 100

/** The p-th percentile (0–100) of ascending values, nearest rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50)
}

/** VmRSS and VmHWM (peak) of this process, in MB. */
export function memoryMb(): { rss: number; peak: number } {
  const status = readFileSync('/proc/self/status', 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 }
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak covers only what follows. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}

/** utime + stime of a process, and of its waited-for children, in ms; null when it is gone. */
export function processCpuMs(pid: number | 'self'): { own: number; children: number } | null {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // Fields after the command name, which is in parentheses and may contain spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = (i: number) => Number(f[i - 3])
  return { own: ((ticks(14) + ticks(15)) * 1000) / CLK_TCK, children: ((ticks(16) + ticks(17)) * 1000) / CLK_TCK }
}

/**
 * utime + stime of each thread of this process in µs, summed by thread name (`comm`: `node`
 * is the JS thread; the addon's runtime threads, V8's and libuv's workers have their own).
 * Read from /proc/self/task; a thread that exited is not counted.
 */
export function threadCpuMicros(): Map<string, number> {
  const byName = new Map<string, number>()
  let tids: string[]
  try {
    tids = readdirSync('/proc/self/task')
  } catch {
    return byName
  }
  for (const tid of tids) {
    let stat: string
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    } catch {
      continue
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const micros = ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK
    byName.set(name, (byName.get(name) ?? 0) + micros)
  }
  return byName
}

/** CPU of this process (all threads: V8, libuv, the addon's tokio workers), in µs. */
export function selfCpuMicros(): number {
  const u = process.cpuUsage()
  return u.user + u.system
}

/**
 * CPU time of the PostgreSQL backends connected to one database, sampled from
 * /proc/<pid>/stat every `intervalMs` (pids from pg_stat_activity). Runs in the parent, so
 * its own cost never lands in the measured process. A backend that exits loses at most its
 * last interval, which is why the interval is short.
 */
export class ServerCpuMeter {
  private readonly last = new Map<number, number>()
  private timer: NodeJS.Timeout | null = null
  private sampling: Promise<void> = Promise.resolve()

  private constructor(
    private readonly client: Client,
    private readonly database: string,
  ) {}

  static async start(adminUrl: string, database: string, intervalMs = 100): Promise<ServerCpuMeter> {
    const client = new Client({ connectionString: adminUrl })
    await client.connect()
    const meter = new ServerCpuMeter(client, database)
    await meter.sample()
    meter.timer = setInterval(() => void meter.sample(), intervalMs)
    return meter
  }

  /** Takes one sample now (queued behind a running one). */
  sample(): Promise<void> {
    this.sampling = this.sampling.then(async () => {
      const { rows } = await this.client.query('SELECT pid FROM pg_stat_activity WHERE datname = $1', [this.database])
      for (const { pid } of rows) {
        const cpu = processCpuMs(pid)
        if (cpu) this.last.set(pid, cpu.own)
      }
    }).catch(() => undefined)
    return this.sampling
  }

  /** A fresh sample, as the baseline of a window. */
  async mark(): Promise<Map<number, number>> {
    await this.sample()
    return new Map(this.last)
  }

  /** Backend CPU ms since `mark` (backends that started later count from zero). */
  async since(mark: Map<number, number>): Promise<number> {
    await this.sample()
    let total = 0
    for (const [pid, ms] of this.last) total += ms - (mark.get(pid) ?? 0)
    return total
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await this.sampling
    await this.client.end()
  }
}
