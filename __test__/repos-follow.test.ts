// Repositories follow GitHub (issue 25, docs/repositories.md), through the built addon: every
// installation, installation_repositories and repository action of @octokit/webhooks-examples
// is processed and moves the repository row; an unknown repository under an installation is
// registered by its own delivery; `registerInstalledRepositories` (npm run register --
// --all-installed) lists the App's installations through the local GitHub, which checks each
// request against GitHub's OpenAPI description; backfill does not ask for a deleted repository;
// the reference backend's ping answer names the events the hook lacks.
import { registerInstalledRepositories, registerRepository, runBackfill, createGitHubClient, WebhookProcessor } from '../lib'
import { pingUnderstanding } from '../examples/backend/src/routes/webhooks'
import { startGitHubServer, testAppKeys, type GitHubServer } from './github/server'
import { createTestDatabase, type TestDatabase } from './helpers/db'
import { examplesOf } from './helpers/examples'

let db: TestDatabase
let processor: WebhookProcessor
let n = 0

beforeAll(async () => {
  db = await createTestDatabase()
  await db.pool.query(`INSERT INTO teams (id, name) VALUES ('team-octo', 'Octo')`)
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4, autoRegisterRepositories: true, ownerTeams: { Codertocat: 'Octo' } })
})

afterAll(async () => {
  await processor.close()
  await db.drop()
})

const send = (event: string, payload: unknown, receivedAt = Date.UTC(2026, 11, 7, 12, 0, n)) =>
  processor.process({ deliveryId: `follow-${++n}`, event, payload: JSON.stringify(payload), receivedAt })

const row = async (githubId: number) =>
  (
    await db.pool.query(
      `SELECT "fullName", owner, private, "installationId"::int AS "installationId", "archivedAt", "deletedAt", "trackingStoppedAt", "suspendedAt", "teamId"
         FROM repositories WHERE "githubId" = $1`,
      [githubId],
    )
  ).rows[0]

describe.each(['installation', 'installation_repositories', 'repository'])('%s examples', (event) => {
  test.each(examplesOf(event))('%s is processed', async (_label, payload) => {
    const result = await send(event, payload)
    expect(result).toMatchObject({ status: 'processed', event, action: payload.action })
    expect(result.eventId).not.toBeNull()
    // A repository event of a repository not tracked (no installation to register it under)
    // says its change waits; every other is applied.
    expect(result.reason === null).toBe(event !== 'repository' || result.repoId !== null)
    if (event === 'repository' && result.repoId) {
      const repo = payload.repository as { id: number; full_name: string }
      expect(await row(repo.id)).toMatchObject({ fullName: repo.full_name })
    }
  })
})

test('an installation registers its repositories under it, in the team of their owner; uninstalling stops them, data kept', async () => {
  const [, created] = examplesOf('installation').find(([, p]) => p.action === 'created') as [string, Record<string, any>]
  const payload = { ...created, installation: { ...created.installation, id: 555 }, repositories: [{ id: 61, node_id: 'R', name: 'kit', full_name: 'Codertocat/kit', private: true }] }
  await send('installation', payload)
  expect(await row(61)).toMatchObject({ fullName: 'Codertocat/kit', owner: 'Codertocat', private: true, installationId: 555, trackingStoppedAt: null, teamId: 'team-octo' })

  const issue = { ...(examplesOf('issues').find(([, p]) => p.action === 'opened') as [string, Record<string, any>])[1] }
  issue.repository = { ...issue.repository, id: 61, full_name: 'Codertocat/kit' }
  issue.installation = { id: 555, node_id: 'I' }
  expect(await send('issues', issue)).toMatchObject({ status: 'processed', records: { issues: 1 } })

  await send('installation', { ...payload, action: 'deleted' })
  const stopped = await row(61)
  expect(stopped.trackingStoppedAt).not.toBeNull()
  expect((await db.pool.query(`SELECT count(*)::int AS n FROM issues i JOIN repositories r ON r.id = i."repoId" WHERE r."githubId" = 61`)).rows[0].n).toBe(1)

  // Received after the uninstall: stored as ignored, with the reason.
  const late = await send('issues', { ...issue, issue: { ...issue.issue, id: 99_001, number: 99 } })
  expect(late).toMatchObject({ status: 'ignored', reason: expect.stringContaining('removed from tracking') })
  const stored = await db.pool.query(`SELECT processed, "ignoredReason" FROM events WHERE id = $1`, [late.eventId])
  expect(stored.rows[0]).toEqual({ processed: true, ignoredReason: late.reason })
})

