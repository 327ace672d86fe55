'use strict'
// `--since 90d`, `--since 24h`: the CLIs and jobs take a duration back from now, an ISO
// time, or a Date. One parser, so `90d` means the same in the backfill job, its CLI and the
// register step.

const { WebhookProcessingError } = require('../errors')

const UNITS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }

/**
 * The time `value` names: a duration before `now` (`30m`, `24h`, `90d`, `2w`), an ISO 8601
 * time, a Date or epoch milliseconds. INVALID_JOB for anything else.
 */
function parseSince(value, now = Date.now()) {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value)
  if (typeof value === 'string') {
    const d = /^(\d+)([mhdw])$/.exec(value.trim())
    if (d) return new Date(now - Number(d[1]) * UNITS[d[2]])
    if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
      const t = new Date(value)
      if (!Number.isNaN(t.getTime())) return t
    }
  }
  throw new WebhookProcessingError('INVALID_JOB', `since must be a duration such as 24h or 90d, or an ISO time, not ${JSON.stringify(String(value)).slice(0, 40)}`)
}

module.exports = { parseSince }
