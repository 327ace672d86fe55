#!/usr/bin/env node
// npm run replay -- <jobId>...   replays those failed jobs
// npm run replay -- --all        replays the whole failed set
// npm run replay -- --list       shows the failed set (id, delivery, event, code, reason)
// Uses the backend's REDIS_URL and QUEUE_PREFIX. Exit code 1 when an id was not a failed job.
import { loadConfig } from '../config'
import { createQueues } from '../queues'
import { listFailed, replayFailed } from '../replay'
import { fail, parseArgs, runCli } from './args'

const USAGE = `usage: npm run replay -- <jobId>... | --all | --list
  <jobId>...   replays those failed jobs of the webhooks queue (exit 1 when one is not a failed job)
  --all        replays the whole failed set
  --list       shows the failed set (id, failed at, event, delivery, code, attempts, reason)
  -h, --help   this text; changes nothing
  Uses the backend's REDIS_URL, QUEUE_PREFIX and QUEUE_DRIVER.`

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: [], flags: ['--all', '--list'] }, USAGE)
  const ids = args.positional
  const all = args.flags.has('--all')
  const list = args.flags.has('--list')
  if (list ? all || ids.length : all === ids.length > 0) return fail(USAGE)
  // Only the queue settings matter here (no webhook secret needed, whatever NODE_ENV says).
  const config = loadConfig(process.env, ['--role=worker'])
  const queues = createQueues(config)
  try {
    if (list) {
      const failed = await listFailed(queues.webhooks)
      if (failed.length === 0) console.log('the failed set is empty')
      for (const f of failed) {
        console.log(`${f.id}\t${f.failedAt ?? '-'}\t${f.event}\t${f.deliveryId}\t${f.code ?? '-'}\tattempts ${f.attemptsMade}\t${f.reason}`)
      }
      return 0
    }
    const report = await replayFailed(queues, all ? 'all' : ids)
    for (const r of report.replayed) console.log(`replayed job ${r.from} as job ${r.to} (delivery ${r.deliveryId})`)
    for (const id of report.missing) console.error(`job ${id}: not found`)
    for (const n of report.notFailed) console.error(`job ${n.id}: not failed (${n.state})`)
    if (all && report.replayed.length === 0) console.log('the failed set is empty')
    return report.missing.length || report.notFailed.length ? 1 : 0
  } finally {
    await queues.close()
  }
}

runCli('replay', main)
