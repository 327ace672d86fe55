'use strict'
// The package's one way to talk to GitHub: octokit's core with its throttling, retry,
// pagination and REST-method plugins, authenticated as a GitHub App (an installation per
// repository owner, found once and cached) or with a token. Jobs call octokit's methods and
// read intent; rate limits, retries, timeouts and error codes are settled here once:
// - a rate limit whose wait is short is waited out inline; a longer one throws
//   GITHUB_RATE_LIMITED with `retryAfterMs`, so the queue delays the job instead of failing it;
// - 5xx answers, network errors and timeouts are retried with backoff, then GITHUB_UNAVAILABLE;
// - every failure is a WebhookProcessingError with a GITHUB_* code (lib/github/errors.js).
//
// Versions: @octokit/core 5 and the plugin/auth-app releases made for it are the last that
// ship CommonJS; jest's module loader (ts-jest, CommonJS) cannot load the ESM-only ≥ 6 line.
// @octokit/plugin-throttling 8 handles 403 secondary limits but not 429 (added in 9, ESM-only),
// so the outer hook below waits out a short 429 with the same policy.

const { Octokit: OctokitCore } = require('@octokit/core')
const { throttling } = require('@octokit/plugin-throttling')
const { retry } = require('@octokit/plugin-retry')
const { paginateRest } = require('@octokit/plugin-paginate-rest')
const { restEndpointMethods } = require('@octokit/plugin-rest-endpoint-methods')
const { createAppAuth } = require('@octokit/auth-app')
const { RequestError } = require('@octokit/request-error')
const Bottleneck = require('bottleneck/light')
const { WebhookProcessingError } = require('../errors')
const { normalizePrivateKey, readPrivateKeyFile } = require('./config')
const { toGitHubError, rateLimitOf } = require('./errors')
const { isLogin } = require('./names')

const DEFAULTS = Object.freeze({
  baseUrl: 'https://api.github.com',
  timeoutMs: 10_000,
  retries: 3,
  retryBaseMs: 1000,
  maxInlineWaitMs: 5000,
  maxInlineRetries: 2,
  writeSpacingMs: 1000,
})

const configError = (message) => new WebhookProcessingError('CONFIG_ERROR', message)

function statusClass(status) {
  if (!status) return 'network'
  return `${Math.floor(status / 100)}xx`
}

function newStats() {
  return {
    requests: 0,
    byStatus: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, network: 0 },
    timeouts: 0,
    retried: 0,
    rateLimited: { primary: 0, secondary: 0 },
    rateLimitedThrown: 0,
    rateLimit: {},
  }
}

function recordHeaders(stats, headers) {
  if (!headers || headers['x-ratelimit-remaining'] === undefined) return
  const resource = headers['x-ratelimit-resource'] || 'core'
  stats.rateLimit[resource] = {
    limit: Number(headers['x-ratelimit-limit']),
    remaining: Number(headers['x-ratelimit-remaining']),
    used: headers['x-ratelimit-used'] === undefined ? null : Number(headers['x-ratelimit-used']),
    resetAt: new Date(Number(headers['x-ratelimit-reset']) * 1000).toISOString(),
    seenAt: new Date().toISOString(),
  }
}

/**
 * The innermost layer (under retry and throttling, over auth): one HTTP attempt. Gives it a
 * timeout (an unanswered request is aborted and marked for plugin-retry like a 5xx), and
 * counts it in the client's stats.
 */
