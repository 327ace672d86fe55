#!/usr/bin/env node
// npm run backfill -- owner/repo [--since 90d] [--restart]
// Imports a registered repository's history from GitHub's REST API in the foreground: pull
// requests with their reviews, issues and default-branch commits updated since the date
// (default 90 days), through the same upserts as webhooks, so the backend may be running.
// In a terminal a progress bar shows pages, items and the rate; a summary ends it. Resumes
// where an interrupted run stopped; a rate limit is waited out and the run goes on. The
// commits' line counts are left to the github worker (a commitStats job per page of commits).
import { SingleBar, Presets } from 'cli-progress'
import { WebhookProcessor, runBackfill, parseSince, type BackfillSummary } from '@devmetrics/webhook-processor'
import { loadConfig } from '../config'
import { createQueues } from '../queues'
import { githubFromEnv, openGithubQueue } from '../recovery'
import { parseArgs, fail, runCli } from './args'

const USAGE = `usage: npm run backfill -- owner/repo [--since 90d] [--restart]
  Imports a registered repository's pull requests, reviews, issues and default-branch commits
  from GitHub's REST API, in the foreground; resumes an interrupted run.
  --since 90d   updated since: a duration (90d, 12h) or an ISO date (default 90d)
  --restart     import again from the first page, even when already imported
  -h, --help    this text; changes nothing
  Uses DATABASE_URL, REDIS_URL, QUEUE_PREFIX, QUEUE_DRIVER and GITHUB_TOKEN (or GITHUB_APP_ID with GITHUB_APP_PRIVATE_KEY).`

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: ['--since'], flags: ['--restart'] }, USAGE)
  if (args.positional.length !== 1) return fail(USAGE)
  const since = args.values['--since'] ?? '90d'
  parseSince(since)
  const github = githubFromEnv()
  if (!github) return fail('backfill needs GitHub API access: set GITHUB_TOKEN, or GITHUB_APP_ID with GITHUB_APP_PRIVATE_KEY')
  const config = loadConfig(process.env, ['--role=worker'])
  const processor = await WebhookProcessor.connect({ databaseUrl: config.databaseUrl, maxConnections: 2 })
  const queues = createQueues(config)
  // Commit line counts: a commitStats job per page of commits, for the github worker.
  const githubQueue = openGithubQueue(queues)
  const bar = process.stdout.isTTY
    ? new SingleBar({ format: '{kind} |{bar}| page {page} · {items} items · {rate} items/s · {rows} rows', hideCursor: true }, Presets.shades_classic)
    : null
  const started = Date.now()
  let current = ''
  let summary: BackfillSummary | null = null
  let restart = args.flags.has('--restart')
  try {
    for (;;) {
      try {
        summary = await runBackfill(
          { data: { repository: args.positional[0], since, restart } },
          {
            client: github.client,
            processor,
            databaseUrl: config.databaseUrl,
            metricsQueue: queues.metricsNative,
            githubQueue: githubQueue.native,
            onProgress: (p) => {
              const rows = p.records.pullRequests + p.records.reviews + p.records.issues + p.records.commits
              const rate = Math.round(p.items / Math.max(1, (Date.now() - started) / 1000))
              const payload = { kind: p.kind.padEnd(7), page: p.page, items: p.items, rate, rows }
              if (!bar) return
              if (current !== p.kind) {
                if (current) bar.stop()
                current = p.kind
                bar.start(p.items + 100, p.items, payload)
              }
              bar.setTotal(p.done ? p.items : p.items + 100)
              bar.update(p.items, payload)
            },
          },
        )
        break
      } catch (err) {
        const e = err as Error & { code?: string; retryAfterMs?: number }
        if (e.code !== 'GITHUB_RATE_LIMITED') throw err
        // The cursor holds every page written: wait, then go on from the next one.
        restart = false
        const waitMs = Math.max(1000, e.retryAfterMs ?? 60_000)
        bar?.stop()
        current = ''
        console.log(`rate limited by GitHub: waiting ${Math.ceil(waitMs / 1000)} s, then resuming`)
        await new Promise((resolve) => setTimeout(resolve, waitMs))
      }
    }
  } finally {
    bar?.stop()
    await Promise.allSettled([processor.close(), githubQueue.close()])
    await queues.close()
  }
  printSummary(summary!, Date.now() - started)
  return 0
}

function printSummary(s: BackfillSummary, ms: number): void {
  console.log(`\nbackfill of ${s.repository} done in ${(ms / 1000).toFixed(1)} s`)
  const rows = Object.entries(s.kinds).map(([kind, k]) => ({
    kind,
    since: k!.since.slice(0, 10),
    pages: k!.pages,
    items: k!.items,
    skipped: k!.skipped,
    'row writes': k!.records.pullRequests + k!.records.reviews + k!.records.issues + k!.records.commits,
    note: k!.alreadyImported ? 'already imported (--restart to import again)' : k!.resumedFromPage ? `resumed at page ${k!.resumedFromPage}` : '',
  }))
  console.table(rows)
  console.log(
    // A pull request's row is written again when its reviews set its first review time.
    `writes that inserted or changed a row: ${s.records.pullRequests} pull requests, ${s.records.reviews} reviews, ${s.records.issues} issues, ${s.records.commits} commits; ${s.metricJobs} metric jobs`,
  )
  if (s.unmappedUsers.length) console.log(`not linked to a DevMetrics user: ${s.unmappedUsers.join(', ')}`)
}

runCli('backfill', main)
