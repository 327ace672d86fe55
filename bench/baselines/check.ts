// Equivalence self-check of the baselines against the addon (run: `node -r
// ./bench/register.js bench/baselines/check.ts [--concurrency 8] [--timelines 2]`).
//
// Every @octokit/webhooks-examples delivery of the six types the baselines implement, the
// __test__ fixtures of those types, a few edge cases (untracked events, redeliveries, NUL
// characters, bad values, an unknown repository, invalid JSON) and random histories of a few
// entities (timeline.ts) go through the
// addon, the pg baseline and the Prisma baseline, each on its own fresh database seeded alike.
// Compared: each delivery's outcome (status, rows changed, metric jobs and unmapped users, or
// the error code), then every stored row (compare.ts). A second round feeds each implementation
// the same deliveries (less the inherently order-dependent ones, see orderDependent) shuffled,
// N at a time, and compares its database with the addon's sequential one: order independence
// under concurrency. Last, the pgbench ceiling runs two seconds on the same mix. Exits 1 on any
// difference.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Pool } from 'pg'
import { WebhookProcessor } from '../../lib'
import { createTestDatabase, EXAMPLES_REPO_GITHUB_ID, insertRepository, insertTeam, insertUser, TestDatabase } from '../../__test__/helpers/db'
import { examplesOf } from '../../__test__/helpers/examples'
import { compareDatabases } from './compare'
import { timelineDeliveries } from './timeline'
import { connectPgBaseline } from './pg'
import { runCeiling } from './pgbench'
import { connectPrismaBaseline } from './prisma'
import { errorCode } from './shared/errors'
import { parseJson, readTracked, trackedEvent } from './shared/payload'
import { plan } from './shared/plan'
import type { BaselineResult } from './shared/result'
import type { BenchJob } from './types'

const FIXTURES = join(__dirname, '../../__test__/fixtures')

/** Anything that processes a delivery and says what it did. */
interface Subject {
  processJob(job: BenchJob): Promise<Pick<BaselineResult, 'status' | 'records' | 'metricJobs' | 'unmappedUsers'>>
  close(): Promise<void>
}

type Connect = (url: string, connections: number) => Promise<Subject>

const SUBJECTS: [string, Connect][] = [
  [
    'addon',
    async (url, connections) => {
      const processor = await WebhookProcessor.connect({ databaseUrl: url, maxConnections: connections })
      return { processJob: (job) => processor.process(job), close: () => processor.close() }
    },
  ],
  ['pg', connectPgBaseline],
  ['prisma', connectPrismaBaseline],
]

function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8')
}

/** The event of a fixture file, by its name (`deployment-status-success.json`: deployment_status). */
function eventOfFixture(name: string): string {
  if (name.startsWith('push')) return 'push'
  if (name.startsWith('issue')) return 'issues'
  if (name === 'pull-request-review.json') return 'pull_request_review'
  if (name.startsWith('pull-request')) return 'pull_request'
  if (name.startsWith('deployment-status')) return 'deployment_status'
  return name.replace(/-[a-z]+\.json$/, '').replace(/-/g, '_')
}

/** The types the baselines implement: fixtures of the addon's other tracked types (deployment,
 * workflow_job, release) would only show that the baselines leave them out. */
const IMPLEMENTED = ['pull_request', 'pull_request_review', 'issues', 'push', 'deployment_status', 'workflow_run']

/** The repositories of the workflow_run examples (the others are all EXAMPLES_REPO_GITHUB_ID). */
const RUN_EXAMPLE_REPOS = [283462325, 300029405]

