'use strict'
// doraMetrics' options checked in JavaScript, so a wrong type is CONFIG_ERROR (never napi's
// InvalidArg), and its result shaped as the contract says (null, not undefined, for a
// percentile or rate with nothing to measure). The metrics themselves are computed in SQL by
// the addon (crates/core/src/dora.rs; definitions in docs/dora.md).

const { WebhookProcessingError } = require('./errors')
const { instant: instantOr } = require('./instant')

const fail = (message) => {
  throw new WebhookProcessingError('CONFIG_ERROR', `doraMetrics: ${message}`)
}

/** A required instant option (see ./instant). */
const instant = (name, value) => instantOr(name, value, fail)

/** Ten years, the addon's bound. */
const MAX_FAILURE_WINDOW_HOURS = 87600

const given = (v) => v !== undefined && v !== null
const nonEmptyString = (v) => typeof v === 'string' && v.trim() !== ''

/** Validates DoraOptions; returns the native options. */
function normalizeDoraOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    fail('options must be an object with since and until')
  }
  const { since, until, repositoryGithubIds, teamId, environment, incidentLabels, failureWindowHours } = options
  if (!given(since) || !given(until)) fail('since and until are required')
  const sinceMs = instant('since', since)
  const untilMs = instant('until', until)
  if (sinceMs >= untilMs) fail('since must be before until')
  if (given(repositoryGithubIds)) {
    if (!Array.isArray(repositoryGithubIds)) fail('repositoryGithubIds must be an array of GitHub ids')
    for (const id of repositoryGithubIds) {
      if (!Number.isSafeInteger(id) || id < 1) fail('repositoryGithubIds must hold positive integers')
    }
  }
  if (given(teamId) && !nonEmptyString(teamId)) fail('teamId must be a non-empty string')
  if (given(environment) && !nonEmptyString(environment)) fail('environment must be a non-empty string')
  if (given(incidentLabels)) {
    if (!Array.isArray(incidentLabels) || !incidentLabels.every(nonEmptyString)) {
      fail('incidentLabels must be an array of non-empty strings')
    }
  }
  if (given(failureWindowHours)) {
    if (typeof failureWindowHours !== 'number' || !Number.isFinite(failureWindowHours) ||
        failureWindowHours <= 0 || failureWindowHours > MAX_FAILURE_WINDOW_HOURS) {
      fail(`failureWindowHours must be a positive number of hours, at most ${MAX_FAILURE_WINDOW_HOURS}`)
    }
  }
  return {
    sinceMs,
    untilMs,
    repositoryGithubIds: given(repositoryGithubIds) ? repositoryGithubIds : undefined,
    teamId: given(teamId) ? teamId : undefined,
    environment: given(environment) ? environment : undefined,
    incidentLabels: given(incidentLabels) ? incidentLabels : undefined,
    failureWindowHours: given(failureWindowHours) ? failureWindowHours : undefined,
  }
}

/** The native result with null for what napi leaves undefined. */
function shapeDoraMetrics(m) {
  const nulls = (o, keys) => {
    for (const k of keys) o[k] ??= null
    return o
  }
  return {
    deploymentFrequency: m.deploymentFrequency,
    leadTime: nulls(m.leadTime, ['medianSeconds', 'p75Seconds', 'p90Seconds']),
    changeFailRate: nulls(m.changeFailRate, ['rate']),
    recoveryTime: nulls(m.recoveryTime, ['medianSeconds', 'p75Seconds', 'p90Seconds']),
    reworkRate: nulls(m.reworkRate, ['rate']),
  }
}

module.exports = { normalizeDoraOptions, shapeDoraMetrics, MAX_FAILURE_WINDOW_HOURS }
