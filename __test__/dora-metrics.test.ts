// processor.doraMetrics() through the built addon and PostgreSQL: the five metrics of a small
// hand-computed week (one deployment fails after its success and the next restores it), the
// result's shape as lib/index.d.ts declares it (null, never undefined, where there is nothing to
// measure), and CONFIG_ERROR for every kind of bad option. The full scenario (re-runs,
// incidents, rollbacks, staging, first deployments) is crates/core/tests/dora.rs.
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { WebhookProcessor, WebhookProcessingError } from '../lib'
import { createTestDatabase, insertRepository, insertTeam, TestDatabase } from './helpers/db'
import { BackendProcess } from './support/backend'

let db: TestDatabase
let processor: WebhookProcessor
let teamId: string

const SINCE = '2026-11-02T00:00:00Z'
const UNTIL = '2026-11-09T00:00:00Z'

async function deployment(repoId: string, githubId: number, sha: string, success: string, failure?: string) {
  const id = randomUUID()
  await db.pool.query(
    `INSERT INTO deployments (id, "repoId", "githubId", sha, ref, task, environment, "originalEnvironment",
       "isProduction", "productionReason", "createdAt", "updatedAt", state, "firstSuccessAt", "finishedAt")
     VALUES ($1, $2, $3, $4, 'main', 'deploy', 'production', 'production', true, 'environment_pattern',
       $5, $5, $6, $5, $5)`,
    [id, repoId, githubId, sha, success, failure ? 'failure' : 'success'],
  )
  const statuses: Array<[string, string]> = [['success', success]]
  if (failure) statuses.push(['failure', failure])
  for (const [state, at] of statuses) {
    await db.pool.query(
      `INSERT INTO deployment_statuses (id, "githubId", "repoId", "deploymentId", state, "createdAt")
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [randomUUID(), githubId * 10 + (state === 'success' ? 1 : 2), repoId, id, state, at],
    )
  }
  return id
}

async function change(repoId: string, deploymentId: string, sha: string, committedAt: string) {
  await db.pool.query(
    `INSERT INTO deployment_changes ("deploymentId", "commitSha", "repoId", "committedAt") VALUES ($1, $2, $3, $4)`,
    [deploymentId, sha, repoId, committedAt],
  )
}

beforeAll(async () => {
  db = await createTestDatabase()
  teamId = await insertTeam(db.pool, 'platform')
  const repoId = await insertRepository(db.pool, 4242, { teamId, fullName: 'octo/shop' })
  const a = await deployment(repoId, 1, 'a', '2026-11-02T10:00:00Z')
  await change(repoId, a, 'ca', '2026-11-02T09:00:00Z')
  const b = await deployment(repoId, 2, 'b', '2026-11-03T10:00:00Z', '2026-11-03T11:00:00Z')
  await change(repoId, b, 'cb', '2026-11-03T08:00:00Z')
  const c = await deployment(repoId, 3, 'c', '2026-11-03T13:00:00Z')
  await change(repoId, c, 'cc', '2026-11-03T12:00:00Z')
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
})

afterAll(async () => {
  await processor?.close()
  await db?.drop()
})

test("a team's week: every figure as computed by hand, with the deployments behind it", async () => {
  const m = await processor.doraMetrics({ since: SINCE, until: new Date(UNTIL), teamId })
  expect(m).toEqual({
    deploymentFrequency: { deployments: 3, days: 2, perWeek: 3, failedToDeploy: 0, deploymentIds: ['1', '2', '3'], failedToDeployIds: [] },
    // spans 3600, 7200, 3600: percentile_cont positions 1, 1.5, 1.8
    leadTime: { commits: 3, medianSeconds: 3600, p75Seconds: 5400, p90Seconds: 6480, deploymentIds: ['1', '2', '3'] },
    changeFailRate: { failed: 1, total: 3, rate: 1 / 3, deploymentIds: ['2'] },
    // failure status 11:00 → next first success 13:00
    recoveryTime: { count: 1, medianSeconds: 7200, p75Seconds: 7200, p90Seconds: 7200, deploymentIds: ['2'] },
    reworkRate: { rework: 1, total: 3, rate: 1 / 3, deploymentIds: ['3'] },
  })
})

test('a window without deployments: zeros, and null (not undefined) rates and percentiles', async () => {
  const m = await processor.doraMetrics({ since: Date.UTC(2025, 0, 1), until: Date.UTC(2025, 0, 15), repositoryGithubIds: [4242] })
  expect(m).toEqual({
    deploymentFrequency: { deployments: 0, days: 0, perWeek: 0, failedToDeploy: 0, deploymentIds: [], failedToDeployIds: [] },
    leadTime: { commits: 0, medianSeconds: null, p75Seconds: null, p90Seconds: null, deploymentIds: [] },
    changeFailRate: { failed: 0, total: 0, rate: null, deploymentIds: [] },
    recoveryTime: { count: 0, medianSeconds: null, p75Seconds: null, p90Seconds: null, deploymentIds: [] },
    reworkRate: { rework: 0, total: 0, rate: null, deploymentIds: [] },
  })
})

test('an incident opened exactly failureWindowHours after a first success is blamed on it; one a second later is not', async () => {
  const repoId = await insertRepository(db.pool, 4343, { fullName: 'octo/window' })
  await deployment(repoId, 11, 'w1', '2026-11-02T10:00:00Z')
  const issue = async (githubId: number, createdAt: string) =>
    db.pool.query(
      `INSERT INTO issues (id, "repoId", "githubId", number, title, "createdAt", "updatedAt", labels, "labelsUpdatedAt")
       VALUES ($1, $2, $3, $4, 'down', $5, $5, ARRAY['Incident'], $5)`,
      [randomUUID(), repoId, githubId, githubId, createdAt],
    )
  const measure = () => processor.doraMetrics({ since: SINCE, until: UNTIL, repositoryGithubIds: [4343], failureWindowHours: 24 })
  // One second past the window: not blamed.
  await issue(91, '2026-11-03T10:00:01Z')
  expect((await measure()).changeFailRate).toEqual({ failed: 0, total: 1, rate: 0, deploymentIds: [] })
  // Exactly 24 hours after the first success: within the window (docs/dora.md, lib/index.d.ts).
  await issue(92, '2026-11-03T10:00:00Z')
  expect((await measure()).changeFailRate).toEqual({ failed: 1, total: 1, rate: 1, deploymentIds: ['11'] })
})

test('a fractional since or until bounds the window at that instant: a first success in the millisecond before a fractional since is out, one in the millisecond before a fractional until is in', async () => {
  await insertRepository(db.pool, 4444, { fullName: 'octo/millis' })
  const { rows } = await db.pool.query('SELECT id FROM repositories WHERE "githubId" = 4444')
  const at = Date.UTC(2026, 10, 4, 10, 0, 0, 123)
  await deployment(rows[0].id, 21, 'm1', new Date(at).toISOString())
  const ids = async (since: number, until: number) =>
    (await processor.doraMetrics({ since, until, repositoryGithubIds: [4444] })).deploymentFrequency.deploymentIds
  // [at + 0.5, …): the deployment at `at` is before the window.
  expect(await ids(at + 0.5, at + 3_600_000)).toEqual([])
  // […, at + 0.5): the deployment at `at` is inside it.
  expect(await ids(at - 3_600_000, at + 0.5)).toEqual(['21'])
})

test.each<[string, unknown]>([
  ['no options', undefined],
  ['options that are no object', 'last 30 days'],
  ['since missing', { until: UNTIL }],
  ['until unparseable', { since: SINCE, until: 'soon' }],
  ['since after until', { since: UNTIL, until: SINCE }],
  ['since equal to until', { since: SINCE, until: SINCE }],
  ['repositoryGithubIds not an array', { since: SINCE, until: UNTIL, repositoryGithubIds: 4242 }],
  ['a repository id that is no positive integer', { since: SINCE, until: UNTIL, repositoryGithubIds: [1.5] }],
  ['an empty teamId', { since: SINCE, until: UNTIL, teamId: ' ' }],
  ['environment not a string', { since: SINCE, until: UNTIL, environment: 7 }],
  ['incidentLabels not an array', { since: SINCE, until: UNTIL, incidentLabels: 'incident' }],
  ['an empty incident label', { since: SINCE, until: UNTIL, incidentLabels: ['incident', ''] }],
  ['failureWindowHours zero', { since: SINCE, until: UNTIL, failureWindowHours: 0 }],
  ['failureWindowHours not a number', { since: SINCE, until: UNTIL, failureWindowHours: '168' }],
  ['failureWindowHours over ten years', { since: SINCE, until: UNTIL, failureWindowHours: 1e9 }],
])('%s: CONFIG_ERROR, and the processor keeps working', async (_name, options) => {
  const call = (processor.doraMetrics as (o: unknown) => Promise<unknown>).bind(processor)
  const error = await call(options).then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(WebhookProcessingError)
  expect(error).toMatchObject({ code: 'CONFIG_ERROR', retryable: false, message: expect.stringContaining('doraMetrics') })
  const m = await processor.doraMetrics({ since: SINCE, until: UNTIL, teamId })
  expect(m.deploymentFrequency.deployments).toBe(3)
})

test('a date-time without an offset is UTC whatever the process time zone (like a date alone), and a day the calendar lacks is CONFIG_ERROR, not the next month', async () => {
  // A user's process in New York (UTC-5): `2026-11-02T09:30:00` is 09:30 UTC, as `2026-11-02` is
  // midnight UTC; deployment 1 went live at 10:00 UTC.
  const script = `
    const { WebhookProcessor } = require(${JSON.stringify(join(__dirname, '..', 'lib'))})
    ;(async () => {
      const p = await WebhookProcessor.connect({ databaseUrl: process.env.DORA_DB })
      const out = {}
      const m = await p.doraMetrics({ since: '2026-11-02T09:30:00', until: '2026-11-02 10:30', repositoryGithubIds: [4242] })
      out.ids = m.deploymentFrequency.deploymentIds
      try { await p.doraMetrics({ since: '2026-11-31', until: '2026-12-02T00:00:00Z' }) } catch (e) { out.code = e.code }
      await p.close()
      console.log(JSON.stringify(out))
    })().catch((e) => { console.error(e); process.exit(1) })`
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { ...process.env, TZ: 'America/New_York', DORA_DB: db.url } })
  expect(JSON.parse(stdout)).toEqual({ ids: ['1'], code: 'CONFIG_ERROR' })
})

test('npm run dora on a server in New York reads --since/--until without an offset as UTC, as the weeks are', async () => {
  const child = BackendProcess.start('examples/backend/src/cli/dora.ts', ['octo/shop', '--since', '2026-11-02T09:30:00', '--until', '2026-11-02T10:30', '--json'], {
    DATABASE_URL: db.url,
    REDIS_URL: 'redis://127.0.0.1:6379',
    NODE_ENV: 'development',
    TZ: 'America/New_York',
  })
  expect(await child.exited).toBe(0)
  const answer = child.lines[0] as unknown as { since: string; until: string; metrics: { deploymentFrequency: { deploymentIds: string[] } } }
  expect(answer).toMatchObject({ since: '2026-11-02T09:30:00.000Z', until: '2026-11-02T10:30:00.000Z' })
  expect(answer.metrics.deploymentFrequency.deploymentIds).toEqual(['1'])
})