/** The deliveries of the check, in their sequential order. */
export function checkDeliveries(): BenchJob[] {
  const jobs: BenchJob[] = []
  for (const event of [...IMPLEMENTED, 'star']) {
    examplesOf(event).forEach(([, payload], i) => jobs.push({ deliveryId: `ex-${event}-${i}`, event, payload: JSON.stringify(payload) }))
  }
  for (const name of readdirSync(FIXTURES).sort()) {
    const event = eventOfFixture(name)
    if (IMPLEMENTED.includes(event)) jobs.push({ deliveryId: `fx-${name}`, event, payload: fixture(name) })
  }
  // A redelivery of a tracked and of an untracked event.
  jobs.push({ ...jobs.find((j) => j.deliveryId === 'fx-push-event.json')! })
  jobs.push({ ...jobs.find((j) => j.event === 'star')! })
  jobs.push({ ...jobs.find((j) => j.deliveryId === 'fx-deployment-status-success.json')! })
  jobs.push({ ...jobs.find((j) => j.deliveryId === 'fx-workflow-run-completed.json')! })
  // An untracked event of a repository nobody registered: answered ignored, not stored.
  jobs.push({ deliveryId: 'ping-unknown', event: 'ping', payload: JSON.stringify(examplesOf('ping')[0][1]) })
  // NUL characters in stored text and in the payload.
  const pr = JSON.parse(fixture('pull-request-opened.json'))
  pr.pull_request.id += 1
  pr.pull_request.number += 1000
  pr.pull_request.title = 'Fix\u0000 the NUL'
  jobs.push({ deliveryId: 'nul-pr', event: 'pull_request', payload: JSON.stringify(pr) })
  const push = JSON.parse(fixture('push-event.json'))
  push.commits.forEach((c: { id: string; message: string }, i: number) => {
    c.id = `${'d'.repeat(39)}${i}`
    c.message = `msg\u0000${i}`
  })
  jobs.push({ deliveryId: 'nul-push', event: 'push', payload: JSON.stringify(push) })
  // Bad values (a failure row each), an unknown repository, invalid JSON.
  const badSha = JSON.parse(fixture('push-event.json'))
  badSha.commits[0].id = 'not-a-sha'
  jobs.push({ deliveryId: 'bad-sha', event: 'push', payload: JSON.stringify(badSha) })
  const badType = JSON.parse(fixture('issue-opened.json'))
  badType.issue.number = 'forty-three'
  jobs.push({ deliveryId: 'bad-type', event: 'issues', payload: JSON.stringify(badType) })
  const elsewhere = JSON.parse(fixture('pull-request-opened.json'))
  elsewhere.repository.id = 1
  jobs.push({ deliveryId: 'unknown-repo', event: 'pull_request', payload: JSON.stringify(elsewhere) })
  jobs.push({ deliveryId: 'not-json', event: 'issues', payload: '{"action": ' })
  // Bad deployment statuses and runs: each a documented code, nothing written but a failure row.
  const status = JSON.parse(fixture('deployment-status-success.json'))
  const badStatus = (id: string, change: (p: any) => void) => {
    const p = structuredClone(status)
    change(p)
    jobs.push({ deliveryId: id, event: 'deployment_status', payload: JSON.stringify(p) })
  }
  badStatus('status-without-deployment', (p) => delete p.deployment)
  badStatus('status-unknown-state', (p) => (p.deployment_status.state = 'Success'))
  badStatus('status-id-zero', (p) => (p.deployment_status.id = 0))
  badStatus('deployment-id-negative', (p) => (p.deployment.id = -5))
  badStatus('deployment-run-id-zero', (p) => (p.workflow_run = { id: 0 }))
  badStatus('status-bad-time', (p) => (p.deployment_status.created_at = 'yesterday'))
  badStatus('deployment-bad-flag', (p) => (p.deployment.production_environment = 'yes'))
  const run = JSON.parse(fixture('workflow-run-completed.json'))
  const badRun = (id: string, change: (p: any) => void) => {
    const p = structuredClone(run)
    change(p)
    jobs.push({ deliveryId: id, event: 'workflow_run', payload: JSON.stringify(p) })
  }
  badRun('run-without-attempt', (p) => delete p.workflow_run.run_attempt)
  badRun('run-attempt-too-big', (p) => (p.workflow_run.run_attempt = 2 ** 31))
  badRun('run-unknown-status', (p) => (p.workflow_run.status = 'done'))
  badRun('run-pr-number-zero', (p) => (p.workflow_run.pull_requests = [{ number: 0 }]))
  badRun('run-prs-null', (p) => (p.workflow_run.pull_requests = null))
  badRun('run-workflow-id-zero', (p) => (p.workflow_run.workflow_id = 0))
  // Accepted oddities: a nameless run, NUL in text, a status whose log is only target_url.
  badRun('run-nameless', (p) => {
    p.workflow_run.id += 1
    delete p.workflow_run.name
    p.workflow_run.head_branch = 'feat\u0000ure'
  })
  badStatus('status-target-url', (p) => {
    p.deployment_status.id += 1
    delete p.deployment_status.log_url
    p.deployment_status.target_url = 'https://ci.example/log\u0000'
    p.deployment_status.environment_url = ''
  })
  return jobs
}

/** Seeds a fresh database the same way for every subject: the examples' repository in a team,
 * users mapped by GitHub id (and a case-differing login), and one by commit email only. */
export async function seedCheckDatabase(pool: Pool): Promise<void> {
  const team = await insertTeam(pool, 'Platform')
  await insertRepository(pool, EXAMPLES_REPO_GITHUB_ID, { teamId: team })
  await insertUser(pool, { email: 'codertocat@corp.example', githubId: 21031067, githubLogin: 'Codertocat', teamIds: [team] })
  await insertUser(pool, { email: 'mona@corp.example', githubId: 583231, githubLogin: 'OctoCat', teamIds: [team] })
  await insertUser(pool, { email: 'hubot@example.com' })
  for (const githubId of RUN_EXAMPLE_REPOS) await insertRepository(pool, githubId, { fullName: `examples/${githubId}` })
}

