'use strict'
// doraMetrics' options checked in JavaScript, so a wrong type is CONFIG_ERROR (never napi's
// InvalidArg), and its result shaped as the contract says (null, not undefined, for a
// percentile or rate with nothing to measure). The metrics themselves are computed in SQL by
// the addon (crates/core/src/dora.rs; definitions in docs/dora.md).

const { WebhookProcessingError } = require('./errors')

const fail = (message) => {
  throw new WebhookProcessingError('CONFIG_ERROR', `doraMetrics: ${message}`)
}

/** Ten years, the addon's bound. */
const MAX_FAILURE_WINDOW_HOURS = 87600

/** An ISO 8601 date or date-time, with or without an offset. */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?([Zz]|[+-]\d{2}:?\d{2})?$/

/**
 * Epoch milliseconds of a date string. An ISO date or date-time is read in UTC unless it
 * carries an offset, like every time here (JavaScript's Date.parse reads `2026-03-01` as UTC
 * but `2026-03-01T00:00:00` in the process's time zone), and a day the calendar lacks
 * (`2026-02-30`, which Date.parse rolls into March) is no date; other strings (an RFC 2822
 * date, which names its zone) as Date.parse reads them. NaN when not a date.
 */
function parseInstant(text) {
  const m = ISO.exec(text.trim())
  if (!m) return Date.parse(text)
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)]
  const at = new Date(Date.UTC(...fields))
  at.setUTCFullYear(fields[0]) // Date.UTC reads years 0–99 as 1900–1999
  const back = [at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate(), at.getUTCHours(), at.getUTCMinutes(), at.getUTCSeconds()]
  if (back.some((v, i) => v !== fields[i])) return NaN
  const ms = at.getTime() + Number(frac.slice(1, 4).padEnd(3, '0')) // whole milliseconds, as stored
  if (/^[Zz]$/.test(zone)) return ms
  const [, sign, zh, zm] = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)
  return ms - (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) * 60_000
}

/** A Date, an ISO string or epoch milliseconds to epoch milliseconds; required. */
function instant(name, value) {
  let ms
  if (value instanceof Date) ms = value.getTime()
  else if (typeof value === 'number') ms = value
  else if (typeof value === 'string' && value.trim() !== '') ms = parseInstant(value)
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    fail(`${name} must be a Date, an ISO date string or epoch milliseconds`)
  }
  return ms
}

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

module.exports = { normalizeDoraOptions, shapeDoraMetrics, parseInstant, MAX_FAILURE_WINDOW_HOURS }
