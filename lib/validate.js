'use strict'
// Argument checks done in JavaScript, so a wrong type surfaces as a documented code
// (INVALID_JOB, CONFIG_ERROR) instead of napi's InvalidArg, and a payload that is
// obviously too large is refused before it is copied across the boundary.

const { WebhookProcessingError } = require('./errors')

/** GitHub never sends more than 25 MB. */
const MAX_PAYLOAD_BYTES = 25 * 1024 * 1024

const fail = (code, message) => {
  throw new WebhookProcessingError(code, message)
}

const isNonEmptyString = (v) => typeof v === 'string' && v.trim() !== ''

/** Validates a WebhookJobData and returns the native call's arguments. */
function normalizeJob(job) {
  if (job === null || typeof job !== 'object' || Array.isArray(job)) {
    fail('INVALID_JOB', 'job must be an object with deliveryId, event and payload')
  }
  const { deliveryId, event, payload, repoId, receivedAt } = job
  if (!isNonEmptyString(deliveryId)) fail('INVALID_JOB', 'deliveryId must be a non-empty string')
  if (!isNonEmptyString(event)) fail('INVALID_JOB', 'event must be a non-empty string')
  if (repoId !== undefined && repoId !== null && !isNonEmptyString(repoId)) {
    fail('INVALID_JOB', 'repoId must be a non-empty string when given')
  }
  return {
    deliveryId,
    event,
    payload: normalizePayload(payload),
    repoId: repoId ?? undefined,
    receivedAtMs: normalizeReceivedAt(receivedAt),
  }
}

/** Raw text or bytes go to the parser as they are; a parsed object is serialised once. */
function normalizePayload(payload) {
  let body = payload
  if (body === undefined || body === null) fail('INVALID_JOB', 'payload is missing')
  if (typeof body === 'string') {
    checkTextSize(body)
    return body
  }
  if (Buffer.isBuffer(body)) {
    if (body.length > MAX_PAYLOAD_BYTES) tooLarge(body.length)
    return body
  }
  if (body instanceof Uint8Array) {
    body = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
    if (body.length > MAX_PAYLOAD_BYTES) tooLarge(body.length)
    return body
  }
  if (typeof body === 'object') {
    let text
    try {
      text = JSON.stringify(body)
    } catch (err) {
      throw new WebhookProcessingError('INVALID_PAYLOAD', `payload object cannot be serialised: ${err.message}`)
    }
    checkTextSize(text)
    return text
  }
  fail('INVALID_JOB', `payload must be a string, a Buffer or an object, not ${typeof body}`)
}

/**
 * The limit is in UTF-8 bytes, the form the text crosses into native memory in; a string's
 * length counts UTF-16 units, up to three bytes each. Counting the bytes costs a pass, so
 * only strings that could be over the limit pay it.
 */
function checkTextSize(text) {
  if (text.length > MAX_PAYLOAD_BYTES) tooLarge(text.length)
  if (text.length > MAX_PAYLOAD_BYTES / 3) {
    const bytes = Buffer.byteLength(text, 'utf8')
    if (bytes > MAX_PAYLOAD_BYTES) tooLarge(bytes)
  }
}

function tooLarge(size) {
  fail('PAYLOAD_TOO_LARGE', `payload is at least ${size} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`)
}

/** ISO string, epoch milliseconds or Date to epoch milliseconds; undefined means now. */
function normalizeReceivedAt(receivedAt) {
  if (receivedAt === undefined || receivedAt === null) return undefined
  let ms
  if (typeof receivedAt === 'number') ms = receivedAt
  else if (typeof receivedAt === 'string') ms = Date.parse(receivedAt)
  else if (receivedAt instanceof Date) ms = receivedAt.getTime()
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    fail('INVALID_JOB', 'receivedAt must be an ISO date string or epoch milliseconds')
  }
  return ms
}

