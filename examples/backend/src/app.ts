// The reference backend as a factory: createBackend(config) wires the queues, the endpoint,
// the worker (unless role=api), health, stats, Prometheus metrics and the queue UI, and
// returns something to listen() and close(). main.ts runs it; tests start it on port 0.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { createBullBoard } from '@bull-board/api'
import { ExpressAdapter } from '@bull-board/express'
import express, { Express, NextFunction, Request, Response } from 'express'
import { Pool } from 'pg'
import { WebhookJobData, WebhookProcessingError, WebhookProcessor, WebhookWorker, GitHubClientOptions } from '@devmetrics/webhook-processor'
import { BackendConfig, redact } from './config'
import { jsonLogger, Logger } from './logger'
import { BackendMetrics, createMetrics } from './metrics'
import { MetricsConsumer, startMetricsConsumer } from './metrics-consumer'
import { createQueues, failuresKey, hookAlertsKey, Queues } from './queues'
import type { JobLike } from './queue-driver'
import { RepositoryDirectory } from './repositories'
import { webhookRouter } from './routes/webhooks'
import { doraRouter } from './routes/dora'
import { collectStats } from './stats'
import { GitHubSide, observeGitHub, setupGitHub } from './github'

export interface Backend {
  config: BackendConfig
  app: Express
  queues: Queues
  /** A small pool of the backend's own (repository lookups, stats); the worker's processor has its own. */
  pool: Pool
  metrics: BackendMetrics
  /** This process's worker; null for role=api. */
  worker: WebhookWorker | null
  processor: WebhookProcessor | null
  /** The github queue and its worker (docs/github-api.md); null when no GitHub credentials are configured. */
  github: GitHubSide | null
  logger: Logger
  /** Starts HTTP on config.host:config.port (0: a free port). */
  listen(): Promise<{ port: number; url: string }>
  /** Graceful stop: HTTP first, then the worker (finishing active jobs), the processor, the queues, the pool. */
  close(): Promise<void>
}

export interface BackendOptions {
  logger?: Logger
  /** Called after the backend's own handling of a job that will not be retried (the seed's alert). */
  onPermanentFailure?: (job: JobLike<WebhookJobData>, error: WebhookProcessingError) => unknown
  /** GitHub client options instead of config.github (tests); null: API off. */
  githubClientOptions?: GitHubClientOptions | null
}

function basicAuth(user: string, password: string) {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  const expected = digest(`${user}:${password}`)
  return (req: Request, res: Response, next: NextFunction) => {
    const [scheme, encoded] = (req.headers.authorization ?? '').split(' ')
    const given = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8') : ''
    if (timingSafeEqual(digest(given), expected)) return next()
    res.set('WWW-Authenticate', 'Basic realm="queues"').status(401).end()
  }
}

async function probe(check: () => Promise<unknown>, timeoutMs = 2_000): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)
      }),
    ])
    return 'up'
  } catch {
    return 'down'
  } finally {
    clearTimeout(timer)
  }
}

async function hookAlerts(queues: Queues): Promise<unknown[]> {
  const all = await queues.webhooks.client.hgetall(hookAlertsKey(queues.webhooks)).catch(() => ({}) as Record<string, string>)
  return Object.entries(all).map(([hookId, json]) => ({ hookId: Number(hookId), ...JSON.parse(json) }))
}

