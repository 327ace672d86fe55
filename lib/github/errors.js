'use strict'
// What a failed GitHub request means for the job that made it. octokit throws a RequestError
// carrying the HTTP status (0 for no answer); queue workers need a documented code and
// whether a later attempt can succeed, and a rate-limited request must say how long to wait
// so its job is delayed, never failed. Every error keeps octokit's as `cause` (octokit has
// already replaced the `authorization` header there with "[REDACTED]").

const { WebhookProcessingError } = require('../errors')

/** The secondary-limit message GitHub sends with its 403s (as @octokit/plugin-throttling tests it). */
const SECONDARY_MESSAGE = /\bsecondary rate\b/i

function headerOf(err, name) {
  const headers = err && err.response && err.response.headers
  if (!headers) return undefined
  const value = headers[name]
  return value === undefined || value === null ? undefined : String(value)
}

/**
 * Whether `err` is a rate-limit answer, and how long to wait: `{ kind, retryAfterMs }` or null.
 * Secondary: 403/429 with `retry-after` or GitHub's secondary-limit message. Primary: a 403/429
 * with `x-ratelimit-remaining: 0`, or a GraphQL `RATE_LIMITED` error; the wait runs to
 * `x-ratelimit-reset` plus one second, as GitHub advises.
 */
function rateLimitOf(err, now = Date.now()) {
  if (!err || typeof err !== 'object') return null
  const status = err.status
  const graphqlLimited = hasGraphqlType(err, 'RATE_LIMITED')
  if (status !== 403 && status !== 429 && !graphqlLimited) return null
  const retryAfter = headerOf(err, 'retry-after')
  const remaining = headerOf(err, 'x-ratelimit-remaining')
  const reset = headerOf(err, 'x-ratelimit-reset')
  if (remaining === '0' || graphqlLimited) {
    const resetMs = Number(reset) * 1000
    const retryAfterMs = Number.isFinite(resetMs) && resetMs > 0 ? Math.max(resetMs - now, 0) + 1000 : 60_000
    return { kind: 'primary', retryAfterMs }
  }
  if (retryAfter !== undefined || SECONDARY_MESSAGE.test(String(err.message))) {
    const seconds = Number(retryAfter)
    return { kind: 'secondary', retryAfterMs: Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 60_000 }
  }
  if (status === 429) return { kind: 'secondary', retryAfterMs: 60_000 }
  return null
}

function graphqlErrors(err) {
  if (Array.isArray(err && err.errors)) return err.errors
  const data = err && err.response && err.response.data
  if (data && Array.isArray(data.errors)) return data.errors
  return []
}

function hasGraphqlType(err, type) {
  return graphqlErrors(err).some((e) => e && e.type === type)
}

function describeRequest(err) {
  const req = err && err.request
  if (!req || typeof req.url !== 'string') return 'GitHub request'
  let path = req.url
  try {
    path = new URL(req.url).pathname
  } catch {
    // a relative url: keep it, minus any query
    path = req.url.split('?')[0]
  }
  return `GitHub ${req.method || 'GET'} ${path}`
}

/** GitHub's own text for the failure, cut short: never request data, never headers. */
function reasonOf(err) {
  const text = err && typeof err.message === 'string' ? err.message : String(err)
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

/**
 * Turns whatever an octokit call threw into a WebhookProcessingError with a GITHUB_* code
 * (docs/errors.md), keeping the original as `cause`. Adds `status` (HTTP status, 0 for no
 * answer) and, for GITHUB_RATE_LIMITED, `retryAfterMs` and `rateLimit` ('primary' |
 * 'secondary'). A WebhookProcessingError passes through unchanged.
 */
function toGitHubError(err, now = Date.now()) {
  if (err instanceof WebhookProcessingError) return err
  const what = describeRequest(err)
  const reason = reasonOf(err)
  let status = err && typeof err.status === 'number' ? err.status : undefined
  // @octokit/request 8 reports a request that got no answer (refused, reset) as 500 without a response.
  if (status === 500 && !err.response) status = 0
  const make = (code, message, extra = {}) => {
    const e = new WebhookProcessingError(code, message, { cause: err })
    e.status = status ?? 0
    return Object.assign(e, extra)
  }
  const limit = rateLimitOf(err, now)
  if (limit) {
    return make('GITHUB_RATE_LIMITED', `${what}: ${limit.kind} rate limit, retry in ${Math.ceil(limit.retryAfterMs / 1000)} s`, {
      retryAfterMs: limit.retryAfterMs,
      rateLimit: limit.kind,
    })
  }
  if (status === undefined) {
    // A GraphQL answer with errors (HTTP 200), or something that never reached GitHub.
    if (graphqlErrors(err).length > 0) {
      if (hasGraphqlType(err, 'NOT_FOUND')) return make('GITHUB_NOT_FOUND', `${what}: ${reason}`)
      return make('GITHUB_ERROR', `${what}: ${reason}`)
    }
    return make('GITHUB_UNAVAILABLE', `${what}: ${reason}`)
  }
  if (status === 0 || status >= 500) return make('GITHUB_UNAVAILABLE', `${what}: ${status || 'no answer'} ${reason}`)
  if (status === 404 || status === 410 || status === 422) return make('GITHUB_NOT_FOUND', `${what}: ${status} ${reason}`)
  if (status === 401 || status === 403) return make('GITHUB_AUTH', `${what}: ${status} ${reason}`)
  return make('GITHUB_ERROR', `${what}: ${status} ${reason}`)
}

module.exports = { toGitHubError, rateLimitOf }
