'use strict'
// reprocessEvents' options checked in JavaScript, so a wrong type is CONFIG_ERROR (never
// napi's InvalidArg), and the progress callback made safe to call from native code: an
// exception it throws (or a promise it rejects) would otherwise reach Node as an uncaught
// exception from a threadsafe function call, which ends the process.

const { WebhookProcessingError } = require('./errors')
const { instant: instantOr } = require('./instant')

const TRACKED_TYPES = Object.freeze(['push', 'pull_request', 'issues', 'pull_request_review', 'deployment', 'deployment_status', 'workflow_run', 'workflow_job', 'release'])

const fail = (message) => {
  throw new WebhookProcessingError('CONFIG_ERROR', message)
}

/** An optional instant option (see ./instant); undefined when not given. */
function instant(name, value) {
  return value === undefined || value === null ? undefined : instantOr(name, value, fail)
}

function positiveInt(name, value, max) {
  if (value === undefined || value === null) return undefined
  if (!Number.isInteger(value) || value < 1 || value > max) fail(`${name} must be an integer from 1 to ${max}`)
  return value
}

/** Validates ReprocessOptions; returns the native options and the safe progress callback. */
function normalizeReprocessOptions(options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object' || Array.isArray(options)) fail('reprocessEvents options must be an object')
  const { since, until, types, repositoryGithubIds, batchSize, batchBytes, concurrency, maxBatches, onProgress } = options
  const sinceMs = instant('since', since)
  const untilMs = instant('until', until)
  if (sinceMs !== undefined && untilMs !== undefined && sinceMs >= untilMs) fail('since must be before until')
  if (types !== undefined && types !== null) {
    if (!Array.isArray(types)) fail('types must be an array of event types')
    for (const t of types) {
      if (!TRACKED_TYPES.includes(t)) fail(`types: ${JSON.stringify(t)} is not one of ${TRACKED_TYPES.join(', ')}`)
    }
  }
  if (repositoryGithubIds !== undefined && repositoryGithubIds !== null) {
    if (!Array.isArray(repositoryGithubIds)) fail('repositoryGithubIds must be an array of GitHub ids')
    for (const id of repositoryGithubIds) {
      if (!Number.isSafeInteger(id) || id < 1) fail('repositoryGithubIds must hold positive integers')
    }
  }
  if (onProgress !== undefined && onProgress !== null && typeof onProgress !== 'function') {
    fail('onProgress must be a function')
  }
  return {
    native: {
      sinceMs,
      untilMs,
      types: types ?? undefined,
      repositoryGithubIds: repositoryGithubIds ?? undefined,
      batchSize: positiveInt('batchSize', batchSize, 10000),
      batchBytes: positiveInt('batchBytes', batchBytes, 2 ** 30),
      concurrency: positiveInt('concurrency', concurrency, 1000),
      maxBatches: positiveInt('maxBatches', maxBatches, 2 ** 31 - 1),
    },
    onProgress: typeof onProgress === 'function' ? safeProgress(onProgress) : undefined,
  }
}

/**
 * The caller's callback behind a guard: whatever it throws or rejects is reported once on
 * stderr (a progress display must not stop a run, nor take the process down).
 */
function safeProgress(onProgress) {
  let warned = false
  const warn = (err) => {
    if (warned) return
    warned = true
    process.emitWarning(`reprocessEvents: onProgress failed (${err && err.message ? err.message : String(err)})`)
  }
  return (progress) => {
    try {
      const r = onProgress(progress)
      if (r && typeof r.then === 'function') r.then(undefined, warn)
    } catch (err) {
      warn(err)
    }
  }
}

module.exports = { normalizeReprocessOptions, TRACKED_TYPES }
