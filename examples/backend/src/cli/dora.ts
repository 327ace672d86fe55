#!/usr/bin/env node
// npm run dora -- [owner/repo] [--team T] [--since 30d] [--until <ISO date>] [--environment E] [--json]
//
// Prints the five DORA metrics of a repository, a team, or every registered repository, over
// a window (default the last 30 days), as a table: the figure, how many deployments or
// commits it rests on, and DORA's performance level where DORA publishes one. The same query
// as GET /api/dora (src/dora.ts). Uses the backend's DATABASE_URL.
import { Pool } from 'pg'
import { type DoraMetrics, WebhookProcessor } from '@devmetrics/webhook-processor'
import { loadConfig } from '../config'
import { DoraQueryError, doraReport, type DoraReport } from '../dora'
import { parseArgs, runCli, UsageError } from './args'

const USAGE = `usage: npm run dora -- [owner/repo] [--team <id or name>] [--since 30d|12w|<ISO date>] [--until <ISO date>] [--environment <name>] [--json]

  owner/repo      one registered repository (default: every registered repository)
  --team          a team's repositories instead
  --since         start of the window (default 30d: the last 30 days)
  --until         end of the window (default now)
  --environment   measure this environment instead of production
  --json          print the API's JSON (one line) instead of the table
  --help          this text`

const HOUR = 3600
const DAY = 24 * HOUR

/** A duration in seconds, readable: 45 s, 12 min, 5.2 h, 3.1 d. */
function duration(seconds: number | null): string {
  if (seconds === null) return '-'
  if (seconds < 60) return `${Math.round(seconds)} s`
  if (seconds < HOUR) return `${Math.round(seconds / 60)} min`
  if (seconds < DAY) return `${(seconds / HOUR).toFixed(1)} h`
  return `${(seconds / DAY).toFixed(1)} d`
}

const percent = (rate: number | null) => (rate === null ? '-' : `${(rate * 100).toFixed(1)} %`)

/** DORA's levels (State of DevOps 2023; rework rate has none published). */
function levels(m: DoraMetrics): Record<string, string> {
  const level = (value: number | null, bounds: [number, number, number], lowerIsBetter: boolean) => {
    if (value === null) return '-'
    const names = ['elite', 'high', 'medium', 'low']
    const i = bounds.findIndex((b) => (lowerIsBetter ? value <= b : value >= b))
    return names[i === -1 ? 3 : i]
  }
  return {
    deploymentFrequency: level(m.deploymentFrequency.perWeek, [7, 1, 12 / 52], false),
    leadTime: level(m.leadTime.medianSeconds, [DAY, 7 * DAY, 30 * DAY], true),
    changeFailRate: level(m.changeFailRate.rate, [0.05, 0.1, 0.15], true),
    recoveryTime: level(m.recoveryTime.medianSeconds, [HOUR, DAY, 7 * DAY], true),
    reworkRate: '-',
  }
}

/** The report as a table. */
function table(report: DoraReport): string {
  const m = report.metrics
  const l = levels(m)
  const rows: [string, string, string, string][] = [
    ['deployment frequency', `${m.deploymentFrequency.perWeek.toFixed(2)} / week`, `${m.deploymentFrequency.deployments} deployments on ${m.deploymentFrequency.days} days, ${m.deploymentFrequency.failedToDeploy} never succeeded`, l.deploymentFrequency],
    ['change lead time', duration(m.leadTime.medianSeconds), `p75 ${duration(m.leadTime.p75Seconds)}, p90 ${duration(m.leadTime.p90Seconds)}, ${m.leadTime.commits} commits`, l.leadTime],
    ['change fail rate', percent(m.changeFailRate.rate), `${m.changeFailRate.failed} of ${m.changeFailRate.total} deployments`, l.changeFailRate],
    ['recovery time', duration(m.recoveryTime.medianSeconds), `p75 ${duration(m.recoveryTime.p75Seconds)}, p90 ${duration(m.recoveryTime.p90Seconds)}, ${m.recoveryTime.count} recoveries`, l.recoveryTime],
    ['rework rate', percent(m.reworkRate.rate), `${m.reworkRate.rework} of ${m.reworkRate.total} deployments`, l.reworkRate],
  ]
  const head: [string, string, string, string] = ['metric', 'value', 'based on', 'DORA level']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  const scope = report.scope.team
    ? `team ${report.scope.team.name} (${report.scope.repositories.length} repositories)`
    : report.scope.repositories.length === 1
      ? report.scope.repositories[0].fullName
      : `${report.scope.repositories.length} repositories`
  return [
    `DORA metrics of ${scope}, ${report.environment ?? 'production'}, ${report.since} to ${report.until}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n')
}

async function main(argv: string[]): Promise<number> {
  // util.parseArgs with strict: true (args.ts): --help prints USAGE, an unknown option exits 2.
  const args = parseArgs(argv, { values: ['--team', '--since', '--until', '--environment'], flags: ['--json'] }, USAGE)
  if (args.positional.length > 1) throw new UsageError(`one repository at most\n${USAGE}`)
  const config = loadConfig(process.env, ['--role=worker'])
  const pool = new Pool({ connectionString: config.databaseUrl, max: 2 })
  let processor: WebhookProcessor | null = null
  try {
    processor = await WebhookProcessor.connect({ databaseUrl: config.databaseUrl, maxConnections: 2 })
    const report = await doraReport(processor, pool, {
      repo: args.positional[0],
      team: args.values['--team'],
      since: args.values['--since'] ?? '30d',
      until: args.values['--until'],
      environment: args.values['--environment'],
    })
    console.log(args.flags.has('--json') ? JSON.stringify(report) : table(report))
    return 0
  } catch (err) {
    if (err instanceof DoraQueryError) throw new UsageError(`${err.message}\n${USAGE}`)
    throw err
  } finally {
    await processor?.close()
    await pool.end()
  }
}

runCli('dora', main)
