// A fresh reference backend with auto-registration (as it runs when configured as a GitHub
// App: AUTO_REGISTER_REPOSITORIES defaults on with GITHUB_APP_ID) tracks an installation's
// repositories without any command, follows a rename, a transfer and an uninstall, answers a
// ping with what it understood, and shows a deleted hook in health. Signed HTTP deliveries,
// real Redis and Bull/BullMQ, real PostgreSQL, the built addon; payloads from
// @octokit/webhooks-examples.
import { createTestDatabase, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { testPrefix } from './helpers/redis'
import { examplesOf } from './helpers/examples'
import { backendEnv, deliver, RunningBackend, startBackend } from './support/backend'

let db: TestDatabase
let running: RunningBackend
const redis = testPrefix()

beforeAll(async () => {
  db = await createTestDatabase()
  db.pool.on('error', () => undefined)
  await db.pool.query(`INSERT INTO teams (id, name) VALUES ('team-platform', 'Platform')`)
  running = await startBackend(backendEnv(db.url, redis.prefix, { AUTO_REGISTER_REPOSITORIES: 'true', GITHUB_OWNER_TEAMS: 'acme=Platform' }))
})

afterAll(async () => {
  await running?.backend.close()
  await redis.cleanup()
  await db?.drop()
})

const example = (event: string, action: string): any => structuredClone((examplesOf(event).find(([, p]) => p.action === action) as [string, unknown])[1])

const repoRow = (githubId: number) =>
  db.pool
    .query(`SELECT "fullName", owner, "installationId"::int AS "installationId", "trackingStoppedAt", "teamId" FROM repositories WHERE "githubId" = $1`, [githubId])
    .then((r) => r.rows[0])

const processedEvent = (deliveryId: string) =>
  eventually(
    () => db.pool.query('SELECT processed, "repoId", "ignoredReason" FROM events WHERE "deliveryId" = $1', [deliveryId]).then((r) => r.rows[0]),
    (row) => row?.processed === true,
    { timeoutMs: 20_000 },
  )

test('installed, its repository delivers, renamed, transferred, uninstalled: followed without any command', async () => {
  const created = example('installation', 'created')
  created.installation.id = 7_001
  created.repositories = [{ id: 91_001, node_id: 'R1', name: 'api', full_name: 'acme/api', private: false }]
  const install = await deliver(running.url, 'installation', created)
  expect(install).toMatchObject({ status: 202, body: { status: 'queued' } })
  await processedEvent(install.deliveryId)
  expect(await repoRow(91_001)).toMatchObject({ fullName: 'acme/api', installationId: 7_001, trackingStoppedAt: null, teamId: 'team-platform' })

  // A repository the installation event did not list (created later under an all-repositories
  // installation): its own delivery is queued, not ignored, and registers it.
  const issue = example('issues', 'opened')
  issue.repository = { ...issue.repository, id: 91_002, full_name: 'acme/web', owner: { ...issue.repository.owner, login: 'acme' } }
  issue.installation = { id: 7_001, node_id: 'I' }
  const opened = await deliver(running.url, 'issues', issue)
  expect(opened).toMatchObject({ status: 202, body: { status: 'queued' } })
  const stored = await processedEvent(opened.deliveryId)
  expect(stored.repoId).not.toBeNull()
  expect(await repoRow(91_002)).toMatchObject({ fullName: 'acme/web', installationId: 7_001 })

  // Renamed, then transferred: the same row, by GitHub id.
  for (const [action, fullName, at] of [
    ['renamed', 'acme/web-app', '2026-12-07T10:00:00Z'],
    ['transferred', 'acme-labs/web-app', '2026-12-07T11:00:00Z'],
  ]) {
    const payload = example('repository', action)
    payload.installation = { id: 7_001, node_id: 'I' }
    payload.repository = { ...payload.repository, id: 91_002, full_name: fullName, updated_at: at, owner: { ...payload.repository.owner, login: fullName.split('/')[0] } }
    const r = await deliver(running.url, 'repository', payload)
    expect(r.status).toBe(202)
    await processedEvent(r.deliveryId)
  }
  expect(await repoRow(91_002)).toMatchObject({ fullName: 'acme-labs/web-app', owner: 'acme-labs' })
  const ids = await db.pool.query('SELECT count(*)::int AS n FROM repositories WHERE "githubId" = 91002')
  expect(ids.rows[0].n).toBe(1)

  // Uninstalled: both stop being tracked, data kept.
  const deleted = example('installation', 'deleted')
  deleted.installation.id = 7_001
  deleted.repositories = []
  const uninstall = await deliver(running.url, 'installation', deleted)
  await processedEvent(uninstall.deliveryId)
  expect((await repoRow(91_001)).trackingStoppedAt).not.toBeNull()
  expect((await repoRow(91_002)).trackingStoppedAt).not.toBeNull()
  expect((await db.pool.query('SELECT count(*)::int AS n FROM issues')).rows[0].n).toBe(1)

  const stats = await (await fetch(`${running.url}/api/webhooks/stats`)).json()
  expect(stats.repositories.byState).toMatchObject({ untracked: 2 })
  expect(stats.repositories.items).toEqual(expect.arrayContaining([expect.objectContaining({ fullName: 'acme-labs/web-app', state: 'untracked', installationId: 7_001 })]))
})

test('a ping answers which tracked events the hook does not send', async () => {
  const ping = structuredClone(examplesOf('ping').find(([, p]) => (p as any).hook.type === 'Organization')?.[1] as any)
  const r = await deliver(running.url, 'ping', ping)
  expect(r).toMatchObject({ status: 200, body: { status: 'pong', tracked: ['repository'] } })
  expect((r.body as any).missing).toEqual(expect.arrayContaining(['pull_request_review']))
  expect(running.logger.lines.some((e: any) => e.level === 'warn' && /does not send/.test(e.message))).toBe(true)
})

test('meta (hook deleted) is an alert in the log and in health', async () => {
  const meta = example('meta', 'deleted')
  const r = await deliver(running.url, 'meta', meta)
  expect(r).toMatchObject({ status: 200, body: { status: 'alert', hookId: meta.hook_id } })
  expect(running.logger.lines.some((e: any) => e.level === 'error' && e.alert === true && /webhook deleted/.test(e.message))).toBe(true)
  const health = await (await fetch(`${running.url}/api/webhooks/health`)).json()
  expect(health.alerts.hooksDeleted).toEqual([expect.objectContaining({ hookId: meta.hook_id, hookType: 'Repository' })])
})

test('stats count every repository by state, though the list stops at 1000', async () => {
  // 1000 tracked repositories named before the others: the list's first 1000 by name.
  await db.pool.query(
    `INSERT INTO repositories (id, "githubId", "fullName", "createdAt", "updatedAt")
     SELECT 'bulk-' || n, 95000 + n, 'aaa/r' || lpad(n::text, 4, '0'), now(), now() FROM generate_series(1, 1000) AS n`,
  )
  const { rows } = await db.pool.query(
    `SELECT count(*) FILTER (WHERE "trackingStoppedAt" IS NOT NULL AND "deletedAt" IS NULL)::int AS untracked, count(*)::int AS total FROM repositories`,
  )
  const stats = await (await fetch(`${running.url}/api/webhooks/stats`)).json()
  expect(stats.repositories.items).toHaveLength(1000)
  expect(stats.repositories.byState.untracked).toBe(rows[0].untracked)
  expect(Object.values(stats.repositories.byState as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(rows[0].total)
})