export async function createBackend(config: BackendConfig, options: BackendOptions = {}): Promise<Backend> {
  const logger = options.logger ?? jsonLogger(config.logLevel)
  const pool = new Pool({ connectionString: config.databaseUrl, max: 4, application_name: 'devmetrics-backend' })
  pool.on('error', (err) => logger.warn('idle database connection lost', { error: err.message }))
  const queues = createQueues(config)
  const metrics = createMetrics()
  metrics.observeQueues([queues.webhooks, queues.metrics])

  let processor: WebhookProcessor | null = null
  let worker: WebhookWorker | null = null
  let github: GitHubSide | null = null
  let metricsConsumer: MetricsConsumer | null = null
  const gitHubSide = (p: WebhookProcessor | null) =>
    setupGitHub(config, { logger, processor: p, queues, clientOptions: options.githubClientOptions })
  if (config.role !== 'api') {
    try {
      processor = await WebhookProcessor.connect({
        databaseUrl: config.databaseUrl,
        redisUrl: config.cacheRedisUrl ?? undefined,
        redisKeyPrefix: config.cacheKeyPrefix,
        maxConnections: config.dbPoolSize,
        autoRegisterRepositories: config.autoRegisterRepositories,
        ownerTeams: config.ownerTeams,
      })
    } catch (err) {
      await Promise.allSettled([queues.close(), pool.end()])
      throw err
    }
    github = gitHubSide(processor)
    worker = queues.startWorker({
      processor,
      githubQueue: github?.queue,
      // AUTO_BACKFILL: the history of each repository auto-registration registers (a github queue needed).
      autoBackfill: github && config.autoRegisterRepositories ? (config.autoBackfill ?? undefined) : undefined,
      concurrency: config.concurrency,
      logger,
      async onPermanentFailure(job, error) {
        // Counted for /stats by every worker, and written into the job so the queue UI shows the code.
        await queues.webhooks.client.hincrby(failuresKey(queues.webhooks), error.code, 1)
        await job.log(`${error.code} (retryable: ${error.retryable}): ${error.message}`)
        logger.error('webhook delivery failed permanently: in the failed set, replay with `npm run replay`', {
          alert: true,
          jobId: job.id,
          deliveryId: job.data.deliveryId,
          event: job.data.event,
          code: error.code,
          attemptsMade: job.attemptsMade + 1,
        })
        await options.onPermanentFailure?.(job, error)
      },
    })
    metrics.observeWorker(queues.webhooks, worker)
    if (config.metricsConsumer) metricsConsumer = startMetricsConsumer(config, queues, pool, { logger, concurrency: 2 })
  } else {
    github = gitHubSide(null)
  }
  if (github) observeGitHub(metrics.registry, github)

  const app = express()
  app.disable('x-powered-by')
  app.set('trust proxy', 'loopback')
  if (config.role !== 'worker') {
    app.use(
      webhookRouter({
        secrets: config.webhookSecrets,
        queues,
        repositories: new RepositoryDirectory(pool),
        metrics,
        logger,
        autoRegisterRepositories: config.autoRegisterRepositories,
      }),
    )
  }

  app.get('/api/webhooks/health', async (_req, res) => {
    const [redis, database] = await Promise.all([probe(() => queues.webhooks.client.ping()), probe(() => pool.query('SELECT 1'))])
    // Hooks GitHub said were deleted (`meta`): no more deliveries come through them.
    const hooksDeleted = redis === 'up' ? await hookAlerts(queues) : []
    const workerHealth = worker?.health() ?? null
    const ok = redis === 'up' && database === 'up' && (!workerHealth || workerHealth.status === 'running')
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ok' : 'unavailable',
      role: config.role,
      uptimeSeconds: Math.round(process.uptime()),
      checks: { redis, database },
      alerts: { hooksDeleted },
      worker: workerHealth && {
        status: workerHealth.status,
        concurrency: workerHealth.concurrency,
        active: workerHealth.active,
        counters: workerHealth.counters,
      },
    })
  })

  app.get('/api/webhooks/stats', async (_req, res) => {
    res.json({ ...(await collectStats(queues, pool, worker)), github: github ? await github.stats() : null })
  })

  // The DORA metrics (GET /api/dora, the /dora page) read through a processor: the worker's,
  // or (role=api) a small one of their own, connected on first use.
  let doraProcessor: Promise<WebhookProcessor> | null = null
  const doraProcessorOf = () => {
    if (processor) return Promise.resolve(processor)
    if (!doraProcessor) {
      const pending = WebhookProcessor.connect({ databaseUrl: config.databaseUrl, maxConnections: 2 })
      doraProcessor = pending
      pending.catch(() => {
        if (doraProcessor === pending) doraProcessor = null // a failed connect is not kept
      })
    }
    return doraProcessor
  }
  if (config.role !== 'worker') app.use(doraRouter({ pool, processor: doraProcessorOf }))

  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  if (config.role !== 'worker' && config.queueUi.enabled) {
    const board = new ExpressAdapter()
    board.setBasePath('/admin/queues')
    createBullBoard({
      queues: [
        ...queues.boardQueues({
          webhooks: 'GitHub deliveries; the failed tab is the dead letter set (npm run replay)',
          metrics: 'metric recomputations queued by the worker',
        }),
        ...(github ? [github.queue.boardQueue('GitHub API work: commit line counts, truncated pushes, backfill, reconcile')] : []),
      ],
      serverAdapter: board,
    })
    const { user, password } = config.queueUi
    if (user && password) app.use('/admin/queues', basicAuth(user, password))
    app.use('/admin/queues', board.getRouter())
  }

  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500
    if (status === 500) logger.error('request failed', { error: err.message })
    res.status(status).json({ error: status === 413 ? 'payload too large (GitHub sends at most 25 MB)' : err.message })
  })

  let server: Server | null = null
  let closing: Promise<void> | null = null

  return {
    config,
    app,
    queues,
    pool,
    metrics,
    worker,
    processor,
    github,
    logger,
    listen() {
      return new Promise((resolve, reject) => {
        const s = app.listen(config.port, config.host, () => {
          const { port } = s.address() as AddressInfo
          const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
          logger.info('backend started', {
            role: config.role,
            url,
            port,
            pid: process.pid,
            concurrency: worker ? config.concurrency : 0,
            queuePrefix: config.queuePrefix,
            queueDriver: config.queueDriver,
            redis: redact(config.redisUrl),
            database: redact(config.databaseUrl),
          })
          resolve({ port, url })
        })
        s.once('error', reject)
        server = s
      })
    },
    close() {
      closing ??= (async () => {
        logger.info('backend stopping', { role: config.role })
        if (server) {
          const s = server
          const stopped = new Promise<void>((resolve) => s.close(() => resolve()))
          s.closeIdleConnections()
          await stopped
        }
        if (worker) await worker.close() // stops taking jobs, finishes the active ones
        if (github) await github.close()
        if (metricsConsumer) await metricsConsumer.close()
        if (processor) await processor.close()
        if (doraProcessor) await doraProcessor.then((p) => p.close(), () => undefined)
        await queues.close()
        await pool.end()
        logger.info('backend stopped', { role: config.role })
      })()
      return closing
    },
  }
}
