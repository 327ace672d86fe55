#!/usr/bin/env node
// npm run reconcile -- [--dry-run] [--since 24h] [--max N]
// Finds the deliveries GitHub failed to deliver (tracked event types of registered
// repositories, not processed, no successful attempt) in the hook's delivery list and asks
// GitHub to redeliver them; prints a table of what it found and did. --dry-run decides the
// same and changes nothing (no redelivery, no cursor). --since is delivery time (default: from
// the stored cursor, at most GitHub's 3-day window).
import { runReconcile, parseSince } from '@devmetrics/webhook-processor'
import { loadConfig } from '../config'
import { githubFromEnv } from '../recovery'
import { parseArgs, fail, runCli } from './args'

const USAGE = `usage: npm run reconcile -- [--dry-run] [--since 24h] [--max N]
  Asks GitHub to redeliver the deliveries of tracked events that never arrived (docs/recovery.md).
  --dry-run     decide the same and change nothing (no redelivery, no cursor)
  --since 24h   delivery time (default: from the stored cursor, at most GitHub's 3-day window)
  --max N       redeliver at most N
  -h, --help    this text; changes nothing
  Uses DATABASE_URL and GITHUB_APP_ID with GITHUB_APP_PRIVATE_KEY, or GITHUB_TOKEN with GITHUB_HOOKS.`

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: ['--since', '--max'], flags: ['--dry-run'] }, USAGE)
  if (args.positional.length) return fail(USAGE)
  const since = args.values['--since']
  if (since !== undefined) parseSince(since)
  const max = args.values['--max']
  if (max !== undefined && !/^\d+$/.test(max)) return fail(`--max must be a number\n${USAGE}`)
  const github = githubFromEnv()
  if (!github) return fail('reconcile needs GitHub API access: set GITHUB_APP_ID with GITHUB_APP_PRIVATE_KEY, or GITHUB_TOKEN with GITHUB_HOOKS')
  const config = loadConfig(process.env, ['--role=worker'])
  const dryRun = args.flags.has('--dry-run')
  const report = await runReconcile(
    { data: { dryRun, since, maxRedeliveries: max === undefined ? undefined : Number(max) } },
    { client: github.client, hooks: github.hooks, databaseUrl: config.databaseUrl },
  )
  for (const h of report.hooks) {
    console.log(`\nhook ${h.hook}: deliveries since ${h.from}${h.gapBeforeWindow ? ' (the last run was longer ago than GitHub keeps deliveries: older ones could not be checked)' : ''}`)
    if (h.deliveries.length) {
      console.table(
        h.deliveries.map((d) => ({
          delivery: d.guid,
          event: d.action ? `${d.event}.${d.action}` : d.event,
          repository: d.repositoryId,
          delivered: d.deliveredAt,
          attempts: d.attempts,
          'last status': d.lastStatus,
          [dryRun ? 'would do' : 'done']: d.outcome,
        })),
      )
    }
    console.log(`listed ${h.listed} · missing ${h.found} · redelivered ${h.redelivered} · still missing ${h.stillMissing} · older than the window ${h.olderThanWindow}`)
  }
  const t = report.totals
  console.log(`\n${dryRun ? 'dry run, nothing changed: ' : ''}found ${t.found}, redelivered ${t.redelivered}, still missing ${t.stillMissing}, older than the window ${t.olderThanWindow}`)
  return 0
}

runCli('reconcile', main)