function attemptLayer(octokit, octokitOptions) {
  const cfg = octokitOptions.devmetrics
  if (!cfg) return {}
  octokit.hook.wrap('request', async (request, options) => {
    // before-after-hook hands inner hooks the original options object, so the attempt's
    // signal is set on it (and the caller's put back afterwards), not on a copy.
    options.request = options.request || {}
    const callerSignal = options.request.signal
    const controller = new AbortController()
    let timedOut = false
    const timer = cfg.timeoutMs > 0 ? setTimeout(() => {
      timedOut = true
      controller.abort()
    }, cfg.timeoutMs) : null
    const signal = callerSignal ? AbortSignal.any([callerSignal, controller.signal]) : controller.signal
    if ((options.request && options.request.retryCount) > 0) cfg.stats.retried++
    cfg.stats.requests++
    try {
      options.request.signal = signal
      const response = await request(options)
      cfg.stats.byStatus[statusClass(response.status)]++
      recordHeaders(cfg.stats, response.headers)
      const errors = response.data && Array.isArray(response.data.errors) ? response.data.errors : []
      if (errors.some((e) => e && e.type === 'RATE_LIMITED')) cfg.stats.rateLimited.primary++
      return response
    } catch (err) {
      if (timedOut) {
        cfg.stats.timeouts++
        cfg.stats.byStatus.network++
        const e = new RequestError(`no answer within ${cfg.timeoutMs} ms`, 0, { request: options })
        const retryCount = (options.request && options.request.retryCount) || 0
        // Mark it as plugin-retry marks a 5xx (its public retryRequest), so it backs off and retries.
        throw octokit.retry.retryRequest(e, cfg.retries, Math.pow(retryCount + 1, 2))
      }
      const status = typeof err.status === 'number' ? err.status : 0
      cfg.stats.byStatus[statusClass(status === 500 && !err.response ? 0 : status)]++
      if (err.response) recordHeaders(cfg.stats, err.response.headers)
      const limit = rateLimitOf(err)
      if (limit) cfg.stats.rateLimited[limit.kind]++
      throw err
    } finally {
      if (timer) clearTimeout(timer)
      options.request.signal = callerSignal
    }
  })
  return {}
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The outermost layer: what a job sees. Waits out a short 429 (plugin-throttling 8 only knows
 * 403), then turns any failure into a WebhookProcessingError with a GITHUB_* code. Also wraps
 * `octokit.graphql`, whose errors (HTTP 200 with `errors`) arise outside the request hooks.
 */
function outcomeLayer(octokit, octokitOptions) {
  const cfg = octokitOptions.devmetrics
  if (!cfg) return {}
  octokit.hook.wrap('request', async (request, options) => {
    for (let waited = 0; ; waited++) {
      try {
        return await request(options)
      } catch (err) {
        const limit = rateLimitOf(err)
        if (limit && err.status === 429 && limit.retryAfterMs <= cfg.maxInlineWaitMs && waited < cfg.maxInlineRetries) {
          await sleep(limit.retryAfterMs)
          cfg.stats.retried++
          continue
        }
        const mapped = toGitHubError(err)
        if (mapped.code === 'GITHUB_RATE_LIMITED') cfg.stats.rateLimitedThrown++
        if (mapped.code === 'GITHUB_AUTH' && mapped.status === 401 && cfg.onUnauthorized) cfg.onUnauthorized()
        throw mapped
      }
    }
  })
  const inner = octokit.graphql
  const graphql = (query, parameters) =>
    inner(query, parameters).catch((err) => {
      const mapped = toGitHubError(err)
      if (mapped !== err && mapped.code === 'GITHUB_RATE_LIMITED') cfg.stats.rateLimitedThrown++
      throw mapped
    })
  Object.assign(graphql, inner)
  graphql.defaults = inner.defaults
  graphql.endpoint = inner.endpoint
  return { graphql }
}

/** The octokit class, composed once: attempts innermost, outcomes outermost. */
const GitHubOctokit = OctokitCore.plugin(attemptLayer, restEndpointMethods, paginateRest, retry, throttling, outcomeLayer)

function checkNumber(options, name, { min = 0, integer = true } = {}) {
  const v = options[name]
  if (v === undefined) return DEFAULTS[name]
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw configError(`[github] options.${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}`)
  }
  return v
}

