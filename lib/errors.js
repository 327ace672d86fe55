'use strict'
// WebhookProcessingError: the one error type the package throws. The native addon encodes
// its documented code in the message as `[CODE] message` (napi's async errors carry no
// custom code); anything else that escapes it, a panic included, is INTERNAL.

/** Codes a later attempt of the same job can fix. */
const RETRYABLE_CODES = new Set([
  'DATABASE_UNAVAILABLE',
  'DATABASE_ERROR',
  'PROCESSOR_CLOSED',
  'GITHUB_RATE_LIMITED',
  'GITHUB_UNAVAILABLE',
])

const ERROR_CODES = Object.freeze([
  'INVALID_JOB',
  'INVALID_PAYLOAD',
  'PAYLOAD_TOO_LARGE',
  'UNKNOWN_REPOSITORY',
  'SCHEMA_MISMATCH',
  'CONFIG_ERROR',
  'CONSTRAINT_VIOLATION',
  'INTERNAL',
  'DATABASE_UNAVAILABLE',
  'DATABASE_ERROR',
  'PROCESSOR_CLOSED',
  // GitHub's API (lib/github/errors.js)
  'GITHUB_RATE_LIMITED',
  'GITHUB_UNAVAILABLE',
  'GITHUB_NOT_FOUND',
  'GITHUB_AUTH',
  'GITHUB_ERROR',
])

class WebhookProcessingError extends Error {
  constructor(code, message, options) {
    super(message, options)
    this.name = 'WebhookProcessingError'
    this.code = code
    this.retryable = RETRYABLE_CODES.has(code)
  }
}

const CODED_MESSAGE = /^\[([A-Z_]+)\] ([\s\S]*)$/

/** Turns whatever the native side threw into a WebhookProcessingError. */
function toProcessingError(err) {
  if (err instanceof WebhookProcessingError) return err
  const message = err && typeof err.message === 'string' ? err.message : String(err)
  const coded = CODED_MESSAGE.exec(message)
  if (coded && ERROR_CODES.includes(coded[1])) {
    return new WebhookProcessingError(coded[1], coded[2], { cause: err })
  }
  return new WebhookProcessingError('INTERNAL', `unexpected native error: ${message}`, { cause: err })
}

/** Calls a native function and rethrows its failure as a WebhookProcessingError. */
async function callNative(fn) {
  try {
    return await fn()
  } catch (err) {
    throw toProcessingError(err)
  }
}

module.exports = { WebhookProcessingError, ERROR_CODES, RETRYABLE_CODES, toProcessingError, callNative }
