#!/usr/bin/env node
// npm run reprocess -- [--since 30d] [--until 2026-11-30] [--types push,pull_request]
//                      [--repo owner/name|githubId]... [--batch-size 200] [--concurrency 4]
//
// Rebuilds the entity tables from the deliveries already stored in `events`, without
// GitHub: after an upgrade of the processor that reads new fields, or a fix. Resumable: run
// the same command again after a stop (Ctrl-C, a crash) and it skips the finished batches.
// A relative --since/--until (30d, 12h) counts back from the start of the current UTC
// hour, so the same command given again within the hour names the same run
// (docs/reprocess.md). A progress bar (events, rate, ETA) when stdout is a terminal; a
// summary table by event type at the end. Uses the backend's DATABASE_URL.
import cliProgress from 'cli-progress'
import { Pool } from 'pg'
import { ReprocessOptions, ReprocessProgress, WebhookProcessor } from '@devmetrics/webhook-processor'
import { loadConfig } from '../config'
import { parseArgs, runCli, UsageError } from './args'

const USAGE = `usage: npm run reprocess -- [--since 30d|<ISO date>] [--until …] [--types push,pull_request,issues,pull_request_review]
                           [--repo owner/name|githubId]... [--batch-size N] [--concurrency N]
  Rebuilds the entity tables from the deliveries stored in \`events\`, without GitHub; resumable.
  --since, --until   delivery time: a duration back from the start of the current UTC hour (30d, 12h, 90m, 2w) or an ISO date
  --types            event types, comma-separated (default: every type the processor reads)
  --repo             a repository by full name or GitHub id; repeatable, or comma-separated
  --batch-size N     events per transaction (default 200)
  --concurrency N    batches at once (default 4)
  -h, --help         this text; changes nothing
  Uses the backend's DATABASE_URL (docs/reprocess.md).`

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/**
 * `30d`, `12h`, `90m`, `2w` back from the start of the current UTC hour; or an ISO date, passed
 * on as written for the package to read (UTC unless it has an offset, as the package reads
 * every instant; Date.parse here would read `2026-11-02T09:30` in the server's time zone).
 */
function parseInstant(value: string, now = Date.now()): Date | string {
  const relative = /^(\d+)([mhdw])$/.exec(value)
  if (relative) {
    const hour = Math.floor(now / UNITS.h) * UNITS.h
    return new Date(hour - Number(relative[1]) * UNITS[relative[2]])
  }
  const ms = Date.parse(value)
  if (!Number.isFinite(ms)) throw new UsageError(`not a date or a duration: ${value}\n${USAGE}`)
  return value
}

interface Args {
  since?: Date | string
  until?: Date | string
  types?: ReprocessOptions['types']
  repos: string[]
  batchSize?: number
  concurrency?: number
}

function positiveInt(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^[1-9]\d*$/.test(value)) throw new UsageError(`${option} must be a positive integer, not ${value}\n${USAGE}`)
  return Number(value)
}

function argsOf(argv: string[]): Args {
  const args = parseArgs(
    argv,
    { values: ['--since', '--until', '--types', '--batch-size', '--concurrency'], flags: [], lists: ['--repo'], positionals: false },
    USAGE,
  )
  const since = args.values['--since']
  const until = args.values['--until']
  const types = args.values['--types']
  return {
    since: since === undefined ? undefined : parseInstant(since),
    until: until === undefined ? undefined : parseInstant(until),
    types: types === undefined ? undefined : (types.split(',').map((t) => t.trim()) as ReprocessOptions['types']),
    repos: args.lists['--repo'].flatMap((r) => r.split(',').map((x) => x.trim())),
    batchSize: positiveInt('--batch-size', args.values['--batch-size']),
    concurrency: positiveInt('--concurrency', args.values['--concurrency']),
  }
}

/** `owner/name` (repositories.fullName, case-insensitive) or a GitHub id, to GitHub ids. */
async function repositoryGithubIds(databaseUrl: string, repos: string[]): Promise<number[]> {
  if (repos.length === 0) return []
  const pool = new Pool({ connectionString: databaseUrl, max: 1 })
  try {
    const ids: number[] = []
    for (const repo of repos) {
      if (/^\d+$/.test(repo)) {
        ids.push(Number(repo))
        continue
      }
      const { rows } = await pool.query('SELECT "githubId" FROM repositories WHERE lower("fullName") = lower($1)', [repo])
      if (rows.length === 0) throw new UsageError(`no repository named ${repo}\n${USAGE}`)
      ids.push(Number(rows[0].githubId))
    }
    return ids
  } finally {
    await pool.end()
  }
}

/** The summary: events applied per type, skipped, time and rate. */
function summary(result: { events: number; byType: Record<string, number>; skipped: number; durationMs: number }): string {
  const rows = Object.entries(result.byType).sort(([a], [b]) => a.localeCompare(b))
  rows.push(['total', result.events])
  const width = Math.max(...rows.map(([t]) => t.length), 'skipped'.length)
  const line = (label: string, n: number) => `${label.padEnd(width)}  ${String(n).padStart(9)}`
  const rate = result.durationMs > 0 ? Math.round((result.events * 1000) / result.durationMs) : 0
  return [
    `${'type'.padEnd(width)}  ${'events'.padStart(9)}`,
    `${'-'.repeat(width)}  ${'-'.repeat(9)}`,
    ...rows.map(([t, n]) => line(t, n)),
    line('skipped', result.skipped),
    '',
    `${(result.durationMs / 1000).toFixed(1)} s, ${rate} events/s`,
  ].join('\n')
}

async function main(argv: string[]): Promise<number> {
  const args = argsOf(argv)
  const config = loadConfig(process.env, ['--role=worker'])
  const repositoryIds = await repositoryGithubIds(config.databaseUrl, args.repos)
  const processor = await WebhookProcessor.connect({ databaseUrl: config.databaseUrl, maxConnections: config.dbPoolSize })
  const tty = process.stdout.isTTY === true
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: 'reprocess [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta_formatted}', hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null
  const started = Date.now()
  let startedAt: number | null = null
  const onProgress = (p: ReprocessProgress) => {
    if (!bar) return
    if (startedAt === null) {
      startedAt = p.eventsDone
      bar.start(p.totalEvents, p.eventsDone, { rate: 0 })
    }
    const seconds = (Date.now() - started) / 1000
    bar.update(p.eventsDone, { rate: seconds > 0 ? Math.round((p.eventsDone - startedAt) / seconds) : 0 })
  }
  try {
    const result = await processor.reprocessEvents({
      since: args.since,
      until: args.until,
      types: args.types,
      repositoryGithubIds: repositoryIds.length ? repositoryIds : undefined,
      batchSize: args.batchSize,
      concurrency: args.concurrency,
      onProgress,
    })
    bar?.stop()
    console.log(`${result.resumed ? 'resumed' : 'planned'} run ${result.runId}: ${result.totalEvents} events selected`)
    console.log(summary(result))
    return 0
  } finally {
    bar?.stop()
    await processor.close()
  }
}

runCli('reprocess', main)