function checkBaseUrl(value) {
  if (value === undefined) return DEFAULTS.baseUrl
  let url
  try {
    url = new URL(String(value))
  } catch {
    throw configError('[github] options.baseUrl is not a URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw configError('[github] options.baseUrl must be http(s)')
  if (url.username || url.password) throw configError('[github] options.baseUrl must not carry credentials')
  return url.toString().replace(/\/+$/, '')
}

function checkAppId(value) {
  const s = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : ''
  if (!/^[1-9][0-9]{0,15}$/.test(s)) throw configError('[github] options.appId must be the numeric GitHub App id')
  return Number(s)
}

/**
 * plugin-throttling spaces writes and GraphQL requests 1 s apart in one group shared by the
 * process (GitHub's advice for mutations). Another spacing gets its own group.
 */
function writeGroup(spacingMs) {
  if (spacingMs === DEFAULTS.writeSpacingMs) return {}
  return { write: new Bottleneck.Group({ id: 'devmetrics-github-write', maxConcurrent: 1, minTime: spacingMs }) }
}

/** Checks GitHubClientOptions; throws CONFIG_ERROR naming the bad option (never its value). */
function normalizeClientOptions(options) {
  if (!options || typeof options !== 'object') throw configError('[github] createGitHubClient(options) needs an options object')
  const { appId, privateKey, privateKeyPath, token } = options
  const hasApp = appId !== undefined || privateKey !== undefined || privateKeyPath !== undefined
  if (token !== undefined && hasApp) throw configError('[github] give either token or appId + privateKey, not both')
  if (token === undefined && !hasApp) throw configError('[github] options.token or options.appId + options.privateKey required')
  const out = {
    baseUrl: checkBaseUrl(options.baseUrl),
    timeoutMs: checkNumber(options, 'timeoutMs'),
    retries: checkNumber(options, 'retries'),
    retryBaseMs: checkNumber(options, 'retryBaseMs'),
    maxInlineWaitMs: checkNumber(options, 'maxInlineWaitMs'),
    maxInlineRetries: checkNumber(options, 'maxInlineRetries'),
    writeSpacingMs: checkNumber(options, 'writeSpacingMs'),
    userAgent: options.userAgent === undefined ? 'devmetrics-webhook-processor' : String(options.userAgent),
    log: options.log,
    request: options.request,
  }
  if (token !== undefined) {
    if (typeof token !== 'string' || token.trim() === '' || /\s/.test(token.trim())) {
      throw configError('[github] options.token must be a non-empty string without spaces')
    }
    return { ...out, mode: 'token', token: token.trim() }
  }
  if (privateKey !== undefined && privateKeyPath !== undefined) {
    throw configError('[github] give options.privateKey or options.privateKeyPath, not both')
  }
  if (privateKey === undefined && privateKeyPath === undefined) {
    throw configError('[github] options.appId needs options.privateKey or options.privateKeyPath')
  }
  if (appId === undefined) throw configError('[github] options.privateKey needs options.appId')
  const key = privateKey !== undefined
    ? normalizePrivateKey(privateKey, '[github] options.privateKey')
    : readPrivateKeyFile(String(privateKeyPath), '[github] options.privateKeyPath')
  return { ...out, mode: 'app', appId: checkAppId(appId), privateKey: key }
}

function checkOwner(owner) {
  if (!isLogin(owner)) {
    throw new WebhookProcessingError('INVALID_JOB', 'forOwner(owner): owner must be a GitHub account login')
  }
  return owner
}

function checkInstallationId(id) {
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new WebhookProcessingError('INVALID_JOB', 'forInstallation(id): id must be a positive integer')
  }
  return id
}

/**
 * Creates a GitHub client; see GitHubClientOptions in client.d.ts. Throws CONFIG_ERROR at once
 * for a bad combination (token and App, an App without its key, a key that is no RSA PEM key).
 */
function createGitHubClient(options) {
  const cfg = normalizeClientOptions(options)
  const stats = newStats()
  const layer = {
    stats,
    timeoutMs: cfg.timeoutMs,
    retries: cfg.retries,
    maxInlineWaitMs: cfg.maxInlineWaitMs,
    maxInlineRetries: cfg.maxInlineRetries,
  }
  const limitHandler = (retryAfterSeconds, _options, _octokit, retryCount) =>
    retryAfterSeconds * 1000 <= cfg.maxInlineWaitMs && retryCount < cfg.maxInlineRetries
  const silentLog = { debug() {}, info() {}, warn() {}, error() {} }
  const base = {
    baseUrl: cfg.baseUrl,
    userAgent: cfg.userAgent,
    log: cfg.log || silentLog,
    request: cfg.request,
    devmetrics: layer,
    retry: { retries: cfg.retries, retryAfterBaseValue: cfg.retryBaseMs, doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451] },
    throttle: { onRateLimit: limitHandler, onSecondaryRateLimit: limitHandler, ...writeGroup(cfg.writeSpacingMs) },
  }

  if (cfg.mode === 'token') {
    const octokit = new GitHubOctokit({ ...base, auth: cfg.token })
    return Object.freeze({
      mode: 'token',
      baseUrl: cfg.baseUrl,
      forOwner: async (owner) => (checkOwner(owner), octokit),
      forInstallation: async (installationId) => (checkInstallationId(installationId), octokit),
      asApp: () => {
        throw configError('[github] asApp() needs a GitHub App (appId + privateKey), not a token')
      },
      stats: () => structuredClone(stats),
    })
  }

  const appAuth = { appId: cfg.appId, privateKey: cfg.privateKey }
  const app = new GitHubOctokit({ ...base, authStrategy: createAppAuth, auth: appAuth })
  const byInstallation = new Map() // installation id → Promise<Octokit>
  const byOwner = new Map() // lower-case login → Promise<Octokit>

  const installationOctokit = (installationId) => {
    let pending = byInstallation.get(installationId)
    if (!pending) {
      pending = (async () => {
        // A 401 means the token was revoked or the App uninstalled: forget this installation
        // (and the owners that led to it), so the next forOwner() looks it up afresh.
        const onUnauthorized = () => forget(installationId)
        const octokit = new GitHubOctokit({
          ...base,
          devmetrics: { ...layer, onUnauthorized },
          authStrategy: createAppAuth,
          auth: { ...appAuth, installationId },
        })
        // One token request now; auth-app caches it (and renews it before it expires).
        await octokit.auth({ type: 'installation' }).catch((err) => {
          throw toGitHubError(err)
        })
        return octokit
      })()
      byInstallation.set(installationId, pending)
      pending.catch(() => {
        if (byInstallation.get(installationId) === pending) byInstallation.delete(installationId)
      })
    }
    return pending
  }

  const installationOf = new Map() // lower-case login → installation id
  const forget = (installationId) => {
    byInstallation.delete(installationId)
    for (const [owner, id] of installationOf) {
      if (id === installationId) {
        installationOf.delete(owner)
        byOwner.delete(owner)
      }
    }
  }

  const findInstallation = async (owner, repo) => {
    if (repo) return (await app.request('GET /repos/{owner}/{repo}/installation', { owner, repo })).data.id
    try {
      return (await app.request('GET /users/{username}/installation', { username: owner })).data.id
    } catch (err) {
      if (err.code !== 'GITHUB_NOT_FOUND') throw err
    }
    try {
      return (await app.request('GET /orgs/{org}/installation', { org: owner })).data.id
    } catch (err) {
      if (err.code !== 'GITHUB_NOT_FOUND') throw err
      const e = new WebhookProcessingError('GITHUB_NOT_FOUND', `the GitHub App is not installed for ${owner}`, { cause: err })
      e.status = 404
      throw e
    }
  }

  return Object.freeze({
    mode: 'app',
    baseUrl: cfg.baseUrl,
    forOwner(owner, repo) {
      let key
      try {
        key = checkOwner(owner).toLowerCase()
      } catch (err) {
        return Promise.reject(err)
      }
      let pending = byOwner.get(key)
      if (!pending) {
        pending = findInstallation(owner, repo).then((id) => {
          installationOf.set(key, id)
          return installationOctokit(id)
        })
        byOwner.set(key, pending)
        pending.catch(() => {
          if (byOwner.get(key) === pending) byOwner.delete(key)
        })
      }
      return pending
    },
    forInstallation(installationId) {
      try {
        checkInstallationId(installationId)
      } catch (err) {
        return Promise.reject(err)
      }
      return installationOctokit(installationId)
    },
    asApp: () => app,
    stats: () => structuredClone(stats),
  })
}

module.exports = { createGitHubClient, GitHubOctokit, DEFAULTS }
