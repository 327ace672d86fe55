// The five DORA metrics as the backend serves them (GET /api/dora, npm run dora, the /dora
// page): a scope (one repository by owner/name, or a team by id or name), a window
// [since, until), an environment, resolved here once so the three say the same thing; then
// processor.doraMetrics for the whole window and for each week in it (weeks start on Monday
// 00:00 UTC and are clipped to the window, so the last one is the current, partial week).
import type { Pool } from 'pg'
import type { DoraMetrics, WebhookProcessor } from '@devmetrics/webhook-processor'

/** A request the caller got wrong: HTTP 400 (or 404 for `notFound`), exit code 2 for the CLI. */
export class DoraQueryError extends Error {
  constructor(
    message: string,
    readonly notFound = false,
  ) {
    super(message)
  }
}

export interface DoraQuery {
  /** `owner/name`, as registered (case-insensitive). */
  repo?: string
  /** A team id or name. */
  team?: string
  /** `30d`, `12w`, `24h` back from now, or an ISO date; default 30d. */
  since?: string
  /** An ISO date; default now. */
  until?: string
  /** Measures this environment instead of production. */
  environment?: string
}

export interface DoraScope {
  repositories: { githubId: number; fullName: string }[]
  team: { id: string; name: string } | null
}

export interface DoraReport {
  scope: DoraScope
  since: string
  until: string
  environment: string | null
  metrics: DoraMetrics
  weeks: { since: string; until: string; metrics: DoraMetrics }[]
}

const UNITS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 604_800_000 }
const WEEK = UNITS.w
/** More weekly buckets than this is a request for another tool (a year and a half). */
export const MAX_WEEKS = 80

/**
 * `30d`, `12w`, `24h` back from `now`, or an ISO date. Without an offset it is UTC, a
 * date-time as well as a date (Date.parse would read `2026-10-05T00:00:00` in the server's time
 * zone, and the weeks are UTC), and a day the calendar lacks (`2026-02-30`) is not a date.
 */
export function parseInstant(value: string, now: number, name: string): Date {
  const relative = /^(\d+)([hdw])$/.exec(value)
  if (relative) return new Date(now - Number(relative[1]) * UNITS[relative[2]])
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) throw new DoraQueryError(`${name} must be a duration (30d, 12w, 24h) or an ISO date, not ${JSON.stringify(value)}`)
  const local = /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$/.exec(value)
  const ms = Date.parse(local ? `${local[1]}T${local[2] ?? '00:00'}Z` : value)
  if (!Number.isFinite(ms) || (local && new Date(ms).toISOString().slice(0, 10) !== local[1])) {
    throw new DoraQueryError(`${name} is not a date: ${JSON.stringify(value)}`)
  }
  return new Date(ms)
}

/** The weekly buckets of [since, until): Monday 00:00 UTC boundaries, clipped to the window. */
export function weeksOf(since: Date, until: Date): { since: Date; until: Date }[] {
  const day = new Date(Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), since.getUTCDate()))
  const monday = day.getTime() - ((day.getUTCDay() + 6) % 7) * UNITS.d
  const out: { since: Date; until: Date }[] = []
  for (let start = monday; start < until.getTime(); start += WEEK) {
    out.push({ since: new Date(Math.max(start, since.getTime())), until: new Date(Math.min(start + WEEK, until.getTime())) })
  }
  return out
}

/** The repositories (and team) a query names. */
export async function resolveScope(pool: Pool, query: DoraQuery): Promise<DoraScope> {
  if (query.repo && query.team) throw new DoraQueryError('give repo or team, not both')
  if (query.repo) {
    if (!/^[^/\s]+\/[^/\s]+$/.test(query.repo)) throw new DoraQueryError('repo must be owner/name')
    const { rows } = await pool.query('SELECT "githubId", "fullName" FROM repositories WHERE lower("fullName") = lower($1)', [query.repo])
    if (rows.length === 0) throw new DoraQueryError(`no repository named ${query.repo}`, true)
    return { repositories: rows.map((r) => ({ githubId: Number(r.githubId), fullName: r.fullName })), team: null }
  }
  if (query.team) {
    const { rows: teams } = await pool.query('SELECT id, name FROM teams WHERE id = $1 OR lower(name) = lower($1) ORDER BY (id = $1) DESC LIMIT 1', [query.team])
    if (teams.length === 0) throw new DoraQueryError(`no team ${query.team}`, true)
    const { rows } = await pool.query('SELECT "githubId", "fullName" FROM repositories WHERE "teamId" = $1 ORDER BY "fullName"', [teams[0].id])
    return { repositories: rows.map((r) => ({ githubId: Number(r.githubId), fullName: r.fullName })), team: { id: teams[0].id, name: teams[0].name } }
  }
  const { rows } = await pool.query('SELECT "githubId", "fullName" FROM repositories ORDER BY "fullName"')
  return { repositories: rows.map((r) => ({ githubId: Number(r.githubId), fullName: r.fullName })), team: null }
}

/** The metrics of a query: the whole window and each week. */
export async function doraReport(processor: WebhookProcessor, pool: Pool, query: DoraQuery, now = Date.now()): Promise<DoraReport> {
  const since = parseInstant(query.since ?? '30d', now, 'since')
  const until = query.until === undefined ? new Date(now) : parseInstant(query.until, now, 'until')
  if (!(since < until)) throw new DoraQueryError('since must be before until')
  const weeks = weeksOf(since, until)
  if (weeks.length > MAX_WEEKS) throw new DoraQueryError(`at most ${MAX_WEEKS} weeks at a time`)
  if (query.environment !== undefined && query.environment.trim() === '') throw new DoraQueryError('environment must not be empty')
  const scope = await resolveScope(pool, query)
  const options = {
    ...(scope.team ? { teamId: scope.team.id } : query.repo ? { repositoryGithubIds: scope.repositories.map((r) => r.githubId) } : {}),
    ...(query.environment ? { environment: query.environment } : {}),
  }
  const measure = (from: Date, to: Date) => processor.doraMetrics({ since: from, until: to, ...options })
  const [metrics, ...perWeek] = await Promise.all([measure(since, until), ...weeks.map((w) => measure(w.since, w.until))])
  return {
    scope,
    since: since.toISOString(),
    until: until.toISOString(),
    environment: query.environment ?? null,
    metrics,
    weeks: weeks.map((w, i) => ({ since: w.since.toISOString(), until: w.until.toISOString(), metrics: perWeek[i] })),
  }
}
