#!/usr/bin/env node
// npm run stats-catch-up -- [--dry-run] [--older-than 1h] [--limit N]
// Queues commitStats jobs on the `github` queue for the commits whose line counts are still
// unknown (a batch GitHub never answered, a job discarded or failed for good), as every
// reconcile run does once (docs/github-api.md); a running github worker fetches them.
// --dry-run says how many it would queue and queues nothing.
import { queueUnknownCommitStats, parseSince } from '@devmetrics/webhook-processor'
import { loadConfig } from '../config'
import { createQueues } from '../queues'
import { openGithubQueue } from '../recovery'
import { parseArgs, fail, runCli } from './args'

const USAGE = `usage: npm run stats-catch-up -- [--dry-run] [--older-than 1h] [--limit N]
  Queues commitStats jobs for the commits whose line counts are still unknown (docs/github-api.md).
  --dry-run          say how many it would queue, queue nothing
  --older-than 1h    only commits written at least this long ago (default 1h: their own job had its chance)
  --limit N          at most N commits (default 10000)
  -h, --help         this text; changes nothing
  Uses DATABASE_URL and the backend's Redis (REDIS_URL, QUEUE_PREFIX); a github worker runs the jobs.`

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: ['--older-than', '--limit'], flags: ['--dry-run'], positionals: false }, USAGE)
  const olderThan = args.values['--older-than'] ?? '1h'
  if (!/^\d+[mhdw]$/.test(olderThan)) return fail(`--older-than must be a duration such as 1h or 2d\n${USAGE}`)
  const now = Date.now()
  const olderThanMs = now - parseSince(olderThan, now).getTime()
  const limit = args.values['--limit']
  if (limit !== undefined && !/^[1-9]\d*$/.test(limit)) return fail(`--limit must be a positive number\n${USAGE}`)
  const dryRun = args.flags.has('--dry-run')
  const config = loadConfig(process.env, ['--role=worker'])
  const queues = createQueues(config)
  const queue = openGithubQueue(queues)
  try {
    const queued = await queueUnknownCommitStats(queue.native, {
      databaseUrl: config.databaseUrl,
      olderThanMs,
      limit: limit === undefined ? undefined : Number(limit),
      dryRun,
    })
    console.log(
      `${dryRun ? 'dry run, nothing queued: would queue' : 'queued'} ${queued.jobs} commitStats jobs for ${queued.commits} commits of ${queued.repositories} repositories whose line counts are still unknown`,
    )
  } finally {
    await queue.close()
    await queues.close()
  }
  return 0
}

runCli('stats-catch-up', main)
