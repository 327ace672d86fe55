'use strict'
// Instants in the options of doraMetrics and reprocessEvents: a Date, epoch milliseconds or a
// date string, read the same way by both (an ISO date or date-time without an offset is UTC).

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

/**
 * A Date, an ISO string or epoch milliseconds to epoch milliseconds; anything else, or a time
 * outside what a Date holds, calls `fail(message)` (the caller's CONFIG_ERROR).
 */
function instant(name, value, fail) {
  let ms
  if (value instanceof Date) ms = value.getTime()
  else if (typeof value === 'number') ms = value
  else if (typeof value === 'string' && value.trim() !== '') ms = parseInstant(value)
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    fail(`${name} must be a Date, an ISO date string or epoch milliseconds`)
  }
  return ms
}

module.exports = { instant, parseInstant }
