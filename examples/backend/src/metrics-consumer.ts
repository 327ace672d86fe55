// An example consumer of the `metrics` queue: what DevMetrics' metrics service does with it.
//
// The worker queues one job per (developer, UTC date) and per (team, UTC date) whose rows a
// delivery, a backfill page or the commit line counts changed: `{ kind, id, date }` (see
// MetricJobData). Each job means "recompute that day from the rows": the rows are the truth and
// converge under any order, so a job recomputes, never increments, and running one twice (or
// late) gives the same numbers. The job id coalesces triggers within a minute, so a burst of
// deliveries for one developer costs one recomputation, and no trigger is lost while one runs.
//
// This consumer reads the day from the entity tables and hands it to `onDay` (DevMetrics' own
// service would write it to its daily-metrics table); the numbers are also the job's return
// value and a debug log line. Metric jobs are added with removeOnComplete (and removeOnFail 500),
// so a consumed queue stays empty. Run by the backend with METRICS_CONSUMER=on (the default
// outside production, where DevMetrics' metrics service is the consumer instead).
import type Bull from 'bull'
import type * as BullMQ from 'bullmq'
import type { Pool } from 'pg'
import type { BackendConfig } from './config'
import type { Logger } from './logger'
import type { MetricJobData, Queues } from './queues'
import { connectRedis } from './queue-driver'

/** What a developer did on one UTC date, from the rows. */
export interface DeveloperDay {
  kind: 'developer'
  userId: string
  date: string
  commits: number
  additions: number
  deletions: number
  pullRequestsOpened: number
  pullRequestsMerged: number
  reviewsGiven: number
  issuesOpened: number
  issuesClosed: number
}

/** The same sums over a team's members on one UTC date. */
export interface TeamDay extends Omit<DeveloperDay, 'kind' | 'userId'> {
  kind: 'team'
  teamId: string
  members: number
}

export type MetricDay = DeveloperDay | TeamDay

// One statement for a set of users and one date: rows dated in [date, date + 1 day) UTC.
// A commit whose line counts are not fetched yet (statsFetchedAt NULL) adds 0; the github
// worker queues the day again once it has them.
const DAY_SQL = `
  WITH span AS (SELECT $2::date::timestamp AS lo, ($2::date + 1)::timestamp AS hi)
  SELECT
    (SELECT count(*) FROM commits c, span WHERE c."authorId" = ANY($1) AND c."committedAt" >= lo AND c."committedAt" < hi)::int AS commits,
    (SELECT coalesce(sum(c.additions), 0) FROM commits c, span WHERE c."authorId" = ANY($1) AND c."committedAt" >= lo AND c."committedAt" < hi)::int AS additions,
    (SELECT coalesce(sum(c.deletions), 0) FROM commits c, span WHERE c."authorId" = ANY($1) AND c."committedAt" >= lo AND c."committedAt" < hi)::int AS deletions,
    (SELECT count(*) FROM pull_requests p, span WHERE p."authorId" = ANY($1) AND p."createdAt" >= lo AND p."createdAt" < hi)::int AS "pullRequestsOpened",
    (SELECT count(*) FROM pull_requests p, span WHERE p."authorId" = ANY($1) AND p."mergedAt" >= lo AND p."mergedAt" < hi)::int AS "pullRequestsMerged",
    (SELECT count(*) FROM pull_request_reviews r, span WHERE r."reviewerId" = ANY($1) AND r."submittedAt" >= lo AND r."submittedAt" < hi)::int AS "reviewsGiven",
    (SELECT count(*) FROM issues i, span WHERE i."authorId" = ANY($1) AND i."createdAt" >= lo AND i."createdAt" < hi)::int AS "issuesOpened",
    (SELECT count(*) FROM issues i, span WHERE i."authorId" = ANY($1) AND i."closedAt" >= lo AND i."closedAt" < hi)::int AS "issuesClosed"`

type Sums = Omit<DeveloperDay, 'kind' | 'userId' | 'date'>

async function sums(pool: Pool, userIds: string[], date: string): Promise<Sums> {
  const { rows } = await pool.query(DAY_SQL, [userIds, date])
  return rows[0] as Sums
}

/** Recomputes one job's day from the rows. */
export async function computeMetricDay(pool: Pool, job: Pick<MetricJobData, 'kind' | 'id' | 'date'>): Promise<MetricDay> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(job.date)) throw new Error(`metric job date must be YYYY-MM-DD, not ${JSON.stringify(job.date)}`)
  if (job.kind === 'developer') return { kind: 'developer', userId: job.id, date: job.date, ...(await sums(pool, [job.id], job.date)) }
  if (job.kind === 'team') {
    const { rows } = await pool.query('SELECT "userId" FROM team_members WHERE "teamId" = $1', [job.id])
    const members = rows.map((r) => r.userId as string)
    return { kind: 'team', teamId: job.id, date: job.date, members: members.length, ...(await sums(pool, members, job.date)) }
  }
  throw new Error(`unknown metric job kind ${JSON.stringify((job as { kind: unknown }).kind)}`)
}

export interface MetricsConsumerOptions {
  /** Jobs recomputed at once (default 2). */
  concurrency?: number
  logger: Logger
  /** Where the day goes: DevMetrics' service writes it to its own table. Default: nowhere (the job's return value and a debug line). */
  onDay?: (day: MetricDay) => unknown
}

export interface MetricsConsumer {
  /** Stops taking jobs and waits for the active ones. */
  close(): Promise<void>
}

/** Consumes the backend's `metrics` queue on its driver (Bull or BullMQ). */
export function startMetricsConsumer(
  config: Pick<BackendConfig, 'queuePrefix' | 'redisUrl' | 'redisCluster'>,
  queues: Queues,
  pool: Pool,
  options: MetricsConsumerOptions,
): MetricsConsumer {
  const concurrency = options.concurrency ?? 2
  const handle = async (data: MetricJobData): Promise<MetricDay> => {
    const day = await computeMetricDay(pool, data)
    await options.onDay?.(day)
    options.logger.debug('metrics recomputed', { ...day })
    return day
  }
  if (queues.driver === 'bull') {
    const queue = queues.metricsNative as Bull.Queue<MetricJobData>
    // Bull's process() rejects when the queue closes before processing has started (the backend
    // stopped right after starting): a rejection nobody handled would end the process.
    queue.process(concurrency, (job) => handle(job.data)).catch((err: unknown) => {
      options.logger.warn('metrics consumer stopped processing', { error: err instanceof Error ? err.message : String(err) })
    })
    // A local pause stops this process taking jobs and waits for its active ones; the queue
    // itself is closed with the others.
    return { close: () => queue.pause(true) }
  }
  const { Worker } = require('bullmq') as typeof BullMQ
  const connection = connectRedis(config, true)
  const worker = new Worker<MetricJobData, MetricDay>(queues.metricsNative.name, (job) => handle(job.data), {
    connection,
    prefix: config.queuePrefix,
    concurrency,
  })
  worker.on('error', (err) => options.logger.warn('metrics consumer: redis error', { error: err.message }))
  return {
    async close() {
      await worker.close()
      await connection.quit().catch(() => undefined)
    },
  }
}
