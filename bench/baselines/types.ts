// The interface between the bench harness (bench/run.ts) and the implementations it measures
// side by side: the addon, the pg and Prisma baselines, and the pgbench ceiling.

/** One delivery as the bench feeds it: the raw body text, as Bull job data carries it. */
export interface BenchJob { deliveryId: string; event: string; payload: string }
/** One implementation under test; the database is fresh, migrated (lib migrate()) and seeded (teams, users, repositories, team members). */
export interface Implementation {
  name: string
  process(job: BenchJob): Promise<void>
  close(): Promise<void>
}
export interface ImplementationOptions { connections: number }
export type ImplementationFactory = (databaseUrl: string, options: ImplementationOptions) => Promise<Implementation>
/** Result of the pgbench ceiling. */
export interface CeilingResult {
  eventsPerSecond: number
  latencyMs: { p50: number; p99: number }
  transactions: number
  clients: number
  script: string
  /** Per script (by name): logged transactions and their mean latency, µs (each client's first run of a script left out). */
  byScript?: Record<string, { transactions: number; latencyMicros: number }>
}
