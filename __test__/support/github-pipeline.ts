// The webhook worker and the github worker on the suite's queue driver (support/driver.ts),
// real queues on the shared Redis under the test file's prefix, so a GitHub suite's bodies
// run unchanged on Bull (createWebhookWorker + createGitHubWorker) and on BullMQ
// (createBullMQWorker + createGitHubBullMQWorker). Tests name jobs by the ids the package
// gives them (`commitStats:<repo>:<delivery>`); on BullMQ the harness maps `:` to `.` as the
// package does.
import Bull from 'bull'
import { Job as BullMQJob, Queue as BullMQQueue, QueueEvents } from 'bullmq'
import {
  bullmqWebhookJobOptions,
  createBullMQWorker,
  createGitHubBullMQWorker,
  createGitHubWorker,
  createWebhookWorker,
  GitHubClient,
  webhookJobOptions,
  webhookQueueSettings,
  WebhookJobData,
  WebhookProcessor,
} from '../../lib'
import { SHARED_REDIS_URL } from '../helpers/redis'
import { suiteDriver } from './driver'

/** A job as the tests read it, on either driver. */
export interface PipelineJob {
  id: string
  data: any
  opts: { attempts?: number }
  returnvalue: any
  failedReason?: string
  /** Attempts that ran to an end (completed or failed); a rate-limit delay is none. */
  attemptsRun: number
}

/** A queue as the tests use it, on either driver (ids as the package names them, with `:`). */
export interface PipelineQueue {
  name: string
  /** Adds a job (Bull's argument order) and resolves with its id. */
  add(data: any, opts?: Record<string, unknown>): Promise<string>
  /** Resolves with the job's result once it completed; rejects with its failure. */
  finished(id: string): Promise<any>
  getJob(id: string): Promise<PipelineJob | null>
  getJobCounts(): Promise<Record<string, number>>
  /** Data of the jobs in these states. */
  jobData(states: string[]): Promise<any[]>
}

export interface PipelineWorker {
  health(): any
  close(): Promise<void>
}

export interface Pipeline {
  webhooks: PipelineQueue
  github: PipelineQueue
  githubMetrics: PipelineQueue
  webhookWorker: PipelineWorker
  githubWorker: PipelineWorker
  /** Queues a delivery with the driver's webhook job options and resolves with the webhook job's result. */
  deliver(data: WebhookJobData): Promise<any>
}

export interface PipelineOptions {
  client: GitHubClient
  /** The webhook worker's processor. */
  processor: WebhookProcessor
  /** The github worker's processor (default: `processor`). */
  githubProcessor?: WebhookProcessor
  /** The github worker's databaseUrl, for jobs that keep state of their own (backfill's cursors). */
  databaseUrl?: string
  logger: { info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void }
}

const redisUrl = new URL(SHARED_REDIS_URL)
const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379), db: Number(redisUrl.pathname.slice(1) || 0) }

/** The package's BullMQ id of an id with `:` (lib/bullmq-worker.js bullmqJobId). */
const bullmqId = (id: string) => id.replaceAll(':', '.')