/** Names of users and teams by id, to compare metric jobs across databases. */
async function labels(pool: Pool): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ id: string; label: string }>(
    `SELECT id, email AS label FROM users UNION ALL SELECT id, 'team ' || name FROM teams`,
  )
  return new Map(rows.map((r) => [r.id, r.label]))
}

async function outcome(subject: Subject, job: BenchJob, names: Map<string, string>): Promise<string> {
  try {
    const r = await subject.processJob(job)
    const jobs = r.metricJobs.map((m) => `${m.kind}:${names.get(m.id) ?? m.id}:${m.date}`).sort()
    const { commits, pullRequests, issues, reviews, deployments, deploymentStatuses, workflowRuns } = r.records
    const counts = `c${commits} p${pullRequests} i${issues} r${reviews} d${deployments} s${deploymentStatuses} w${workflowRuns}`
    return `${r.status} ${counts} jobs[${jobs}] unmapped[${r.unmappedUsers}]`
  } catch (e) {
    return `error ${errorCode(e)}`
  }
}

async function runSequential(name: string, connect: Connect, jobs: BenchJob[]): Promise<{ db: TestDatabase; outcomes: string[] }> {
  const db = await createTestDatabase()
  await seedCheckDatabase(db.pool)
  const subject = await connect(db.url, 2)
  const names = await labels(db.pool)
  const outcomes: string[] = []
  try {
    for (const job of jobs) outcomes.push(await outcome(subject, job, names))
  } finally {
    await subject.close()
  }
  console.log(`${name}: ${jobs.length} deliveries processed one by one`)
  return { db, outcomes }
}

/**
 * Deliveries whose result depends on their order by nature, in every implementation: two
 * different pull requests (or issues) with the same number in one repository, as the examples
 * have, where whichever arrives second is refused (CONSTRAINT_VIOLATION); and deliveries of one
 * deployment (or run attempt) naming different creators (actors), as the examples do: the
 * mapped user id is filled from the first delivery that maps one and then kept. They stay out
 * of the shuffled round; the sequential round keeps them.
 */
export function orderDependent(jobs: BenchJob[]): Set<string> {
  const ids = new Map<string, Set<number | null>>()
  const keyed: [string, string][] = []
  for (const job of jobs) {
    const event = trackedEvent(job.event)
    if (!event) continue
    try {
      const view = readTracked(event, parseJson(job.payload))
      const p = plan(view)
      let entity: { key: string; id: number | null }
      switch (p.event) {
        case 'push':
          continue
        case 'issues':
          entity = { key: `issue ${view.repositoryId}#${p.issue.number}`, id: p.issue.githubId }
          break
        case 'pull_request':
        case 'pull_request_review':
          entity = { key: `pr ${view.repositoryId}#${p.pullRequest.number}`, id: p.pullRequest.githubId }
          break
        case 'deployment_status':
          entity = { key: `deployment ${p.deployment.githubId}`, id: p.deployment.creator.githubId }
          break
        case 'workflow_run':
          entity = { key: `run ${p.run.githubId}/${p.run.runAttempt}`, id: p.run.actor.githubId }
          break
      }
      const seen = ids.get(entity.key) ?? new Set()
      // A delivery naming no creator fills nothing.
      if (entity.id !== null) seen.add(entity.id)
      ids.set(entity.key, seen)
      keyed.push([job.deliveryId, entity.key])
    } catch {
      // Refused whatever the order.
    }
  }
  return new Set(keyed.filter(([, key]) => ids.get(key)!.size > 1).map(([deliveryId]) => deliveryId))
}

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items]
  let state = seed
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31
    const j = state % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

async function runConcurrent(connect: Connect, jobs: BenchJob[], concurrency: number): Promise<TestDatabase> {
  const db = await createTestDatabase()
  await seedCheckDatabase(db.pool)
  const subject = await connect(db.url, concurrency)
  const queue = shuffled(jobs, 42)
  const worker = async () => {
    for (let job = queue.pop(); job; job = queue.pop()) await subject.processJob(job).catch(() => undefined)
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, worker))
  } finally {
    await subject.close()
  }
  return db
}

