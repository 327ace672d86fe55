// GET /api/webhooks/stats: what an operator asks first. Queue depth and the failed set come
// from Redis, throughput and end-to-end latency from the events table (every worker process
// and host counts), permanent failures by error code from a Redis hash all workers update,
// and this process's worker counters and addon latency when a worker runs here.
import type { Pool } from 'pg'
import { TRACKED_EVENT_TYPES, type WebhookWorker } from '@devmetrics/webhook-processor'
import { failuresKey, Queues } from './queues'

export interface WebhookStats {
  generatedAt: string
  queues: Record<string, Record<string, number>>
  /** Deliveries waiting, delayed (backing off) or being processed. */
  queueDepth: number
  eventsPerMinute: {
    /** events rows processed in the last 60 s, by every worker. */
    lastMinute: number
    /** Average per minute over the last 15 minutes. */
    last15Minutes: number
    /** events rows processed in the last 15 minutes, by type: every tracked type (deployments, workflow runs and releases included, 0 when none), and any other type seen. */
    byType: Record<string, number>
  }
  failures: {
    /** Jobs in the webhooks queue's failed set (the dead letter set: the last 500). */
    failedJobs: number
    /** Jobs that went to the failed set, by error code, counted by every worker since the counter was reset. */
    byCode: Record<string, number>
    /** events rows left unprocessed by a failed attempt (repository known), by the code in lastError. */
    unprocessedEvents: Record<string, number>
  }
  latency: {
    /** receivedAt → processedAt of events processed in the last 15 minutes (queue wait included). */
    endToEndMs: { count: number; avg: number | null; p50: number | null; p95: number | null; max: number | null }
    /** The addon's own processing time in this process (null without a worker here). */
    processingMicros: { count: number; p50: number; p90: number; p99: number; max: number } | null
  }
  /**
   * Registered repositories by state (docs/repositories.md): `tracked`, `suspended` (its
   * installation is), `archived` (still tracked), `untracked` (removed from the installation or
   * uninstalled; data kept), `deleted` (on GitHub). `byState` counts them; `items` lists them
   * (at most 1000, by name) with their GitHub id and installation.
   */
  repositories: {
    byState: Record<RepositoryState, number>
    items: { fullName: string; githubId: number; installationId: number | null; state: RepositoryState }[]
  }
  /** This process's worker: state, active jobs, counters (null for role=api). */
  worker: ReturnType<WebhookWorker['health']> | null
}

export type RepositoryState = 'tracked' | 'suspended' | 'archived' | 'untracked' | 'deleted'

const REPOSITORY_STATE = `CASE WHEN "deletedAt" IS NOT NULL THEN 'deleted'
                              WHEN "trackingStoppedAt" IS NOT NULL THEN 'untracked'
                              WHEN "suspendedAt" IS NOT NULL THEN 'suspended'
                              WHEN "archivedAt" IS NOT NULL THEN 'archived'
                              ELSE 'tracked' END`

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Math.round(Number(v) * 10) / 10)

export async function collectStats(queues: Queues, pool: Pool, worker: WebhookWorker | null): Promise<WebhookStats> {
  const [webhookCounts, metricCounts, byCode, throughput, latency, unprocessed, byType, repositories, repositoryStates] = await Promise.all([
    queues.webhooks.getJobCounts(),
    queues.metrics.getJobCounts(),
    queues.webhooks.client.hgetall(failuresKey(queues.webhooks)),
    pool.query<{ last_minute: number; last_15: number }>(
      `SELECT count(*) FILTER (WHERE "processedAt" >= now() AT TIME ZONE 'UTC' - interval '1 minute')::int AS last_minute,
              count(*)::int AS last_15
         FROM events
        WHERE processed AND "processedAt" >= now() AT TIME ZONE 'UTC' - interval '15 minutes'`,
    ),
    pool.query(
      `SELECT count(*)::int AS count,
              avg(ms) AS avg,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95,
              max(ms) AS max
         FROM (SELECT EXTRACT(EPOCH FROM ("processedAt" - "receivedAt")) * 1000 AS ms
                 FROM events
                WHERE processed AND "processedAt" >= now() AT TIME ZONE 'UTC' - interval '15 minutes') t`,
    ),
    pool.query<{ code: string; n: number }>(
      `SELECT split_part("lastError", ':', 1) AS code, count(*)::int AS n
         FROM events WHERE NOT processed AND "lastError" IS NOT NULL GROUP BY 1`,
    ),
    pool.query<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n
         FROM events
        WHERE processed AND "processedAt" >= now() AT TIME ZONE 'UTC' - interval '15 minutes'
        GROUP BY 1`,
    ),
    pool.query<{ fullName: string; githubId: string; installationId: string | null; state: RepositoryState }>(
      `SELECT "fullName", "githubId"::text AS "githubId", "installationId"::text AS "installationId", ${REPOSITORY_STATE} AS state
         FROM repositories ORDER BY "fullName", "githubId" LIMIT 1000`,
    ),
    // Counted over every repository, not over the (capped) list.
    pool.query<{ state: RepositoryState; n: number }>(`SELECT ${REPOSITORY_STATE} AS state, count(*)::int AS n FROM repositories GROUP BY 1`),
  ])
  const byState: Record<RepositoryState, number> = { tracked: 0, suspended: 0, archived: 0, untracked: 0, deleted: 0 }
  for (const r of repositoryStates.rows) byState[r.state] = r.n
  const l = latency.rows[0]
  const health = worker?.health() ?? null
  return {
    generatedAt: new Date().toISOString(),
    queues: { webhooks: { ...webhookCounts }, metrics: { ...metricCounts } },
    queueDepth: webhookCounts.waiting + webhookCounts.delayed + webhookCounts.active,
    eventsPerMinute: {
      lastMinute: throughput.rows[0].last_minute,
      last15Minutes: Math.round((throughput.rows[0].last_15 / 15) * 10) / 10,
      byType: {
        ...Object.fromEntries(TRACKED_EVENT_TYPES.map((t) => [t, 0])),
        ...Object.fromEntries(byType.rows.map((r) => [r.type, r.n])),
      },
    },
    failures: {
      failedJobs: webhookCounts.failed,
      byCode: Object.fromEntries(Object.entries(byCode).map(([code, n]) => [code, Number(n)])),
      unprocessedEvents: Object.fromEntries(unprocessed.rows.map((r) => [r.code, r.n])),
    },
    latency: {
      endToEndMs: { count: l.count, avg: num(l.avg), p50: num(l.p50), p95: num(l.p95), max: num(l.max) },
      processingMicros: health?.processor?.latencyMicros ?? null,
    },
    repositories: {
      byState,
      items: repositories.rows.map((r) => ({
        fullName: r.fullName,
        githubId: Number(r.githubId),
        installationId: r.installationId === null ? null : Number(r.installationId),
        state: r.state,
      })),
    },
    worker: health,
  }
}
