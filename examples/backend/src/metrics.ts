// Prometheus metrics (/metrics): deliveries at the endpoint, jobs and failures of this
// process's worker (from Bull's local events), queue depth and worker state read at scrape
// time. One registry per backend, so several backends can live in one process (tests).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { WebhookWorker } from '@devmetrics/webhook-processor'
import type { DeliveryJobData } from './queues'
import type { JobLike, QueueLike } from './queue-driver'

export type DeliveryOutcome =
  | 'queued'
  | 'ignored_unknown_repository'
  | 'ignored_no_repository'
  | 'ping'
  | 'hook_deleted'
  | 'bad_signature'
  | 'bad_request'
  | 'queue_unavailable'

export interface BackendMetrics {
  registry: Registry
  delivery(outcome: DeliveryOutcome, event?: string): void
  /** Records this process's worker: job outcomes, failures by code, processing time and end-to-end latency. */
  observeWorker(queue: QueueLike<DeliveryJobData>, worker: WebhookWorker): void
  /** Queue depth per state, read when Prometheus scrapes. */
  observeQueues(queues: QueueLike<unknown>[]): void
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

export function createMetrics(): BackendMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })

  const deliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'GitHub deliveries received by the endpoint, by outcome',
    labelNames: ['outcome', 'event'],
    registers: [registry],
  })
  const completed = new Counter({
    name: 'webhook_jobs_completed_total',
    help: 'Webhook jobs this process completed, by event and processing status (processed, duplicate, ignored)',
    labelNames: ['event', 'status'],
    registers: [registry],
  })
  const failures = new Counter({
    name: 'webhook_job_failures_total',
    help: 'Failed webhook job attempts in this process, by error code; final="true" when the job went to the failed set',
    labelNames: ['event', 'code', 'final'],
    registers: [registry],
  })
  const metricJobs = new Counter({
    name: 'webhook_metric_jobs_queued_total',
    help: 'Metric jobs this process queued on the metrics queue',
    registers: [registry],
  })
  const processing = new Histogram({
    name: 'webhook_job_processing_seconds',
    help: 'Time from a job being taken by the worker to its completion',
    labelNames: ['event'],
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  })
  const latency = new Histogram({
    name: 'webhook_delivery_latency_seconds',
    help: 'Time from the endpoint receiving a delivery to its job completing (queue wait included)',
    labelNames: ['event'],
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  })

  return {
    registry,
    delivery(outcome, event = 'unknown') {
      deliveries.inc({ outcome, event })
    },
    observeWorker(queue, worker) {
      queue.on('completed', (job: JobLike<DeliveryJobData>, result: { status?: string; metricJobs?: number }) => {
        const event = job.data.event
        completed.inc({ event, status: result?.status ?? 'unknown' })
        metricJobs.inc(result?.metricJobs ?? 0)
        if (job.processedOn && job.finishedOn) processing.observe({ event }, (job.finishedOn - job.processedOn) / 1000)
        const received = Date.parse(job.data.receivedAt)
        if (job.finishedOn && Number.isFinite(received)) latency.observe({ event }, Math.max(0, job.finishedOn - received) / 1000)
      })
      queue.on('failed', (job: JobLike<DeliveryJobData>, err: Error & { code?: string; retryable?: boolean }) => {
        const final = err.retryable === false || job.attemptsMade >= (job.opts.attempts ?? 1)
        failures.inc({ event: job.data?.event ?? 'unknown', code: err.code ?? 'UNKNOWN', final: String(final) })
      })
      new Gauge({
        name: 'webhook_worker_active_jobs',
        help: 'Jobs this process is processing now',
        registers: [registry],
        collect() {
          this.set(worker.health().active)
        },
      })
      new Gauge({
        name: 'webhook_user_cache_hit_ratio',
        help: "Hit rate of the addon's user-mapping cache tiers in this process",
        labelNames: ['tier'],
        registers: [registry],
        collect() {
          const stats = worker.health().processor
          if (!stats) return
          this.set({ tier: 'memory' }, stats.memoryCache.hitRate)
          this.set({ tier: 'redis' }, stats.redisCache.hitRate)
        },
      })
    },
    observeQueues(queues) {
      new Gauge({
        name: 'bull_queue_jobs',
        help: 'Jobs per queue and state',
        labelNames: ['queue', 'state'],
        registers: [registry],
        async collect() {
          for (const queue of queues) {
            const counts = await queue.getJobCounts()
            for (const [state, n] of Object.entries(counts)) this.set({ queue: queue.name, state }, n)
          }
        },
      })
    },
  }
}