/** Opens queues and workers under `prefix`; `closeAll()` closes everything opened. */
export function pipelineFactory(prefix: string) {
  const closers: (() => Promise<unknown>)[] = []

  function bullQueue(name: string): PipelineQueue & { native: Bull.Queue } {
    const q = new Bull(name, SHARED_REDIS_URL, { prefix: `${prefix}${name}`, settings: { ...webhookQueueSettings } })
    closers.push(() => q.close())
    // Bull counts failed attempts only; a completed job ran one more.
    const view = async (j: Bull.Job | null): Promise<PipelineJob | null> =>
      j && {
        id: String(j.id),
        data: j.data,
        opts: j.opts,
        returnvalue: j.returnvalue,
        failedReason: j.failedReason,
        attemptsRun: j.attemptsMade + ((await j.getState()) === 'completed' ? 1 : 0),
      }
    return {
      native: q,
      name,
      add: async (data, opts) => String((await q.add(data, opts)).id),
      finished: async (id) => (await q.getJob(id))!.finished(),
      getJob: async (id) => view(await q.getJob(id)),
      getJobCounts: async () => ({ ...(await q.getJobCounts()) }),
      jobData: async (states) => (await q.getJobs(states as Bull.JobStatus[])).map((j) => j.data),
    }
  }

  function bullmqQueue(name: string): PipelineQueue & { native: BullMQQueue } {
    const q = new BullMQQueue(name, { connection, prefix: `${prefix}mq` })
    let events: QueueEvents | null = null
    closers.push(async () => {
      await events?.close()
      await q.close()
    })
    // BullMQ counts every attempt that ended (moveToDelayed for a rate limit skips it).
    const view = (j: BullMQJob | undefined): PipelineJob | null =>
      j
        ? { id: String(j.id), data: j.data, opts: j.opts, returnvalue: j.returnvalue, failedReason: j.failedReason, attemptsRun: j.attemptsMade }
        : null
    return {
      native: q,
      name,
      add: async (data, opts = {}) => {
        const jobId = opts.jobId === undefined ? undefined : bullmqId(String(opts.jobId))
        return String((await q.add(data.kind ?? data.event ?? 'job', data, { ...opts, jobId })).id)
      },
      async finished(id) {
        if (!events) {
          events = new QueueEvents(name, { connection, prefix: `${prefix}mq` })
          await events.waitUntilReady()
        }
        return (await q.getJob(bullmqId(id)))!.waitUntilFinished(events)
      },
      getJob: async (id) => view(await q.getJob(bullmqId(id))),
      getJobCounts: async () => ({ ...(await q.getJobCounts()) }),
      jobData: async (states) => (await q.getJobs(states as never)).map((j) => j.data),
    }
  }

  let count = 0
  function open(options: PipelineOptions): Pipeline {
    const tag = `${++count}${Math.random().toString(36).slice(2, 6)}`
    if (suiteDriver.current === 'bull') {
      const webhooks = bullQueue(`webhooks-${tag}`)
      const github = bullQueue(`github-${tag}`)
      const webhookMetrics = bullQueue(`metrics-web-${tag}`)
      const githubMetrics = bullQueue(`metrics-gh-${tag}`)
      const webhookWorker = createWebhookWorker(webhooks.native, { processor: options.processor, metricsQueue: webhookMetrics.native, githubQueue: github.native })
      const githubWorker = createGitHubWorker(github.native, { client: options.client, processor: options.githubProcessor ?? options.processor, databaseUrl: options.databaseUrl, metricsQueue: githubMetrics.native, logger: options.logger })
      closers.unshift(() => webhookWorker.close(), () => githubWorker.close())
      return {
        webhooks,
        github,
        githubMetrics,
        webhookWorker,
        githubWorker,
        deliver: async (data) => webhooks.finished(await webhooks.add(data, { ...webhookJobOptions })),
      }
    }
    const webhooks = bullmqQueue(`webhooks-${tag}`)
    const github = bullmqQueue(`github-${tag}`)
    const webhookMetrics = bullmqQueue(`metrics-web-${tag}`)
    const githubMetrics = bullmqQueue(`metrics-gh-${tag}`)
    const webhookWorker = createBullMQWorker({
      queueName: webhooks.name,
      connection,
      prefix: `${prefix}mq`,
      processor: options.processor,
      metricsQueue: webhookMetrics.native,
      githubQueue: github.native,
    })
    const githubWorker = createGitHubBullMQWorker({
      queueName: github.name,
      connection,
      prefix: `${prefix}mq`,
      client: options.client,
      processor: options.githubProcessor ?? options.processor,
      databaseUrl: options.databaseUrl,
      metricsQueue: githubMetrics.native,
      logger: options.logger,
    })
    closers.unshift(() => webhookWorker.close(), () => githubWorker.close())
    return {
      webhooks,
      github,
      githubMetrics,
      webhookWorker,
      githubWorker,
      deliver: async (data) => webhooks.finished(await webhooks.add(data, { ...bullmqWebhookJobOptions })),
    }
  }

  return {
    open,
    async closeAll() {
      for (const close of closers.splice(0)) await close()
    },
  }
}