/** Validates ProcessorOptions; bad options are CONFIG_ERROR. */
function normalizeOptions(options) {
  if (options === null || typeof options !== 'object') fail('CONFIG_ERROR', 'options must be an object')
  const { databaseUrl, redisUrl, redisKeyPrefix, maxConnections, userCacheTtlSeconds, idleTimeoutMs, maxLifetimeMs, productionEnvironments, autoRegisterRepositories, ownerTeams } = options
  if (!isNonEmptyString(databaseUrl)) fail('CONFIG_ERROR', 'databaseUrl must be a non-empty string')
  if (redisUrl !== undefined && redisUrl !== null && !isNonEmptyString(redisUrl)) {
    fail('CONFIG_ERROR', 'redisUrl must be a non-empty string when given')
  }
  if (redisKeyPrefix !== undefined && redisKeyPrefix !== null && typeof redisKeyPrefix !== 'string') {
    fail('CONFIG_ERROR', 'redisKeyPrefix must be a string when given')
  }
  const positiveInt = (name, value, max) => {
    if (value === undefined || value === null) return undefined
    if (!Number.isInteger(value) || value < 1 || value > max) {
      fail('CONFIG_ERROR', `${name} must be an integer from 1 to ${max}`)
    }
    return value
  }
  return {
    databaseUrl,
    redisUrl: redisUrl ?? undefined,
    redisKeyPrefix: redisKeyPrefix ?? undefined,
    maxConnections: positiveInt('maxConnections', maxConnections, 1000),
    userCacheTtlSeconds: positiveInt('userCacheTtlSeconds', userCacheTtlSeconds, 7 * 24 * 3600),
    // Milliseconds, at most a week (the addon takes them as 32-bit integers).
    idleTimeoutMs: positiveInt('idleTimeoutMs', idleTimeoutMs, 7 * 24 * 3600 * 1000),
    maxLifetimeMs: positiveInt('maxLifetimeMs', maxLifetimeMs, 7 * 24 * 3600 * 1000),
    productionEnvironments: productionPattern(productionEnvironments),
    autoRegisterRepositories: normalizeAutoRegister(autoRegisterRepositories),
    ownerTeams: normalizeOwnerTeams(ownerTeams),
  }
}

/**
 * The `productionEnvironments` option: a non-empty string (a PostgreSQL regular expression,
 * matched case-insensitively) or a RegExp (its source; its flags are not used: the match is
 * always case-insensitive). PostgreSQL checks the syntax at connect (CONFIG_ERROR).
 */
function productionPattern(value) {
  if (value === undefined || value === null) return undefined
  const source = value instanceof RegExp ? value.source : value
  if (!isNonEmptyString(source) || source.includes('\0')) {
    fail('CONFIG_ERROR', 'productionEnvironments must be a non-empty string or a RegExp')
  }
  return source
}

function normalizeAutoRegister(value) {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'boolean') fail('CONFIG_ERROR', 'autoRegisterRepositories must be a boolean when given')
  return value
}

/** ownerTeams: `{ [ownerLogin]: teamName }`, both non-empty strings. */
function normalizeOwnerTeams(value) {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) fail('CONFIG_ERROR', 'ownerTeams must be an object of owner login to team name')
  const out = {}
  for (const [owner, team] of Object.entries(value)) {
    if (!isNonEmptyString(owner) || !isNonEmptyString(team)) fail('CONFIG_ERROR', 'ownerTeams maps owner logins to non-empty team names')
    out[owner] = team
  }
  return out
}

/** A GitHub account id: a positive safe integer. */
function normalizeGithubId(githubId) {
  if (!Number.isSafeInteger(githubId) || githubId < 1) {
    fail('INVALID_JOB', 'githubId must be a positive integer')
  }
  return githubId
}

/** Validates linkGithubUser's arguments: a user id and at least one of id, login, email. */
function normalizeLink(userId, github) {
  if (!isNonEmptyString(userId)) fail('INVALID_JOB', 'userId must be a non-empty string')
  if (github === null || typeof github !== 'object') fail('INVALID_JOB', 'github must be an object')
  const { id, login, email } = github
  const optionalString = (name, value) => {
    if (value === undefined || value === null) return undefined
    if (!isNonEmptyString(value)) fail('INVALID_JOB', `github.${name} must be a non-empty string when given`)
    return value
  }
  const link = {
    id: id === undefined || id === null ? undefined : normalizeGithubId(id),
    login: optionalString('login', login),
    email: optionalString('email', email),
  }
  if (link.id === undefined && link.login === undefined && link.email === undefined) {
    fail('INVALID_JOB', 'github needs an id, a login or an email')
  }
  return { userId, github: link }
}

module.exports = {
  normalizeJob,
  normalizePayload,
  normalizeOptions,
  normalizeGithubId,
  normalizeLink,
  isNonEmptyString,
  MAX_PAYLOAD_BYTES,
}
