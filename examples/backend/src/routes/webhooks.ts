// POST /api/webhooks/github: authenticate, check, queue, answer 202 within GitHub's 10 s.
//
//   1. X-Hub-Signature-256 over the raw body bytes, in constant time         → 401
//   2. X-GitHub-Delivery and X-GitHub-Event present                          → 400
//   3. application/json, valid UTF-8, a JSON object                          → 415 / 400
//   4. ping (sent when the hook is created)                                  → 200 pong, with which of the
//      hook's events we track and a warning for each tracked one it does not send
//      meta (the hook was deleted)                                           → 200, an alert in the log and in health
//   5. installation, installation_repositories and repository events         → queued (repositories follow GitHub)
//      repository.id registered in DevMetrics' repositories, or (auto-registration on) an
//      installation.id in the payload                                        → 202 ignored otherwise
//   6. queued on "webhooks" with webhookJobOptions: { deliveryId, event, payload (raw text), repoId, receivedAt }
//                                                                            → 202 queued (503 if Redis does not take it)
import express, { Request, Response, Router } from 'express'
import { MAX_PAYLOAD_BYTES } from '@devmetrics/webhook-processor'
import type { Logger } from '../logger'
import type { BackendMetrics, DeliveryOutcome } from '../metrics'
import type { DeliveryJobData, Queues } from '../queues'
import type { RepositoryDirectory } from '../repositories'
import { signatureValid } from '../signature'
import { hookAlertsKey } from '../queues'

/** The event types the worker processes (their rows, or the repositories they follow). */
export const TRACKED_EVENTS = ['push', 'pull_request', 'issues', 'pull_request_review', 'deployment', 'deployment_status', 'workflow_run', 'workflow_job', 'release', 'installation', 'installation_repositories', 'repository']
/** Event types GitHub sends an App whatever it subscribes to. */
const ALWAYS_SENT_TO_APPS = ['installation', 'installation_repositories']
/** Event types that change which repositories are tracked or what they are: queued even for an unknown repository. */
const FOLLOW_EVENTS = new Set(['installation', 'installation_repositories', 'repository'])

/**
 * What a ping says about its hook: the events it sends (`*` is all), those we track, and a
 * warning for every tracked event it does not send (a hook without `pull_request_review` leaves
 * every review out).
 */
export function pingUnderstanding(payload: { hook?: { type?: string; events?: unknown }; hook_id?: number }) {
  const sent = Array.isArray(payload.hook?.events) ? payload.hook.events.filter((e): e is string => typeof e === 'string') : []
  const all = sent.includes('*')
  const isApp = payload.hook?.type === 'App'
  const receives = (e: string) => all || sent.includes(e) || (isApp && ALWAYS_SENT_TO_APPS.includes(e))
  const tracked = TRACKED_EVENTS.filter(receives)
  const missing = TRACKED_EVENTS.filter((e) => !receives(e) && (isApp || !ALWAYS_SENT_TO_APPS.includes(e)))
  return {
    hookId: payload.hook_id ?? null,
    hookType: payload.hook?.type ?? null,
    events: sent,
    tracked,
    missing,
    warnings: missing.map((e) => `the hook does not send ${e} events: DevMetrics will not see them (add them in the hook's settings)`),
  }
}

export interface WebhookRouteDeps {
  secrets: string[]
  queues: Queues
  repositories: RepositoryDirectory
  metrics: BackendMetrics
  logger: Logger
  /** Queue deliveries of unknown repositories that name an installation (the worker registers them). */
  autoRegisterRepositories?: boolean
}

/** How long the endpoint waits for Redis to take a job before answering 503. */
const QUEUE_TIMEOUT_MS = 5_000

function header(req: Request, name: string): string | null {
  const value = req.headers[name]
  const first = Array.isArray(value) ? value[0] : value
  return first && first.trim() !== '' ? first.trim() : null
}

