#!/usr/bin/env node
// npm run register -- owner/repo [--team name] [--github-id N] [--backfill 90d]
// npm run register -- --all-installed   (a GitHub App: every repository its installations can see)
// Registers a repository so its deliveries are processed (the GitHub id is looked up through
// the API when GitHub access is configured and --github-id is not given), optionally in a
// team (created if missing), and with --backfill queues the import of its history on the
// `github` queue (a running worker imports it; `npm run backfill` does it in the foreground).
// Uses DATABASE_URL, REDIS_URL, QUEUE_PREFIX, QUEUE_DRIVER and the GITHUB_* variables.
import { registerRepository, registerInstalledRepositories, queueBackfill, parseSince } from '@devmetrics/webhook-processor'
import { loadConfig } from '../config'
import { createQueues } from '../queues'
import { githubFromEnv, openGithubQueue } from '../recovery'
import { parseArgs, fail, runCli } from './args'

const USAGE = 'usage: npm run register -- owner/repo [--team name] [--github-id N] [--backfill 90d]\n       npm run register -- --all-installed'

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: ['--team', '--github-id', '--backfill'], flags: ['--all-installed'] }, USAGE)
  if (args.flags.has('--all-installed')) {
    if (args.positional.length !== 0) return fail(USAGE)
    const config = loadConfig(process.env, ['--role=worker'])
    const github = githubFromEnv()
    const registered = await registerInstalledRepositories({ databaseUrl: config.databaseUrl, client: github?.client, ownerTeams: config.ownerTeams })
    for (const r of registered) console.log(`${r.created ? 'registered' : 'updated'} ${r.fullName} (GitHub id ${r.githubId}, id ${r.id})`)
    console.log(`${registered.length} repositories of the App's installations`)
    return 0
  }
  if (args.positional.length !== 1) return fail(USAGE)
  const backfill = args.values['--backfill']
  if (backfill !== undefined) parseSince(backfill)
  const config = loadConfig(process.env, ['--role=worker'])
  const github = githubFromEnv()
  // Checked before anything is written: a refused --backfill registers nothing either.
  if (backfill !== undefined && !github) return fail('--backfill needs GitHub API access: set GITHUB_TOKEN, or GITHUB_APP_ID with GITHUB_APP_PRIVATE_KEY')
  const registered = await registerRepository(
    { fullName: args.positional[0], githubId: args.values['--github-id'], teamName: args.values['--team'] },
    { databaseUrl: config.databaseUrl, client: github?.client },
  )
  console.log(`${registered.created ? 'registered' : 'updated'} ${registered.fullName} (GitHub id ${registered.githubId}, id ${registered.id}${registered.teamId ? `, team ${args.values['--team']}` : ''})`)
  if (backfill !== undefined && github) {
    const queues = createQueues(config)
    const queue = openGithubQueue(queues)
    try {
      const job = await queueBackfill(queue.native, registered, backfill)
      console.log(`queued the backfill of the last ${backfill} as job ${job.id} on the github queue (npm run backfill -- ${registered.fullName} --since ${backfill} runs it here instead)`)
    } finally {
      await queue.close()
      await queues.close()
    }
  }
  return 0
}

runCli('register', main)
