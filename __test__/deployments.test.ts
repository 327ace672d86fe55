// Deployment data through the package's JavaScript API (docs/dora.md): the five new event types
// are processed into rows and counted in `records`, the production decision follows the
// `productionEnvironments` option, and `reprocessEvents({ types })` accepts the new types and
// rebuilds the rows the live deliveries wrote.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Pool } from 'pg'
import { TRACKED_EVENT_TYPES, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, insertTeam, insertUser, TestDatabase } from './helpers/db'

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8')
const DEPLOYMENT_TYPES = ['deployment', 'deployment_status', 'workflow_run', 'workflow_job', 'release'] as const
const FIXTURES: [string, string][] = [
  ['deployment', 'deployment-created.json'],
  ['deployment_status', 'deployment-status-success.json'],
  ['workflow_run', 'workflow-run-completed.json'],
  ['workflow_job', 'workflow-job-completed.json'],
  ['release', 'release-published.json'],
]

let db: TestDatabase
let processor: WebhookProcessor
let teamId: string
let userId: string

beforeAll(async () => {
  db = await createTestDatabase()
  teamId = await insertTeam(db.pool, 'Ship')
  await insertRepository(db.pool, undefined, { teamId })
  userId = await insertUser(db.pool, { email: 'mona@corp.example', githubId: 583231, githubLogin: 'octocat' })
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4 })
})

afterAll(async () => {
  await processor?.close()
  await db?.drop()
})

async function snapshot(pool: Pool) {
  const rows = async (table: string) =>
    (await pool.query(`SELECT to_jsonb(t) - 'id' - 'deploymentId' AS row FROM ${table} t ORDER BY "githubId"`)).rows.map((r) => r.row)
  return {
    deployments: await rows('deployments'),
    statuses: await rows('deployment_statuses'),
    runs: await rows('workflow_runs'),
    jobs: await rows('workflow_jobs'),
    releases: await rows('releases'),
  }
}

test('the tracked types include the deployment data', () => {
  expect(TRACKED_EVENT_TYPES).toEqual(expect.arrayContaining(DEPLOYMENT_TYPES))
})

test('each event type is processed into its rows, counted in records, with metric jobs for the creator', async () => {
  const counted: Record<string, string> = {
    deployment: 'deployments',
    deployment_status: 'deploymentStatuses',
    workflow_run: 'workflowRuns',
    workflow_job: 'workflowJobs',
    release: 'releases',
  }
  for (const [event, file] of FIXTURES) {
    const result = await processor.process({ deliveryId: `live-${event}`, event, payload: fixture(file) })
    expect(result).toMatchObject({ status: 'processed', event })
    expect(result.records).toMatchObject({ [counted[event]]: 1, commits: 0, pullRequests: 0, issues: 0, reviews: 0 })
    expect(result.metricJobs).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'team', id: teamId })]))
    if (event !== 'workflow_job') {
      expect(result.metricJobs).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'developer', id: userId })]))
    }
  }
  const d = (await db.pool.query('SELECT state, environment, "isProduction", "productionReason", "firstSuccessAt", "creatorId" FROM deployments')).rows
  expect(d).toEqual([
    { state: 'success', environment: 'production', isProduction: true, productionReason: 'environment_pattern', firstSuccessAt: new Date('2024-03-05T10:00:05Z'), creatorId: userId },
  ])
  // A redelivery writes nothing.
  const again = await processor.process({ deliveryId: 'live-deployment_status', event: 'deployment_status', payload: fixture('deployment-status-success.json') })
  expect(again).toMatchObject({ status: 'duplicate', records: { deployments: 0, deploymentStatuses: 0 } })
})

test('reprocessEvents({ types }) takes the new types and rebuilds the same rows', async () => {
  const live = await snapshot(db.pool)
  expect(live.deployments).toHaveLength(1)
  await db.pool.query('DELETE FROM deployment_statuses; DELETE FROM deployments; DELETE FROM workflow_runs; DELETE FROM workflow_jobs; DELETE FROM releases')
  const report = await processor.reprocessEvents({ types: [...DEPLOYMENT_TYPES] })
  expect(report).toMatchObject({ events: 5, skipped: 0 })
  expect(report.byType).toEqual(Object.fromEntries(DEPLOYMENT_TYPES.map((t) => [t, 1])))
  expect(await snapshot(db.pool)).toEqual(live)
  await expect(processor.reprocessEvents({ types: ['deployments' as 'deployment'] })).rejects.toMatchObject({ code: 'CONFIG_ERROR' })
})

test('productionEnvironments decides production without GitHub\'s flag; an invalid pattern is CONFIG_ERROR', async () => {
  const own = await createTestDatabase()
  try {
    await insertRepository(own.pool)
    const p = await WebhookProcessor.connect({ databaseUrl: own.url, maxConnections: 2, productionEnvironments: /^live$/ })
    try {
      await p.process({ deliveryId: 'prod-1', event: 'deployment_status', payload: fixture('deployment-status-success.json') })
      const { rows } = await own.pool.query('SELECT environment, "isProduction", "productionReason" FROM deployments')
      expect(rows).toEqual([{ environment: 'production', isProduction: false, productionReason: null }])
    } finally {
      await p.close()
    }
    await expect(WebhookProcessor.connect({ databaseUrl: own.url, productionEnvironments: '(' })).rejects.toMatchObject({ code: 'CONFIG_ERROR' })
    await expect(WebhookProcessor.connect({ databaseUrl: own.url, productionEnvironments: '' })).rejects.toMatchObject({ code: 'CONFIG_ERROR' })
  } finally {
    await own.drop()
  }
})
