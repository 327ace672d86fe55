'use strict'
// What a webhook job's failure means, the same on Bull (lib/worker.js) and BullMQ
// (lib/bullmq-worker.js): the error as a WebhookProcessingError, whether another attempt will
// follow, the counters, one log line with the job's context, and the alert for a failure that
// is final. Only how the queue is told "do not retry" differs (job.discard() on Bull, an
// UnrecoverableError on BullMQ), so each glue keeps that part.

const { toProcessingError } = require('./errors')
const { redactCredentials } = require('./redact')

/**
 * Records a failed attempt and returns its error. `context` is the job's log context
 * (`attempt` and `attempts` among it); `started` the attempt's start (process.hrtime.bigint()).
 * `onPermanentFailure(job, error)` runs once the failure is final (not retryable, or the last
 * attempt); what it throws is logged, never propagated.
 */
async function recordFailure(thrown, { job, context, started, counters, logger, onPermanentFailure }) {
  const error = toProcessingError(thrown)
  const exhausted = context.attempt >= context.attempts
  const permanent = !error.retryable || exhausted
  if (!error.retryable) counters.discarded++
  else if (!exhausted) counters.retried++
  counters.failed++
  counters.failuresByCode[error.code] = (counters.failuresByCode[error.code] ?? 0) + 1
  logger.error('webhook job failed', {
    ...context,
    code: error.code,
    retryable: error.retryable,
    willRetry: !permanent,
    error: redactCredentials(error.message),
    durationMs: Number(process.hrtime.bigint() - started) / 1e6,
  })
  if (permanent && onPermanentFailure) {
    try {
      await onPermanentFailure(job, error)
    } catch (alertError) {
      logger.warn('onPermanentFailure threw', { ...context, error: redactCredentials(alertError && alertError.message) })
    }
  }
  return error
}

module.exports = { recordFailure }
