#!/usr/bin/env node
// npm run replay -- <jobId>...   replays those failed jobs
// npm run replay -- --all        replays the whole failed set
// npm run replay -- --list       shows the failed set (id, delivery, event, code, reason)
// Uses the backend's REDIS_URL and QUEUE_PREFIX. Exit code 1 when an id was not a failed job.
import { loadConfig } from '../config'
import { createQueues } from '../queues'
import { listFailed, replayFailed } from '../replay'

const USAGE = 'usage: npm run replay -- <jobId>... | --all | --list'

async function main(args: string[]): Promise<number> {
  const ids = args.filter((a) => !a.startsWith('--'))
  const all = args.includes('--all')
  const list = args.includes('--list')
  const unknown = args.filter((a) => a.startsWith('--') && a !== '--all' && a !== '--list')
  if (unknown.length || (list ? all || ids.length : all === ids.length > 0)) {
    console.error(USAGE)
    return 2
  }
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`replay failed: ${err.message}`)
    process.exit(1)
  },
)
