// GitHub's API in the backend (docs/github-api.md): the `github` queue that the webhook
// worker puts each push's follow-ups on (commit line counts, truncated pushes), and the
// worker that runs them against GitHub at its pace, on the configured queue driver (Bull or
// BullMQ, queue-driver.ts). Off unless the environment names a token
// or an App (config.github, from githubOptionsFromEnv): then one line at start says so and
// nothing else changes.
// The queue exists in every role that has the API on, so the queue UI and /stats show it; the
// worker runs where the webhook worker runs.
import { Gauge, Registry } from 'prom-client'
import {
  createGitHubClient,
  GitHubClient,
  GitHubClientOptions,
  GitHubWorker,
  GitHubWorkerCounters,
  WebhookProcessor,
} from '@devmetrics/webhook-processor'
import type { BackendConfig } from './config'
import type { Logger } from './logger'
import type { Queues } from './queues'
import type { GitHubQueue } from './queue-driver'
import { startReconcileSchedule } from './recovery'

export const GITHUB_QUEUE = 'github'

export interface GitHubSide {
  queue: GitHubQueue
  client: GitHubClient
  /** Null in role=api (no processor there). */
  worker: GitHubWorker | null
  /** For /api/webhooks/stats: the queue's backlog, the last seen budget, the requests this process made. */
  stats(): Promise<GitHubStats>
  close(): Promise<void>
}

export interface GitHubStats {
  queue: Record<string, number>
  /** Jobs waiting, delayed (rate limits, backoff) or running. */
  backlog: number
  /** Requests this process made to GitHub, retries included. */
  requests: number
  /** Last seen `x-ratelimit-remaining` per resource (`core`, `graphql`); null before the first answer. */
  remaining: Record<string, number | null>
  rateLimited: { primary: number; secondary: number }
  /** Totals of this process's reconcile runs (found, redelivered, still missing, older than the window); null without a github worker. */
  reconcile: GitHubWorkerCounters['reconcile'] | null
  worker: ReturnType<GitHubWorker['health']> | null
}

export interface GitHubSetupOptions {
  logger: Logger
  /** The processor of this process's webhook worker; null for role=api (no github worker). */
  processor: WebhookProcessor | null
  /** The backend's queues: the github queue opens on their driver, its worker's metric jobs go to their metrics queue. */
  queues: Queues
  /** Client options instead of the configuration's (tests); null turns the API off. */
  clientOptions?: GitHubClientOptions | null
}

/** The github queue and worker, or null when no GitHub credentials are configured. */
export function setupGitHub(config: Pick<BackendConfig, 'redisUrl' | 'queuePrefix' | 'concurrency' | 'github' | 'databaseUrl'>, options: GitHubSetupOptions): GitHubSide | null {
  const clientOptions = options.clientOptions === undefined ? config.github : options.clientOptions
  if (!clientOptions) {
    options.logger.info('GitHub API not configured: line counts and truncated pushes are not fetched (set GITHUB_TOKEN or GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY)', {})
    return null
  }
  const client = createGitHubClient(clientOptions)
  const queue = options.queues.openGitHubQueue(GITHUB_QUEUE)
  const worker = options.processor
    ? queue.startWorker({
        client,
        processor: options.processor,
        concurrency: Math.max(1, Math.min(4, config.concurrency)),
        logger: options.logger,
        // backfill and reconcile keep their cursors in PostgreSQL (docs/recovery.md)
        databaseUrl: config.databaseUrl,
      })
    : null
  if (worker) {
    startReconcileSchedule(queue.native, process.env, (message) => options.logger.info(message, {})).catch((err: Error) =>
      options.logger.warn('reconcile schedule not set', { error: err.message }),
    )
  }
  options.logger.info('GitHub API on', { mode: client.mode, baseUrl: client.baseUrl, worker: Boolean(worker), queueDriver: options.queues.driver })
  return {
    queue,
    client,
    worker,
    async stats() {
      const counts = await queue.getJobCounts()
      const s = client.stats()
      return {
        queue: { ...counts },
        backlog: counts.waiting + counts.delayed + counts.active,
        requests: s.requests,
        remaining: Object.fromEntries(['core', 'graphql'].map((r) => [r, s.rateLimit[r]?.remaining ?? null])),
        rateLimited: s.rateLimited,
        reconcile: worker?.health().counters.reconcile ?? null,
        worker: worker?.health() ?? null,
      }
    },
    async close() {
      if (worker) await worker.close()
      await queue.close()
    },
  }
}

/** Prometheus gauges of the GitHub side, read at scrape time (the queue's depth is in bull_queue_jobs). */
export function observeGitHub(registry: Registry, github: GitHubSide): void {
  new Gauge({
    name: 'github_api_requests',
    help: 'Requests this process made to GitHub since it started (retries included)',
    registers: [registry],
    collect() {
      this.set(github.client.stats().requests)
    },
  })
  new Gauge({
    name: 'github_api_rate_limit_remaining',
    help: 'Last seen x-ratelimit-remaining of GitHub, per resource',
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      for (const [resource, seen] of Object.entries(github.client.stats().rateLimit)) if (seen) this.set({ resource }, seen.remaining)
    },
  })
  new Gauge({
    name: 'github_reconcile_deliveries',
    help: 'Deliveries the reconcile runs of this process found missing, and what became of them (found, redelivered, still_missing, older_than_window)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const r = github.worker?.health().counters.reconcile
      if (!r) return
      this.set({ outcome: 'found' }, r.found)
      this.set({ outcome: 'redelivered' }, r.redelivered)
      this.set({ outcome: 'still_missing' }, r.stillMissing)
      this.set({ outcome: 'older_than_window' }, r.olderThanWindow)
    },
  })
  new Gauge({
    name: 'github_queue_backlog',
    help: 'github queue jobs waiting, delayed (rate limits, backoff) or running',
    registers: [registry],
    async collect() {
      const c = await github.queue.getJobCounts()
      this.set(c.waiting + c.delayed + c.active)
    },
  })
}
