// Runs jobs through one implementation with a fixed number in flight and records each
// call's latency. The next job is taken only when a slot frees, so the client keeps
// exactly `concurrency` calls outstanding, like a Bull worker with that concurrency.
import type { BenchJob } from './baselines/types'
import { Distribution } from './results'
import { percentile } from './measure'

export interface DriveResult {
  completed: number
  failures: number
  errorSample: string[]
  wallMs: number
  /** Latency of every call, µs. */
  latenciesMicros: Float64Array
}

/** `next()` hands out jobs until it returns null; `after` runs after each completed call. */
export async function drive(
  next: () => BenchJob | null,
  concurrency: number,
  processOne: (job: BenchJob) => Promise<unknown>,
  after?: (done: number) => void | Promise<void>,
): Promise<DriveResult> {
  const latencies: number[] = []
  const errorSample: string[] = []
  let failures = 0
  let completed = 0
  const started = process.hrtime.bigint()
  async function lane(): Promise<void> {
    for (let job = next(); job; job = next()) {
      const t = process.hrtime.bigint()
      try {
        await processOne(job)
      } catch (err) {
        failures++
        if (errorSample.length < 5) errorSample.push(`${job.event} ${job.deliveryId}: ${(err as Error)?.message ?? String(err)}`.slice(0, 300))
      }
      latencies.push(Number(process.hrtime.bigint() - t) / 1000)
      completed++
      if (after) await after(completed)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6
  return { completed, failures, errorSample, wallMs, latenciesMicros: Float64Array.from(latencies) }
}

/** A job source over an array. */
export function fromArray(jobs: BenchJob[]): () => BenchJob | null {
  let i = 0
  return () => (i < jobs.length ? jobs[i++] : null)
}

/** Mean, p50, p99 and max of values, scaled by `scale`. */
export function distribution(values: ArrayLike<number>, scale = 1): Distribution {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    mean: (sum / sorted.length) * scale,
    p50: percentile(sorted, 50) * scale,
    p99: percentile(sorted, 99) * scale,
    max: sorted[sorted.length - 1] * scale,
  }
}
