'use strict'
// The processor a worker runs on, the same for every glue (Bull and BullMQ, webhooks and
// github): the one the caller gave, or one the worker connects itself from `databaseUrl`,
// again and again with backoff until the database is there and migrated (a worker may start
// before its database), and the check of the option that bounds that backoff.

const { WebhookProcessingError, toProcessingError } = require('./errors')
const { redactCredentials } = require('./redact')
const { WebhookProcessor } = require('./processor')

/**
 * Checks `options.reconnectMaxDelayMs` (a positive integer, when given); `fail(message)` throws
 * the caller's CONFIG_ERROR. A zero or negative delay would retry the connection in a busy loop.
 */
function checkReconnectMaxDelay(options, fail) {
  const reconnect = options.reconnectMaxDelayMs
  if (reconnect !== undefined && (!Number.isInteger(reconnect) || reconnect < 1)) fail('reconnectMaxDelayMs must be a positive integer')
}

/** Longest wait between two connection attempts of a worker that connects its own processor. */
const RECONNECT_MAX_DELAY_MS = 15_000
/** Wait after the first failed connection attempt; each further failure doubles it, up to the maximum. */
const RECONNECT_BASE_DELAY_MS = 250

/**
 * A processor connected in the background, again and again with backoff until the database
 * is there and migrated (a worker may start before its database). `ready()` waits for it;
 * `waitingFor()` says what it is waiting for, for health(); `close()` stops trying and
 * rejects the waiting jobs with PROCESSOR_CLOSED (retryable: another worker takes them).
 */
function connectWithBackoff(connectOptions, maxDelayMs, logger) {
  let processor = null
  let stopped = false
  let waiting = { what: 'database', since: new Date().toISOString(), attempts: 0, code: null, message: 'connecting', nextAttemptAt: null }
  const waiters = []
  let sleeping = null

  const settle = (fn) => {
    for (const w of waiters.splice(0)) fn(w)
  }

  const loop = (async () => {
    for (let attempt = 1; !stopped; attempt++) {
      try {
        const connected = await WebhookProcessor.connect(connectOptions)
        if (stopped) {
          await connected.close()
          return
        }
        processor = connected
        if (attempt > 1) logger.warn('webhook worker connected to the database', { attempts: attempt })
        waiting = null
        settle((w) => w.resolve(connected))
        return
      } catch (thrown) {
        const error = toProcessingError(thrown)
        const delay = Math.min(maxDelayMs, RECONNECT_BASE_DELAY_MS * 2 ** (attempt - 1))
        const message = redactCredentials(error.message)
        if (waiting.code !== error.code) {
          logger.warn('webhook worker waiting for the database', { code: error.code, error: message, attempts: attempt })
        }
        waiting = {
          ...waiting,
          attempts: attempt,
          code: error.code,
          message,
          nextAttemptAt: new Date(Date.now() + delay).toISOString(),
        }
        // Backoff between attempts, cut short by close().
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, delay)
          sleeping = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        sleeping = null
      }
    }
  })()

  return {
    ready() {
      if (processor) return Promise.resolve(processor)
      if (stopped) return Promise.reject(new WebhookProcessingError('PROCESSOR_CLOSED', 'the worker is closing'))
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }))
    },
    current: () => processor,
    waitingFor: () => (waiting ? { ...waiting } : null),
    async close() {
      stopped = true
      if (sleeping) sleeping()
      settle((w) => w.reject(new WebhookProcessingError('PROCESSOR_CLOSED', 'the worker closed while waiting for the database')))
      await loop
    },
  }
}

/**
 * The processor a worker runs on, as `{ ready(), current(), waitingFor(), close() }`: the one
 * the caller gave, or one the worker connects itself from `databaseUrl`, with backoff until
 * the database is there and migrated (both queue drivers use this).
 */
function workerDatabase(options, concurrency, logger) {
  if (options.processor) {
    return { ready: () => Promise.resolve(options.processor), current: () => options.processor, waitingFor: () => null, close: async () => {} }
  }
  return connectWithBackoff(
    {
      databaseUrl: options.databaseUrl,
      redisUrl: options.redisUrl,
      redisKeyPrefix: options.redisKeyPrefix,
      userCacheTtlSeconds: options.userCacheTtlSeconds,
      maxConnections: options.maxConnections ?? concurrency,
      idleTimeoutMs: options.idleTimeoutMs,
      maxLifetimeMs: options.maxLifetimeMs,
      productionEnvironments: options.productionEnvironments,
      autoRegisterRepositories: options.autoRegisterRepositories,
      ownerTeams: options.ownerTeams,
    },
    options.reconnectMaxDelayMs ?? RECONNECT_MAX_DELAY_MS,
    logger,
  )
}

module.exports = { workerDatabase, checkReconnectMaxDelay, RECONNECT_MAX_DELAY_MS, RECONNECT_BASE_DELAY_MS }
