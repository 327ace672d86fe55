'use strict'
// @devmetrics/webhook-processor: the package's main entry. It re-exports the processor
// (./processor.js), the queue glue and the GitHub jobs, wraps the native functions of the
// generated ../index.js with argument validation and WebhookProcessingError, and holds the
// default instance behind processWebhook(). Nothing in lib/ requires this file back.

const native = require('../index.js')
const { WebhookProcessingError, ERROR_CODES, callNative, toProcessingError } = require('./errors')
const { normalizeJob, normalizePayload, isNonEmptyString, MAX_PAYLOAD_BYTES } = require('./validate')
const { WebhookProcessor } = require('./processor')

let defaultProcessor = null

/** The default instance, from DATABASE_URL and REDIS_URL; a failed connect is not kept. */
function getDefaultProcessor() {
  if (!defaultProcessor) {
    const databaseUrl = process.env.DATABASE_URL
    if (!databaseUrl) {
      return Promise.reject(new WebhookProcessingError('CONFIG_ERROR', 'DATABASE_URL is not set'))
    }
    const pending = WebhookProcessor.connect({ databaseUrl, redisUrl: process.env.REDIS_URL || undefined })
    defaultProcessor = pending
    pending.catch(() => {
      if (defaultProcessor === pending) defaultProcessor = null
    })
  }
  return defaultProcessor
}

/** Processes one delivery with the default instance (DATABASE_URL, REDIS_URL). */
async function processWebhook(job) {
  normalizeJob(job)
  const processor = await getDefaultProcessor()
  return processor.process(job)
}

/** Closes the default instance, if one was opened. */
async function closeDefaultProcessor() {
  const pending = defaultProcessor
  defaultProcessor = null
  if (!pending) return
  let processor
  try {
    processor = await pending
  } catch {
    return
  }
  await processor.close()
}

/**
 * Checks a payload without a database: the size limit, parse and planning process()
 * applies before writing. Returns { tracked, action, repositoryGithubId, senderGithubId };
 * throws INVALID_PAYLOAD or PAYLOAD_TOO_LARGE as process() would, INVALID_JOB for bad arguments.
 */
function inspectWebhook(event, payload) {
  if (!isNonEmptyString(event)) throw new WebhookProcessingError('INVALID_JOB', 'event must be a non-empty string')
  const body = normalizePayload(payload)
  let seen
  try {
    seen = native.inspectWebhook(event, body)
  } catch (err) {
    throw toProcessingError(err)
  }
  // napi leaves absent optionals undefined; the contract says null.
  seen.action ??= null
  seen.repositoryGithubId ??= null
  seen.senderGithubId ??= null
  return seen
}

/** Applies the bundled Prisma migrations; idempotent. */
async function migrate(databaseUrl) {
  if (typeof databaseUrl !== 'string' || databaseUrl.trim() === '') {
    throw new WebhookProcessingError('CONFIG_ERROR', 'migrate(databaseUrl) needs a database URL')
  }
  return callNative(() => native.migrate(databaseUrl))
}

const worker = require('./worker')
const bullmqWorker = require('./bullmq-worker')
const githubWorker = require('./github/worker')
const { createGitHubBullMQWorker } = require('./github/bullmq-worker')
const { redactCredentials } = require('./redact')
const recovery = require('./recovery')
const { createGitHubClient } = require('./github/client')
const { githubOptionsFromEnv } = require('./github/config')

module.exports = {
  createWebhookWorker: worker.createWebhookWorker,
  webhookJobOptions: worker.webhookJobOptions,
  webhookQueueSettings: worker.webhookQueueSettings,
  webhookBackoff: worker.webhookBackoff,
  createBullMQWorker: bullmqWorker.createBullMQWorker,
  bullmqWebhookJobOptions: bullmqWorker.bullmqWebhookJobOptions,
  createGitHubWorker: githubWorker.createGitHubWorker,
  githubJobOptions: githubWorker.githubJobOptions,
  createGitHubBullMQWorker,
  WebhookProcessor,
  WebhookProcessingError,
  ERROR_CODES,
  MAX_PAYLOAD_BYTES,
  redactCredentials,
  processWebhook,
  closeDefaultProcessor,
  inspectWebhook,
  migrate,
  ...recovery,
  createGitHubClient,
  githubOptionsFromEnv,
}