/** Fails on bytes that are not UTF-8 instead of replacing them, as `Buffer.toString` would. */
const utf8 = new TextDecoder('utf-8', { fatal: true })

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export function webhookRouter(deps: WebhookRouteDeps): Router {
  const { secrets, queues, repositories, metrics, logger, autoRegisterRepositories = false } = deps
  const router = Router()

  const answer = (res: Response, status: number, outcome: DeliveryOutcome, body: Record<string, unknown>, event?: string) => {
    metrics.delivery(outcome, event)
    res.status(status).json(body)
  }

  router.post(
    '/api/webhooks/github',
    // The raw bytes, whatever the content type: the signature is over them, and the job carries them.
    express.raw({ type: () => true, limit: MAX_PAYLOAD_BYTES }),
    async (req: Request, res: Response) => {
      const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
      const deliveryId = header(req, 'x-github-delivery')
      const event = header(req, 'x-github-event')

      if (!signatureValid(secrets, raw, header(req, 'x-hub-signature-256'))) {
        logger.warn('webhook rejected: bad or missing signature', { deliveryId, ip: req.ip })
        return answer(res, 401, 'bad_signature', { error: 'invalid or missing X-Hub-Signature-256' })
      }
      if (!deliveryId || !event) {
        const missing = [!deliveryId && 'X-GitHub-Delivery', !event && 'X-GitHub-Event'].filter(Boolean).join(', ')
        return answer(res, 400, 'bad_request', { error: `missing header: ${missing}` })
      }
      if (!/^application\/json\b/i.test(header(req, 'content-type') ?? '')) {
        return answer(res, 415, 'bad_request', { error: 'the webhook must be configured with content type application/json' }, event)
      }
      // The job carries the body as text (Bull stores JSON): it must decode losslessly.
      let body: string
      try {
        body = utf8.decode(raw)
      } catch {
        return answer(res, 400, 'bad_request', { error: 'the body is not valid UTF-8', deliveryId }, event)
      }
      let payload: { repository?: { id?: unknown }; installation?: { id?: unknown }; zen?: string; hook?: { type?: string; events?: unknown }; hook_id?: number }
      try {
        payload = JSON.parse(body)
      } catch {
        return answer(res, 400, 'bad_request', { error: 'the body is not valid JSON', deliveryId }, event)
      }
      if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
        return answer(res, 400, 'bad_request', { error: 'the body is not a JSON object', deliveryId }, event)
      }
      if (event === 'ping') {
        const understood = pingUnderstanding(payload)
        if (understood.missing.length > 0) logger.warn('webhook ping: the hook does not send events DevMetrics tracks', { deliveryId, ...understood })
        else logger.info('webhook ping', { deliveryId, ...understood })
        return answer(res, 200, 'ping', { status: 'pong', deliveryId, zen: payload.zen ?? null, ...understood }, event)
      }
      if (event === 'meta') {
        const hookId = payload.hook_id ?? null
        const hookType = payload.hook?.type ?? null
        logger.error('webhook deleted on GitHub: no more deliveries will come through it; create it again', { alert: true, deliveryId, hookId, hookType })
        try {
          await withTimeout(
            queues.webhooks.client.hset(hookAlertsKey(queues.webhooks), String(hookId), JSON.stringify({ at: new Date().toISOString(), hookType, deliveryId })),
            QUEUE_TIMEOUT_MS,
            'recording the alert',
          )
        } catch (err) {
          logger.warn('hook deletion not recorded for health: Redis unavailable', { deliveryId, error: (err as Error).message })
        }
        return answer(res, 200, 'hook_deleted', { status: 'alert', alert: 'hook deleted', hookId, deliveryId }, event)
      }

      const githubRepoId = payload.repository?.id
      const installationId = payload.installation?.id
      const follows = FOLLOW_EVENTS.has(event)
      const hasRepository = typeof githubRepoId === 'number' && Number.isSafeInteger(githubRepoId)
      if (!hasRepository && !follows) {
        logger.info('webhook ignored: no repository in the payload', { deliveryId, event })
        return answer(res, 202, 'ignored_no_repository', { status: 'ignored', reason: 'no repository in the payload', deliveryId }, event)
      }
      const repoId = hasRepository ? await repositories.lookup(githubRepoId as number) : null
      const registersItself = autoRegisterRepositories && typeof installationId === 'number'
      if (!repoId && !follows && !registersItself) {
        logger.warn('webhook ignored: repository not registered in DevMetrics', { deliveryId, event, githubRepoId })
        return answer(
          res,
          202,
          'ignored_unknown_repository',
          { status: 'ignored', reason: 'repository not registered', repositoryId: githubRepoId, deliveryId },
          event,
        )
      }

      const data: DeliveryJobData = { deliveryId, event, payload: body, receivedAt: new Date().toISOString(), ...(repoId ? { repoId } : {}) }
      let jobId: string
      try {
        const job = await withTimeout(queues.webhooks.add(data, queues.jobOptions), QUEUE_TIMEOUT_MS, 'queueing the delivery')
        jobId = String(job.id)
      } catch (err) {
        logger.error('webhook not queued: Redis unavailable', { deliveryId, event, error: (err as Error).message })
        return answer(res, 503, 'queue_unavailable', { error: 'queue unavailable, redeliver later', deliveryId }, event)
      }
      logger.debug('webhook queued', { deliveryId, event, repoId, jobId, bytes: raw.length })
      return answer(res, 202, 'queued', { status: 'queued', deliveryId, jobId }, event)
    },
  )
  return router
}
