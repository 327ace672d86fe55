// The commitStats, completePush and deploymentChanges jobs call GitHub with the installation
// stored on the repository's row (repositories.installationId), as backfill does, not the one
// GitHub names for its owner (docs/github-api.md): after a transfer, or when the owner lookup
// does not answer, the repository still gets its counts, its commits and what its deployments
// shipped. Real addon on PostgreSQL, a real Bull github queue, an App client against the
// contract server (__test__/github), whose installation lookups are made to answer 404 here.
import { randomUUID } from 'node:crypto'
import Bull from 'bull'
import { createGitHubClient, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, type TestDatabase } from './helpers/db'
import { pushPayload } from './helpers/pushes'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'
import { startGitHubServer, testAppKeys, type GitHubServer } from './github/server'
import type { WorldCommit, WorldRepository } from './github/world'

// The job kinds as the github workers run them (`run(job, context)`); plain JS, no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { JOBS } = require('../lib/github/job-runner')

const APP_ID = 4343
let db: TestDatabase
let processor: WebhookProcessor
let gh: GitHubServer
let keys: ReturnType<typeof testAppKeys>
let githubQueue: Bull.Queue
let lookups: { stop(): void }
const { prefix, cleanup } = testPrefix()
let n = 0

beforeAll(async () => {
  db = await createTestDatabase()
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
  keys = testAppKeys()
  gh = await startGitHubServer({ appId: APP_ID, publicKey: keys.publicKey })
  githubQueue = new Bull(`github-${randomUUID().slice(0, 6)}`, SHARED_REDIS_URL, { prefix: `${prefix}bull` })
  // No installation lookup answers (GET /users|orgs/{owner}/installation, /repos/{owner}/{repo}/installation).
  lookups = gh.failWhile((r) => r.method === 'GET' && /\/installation$/.test(r.path), 404)
})

afterAll(async () => {
  lookups.stop()
  await githubQueue.close()
  await processor.close()
  await gh.close()
  await cleanup()
  await db.drop()
})

afterEach(() => gh.assertNoViolations())

const client = () => createGitHubClient({ appId: APP_ID, privateKey: keys.pkcs8, baseUrl: gh.url, retries: 0, writeSpacingMs: 0 })

/** A repository of an installed account, registered with that installation id stored on its row. */
async function installedRepository() {
  n++
  const owner = `moved-${n}`
  const installation = gh.world.install(owner, { id: 9_300 + n })
  const world = gh.world.addRepository({ owner, name: 'kit' })
  const fullName = `${owner}/kit`
  const repoId = await insertRepository(db.pool, world.id, { fullName })
  await db.pool.query('UPDATE repositories SET "installationId" = $2 WHERE id = $1', [repoId, installation.id])
  return { world, fullName, repoId, installation }
}

async function push(world: WorldRepository, fullName: string, commits: WorldCommit[], before?: string) {
  const payload = pushPayload({ repoGithubId: world.id, fullName, before, commits: commits.map((c) => ({ sha: c.sha, timestamp: c.author.date })) })
  return processor.process({ deliveryId: randomUUID(), event: 'push', payload, receivedAt: Date.now() })
}

async function stats(repoId: string) {
  const { rows } = await db.pool.query(`SELECT sha, additions, "statsFetchedAt" IS NOT NULL AS fetched FROM commits WHERE "repoId" = $1 ORDER BY sha`, [repoId])
  return rows
}

test('the stored installation id is what processor.repositoryInstallation answers', async () => {
  const { repoId, installation } = await installedRepository()
  expect(await processor.repositoryInstallation(repoId)).toBe(installation.id)
  expect(await processor.repositoryInstallation(randomUUID())).toBeNull()
  await expect(processor.repositoryInstallation('')).rejects.toMatchObject({ code: 'INVALID_JOB' })
})