test('a rename processed before the repository is registered is applied when it is (npm run register)', async () => {
  const [, renamed] = examplesOf('repository').find(([, p]) => p.action === 'renamed') as [string, Record<string, any>]
  const payload = { ...renamed, installation: undefined, repository: { ...renamed.repository, id: 71, full_name: 'Octocoders/after', updated_at: '2026-12-07T11:00:00Z' } }
  const plain = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
  try {
    const r = await plain.process({ deliveryId: `follow-${++n}`, event: 'repository', payload: JSON.stringify(payload) })
    expect(r).toMatchObject({ status: 'processed', repoId: null, reason: expect.stringContaining('not tracked yet') })
  } finally {
    await plain.close()
  }
  expect(await row(71)).toBeUndefined()
  // Registered by hand under its old name an hour earlier (the API lookup would give the new one).
  await registerRepository({ fullName: 'Octocoders/before', githubId: 71 }, { pool: db.pool })
  await db.pool.query(`UPDATE repository_changes SET "receivedAt" = '2026-12-07T10:00:00' WHERE "repoGithubId" = 71 AND event = 'register'`)
  await db.pool.query('SELECT devmetrics_refresh_repository(71)')
  expect(await row(71)).toMatchObject({ fullName: 'Octocoders/after', owner: 'Octocoders' })
})

describe('through the local GitHub (checked against the OpenAPI description)', () => {
  let gh: GitHubServer
  let keys: ReturnType<typeof testAppKeys>
  beforeAll(async () => {
    keys = testAppKeys()
    gh = await startGitHubServer({ appId: 4242, publicKey: keys.publicKey })
  })
  afterAll(async () => {
    gh.assertNoViolations()
    await gh.close()
  })

  test('--all-installed registers every repository of every installation under its installation id', async () => {
    const a = gh.world.install('acme-follow', { id: 8_001, type: 'Organization' })
    const b = gh.world.install('beta-follow', { id: 8_002 })
    gh.world.addRepository({ owner: 'acme-follow', name: 'one', id: 81_001 })
    gh.world.addRepository({ owner: 'acme-follow', name: 'two', id: 81_002 })
    gh.world.addRepository({ owner: 'beta-follow', name: 'three', id: 81_003 })
    const client = createGitHubClient({ appId: 4242, privateKey: keys.pkcs8, baseUrl: gh.url, retries: 0 })
    const registered = await registerInstalledRepositories({ client, pool: db.pool, ownerTeams: { 'ACME-follow': 'Octo' } })
    expect(registered.map((r) => r.fullName).sort()).toEqual(['acme-follow/one', 'acme-follow/two', 'beta-follow/three'])
    expect(await row(81_001)).toMatchObject({ installationId: a.id, teamId: 'team-octo' })
    expect(await row(81_003)).toMatchObject({ installationId: b.id, teamId: null })
    expect(gh.requests.filter((r) => r.path === '/installation/repositories').map((r) => r.installationId).sort()).toEqual([8_001, 8_002])

    // A token client cannot list installations.
    await expect(registerInstalledRepositories({ client: createGitHubClient({ token: 'ghp_x', baseUrl: gh.url }), pool: db.pool })).rejects.toMatchObject({ code: 'CONFIG_ERROR' })
  })

  test('backfill does not ask GitHub for a deleted repository', async () => {
    const [, deleted] = examplesOf('repository').find(([, p]) => p.action === 'privatized') as [string, Record<string, any>]
    await send('repository', { ...deleted, action: 'deleted', installation: { id: 8_001 }, repository: { ...deleted.repository, id: 81_002, full_name: 'acme-follow/two', updated_at: '2026-12-07T12:30:00Z' } })
    expect((await row(81_002)).deletedAt).not.toBeNull()
    const before = gh.requests.length
    const client = createGitHubClient({ appId: 4242, privateKey: keys.pkcs8, baseUrl: gh.url, retries: 0 })
    // As registration queues it: by the row's id (a name is first resolved through GitHub).
    const repoId = (await db.pool.query('SELECT id FROM repositories WHERE "githubId" = 81002')).rows[0].id
    const summary = await runBackfill({ data: { repository: 'acme-follow/two', repoId } }, { client, pool: db.pool, processor })
    expect(summary).toMatchObject({ skipped: expect.stringContaining('deleted') })
    expect(gh.requests.length).toBe(before)
  })
})

test('a ping says which tracked events the hook does not send', () => {
  const [, orgPing] = examplesOf('ping').find(([, p]) => (p as any).hook.type === 'Organization') as [string, any]
  const understood = pingUnderstanding(orgPing)
  expect(understood.tracked).toEqual(['repository'])
  expect(understood.missing).toEqual(expect.arrayContaining(['push', 'pull_request', 'pull_request_review', 'issues']))
  expect(understood.warnings.join('\n')).toContain('pull_request_review')
  const [, repoPing] = examplesOf('ping').find(([, p]) => (p as any).hook.events[0] === '*') as [string, any]
  expect(pingUnderstanding(repoPing).missing).toEqual([])
})
