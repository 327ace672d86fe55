// POST /api/webhooks/github: authenticate, check, queue, answer 202 within GitHub's 10 s.
//
//   1. X-Hub-Signature-256 over the raw body bytes, in constant time         → 401
//   2. X-GitHub-Delivery and X-GitHub-Event present                          → 400
//   3. application/json, valid UTF-8, a JSON object                          → 415 / 400
//   4. ping (sent when the hook is created)                                  → 200 pong
//   5. repository.id registered in DevMetrics' repositories                  → 202 ignored otherwise
//   6. queued on "webhooks" with webhookJobOptions: { deliveryId, event, payload (raw text), repoId, receivedAt }
//                                                                            → 202 queued (503 if Redis does not take it)
import express, { Request, Response, Router } from 'express'
import { MAX_PAYLOAD_BYTES } from '@devmetrics/webhook-processor'
import type { Logger } from '../logger'
import type { BackendMetrics, DeliveryOutcome } from '../metrics'
import type { DeliveryJobData, Queues } from '../queues'
import type { RepositoryDirectory } from '../repositories'
import { signatureValid } from '../signature'

export interface WebhookRouteDeps {
  secrets: string[]
  queues: Queues
  repositories: RepositoryDirectory
  metrics: BackendMetrics
  logger: Logger
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
  const { secrets, queues, repositories, metrics, logger } = deps
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
      let payload: { repository?: { id?: unknown }; zen?: string }
      try {
        payload = JSON.parse(body)
      } catch {
        return answer(res, 400, 'bad_request', { error: 'the body is not valid JSON', deliveryId }, event)
      }
      if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
        return answer(res, 400, 'bad_request', { error: 'the body is not a JSON object', deliveryId }, event)
      }
      if (event === 'ping') {
        return answer(res, 200, 'ping', { status: 'pong', deliveryId, zen: payload.zen ?? null }, event)
      }

      const githubRepoId = payload.repository?.id
      if (typeof githubRepoId !== 'number' || !Number.isSafeInteger(githubRepoId)) {
        logger.info('webhook ignored: no repository in the payload', { deliveryId, event })
        return answer(res, 202, 'ignored_no_repository', { status: 'ignored', reason: 'no repository in the payload', deliveryId }, event)
      }
      const repoId = await repositories.lookup(githubRepoId)
      if (!repoId) {
        logger.warn('webhook ignored: repository not registered in DevMetrics', { deliveryId, event, githubRepoId })
        return answer(
          res,
          202,
          'ignored_unknown_repository',
          { status: 'ignored', reason: 'repository not registered', repositoryId: githubRepoId, deliveryId },
          event,
        )
      }

      const data: DeliveryJobData = { deliveryId, event, payload: body, repoId, receivedAt: new Date().toISOString() }
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
