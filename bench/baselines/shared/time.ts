// GitHub timestamps as Prisma stores them: `TIMESTAMP(3)` holding UTC. Instants travel as epoch
// milliseconds inside the baselines and are bound as naive UTC text (pg) or Date (Prisma).

/** RFC 3339 with any offset, as chrono's `parse_from_rfc3339` accepts it. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** Epoch milliseconds of an RFC 3339 time, or null when it is not one. */
export function parseGithubTime(s: string): number | null {
  if (!RFC3339.test(s)) return null
  const ms = Date.parse(s.replace(/[t ]/, 'T').replace(/z$/, 'Z'))
  return Number.isNaN(ms) ? null : ms
}

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC: what a `TIMESTAMP(3)` column holds, without an offset
 * (PostgreSQL ignores offsets in timestamp-without-time-zone literals). */
export function sqlTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}

export function sqlTimestampOrNull(ms: number | null): string | null {
  return ms === null ? null : sqlTimestamp(ms)
}

const INT4_MAX = 2 ** 31 - 1

/** Whole seconds from `from` to `to`, clamped to [0, INT4 max] like the addon's. */
export function secondsBetween(from: number, to: number): number {
  return Math.min(Math.max(Math.trunc((to - from) / 1000), 0), INT4_MAX)
}

/** The UTC date of an instant, `YYYY-MM-DD` (metric jobs are per UTC day). */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}
