// The queue driver: Bull (the default) or BullMQ, chosen by QUEUE_DRIVER, on one Redis or a
// Redis Cluster (REDIS_CLUSTER). The rest of the backend (endpoint, worker wiring, stats,
// metrics, replay) talks to the small Bull-shaped surface below, which a Bull queue has as it
// is and a BullMQ queue gets from a thin adapter, so switching drivers changes this file only.
// On Cluster every queue key must hash to one slot: the prefix carries a hash tag (`{…}`).
import { EventEmitter } from 'node:events'
import { createBullBoard } from '@bull-board/api'
import { BullAdapter } from '@bull-board/api/bullAdapter'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import Bull from 'bull'
import type * as BullMQ from 'bullmq'
import IORedis, { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis'
import {
  bullmqWebhookJobOptions,
  createBullMQWorker,
  createGitHubBullMQWorker,
  createGitHubWorker,
  createWebhookWorker,
  GitHubWorker,
  GitHubWorkerOptions,
  WebhookProcessingError,
  WebhookWorker,
  WorkerOptions,
} from '@devmetrics/webhook-processor'

export type QueueDriverName = 'bull' | 'bullmq'

/** What the backend reads of a job, on either driver. */
export interface JobLike<T> {
  id?: string | number | null
  name?: string
  data: T
  opts: { attempts?: number; removeOnComplete?: unknown; removeOnFail?: unknown; [option: string]: unknown }
  returnvalue: any
  attemptsMade: number
  failedReason?: string
  processedOn?: number | null
  finishedOn?: number | null
  getState(): Promise<string>
  remove(): Promise<unknown>
  log(row: string): Promise<unknown>
}

/** Jobs per state (BullMQ also counts `paused`, `prioritized`, `waiting-children`). */
export interface JobCountsLike {
  waiting: number
  active: number
  delayed: number
  completed: number
  failed: number
  [state: string]: number
}

/** What the backend uses of a queue, on either driver (Bull's shapes). */
export interface QueueLike<T> {
  readonly name: string
  /** The queue's Redis connection, for the backend's own keys (failures by code) and health pings. */
  readonly client: Redis | Cluster
  add(data: T, opts?: Record<string, unknown>): Promise<JobLike<T>>
  getJob(id: string | number): Promise<JobLike<T> | null>
  getJobs(types: string[], start?: number, end?: number): Promise<JobLike<T>[]>
  getFailed(start?: number, end?: number): Promise<JobLike<T>[]>
  getJobCounts(): Promise<JobCountsLike>
  getJobLogs(id: string | number): Promise<{ logs: string[]; count: number }>
  /** A Redis key under the queue's own prefix (so a Cluster hash tag covers it). */
  toKey(type: string): string
  /** This process's worker events: `completed` (job, result) and `failed` (job, error). */
  on(event: 'completed' | 'failed', listener: (...args: any[]) => void): unknown
  close(): Promise<unknown>
}

export interface RedisTarget {
  /** One URL, or on Cluster a comma-separated list of startup nodes. */
  redisUrl: string
  /** Connect as a Redis Cluster client. */
  redisCluster: boolean
}

/** Startup nodes of a comma-separated URL list. */
export function clusterNodes(redisUrl: string): { host: string; port: number }[] {
  return redisUrl
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
    .map((u) => {
      const url = new URL(u)
      return { host: url.hostname, port: Number(url.port || 6379) }
    })
}

/** A new ioredis connection to the target; `blocking` for connections that wait (BullMQ workers, Bull's bclient/subscriber). */
export function connectRedis(target: RedisTarget, blocking = false): Redis | Cluster {
  const extra: RedisOptions = blocking ? { maxRetriesPerRequest: null, enableReadyCheck: false } : {}
  if (!target.redisCluster) return new IORedis(target.redisUrl.split(',')[0].trim(), { ...extra })
  const first = new URL(target.redisUrl.split(',')[0].trim())
  const redisOptions: RedisOptions = {
    ...extra,
    username: first.username ? decodeURIComponent(first.username) : undefined,
    password: first.password ? decodeURIComponent(first.password) : undefined,
    tls: first.protocol === 'rediss:' ? {} : undefined,
  }
  const options: ClusterOptions = { redisOptions, enableReadyCheck: !blocking, ...(blocking ? { maxRetriesPerRequest: null } : {}) }
  return new IORedis.Cluster(clusterNodes(target.redisUrl), options)
}

class BullMQQueueAdapter<T> extends EventEmitter implements QueueLike<T> {
  constructor(
    readonly native: BullMQ.Queue,
    readonly client: Redis | Cluster,
  ) {
    super()
  }

  get name(): string {
    return this.native.name
  }

  async add(data: T, opts?: Record<string, unknown>): Promise<JobLike<T>> {
    const name = (data as { event?: string }).event ?? 'job'
    return (await this.native.add(name, data, opts as BullMQ.JobsOptions)) as unknown as JobLike<T>
  }

  async getJob(id: string | number): Promise<JobLike<T> | null> {
    return ((await this.native.getJob(String(id))) as unknown as JobLike<T> | undefined) ?? null
  }

  async getJobs(types: string[], start?: number, end?: number): Promise<JobLike<T>[]> {
    return (await this.native.getJobs(types as BullMQ.JobType[], start, end)) as unknown as JobLike<T>[]
  }

  async getFailed(start?: number, end?: number): Promise<JobLike<T>[]> {
    return (await this.native.getFailed(start, end)) as unknown as JobLike<T>[]
  }

  async getJobCounts(): Promise<JobCountsLike> {
    return (await this.native.getJobCounts()) as JobCountsLike
  }

  getJobLogs(id: string | number): Promise<{ logs: string[]; count: number }> {
    return this.native.getJobLogs(String(id))
  }

  toKey(type: string): string {
    return this.native.toKey(type)
  }

  close(): Promise<void> {
    return this.native.close()
  }
}

/** A queue as its library has it (Bull's or BullMQ's), for the package's functions that take one. */
export type NativeQueue = Bull.Queue | BullMQ.Queue

/** The `github` queue (API work, docs/github-api.md) on the chosen driver. */
export interface GitHubQueue {
  readonly name: string
  /** The queue itself: the webhook worker's `githubQueue`, scheduleReconcile, queueBackfill. */
  native: NativeQueue
  /** Jobs per state (the backlog in stats and metrics). */
  getJobCounts(): Promise<JobCountsLike>
  /** Runs the package's github worker for this driver, metric jobs to the metrics queue. */
  startWorker(options: Omit<GitHubWorkerOptions, 'metricsQueue'>): GitHubWorker
  /** bull-board's adapter for it. */
  boardQueue(description: string): Parameters<typeof createBullBoard>[0]['queues'][number]
  /** Closes the worker's connection (after the worker closed) and the queue. */
  close(): Promise<void>
}

/** The queues of one backend process, on the chosen driver. */
export interface DriverQueues<W, M> {
  driver: QueueDriverName
  webhooks: QueueLike<W>
  metrics: QueueLike<M>
  /** The metrics queue as its library has it, for the package's functions that take a queue (runBackfill). */
  metricsNative: NativeQueue
  /** The producer's job options: the package's policy for this driver (with the configured base delay, if any). */
  jobOptions: Record<string, unknown>
  /** Opens the `github` queue on this driver (same Redis and prefix). */
  openGitHubQueue(name: string): GitHubQueue
  /** Runs the package's worker for this driver on the webhooks queue, metric jobs to the metrics queue, follow-ups to `githubQueue`. */
  startWorker(options: Omit<WorkerOptions, 'metricsQueue' | 'githubQueue' | 'onPermanentFailure'> & {
    githubQueue?: GitHubQueue
    onPermanentFailure?: (job: JobLike<W>, error: WebhookProcessingError) => unknown
  }): WebhookWorker
  /** bull-board adapters for both queues. */
  boardQueues(descriptions: { webhooks: string; metrics: string }): Parameters<typeof createBullBoard>[0]['queues']
  close(): Promise<void>
}

export interface DriverConfig extends RedisTarget {
  queueDriver: QueueDriverName
  queuePrefix: string
  stalledIntervalMs: number | null
  lockDurationMs: number | null
  retryBaseDelayMs: number | null
  /** Bull only: the backoff strategy and lock settings of the webhooks queue. */
  bullSettings: Bull.AdvancedSettings
  /** Bull only: job options of the webhooks queue. */
  bullJobOptions: Bull.JobOptions
}

/** Opens the webhooks and metrics queues on the configured driver. */
export function openQueues<W, M>(config: DriverConfig, names: { webhooks: string; metrics: string }): DriverQueues<W, M> {
  return config.queueDriver === 'bullmq' ? openBullMQ(config, names) : openBull(config, names)
}

function openBull<W, M>(config: DriverConfig, names: { webhooks: string; metrics: string }): DriverQueues<W, M> {
  const created: (Redis | Cluster)[] = []
  // On Cluster, Bull takes its three connections from createClient (and leaves closing them to us).
  const clusterClients: Bull.QueueOptions = config.redisCluster
    ? {
        createClient: (type) => {
          const client = connectRedis(config, type !== 'client')
          created.push(client)
          return client as unknown as ReturnType<NonNullable<Bull.QueueOptions['createClient']>>
        },
      }
    : {}
  const url = config.redisCluster ? undefined : config.redisUrl
  const webhooks = url
    ? new Bull<W>(names.webhooks, url, { prefix: config.queuePrefix, settings: config.bullSettings })
    : new Bull<W>(names.webhooks, { prefix: config.queuePrefix, settings: config.bullSettings, ...clusterClients })
  const metrics = url ? new Bull<M>(names.metrics, url, { prefix: config.queuePrefix }) : new Bull<M>(names.metrics, { prefix: config.queuePrefix, ...clusterClients })
  return {
    driver: 'bull',
    webhooks: webhooks as unknown as QueueLike<W>,
    metrics: metrics as unknown as QueueLike<M>,
    metricsNative: metrics,
    jobOptions: config.bullJobOptions as Record<string, unknown>,
    openGitHubQueue(name) {
      const queue = url ? new Bull(name, url, { prefix: config.queuePrefix }) : new Bull(name, { prefix: config.queuePrefix, ...clusterClients })
      return {
        name,
        native: queue,
        getJobCounts: async () => ({ ...(await queue.getJobCounts()) }) as JobCountsLike,
        startWorker: (options) => createGitHubWorker(queue, { ...options, metricsQueue: metrics }),
        boardQueue: (description) => new BullAdapter(queue, { description }),
        close: () => queue.close(),
      }
    },
    startWorker(options) {
      return createWebhookWorker(webhooks as unknown as Bull.Queue, {
        ...options,
        metricsQueue: metrics,
        githubQueue: options.githubQueue?.native as Bull.Queue | undefined,
        onPermanentFailure: options.onPermanentFailure as WorkerOptions['onPermanentFailure'],
      })
    },
    boardQueues(descriptions) {
      return [new BullAdapter(webhooks, { description: descriptions.webhooks }), new BullAdapter(metrics, { description: descriptions.metrics })]
    },
    async close() {
      await Promise.allSettled([webhooks.close(), metrics.close()])
      await Promise.allSettled(created.map((c) => c.quit()))
    },
  }
}

function openBullMQ<W, M>(config: DriverConfig, names: { webhooks: string; metrics: string }): DriverQueues<W, M> {
  // Required here: a Bull deployment never loads bullmq.
  const { Queue } = require('bullmq') as typeof BullMQ
  // One connection for both queues (BullMQ shares a given instance); the worker gets its own.
  const client = connectRedis(config)
  const webhooksNative = new Queue(names.webhooks, { connection: client, prefix: config.queuePrefix })
  const metricsNative = new Queue(names.metrics, { connection: client, prefix: config.queuePrefix })
  const webhooks = new BullMQQueueAdapter<W>(webhooksNative, client)
  const metrics = new BullMQQueueAdapter<M>(metricsNative, client)
  const jobOptions: Record<string, unknown> = config.retryBaseDelayMs
    ? { ...bullmqWebhookJobOptions, backoff: { type: 'exponential', delay: config.retryBaseDelayMs } }
    : { ...bullmqWebhookJobOptions }
  let workerConnection: Redis | Cluster | null = null
  return {
    driver: 'bullmq',
    webhooks,
    metrics,
    metricsNative,
    jobOptions,
    openGitHubQueue(name) {
      const queue = new Queue(name, { connection: client, prefix: config.queuePrefix })
      // The github worker blocks on its own connection, as the webhook worker does.
      let githubWorkerConnection: Redis | Cluster | null = null
      return {
        name,
        native: queue,
        getJobCounts: async () => (await queue.getJobCounts()) as JobCountsLike,
        startWorker(options) {
          githubWorkerConnection = connectRedis(config, true)
          return createGitHubBullMQWorker({ ...options, queueName: name, connection: githubWorkerConnection, prefix: config.queuePrefix, metricsQueue: metricsNative })
        },
        boardQueue: (description) => new BullMQAdapter(queue, { description }),
        async close() {
          await queue.close()
          await githubWorkerConnection?.quit().catch(() => undefined)
        },
      }
    },
    startWorker(options) {
      workerConnection = connectRedis(config, true)
      const workerOptions: Partial<BullMQ.WorkerOptions> = {}
      if (config.stalledIntervalMs) workerOptions.stalledInterval = config.stalledIntervalMs
      if (config.lockDurationMs) {
        workerOptions.lockDuration = config.lockDurationMs
        workerOptions.lockRenewTime = Math.max(1, Math.floor(config.lockDurationMs / 2))
      }
      const running = createBullMQWorker({
        ...options,
        queueName: names.webhooks,
        connection: workerConnection,
        prefix: config.queuePrefix,
        metricsQueue: metricsNative,
        githubQueue: options.githubQueue?.native as BullMQ.Queue | undefined,
        workerOptions,
        onPermanentFailure: options.onPermanentFailure as never,
      })
      // The worker's local events, where Bull has them on the queue (metrics.ts listens there).
      running.worker.on('completed', (job, result) => webhooks.emit('completed', job, result))
      running.worker.on('failed', (job, err) => webhooks.emit('failed', job, err))
      return running
    },
    boardQueues(descriptions) {
      return [
        new BullMQAdapter(webhooksNative, { description: descriptions.webhooks }),
        new BullMQAdapter(metricsNative, { description: descriptions.metrics }),
      ]
    },
    async close() {
      await Promise.allSettled([webhooksNative.close(), metricsNative.close()])
      await Promise.allSettled([client, workerConnection].filter((c): c is Redis | Cluster => c !== null).map((c) => c.quit()))
    },
  }
}