test('commitStats gets the counts with the installation stored on the row when the owner lookup has no answer', async () => {
  const { world, fullName, repoId, installation } = await installedRepository()
  const commits = gh.world.commitChain(world, 3)
  await push(world, fullName, commits)
  const from = gh.requests.length

  const job = { data: { kind: 'commitStats', repoId, repository: fullName, shas: commits.map((c) => c.sha) }, attemptsMade: 0, opts: { attempts: 8 } }
  expect(await JOBS.commitStats.run(job, { processor, client: client(), metricsQueue: null })).toMatchObject({ updated: 3 })
  expect(await stats(repoId)).toEqual(commits.map((c) => ({ sha: c.sha, additions: c.additions, fetched: true })).sort((a, b) => a.sha.localeCompare(b.sha)))
  const graphql = gh.requests.slice(from).filter((r) => r.path === '/graphql')
  expect(graphql.map((r) => r.installationId)).toEqual([installation.id])
})

test('completePush inserts the range with the installation stored on the row when the owner lookup has no answer', async () => {
  const { world, fullName, repoId, installation } = await installedRepository()
  const [base, ...range] = gh.world.commitChain(world, 4)
  const listed = range.slice(-1)
  await push(world, fullName, listed, base.sha)
  const from = gh.requests.length

  const job = {
    data: { kind: 'completePush', repoId, repository: fullName, before: base.sha, after: listed[0].sha, shas: listed.map((c) => c.sha), forced: true },
    attemptsMade: 0,
    opts: { attempts: 8 },
    update: async () => undefined,
  }
  expect(await JOBS.completePush.run(job, { processor, client: client(), metricsQueue: null, githubQueue })).toMatchObject({ inserted: 2 })
  expect((await stats(repoId)).map((r) => r.sha)).toEqual(range.map((c) => c.sha).sort())
  const compare = gh.requests.slice(from).filter((r) => r.path.includes('/compare/'))
  expect(compare.map((r) => r.installationId)).toEqual([installation.id])
})

test('deploymentChanges compares with the installation stored on the row when the owner lookup has no answer', async () => {
  const { world, fullName, repoId, installation } = await installedRepository()
  const [base, ...shipped] = gh.world.commitChain(world, 3)
  const deployment = async (sha: string, at: string) => {
    const githubId = 8_800_000 + n * 10 + (sha === base.sha ? 1 : 2)
    await db.pool.query(
      `INSERT INTO deployments (id, "repoId", "githubId", sha, ref, task, environment, "originalEnvironment", "isProduction",
                                "productionReason", "createdAt", "updatedAt", state, "firstSuccessAt", "finishedAt")
       VALUES ($1, $2, $3, $4, 'main', 'deploy', 'production', 'production', true, 'environment_pattern', $5, $5, 'success', $5, $5)`,
      [randomUUID(), repoId, githubId, sha, at],
    )
    return String(githubId)
  }
  await deployment(base.sha, '2026-03-01T10:00:00Z')
  const shippedId = await deployment(shipped[1].sha, '2026-03-02T10:00:00Z')
  const from = gh.requests.length

  const job = {
    data: { kind: 'deploymentChanges', repoId, repository: fullName, deploymentId: shippedId, deliveryId: null },
    attemptsMade: 0,
    opts: { attempts: 8 },
    update: async () => undefined,
  }
  expect(await JOBS.deploymentChanges.run(job, { processor, client: client(), metricsQueue: null, githubQueue })).toMatchObject({ changes: 2, base: base.sha })
  const { rows } = await db.pool.query(
    `SELECT c."commitSha" FROM deployment_changes c JOIN deployments d ON d.id = c."deploymentId" WHERE d."githubId" = $1 ORDER BY 1`,
    [shippedId],
  )
  expect(rows.map((r) => r.commitSha)).toEqual(shipped.map((c) => c.sha).sort())
  const compare = gh.requests.slice(from).filter((r) => r.path.includes('/compare/'))
  expect(compare.map((r) => r.installationId)).toEqual([installation.id])
})
