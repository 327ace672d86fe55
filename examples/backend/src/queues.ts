// The two queues: "webhooks" (deliveries, produced by the endpoint, consumed by the worker)
// and "metrics" (metric recomputations the worker queues from each result), on Bull or BullMQ
// (QUEUE_DRIVER, see queue-driver.ts). The retry policy is the producer's: webhookJobOptions on
// every add, webhookQueueSettings on the queue (Bull); bullmqWebhookJobOptions (BullMQ).
import type Bull from 'bull'
import { webhookJobOptions, webhookQueueSettings, WebhookJobData } from '@devmetrics/webhook-processor'
import type { BackendConfig } from './config'
import { DriverQueues, openQueues, QueueLike } from './queue-driver'

export const WEBHOOK_QUEUE = 'webhooks'
export const METRICS_QUEUE = 'metrics'

/** What the endpoint queues: the raw body as a string (Bull stores job data as JSON; a Buffer would not survive). */
export interface DeliveryJobData extends WebhookJobData {
  payload: string
  /** Absent for installation events, and for a delivery the worker registers (auto-registration). */
  repoId?: string
  receivedAt: string
  /** Set by the replay command: the failed job this one replays. */
  replayOf?: string
}

/** What the worker puts on the metrics queue (DevMetrics' metrics service consumes it). */
export interface MetricJobData {
  kind: 'developer' | 'team'
  id: string
  date: string
  deliveryId: string
}

/** The queues, on the configured driver; `jobOptions` is the policy of every webhook job (with the configured base delay, if any). */
export type Queues = DriverQueues<DeliveryJobData, MetricJobData>

export function webhookJobOptionsFor(config: Pick<BackendConfig, 'retryBaseDelayMs'>): Bull.JobOptions {
  if (!config.retryBaseDelayMs) return webhookJobOptions
  const backoff = webhookJobOptions.backoff as Bull.BackoffOptions
  return { ...webhookJobOptions, backoff: { ...backoff, options: { baseDelayMs: config.retryBaseDelayMs } } }
}

export function createQueues(
  config: Pick<BackendConfig, 'redisUrl' | 'queuePrefix' | 'stalledIntervalMs' | 'retryBaseDelayMs' | 'lockDurationMs'> &
    Partial<Pick<BackendConfig, 'queueDriver' | 'redisCluster'>>,
): Queues {
  const settings: Bull.AdvancedSettings = { ...webhookQueueSettings }
  if (config.stalledIntervalMs) settings.stalledInterval = config.stalledIntervalMs
  if (config.lockDurationMs) {
    // Renewed at half its duration, as Bull's defaults and webhookQueueSettings do.
    settings.lockDuration = config.lockDurationMs
    settings.lockRenewTime = Math.max(1, Math.floor(config.lockDurationMs / 2))
  }
  return openQueues<DeliveryJobData, MetricJobData>(
    {
      ...config,
      queueDriver: config.queueDriver ?? 'bull',
      redisCluster: config.redisCluster ?? false,
      bullSettings: settings,
      bullJobOptions: webhookJobOptionsFor(config),
    },
    { webhooks: WEBHOOK_QUEUE, metrics: METRICS_QUEUE },
  )
}

/** Redis key (under the queue's own prefix, so a Cluster hash tag covers it) of the permanent failures by error code. */
export function failuresKey(queue: QueueLike<unknown>): string {
  return `${queue.toKey('')}stats:failures-by-code`
}

/** Redis hash of deleted hooks (`meta` deliveries): hook id → JSON { at, hookType, deliveryId }. Every process's health reads it. */
export function hookAlertsKey(queue: QueueLike<unknown>): string {
  return `${queue.toKey('')}alerts:hooks-deleted`
}
