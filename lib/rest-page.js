'use strict'
// Argument checks of WebhookProcessor.applyRestPage. A REST page comes from octokit
// already parsed (response.data), or as the raw body text; either way the addon parses
// text, so objects are serialised once here, and a wrong kind or type is INVALID_JOB
// before anything crosses into Rust.

const { WebhookProcessingError } = require('./errors')
const { MAX_PAYLOAD_BYTES } = require('./validate')

/** The lists a page may come from. */
const REST_KINDS = Object.freeze(['pulls', 'reviews', 'issues', 'commits', 'deployments', 'deployment_statuses', 'workflow_runs'])
/** Kinds whose page lists children of one parent object, passed beside the page. */
const PARENT_OF = Object.freeze({ reviews: 'pullRequest', deployment_statuses: 'deployment' })

const fail = (code, message) => {
  throw new WebhookProcessingError(code, message)
}

function asText(value, what) {
  let text = value
  if (typeof text !== 'string') {
    if (value === null || typeof value !== 'object') fail('INVALID_JOB', `${what} must be JSON text or an object`)
    try {
      text = JSON.stringify(value)
    } catch (err) {
      fail('INVALID_PAYLOAD', `${what} cannot be serialised: ${err.message}`)
    }
  }
  // Bytes are at most 3 per UTF-16 unit: only a long string needs measuring.
  if (text.length * 3 > MAX_PAYLOAD_BYTES) {
    const size = Buffer.byteLength(text)
    if (size > MAX_PAYLOAD_BYTES) fail('PAYLOAD_TOO_LARGE', `${what} is ${size} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`)
  }
  return text
}

/** Validates applyRestPage's arguments and returns the native call's. */
function normalizeRestPage(repoId, kind, page, pullRequest) {
  if (typeof repoId !== 'string' || repoId.trim() === '') fail('INVALID_JOB', 'repoId must be a non-empty string')
  if (!REST_KINDS.includes(kind)) fail('INVALID_JOB', `kind must be one of ${REST_KINDS.join(', ')}`)
  if (page === undefined || page === null) fail('INVALID_JOB', 'page is missing')
  const text = asText(page, 'page')
  let pr
  const parent = PARENT_OF[kind]
  if (parent) {
    if (pullRequest === undefined || pullRequest === null) fail('INVALID_JOB', `a ${kind} page needs its ${parent}`)
    pr = asText(pullRequest, parent)
  } else if (pullRequest !== undefined && pullRequest !== null) {
    fail('INVALID_JOB', 'a parent object is only for a reviews or deployment_statuses page')
  }
  return { repoId, kind, page: text, pullRequest: pr }
}

module.exports = { normalizeRestPage, REST_KINDS }
