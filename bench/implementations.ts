// The implementations under test, loaded lazily by path: the addon (this package's
// WebhookProcessor.process) and the baselines under bench/baselines/, which live on another
// branch until it is merged. A baseline whose module is not there is reported as
// "n/a — not present" instead of failing the run.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ProcessingResult, WebhookProcessor } from '../lib'
import type { BenchJob, CeilingResult, Implementation, ImplementationFactory, ImplementationOptions } from './baselines/types'

/** Where the baselines are; BENCH_BASELINES points elsewhere (another checkout of them). */
const BASELINES = process.env.BENCH_BASELINES ?? join(__dirname, 'baselines')

/** A module under bench/baselines, or why it is not available. */
export function optionalModule<T>(relativePath: string): { module: T } | { missing: string } {
  const file = join(BASELINES, relativePath)
  if (!existsSync(file)) return { missing: 'n/a — not present' }
  try {
    return { module: require(file) as T }
  } catch (err) {
    return { missing: `n/a — failed to load ${relativePath}: ${(err as Error).message}` }
  }
}

/** The addon; `onResult` sees every call's result (for result.timings). */
export async function createAddon(
  databaseUrl: string,
  options: ImplementationOptions & { onResult?: (job: BenchJob, result: ProcessingResult) => void },
): Promise<Implementation> {
  const processor = await WebhookProcessor.connect({ databaseUrl, maxConnections: options.connections })
  return {
    name: 'addon',
    async process(job) {
      const result = await processor.process(job)
      options.onResult?.(job, result)
    },
    close: () => processor.close(),
  }
}

export type ThroughputName = 'addon' | 'pg' | 'prisma'

export interface LoadedImplementation {
  factory: ImplementationFactory
  /** Work before timing starts (generating the Prisma client). */
  prepare?: () => Promise<void> | void
}

/** The factory of one implementation, or why it is missing. */
export function loadImplementation(name: ThroughputName): LoadedImplementation | { missing: string } {
  if (name === 'addon') return { factory: createAddon }
  if (name === 'pg') {
    const m = optionalModule<{ createPgBaseline: ImplementationFactory }>('pg/index.ts')
    return 'missing' in m ? m : { factory: m.module.createPgBaseline }
  }
  const m = optionalModule<{ createPrismaBaseline: ImplementationFactory; ensurePrismaClient?: () => Promise<void> | void }>('prisma/index.ts')
  return 'missing' in m ? m : { factory: m.module.createPrismaBaseline, prepare: m.module.ensurePrismaClient }
}

export type RunCeiling = (databaseUrl: string, jobs: BenchJob[], options: { clients: number; seconds: number }) => Promise<CeilingResult>
export type CompareDatabases = (urlA: string, urlB: string) => Promise<string[]>

export const loadCeiling = () => optionalModule<{ runCeiling: RunCeiling }>('pgbench/index.ts')
export const loadCompare = () => optionalModule<{ compareDatabases: CompareDatabases }>('compare.ts')