async function main(): Promise<void> {
  const arg = process.argv.indexOf('--concurrency')
  const concurrency = arg > 0 ? Number(process.argv[arg + 1]) : 8
  const timelines = process.argv.indexOf('--timelines')
  const seeds = Array.from({ length: timelines > 0 ? Number(process.argv[timelines + 1]) : 2 }, (_, i) => i + 1)
  const jobs = [...checkDeliveries(), ...seeds.flatMap((seed) => timelineDeliveries(seed))]
  const databases: TestDatabase[] = []
  let failures = 0
  const report = (what: string, diffs: string[]) => {
    console.log(diffs.length === 0 ? `  ok: ${what}` : `  DIFFERENT: ${what}\n${diffs.map((d) => `    ${d}`).join('\n')}`)
    failures += diffs.length
  }
  try {
    const runs = []
    for (const [name, connect] of SUBJECTS) {
      const run = await runSequential(name, connect, jobs)
      databases.push(run.db)
      runs.push({ name, ...run })
    }
    const [addon, ...baselines] = runs
    for (const b of baselines) {
      const diffs = jobs.flatMap((job, i) => (b.outcomes[i] === addon.outcomes[i] ? [] : [`${job.deliveryId}: addon ${addon.outcomes[i]} / ${b.name} ${b.outcomes[i]}`]))
      report(`${b.name} outcomes = addon outcomes (${jobs.length} deliveries)`, diffs)
      report(`${b.name} rows = addon rows`, await compareDatabases(addon.db.url, b.db.url))
    }
    const { rows } = await addon.db.pool.query(
      `SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM commits) AS commits,
              (SELECT count(*) FROM pull_requests) AS "pullRequests", (SELECT count(*) FROM issues) AS issues,
              (SELECT count(*) FROM pull_request_reviews) AS reviews, (SELECT count(*) FROM deployments) AS deployments,
              (SELECT count(*) FROM deployment_statuses) AS "deploymentStatuses", (SELECT count(*) FROM workflow_runs) AS "workflowRuns"`,
    )
    console.log(`  rows compared: ${JSON.stringify(rows[0])}`)
    // The comparison must be able to fail: one changed column per table is reported.
    const plants = [
      `UPDATE pull_requests SET draft = NOT draft WHERE "githubId" = (SELECT min("githubId") FROM pull_requests)`,
      `UPDATE deployments SET "isProduction" = NOT "isProduction" WHERE "githubId" = (SELECT min("githubId") FROM deployments)`,
      `UPDATE deployment_statuses SET "logUrl" = 'x' WHERE "githubId" = (SELECT min("githubId") FROM deployment_statuses)`,
      `UPDATE workflow_runs SET "completedAt" = now() WHERE "githubId" = (SELECT min("githubId") FROM workflow_runs) AND "runAttempt" = 1`,
    ]
    for (const sql of plants) await baselines[0].db.pool.query(sql)
    const planted = await compareDatabases(addon.db.url, baselines[0].db.url)
    report(
      `planted differences are reported (${plants.length} tables)`,
      planted.length === plants.length ? [] : [`expected ${plants.length} differences, got ${JSON.stringify(planted)}`],
    )
    // The shuffled round compares with a sequential addon run of the same deliveries.
    const excluded = orderDependent(jobs)
    const independent = jobs.filter((j) => !excluded.has(j.deliveryId))
    const reference = await runSequential('addon', SUBJECTS[0][1], independent)
    databases.push(reference.db)
    for (const [name, connect] of SUBJECTS) {
      const db = await runConcurrent(connect, independent, concurrency)
      databases.push(db)
      report(
        `${name}, shuffled and ${concurrency} at a time, rows = addon sequential rows (${independent.length} deliveries, ${excluded.size} order-dependent left out)`,
        await compareDatabases(reference.db.url, db.url),
      )
    }
    // The ceiling's scripts run and write one events row per transaction, none failing.
    const ceilingDb = await createTestDatabase()
    databases.push(ceilingDb)
    await seedCheckDatabase(ceilingDb.pool)
    const ceiling = await runCeiling(ceilingDb.url, jobs, { clients: 2, seconds: 2, keep: null })
    const { rows: stored } = await ceilingDb.pool.query(`SELECT count(*)::int AS n FROM events WHERE processed`)
    report(
      `ceiling ran ${ceiling.transactions} transactions (${ceiling.eventsPerSecond.toFixed(0)}/s at 2 clients), one processed event each`,
      ceiling.transactions > 0 && stored[0].n === ceiling.transactions ? [] : [`${stored[0].n} events for ${ceiling.transactions} transactions`],
    )
  } finally {
    await Promise.all(databases.map((db) => db.drop()))
  }
  console.log(failures === 0 ? 'equivalent' : `${failures} differences`)
  process.exitCode = failures === 0 ? 0 : 1
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e)
    process.exit(2)
  })
}
