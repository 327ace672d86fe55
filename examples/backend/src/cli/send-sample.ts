#!/usr/bin/env node
// Sends sample deliveries to the running backend, signed like GitHub signs them:
//   npm run send-sample                          push-event.json
//   npm run send-sample -- pull-request-opened   a fixture of __test__/fixtures by name
//   npm run send-sample -- --all                 every fixture, in name order
//   npm run send-sample -- my.json --event issues --delivery <guid>
// Signs with GITHUB_WEBHOOK_SECRET (the development secret if unset) and posts to
// BACKEND_URL (default http://127.0.0.1:$PORT, port 3000).
import { randomUUID } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { sign } from '@octokit/webhooks-methods'
import { DEFAULT_DATABASE_URL, DEVELOPMENT_SECRET } from '../config'
import { parseArgs, runCli, UsageError } from './args'

const USAGE = `usage: npm run send-sample -- [file|fixture]... [--all] [--event name] [--delivery guid]
  Posts sample deliveries to the running backend, signed like GitHub signs them.
  (none)            __test__/fixtures/push-event.json
  file|fixture      a JSON payload file, or a fixture of __test__/fixtures by name (pull-request-opened)
  --all             every fixture, in name order
  --event name      the X-GitHub-Event header (default: from the file name)
  --delivery guid   the X-GitHub-Delivery header (default: a new UUID)
  -h, --help        this text; posts nothing
  Signs with GITHUB_WEBHOOK_SECRET (the development secret if unset) and posts to
  BACKEND_URL (default http://127.0.0.1:$PORT, port 3000).`

const FIXTURES = resolve(__dirname, '..', '..', '..', '..', '__test__', 'fixtures')

/** The fixtures' name prefixes and their X-GitHub-Event, the longest prefix first. */
const FIXTURE_EVENTS: ReadonlyArray<[string, string]> = [
  ['push', 'push'],
  ['pull-request-review', 'pull_request_review'],
  ['pull-request', 'pull_request'],
  ['issue', 'issues'],
  ['deployment-status', 'deployment_status'],
  ['deployment', 'deployment'],
  ['workflow-run', 'workflow_run'],
  ['workflow-job', 'workflow_job'],
  ['release', 'release'],
]

/** push-event.json → push, deployment-status-success.json → deployment_status, issue-closed.json → issues… */
function eventOfFixture(file: string): string {
  const name = basename(file)
  const known = FIXTURE_EVENTS.find(([prefix]) => name.startsWith(prefix))
  return known ? known[1] : name.replace(/\.json$/, '').replace(/-/g, '_')
}

function fileOf(arg: string): string {
  for (const candidate of [arg, join(FIXTURES, arg), join(FIXTURES, `${arg}.json`)]) {
    if (existsSync(candidate)) return candidate
  }
  throw new Error(`no such payload file or fixture: ${arg} (fixtures: ${readdirSync(FIXTURES).join(', ')})`)
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: ['--event', '--delivery'], flags: ['--all'] }, USAGE)
  const url = `${process.env.BACKEND_URL || `http://127.0.0.1:${process.env.PORT || 3000}`}/api/webhooks/github`
  const secret = (process.env.GITHUB_WEBHOOK_SECRET || DEVELOPMENT_SECRET).split(',')[0].trim()
  const positional = args.positional
  if (args.flags.has('--all') && positional.length) throw new UsageError(`--all posts every fixture: give no file with it\n${USAGE}`)
  if (args.values['--delivery'] !== undefined && (args.flags.has('--all') || positional.length > 1)) {
    throw new UsageError(`--delivery names one delivery: give one payload with it\n${USAGE}`)
  }
  const files = args.flags.has('--all')
    ? readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort().map((f) => join(FIXTURES, f))
    : (positional.length ? positional : ['push-event.json']).map(fileOf)
  let failed = 0
  for (const file of files) {
    const body = readFileSync(file, 'utf8')
    const event = args.values['--event'] ?? eventOfFixture(file)
    const deliveryId = args.values['--delivery'] ?? randomUUID()
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/devmetrics-send-sample',
        'x-github-event': event,
        'x-github-delivery': deliveryId,
        'x-hub-signature-256': await sign(secret, body),
      },
      body,
    })
    const text = await res.text()
    console.log(`${basename(file)} (${event}, delivery ${deliveryId}) → ${res.status} ${text}`)
    if (res.status >= 300) failed++
  }
  const database = process.env.DATABASE_URL || DEFAULT_DATABASE_URL
  console.log(`\nrows:  psql ${database} -c 'SELECT type, action, processed, "lastError" FROM events ORDER BY "createdAt" DESC LIMIT 10'`)
  console.log(`stats: curl -s ${url.replace(/github$/, 'stats')}`)
  return failed ? 1 : 0
}

runCli('send-sample', main)
