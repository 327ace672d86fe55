// What each production deployment shipped, end to end: the real github worker on real queues
// (Bull here; deployment-changes.bullmq.test.ts runs the same tests on BullMQ), the real addon
// on PostgreSQL, and the contract server (__test__/github) standing in for GitHub, which checks
// every compare request and answer against GitHub's OpenAPI description. What a user relies
// on: a deployment's changes are the commits since the previous successful production
// deployment of its environment, commits the table lacked are inserted (and their line
// counts fetched), each with its pull request; a rollback ships nothing and is marked; the
// first deployment ships nothing; a second run changes nothing; any order of arrival ends
// with the same rows; a rate limit delays and loses no page.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createGitHubClient, githubJobOptions, WebhookJobData, WebhookProcessingError, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { testPrefix } from './helpers/redis'
import { GitHubServer, startGitHubServer } from './github/server'
import type { WorldCommit, WorldRepository } from './github/world'
import { PipelineQueue, pipelineFactory } from './support/github-pipeline'

const TOKEN = 'deployment-changes-token'
const quiet = { info() {}, warn() {}, error() {} }

let db: TestDatabase
let processor: WebhookProcessor
let gh: GitHubServer
const { prefix, cleanup } = testPrefix()
const pipelines = pipelineFactory(prefix)
let repoCount = 0
let nextDeploymentId = 7_000_000

beforeAll(async () => {
  db = await createTestDatabase()
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
  gh = await startGitHubServer({ tokens: [TOKEN] })
})

afterAll(async () => {
  await pipelines.closeAll()
  await processor.close()
  await gh.close()
  await cleanup()
  await db.drop()
})

afterEach(() => gh.assertNoViolations())

async function repository(): Promise<{ world: WorldRepository; repoId: string; fullName: string }> {
  repoCount++
  const world = gh.world.addRepository({ owner: 'acme', name: `shop-${repoCount}` })
  const fullName = `acme/${world.name}`
  return { world, repoId: await insertRepository(db.pool, world.id, { fullName }), fullName }
}

function pipeline(clientOptions: Record<string, unknown> = {}, githubProcessor?: WebhookProcessor) {
  const client = createGitHubClient({ token: TOKEN, baseUrl: gh.url, ...clientOptions })
  return pipelines.open({ client, processor, githubProcessor, databaseUrl: db.url, logger: quiet })
}

async function drained(github: PipelineQueue): Promise<void> {
  await eventually(
    () => github.getJobCounts(),
    (c) => c.waiting + c.delayed + c.active === 0,
    { timeoutMs: 60_000 },
  )
}

/** A deployment row as the deployment and deployment_status processors leave it. */
async function deployment(repoId: string, sha: string, firstSuccessAt: string | null, environment = 'production', isProduction = true): Promise<string> {
  const githubId = String(++nextDeploymentId)
  await db.pool.query(
    `INSERT INTO deployments (id, "repoId", "githubId", sha, ref, task, environment, "originalEnvironment", "isProduction",
                              "productionReason", "createdAt", "updatedAt", state, "firstSuccessAt", "finishedAt")
     VALUES ($1, $2, $3, $4, 'main', 'deploy', $5, $5, $6, $7, $10, $10, $9, $8, $10)`,
    [randomUUID(), repoId, githubId, sha, environment, isProduction, isProduction ? 'environment_pattern' : null, firstSuccessAt, firstSuccessAt ? 'success' : 'failure', firstSuccessAt ?? '2026-03-01T09:00:00Z'],
  )
  return githubId
}

/** Queues the deploymentChanges job of a deployment as processing queues it, and waits for the queue. */
async function changesJob(github: PipelineQueue, repoId: string, fullName: string, deploymentId: string, jobId = `deploymentChanges:${repoId}:${deploymentId}`) {
  await github.add({ kind: 'deploymentChanges', repoId, repository: fullName, deploymentId, deliveryId: null }, { ...githubJobOptions, jobId })
  await drained(github)
  return (await github.getJob(jobId))!
}

async function changesOf(deploymentId: string) {
  const { rows } = await db.pool.query(
    `SELECT c."commitSha" AS sha, c."committedAt", p.number AS pr
       FROM deployment_changes c JOIN deployments d ON d.id = c."deploymentId"
       LEFT JOIN pull_requests p ON p.id = c."pullRequestId"
      WHERE d."githubId" = $1 ORDER BY c."committedAt", c."commitSha"`,
    [deploymentId],
  )
  return rows.map((r) => ({ sha: r.sha as string, committedAt: (r.committedAt as Date).toISOString(), pr: r.pr as number | null }))
}

async function progressOf(deploymentId: string) {
  const { rows } = await db.pool.query(
    `SELECT "isRollback", "changesBaseSha", "changesCompletedAt" IS NOT NULL AS complete FROM deployments WHERE "githubId" = $1`,
    [deploymentId],
  )
  return rows[0]
}

const expected = (commits: WorldCommit[], pr: (c: WorldCommit) => number | null = () => null) =>
  commits.map((c) => ({ sha: c.sha, committedAt: new Date(c.author.date).toISOString(), pr: pr(c) }))

async function insertPullRequest(repoId: string, number: number, fields: { mergeCommitSha?: string; headSha?: string }) {
  await db.pool.query(
    `INSERT INTO pull_requests (id, "repoId", "githubId", number, title, state, "createdAt", "updatedAt", "mergeCommitSha", "headSha")
     VALUES ($1, $2, $3, $4, 'pr', 'MERGED', now(), now(), $5, $6)`,
    [randomUUID(), repoId, 900_000 + number + repoCount * 1000, number, fields.mergeCommitSha ?? null, fields.headSha ?? null],
  )
}

const compareRequests = (from: number) => gh.requests.slice(from).filter((r) => r.path.includes('/compare/'))

test('a production deployment records the commits since the previous one, inserts those the table lacked with their line counts, and names each pull request; a second run asks nothing and changes nothing', async () => {
  const { world, repoId, fullName } = await repository()
  const first = gh.world.commitChain(world, 3, 'main', 'a')
  const shipped = gh.world.commitChain(world, 4, 'main', 'b')
  await insertPullRequest(repoId, 7, { mergeCommitSha: shipped[3].sha })
  await insertPullRequest(repoId, 8, { headSha: shipped[1].sha })
  const d1 = await deployment(repoId, first[2].sha, '2026-03-01T10:00:00Z')
  const d2 = await deployment(repoId, shipped[3].sha, '2026-03-02T10:00:00Z')
  const { github, githubWorker } = pipeline()
  const from = gh.requests.length

  // The first production deployment of the environment: no predecessor, nothing named, no request.
  const j1 = await changesJob(github, repoId, fullName, d1)
  expect(j1.returnvalue).toMatchObject({ first: true, requests: 0, changes: 0 })
  expect(await changesOf(d1)).toEqual([])
  expect(await progressOf(d1)).toEqual({ isRollback: false, changesBaseSha: null, complete: true })

  const j2 = await changesJob(github, repoId, fullName, d2)
  expect(j2.returnvalue).toMatchObject({ requests: 1, changes: 4, inserted: 4, base: first[2].sha, status: 'ahead', rollback: false })
  expect(await changesOf(d2)).toEqual(expected(shipped, (c) => (c.sha === shipped[3].sha ? 7 : c.sha === shipped[1].sha ? 8 : null)))
  expect(await progressOf(d2)).toEqual({ isRollback: false, changesBaseSha: first[2].sha, complete: true })
  // The inserted commits are rows like a push's, and their line counts were fetched.
  const { rows } = await db.pool.query(`SELECT sha, additions, "statsFetchedAt" IS NOT NULL AS fetched FROM commits WHERE "repoId" = $1 ORDER BY sha`, [repoId])
  expect(rows).toEqual(shipped.map((c) => ({ sha: c.sha, additions: c.additions, fetched: true })).sort((a, b) => (a.sha < b.sha ? -1 : 1)))
  expect(compareRequests(from).map((r) => r.path)).toEqual([`/repos/${fullName}/compare/${first[2].sha}...${shipped[3].sha}`])

  // Again (a redelivered job, another id): no request, no write.
  const before = await changesOf(d2)
  const again = await changesJob(github, repoId, fullName, d2, `again-${randomUUID()}`)
  expect(again.returnvalue).toMatchObject({ complete: true, requests: 0, changes: 0 })
  expect(await changesOf(d2)).toEqual(before)
  expect(compareRequests(from)).toHaveLength(1)
  expect(githubWorker.health().counters).toMatchObject({ failed: 0, byKind: { deploymentChanges: { completed: 3 } } })
})

test('a rollback (compare says behind) ships nothing and is marked; a staging deployment and a re-run of the same sha are not the previous one', async () => {
  const { world, repoId, fullName } = await repository()
  const old = gh.world.commitChain(world, 2, 'main', 'a')
  const newer = gh.world.commitChain(world, 3, 'main', 'b')
  const later = gh.world.commitChain(world, 2, 'main', 'c')
  const d1 = await deployment(repoId, old[1].sha, '2026-03-01T10:00:00Z')
  const d2 = await deployment(repoId, newer[2].sha, '2026-03-02T10:00:00Z')
  await deployment(repoId, later[1].sha, '2026-03-02T12:00:00Z', 'staging', false) // not production: never a base
  const rerun = await deployment(repoId, newer[2].sha, '2026-03-02T13:00:00Z') // same sha as d2
  const back = await deployment(repoId, old[1].sha, '2026-03-03T10:00:00Z') // puts d1's version back
  const { github } = pipeline()
  for (const d of [d1, d2, rerun]) await changesJob(github, repoId, fullName, d)
  // The re-run compares against d1 too: the same changes as d2 (the metrics count the sha once).
  expect(await changesOf(rerun)).toEqual(expected(newer))

  const j = await changesJob(github, repoId, fullName, back)
  expect(j.returnvalue).toMatchObject({ status: 'behind', rollback: true, changes: 0, base: newer[2].sha })
  expect(await changesOf(back)).toEqual([])
  expect(await progressOf(back)).toEqual({ isRollback: true, changesBaseSha: newer[2].sha, complete: true })
  expect(await progressOf(d2)).toMatchObject({ isRollback: false })
})

test('out of order: a deployment whose predecessor is stored after its job ran is computed again against it, and ends as if in order', async () => {
  const { world, repoId, fullName } = await repository()
  const a = gh.world.commitChain(world, 2, 'main', 'a')
  const b = gh.world.commitChain(world, 3, 'main', 'b')
  const c = gh.world.commitChain(world, 2, 'main', 'c')
  const d1 = await deployment(repoId, a[1].sha, '2026-03-01T10:00:00Z')
  const d3 = await deployment(repoId, c[1].sha, '2026-03-03T10:00:00Z')
  const { github } = pipeline()
  await changesJob(github, repoId, fullName, d1)
  const early = await changesJob(github, repoId, fullName, d3)
  expect(await changesOf(d3)).toEqual(expected([...b, ...c])) // d2 not yet known: everything since d1

  // d2's success arrives late; its job finds d3 compared against the wrong base and queues it again.
  const d2 = await deployment(repoId, b[2].sha, '2026-03-02T10:00:00Z')
  const j2 = await changesJob(github, repoId, fullName, d2)
  expect(j2.returnvalue).toMatchObject({ changes: 3, restaged: 1 })
  expect(early.returnvalue).toMatchObject({ changes: 5 })
  expect(await changesOf(d2)).toEqual(expected(b))
  expect(await changesOf(d3)).toEqual(expected(c))
  expect(await progressOf(d3)).toEqual({ isRollback: false, changesBaseSha: b[2].sha, complete: true })
  expect(await github.getJob(`deploymentChanges:${repoId}:${d3}:${b[2].sha}`)).toMatchObject({ returnvalue: { changes: 2, base: b[2].sha } })
})

test('out of order, in flight: a predecessor whose job finishes while a later deployment\'s job is still paging (its base already chosen) has that job computed again, and both end as if in order', async () => {
  const { world, repoId, fullName } = await repository()
  const a = gh.world.commitChain(world, 2, 'main', 'a')
  const b = gh.world.commitChain(world, 3, 'main', 'b')
  const c = gh.world.commitChain(world, 2, 'main', 'c')
  const d1 = await deployment(repoId, a[1].sha, '2026-03-01T10:00:00Z')
  const d3 = await deployment(repoId, c[1].sha, '2026-03-03T10:00:00Z')
  let d2 = ''
  let github!: PipelineQueue
  // The real processor; once d3's job (against d1, the only predecessor it can see) has written
  // its first compare page, d2's success lands and d2's job runs to its end on the worker's
  // other slot (the default concurrency is 2), before d3's job finishes.
  let held = false
  const interleaving = {
    deploymentChangesStart: (r: string, d: string) => processor.deploymentChangesStart(r, d),
    async applyDeploymentChanges(r: string, d: string, base: string, text: string) {
      const outcome = await processor.applyDeploymentChanges(r, d, base, text)
      if (d === d3 && !held) {
        held = true
        d2 = await deployment(repoId, b[2].sha, '2026-03-02T10:00:00Z')
        const id = await github.add({ kind: 'deploymentChanges', repoId, repository: fullName, deploymentId: d2, deliveryId: null }, { ...githubJobOptions, jobId: `deploymentChanges:${repoId}:${d2}` })
        await github.finished(id)
      }
      return outcome
    },
    finishDeploymentChanges: (r: string, d: string, b: string | null, rb: boolean) => processor.finishDeploymentChanges(r, d, b, rb),
    commitsLackingStats: (r: string, shas: string[]) => processor.commitsLackingStats(r, shas),
    applyCommitStats: (r: string, text: string) => processor.applyCommitStats(r, text),
  } as unknown as WebhookProcessor
  ;({ github } = pipeline({}, interleaving))
  await changesJob(github, repoId, fullName, d1)
  await changesJob(github, repoId, fullName, d3)
  await drained(github)
  expect(held).toBe(true)
  expect(await changesOf(d2)).toEqual(expected(b))
  expect(await changesOf(d3)).toEqual(expected(c))
  expect(await progressOf(d3)).toEqual({ isRollback: false, changesBaseSha: b[2].sha, complete: true })
})

test('a late predecessor\'s job that marked itself complete and then failed (the answer of its finish lost) names the deployments it made stale when retried', async () => {
  const { world, repoId, fullName } = await repository()
  const a = gh.world.commitChain(world, 2, 'main', 'a')
  const b = gh.world.commitChain(world, 3, 'main', 'b')
  const c = gh.world.commitChain(world, 2, 'main', 'c')
  const d1 = await deployment(repoId, a[1].sha, '2026-03-01T10:00:00Z')
  const d3 = await deployment(repoId, c[1].sha, '2026-03-03T10:00:00Z')
  // The real processor; the first finish of d2's job commits and then its answer is lost
  // (the connection drops as PostgreSQL acknowledges the commit): the attempt fails after the
  // row was marked complete, before the stale d3 was queued.
  let lost = 0
  let d2 = ''
  const losing = {
    deploymentChangesStart: (r: string, d: string) => processor.deploymentChangesStart(r, d),
    applyDeploymentChanges: (r: string, d: string, base: string, text: string) => processor.applyDeploymentChanges(r, d, base, text),
    async finishDeploymentChanges(r: string, d: string, base: string | null, rb: boolean) {
      const finished = await processor.finishDeploymentChanges(r, d, base, rb)
      if (d === d2 && lost++ === 0) throw new WebhookProcessingError('DATABASE_UNAVAILABLE', 'Connection terminated unexpectedly')
      return finished
    },
    commitsLackingStats: (r: string, shas: string[]) => processor.commitsLackingStats(r, shas),
    applyCommitStats: (r: string, text: string) => processor.applyCommitStats(r, text),
  } as unknown as WebhookProcessor
  const { github } = pipeline({}, losing)
  await changesJob(github, repoId, fullName, d1)
  await changesJob(github, repoId, fullName, d3)
  d2 = await deployment(repoId, b[2].sha, '2026-03-02T10:00:00Z')
  await github.add(
    { kind: 'deploymentChanges', repoId, repository: fullName, deploymentId: d2, deliveryId: null },
    { ...githubJobOptions, backoff: { type: 'fixed', delay: 200 }, jobId: `deploymentChanges:${repoId}:${d2}` },
  )
  await drained(github)
  expect(await github.getJob(`deploymentChanges:${repoId}:${d2}`)).toMatchObject({ attemptsRun: 2, returnvalue: { complete: true, requests: 0, restaged: 1 } })
  expect(await changesOf(d2)).toEqual(expected(b))
  expect(await changesOf(d3)).toEqual(expected(c))
  expect(await progressOf(d3)).toEqual({ isRollback: false, changesBaseSha: b[2].sha, complete: true })
  expect(lost).toBe(2)
})

test('out of order, concurrently: a deployment whose predecessor is stored and finished while its own job runs is named stale when that job finishes, so it is computed again', async () => {
  const { world, repoId } = await repository()
  const [a] = gh.world.commitChain(world, 1, 'main', 'a')
  const [b] = gh.world.commitChain(world, 1, 'main', 'b')
  const [c] = gh.world.commitChain(world, 1, 'main', 'c')
  const d1 = await deployment(repoId, a.sha, '2026-03-01T10:00:00Z')
  const d3 = await deployment(repoId, c.sha, '2026-03-03T10:00:00Z')
  expect(await processor.deploymentChangesStart(repoId, d1)).toMatchObject({ baseSha: null })
  expect(await processor.finishDeploymentChanges(repoId, d1, null, false)).toEqual({ marked: true, stale: [] })
  // d3's job starts: its previous deployment is d1.
  expect(await processor.deploymentChangesStart(repoId, d3)).toMatchObject({ baseSha: a.sha })
  // While it compares, d2 (live between them) is stored and its whole job runs: d3 is not
  // complete yet, so d2's finish cannot name it.
  const d2 = await deployment(repoId, b.sha, '2026-03-02T10:00:00Z')
  expect(await processor.deploymentChangesStart(repoId, d2)).toMatchObject({ baseSha: a.sha })
  const f2 = await processor.finishDeploymentChanges(repoId, d2, a.sha, false)
  // d3's job ends against the base it started with, which is no longer its previous one.
  const f3 = await processor.finishDeploymentChanges(repoId, d3, a.sha, false)
  // Some finish must name d3 again, against d2, or it keeps d1...d3 for good.
  expect([...f2.stale, ...f3.stale]).toContainEqual({ githubId: Number(d3), baseSha: b.sha })
})

test('a deployment of 250 commits throttled mid-range resumes at its saved page: each compare page fetched once, every commit recorded', async () => {
  const { world, repoId, fullName } = await repository()
  const [base] = gh.world.commitChain(world, 1, 'main', 'base')
  const range = gh.world.commitChain(world, 250)
  const d1 = await deployment(repoId, base.sha, '2026-03-01T10:00:00Z')
  const d2 = await deployment(repoId, range[249].sha, '2026-03-02T10:00:00Z')
  // The real processor; once the first compare page is written, the next one is throttled
  // (secondary limit, retry-after 1 s): the job is delayed, not failed.
  let pages = 0
  const throttling = {
    deploymentChangesStart: (r: string, d: string) => processor.deploymentChangesStart(r, d),
    async applyDeploymentChanges(r: string, d: string, b: string, text: string) {
      const outcome = await processor.applyDeploymentChanges(r, d, b, text)
      if (++pages === 1) gh.throttleNext({ kind: 'secondary', status: 429, retryAfterSeconds: 1, path: /\/compare\// })
      return outcome
    },
    finishDeploymentChanges: (r: string, d: string, b: string | null, rb: boolean) => processor.finishDeploymentChanges(r, d, b, rb),
    commitsLackingStats: (r: string, shas: string[]) => processor.commitsLackingStats(r, shas),
    applyCommitStats: (r: string, text: string) => processor.applyCommitStats(r, text),
  } as unknown as WebhookProcessor
  const { github, githubWorker } = pipeline({ maxInlineWaitMs: 0 }, throttling)
  await changesJob(github, repoId, fullName, d1)
  const from = gh.requests.length
  await changesJob(github, repoId, fullName, d2)
  expect(await changesOf(d2)).toEqual(expected(range))
  const compare = compareRequests(from)
  expect(compare.filter((r) => r.status === 429)).toHaveLength(1)
  expect(compare.filter((r) => r.status === 200).map((r) => String(r.query.page ?? '1')).sort()).toEqual(['1', '2', '3'])
  expect(githubWorker.health().counters).toMatchObject({ failed: 0, delayed: 1 })
})

test('a deployments job no retry can fix (bad deployment id, bad repository) is discarded; a deployment that is not a successful production one is skipped', async () => {
  const { world, repoId, fullName } = await repository()
  const [c] = gh.world.commitChain(world, 1)
  const failed = await deployment(repoId, c.sha, null)
  const staging = await deployment(repoId, c.sha, '2026-03-01T10:00:00Z', 'staging', false)
  const { github } = pipeline()
  expect((await changesJob(github, repoId, fullName, failed)).returnvalue).toMatchObject({ skipped: 'not a successful production deployment', requests: 0 })
  expect((await changesJob(github, repoId, fullName, staging)).returnvalue).toMatchObject({ skipped: 'not a successful production deployment' })
  expect((await changesJob(github, repoId, fullName, '999999999')).returnvalue).toMatchObject({ skipped: 'no such deployment' })
  for (const data of [
    { kind: 'deploymentChanges', repoId, repository: fullName, deploymentId: 'x' },
    { kind: 'deploymentChanges', repoId, repository: 'acme', deploymentId: failed },
  ]) {
    const id = await github.add(data, { ...githubJobOptions, jobId: `bad-${randomUUID()}` })
    await expect(github.finished(id)).rejects.toBeDefined()
    expect((await github.getJob(id))?.attemptsRun).toBe(1)
  }
})

test('the processor methods behind the job refuse arguments of the wrong type with INVALID_JOB, and a page that is no comparison with INVALID_PAYLOAD, writing nothing', async () => {
  const { world, repoId } = await repository()
  const [base, head] = gh.world.commitChain(world, 2)
  await deployment(repoId, base.sha, '2026-03-01T10:00:00Z')
  const d = await deployment(repoId, head.sha, '2026-03-02T10:00:00Z')
  const call = processor as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
  for (const [method, args] of [
    ['deploymentChangesStart', ['', d]],
    ['deploymentChangesStart', [repoId, -1]],
    ['deploymentChangesStart', [repoId, '12abc']],
    ['applyDeploymentChanges', [repoId, d, 42, '{}']],
    ['applyDeploymentChanges', [repoId, d, base.sha, { status: 'ahead' }]],
    ['finishDeploymentChanges', [repoId, d, base.sha, 'yes']],
    ['deploymentsLackingChanges', [null]],
  ] as const) {
    await expect(call[method].call(processor, ...args)).rejects.toMatchObject({ code: 'INVALID_JOB', retryable: false })
  }
  const start = await processor.deploymentChangesStart(repoId, d)
  expect(start).toMatchObject({ eligible: true, baseSha: base.sha, complete: false })
  expect(await processor.deploymentsLackingChanges(repoId)).toEqual(expect.arrayContaining([Number(d)]))
  for (const page of ['{"commits": []}', '{"status": "sideways", "commits": []}', 'not json']) {
    await expect(processor.applyDeploymentChanges(repoId, d, base.sha, page)).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' })
  }
  expect(await changesOf(d)).toEqual([])
})

test('a backfill queues the changes of every successful production deployment not yet recorded, under the follow-up\'s job id', async () => {
  const { world, repoId, fullName } = await repository()
  const a = gh.world.commitChain(world, 2, 'main', 'a')
  const b = gh.world.commitChain(world, 3, 'main', 'b')
  const d1 = await deployment(repoId, a[1].sha, '2026-03-01T10:00:00Z')
  const d2 = await deployment(repoId, b[2].sha, '2026-03-02T10:00:00Z')
  await deployment(repoId, b[0].sha, null) // never succeeded: nothing to record
  const { github } = pipeline()
  const id = await github.add({ kind: 'backfill', repository: fullName, repoId, since: '3650d', kinds: ['commits'] }, { ...githubJobOptions, jobId: `backfill-${randomUUID()}` })
  await drained(github)
  expect((await github.getJob(id))?.returnvalue).toMatchObject({ deploymentChangesJobs: 2 })
  expect(await changesOf(d2)).toEqual(expected(b))
  expect(await progressOf(d1)).toMatchObject({ complete: true })
  expect(await github.getJob(`deploymentChanges:${repoId}:${d2}`)).toMatchObject({ returnvalue: { changes: 3 } })
  expect(await processor.deploymentsLackingChanges(repoId)).toEqual([])
})

test('a deployment whose job spent its attempts during a GitHub outage gets its changes from the next backfill, though its failed job keeps the id', async () => {
  const { world, repoId, fullName } = await repository()
  const a = gh.world.commitChain(world, 2, 'main', 'a')
  const b = gh.world.commitChain(world, 3, 'main', 'b')
  const d1 = await deployment(repoId, a[1].sha, '2026-03-01T10:00:00Z')
  const d2 = await deployment(repoId, b[2].sha, '2026-03-02T10:00:00Z')
  const { github } = pipeline({ retries: 0 })
  // GitHub answers every compare with 502 until the outage ends; the job's last attempt fails
  // (one attempt here, eight in production: the same end after an hour of outage).
  const outage = gh.failWhile((r) => r.path.includes('/compare/'))
  const jobId = `deploymentChanges:${repoId}:${d2}`
  await github.add({ kind: 'deploymentChanges', repoId, repository: fullName, deploymentId: d2, deliveryId: null }, { ...githubJobOptions, attempts: 1, jobId })
  await expect(github.finished(jobId)).rejects.toBeDefined()
  outage.stop()
  expect(await processor.deploymentsLackingChanges(repoId)).toEqual([Number(d1), Number(d2)])

  const id = await github.add({ kind: 'backfill', repository: fullName, repoId, since: '3650d', kinds: ['commits'] }, { ...githubJobOptions, jobId: `backfill-${randomUUID()}` })
  await drained(github)
  expect((await github.getJob(id))?.returnvalue).toMatchObject({ deploymentChangesJobs: 2 })
  expect(await changesOf(d2)).toEqual(expected(b))
  expect(await processor.deploymentsLackingChanges(repoId)).toEqual([])
  expect(await github.getJob(jobId)).toMatchObject({ returnvalue: { changes: 3 } })
})

test('a deployment skipped as not production, then judged production (productionEnvironments changed, deliveries reprocessed), gets its changes from the next backfill', async () => {
  const { world, repoId, fullName } = await repository()
  const a = gh.world.commitChain(world, 2, 'main', 'a')
  const b = gh.world.commitChain(world, 3, 'main', 'b')
  const d1 = await deployment(repoId, a[1].sha, '2026-03-01T10:00:00Z', 'live-eu', false)
  const d2 = await deployment(repoId, b[2].sha, '2026-03-02T10:00:00Z', 'live-eu', false)
  const { github } = pipeline()
  expect((await changesJob(github, repoId, fullName, d2)).returnvalue).toMatchObject({ skipped: 'not a successful production deployment' })
  // What a reprocess under a pattern matching `live-eu` leaves (it queues no GitHub jobs).
  await db.pool.query(`UPDATE deployments SET "isProduction" = true, "productionReason" = 'environment_pattern' WHERE "githubId" = ANY($1::int8[])`, [[d1, d2]])
  const id = await github.add({ kind: 'backfill', repository: fullName, repoId, since: '3650d', kinds: ['commits'] }, { ...githubJobOptions, jobId: `backfill-${randomUUID()}` })
  await drained(github)
  expect((await github.getJob(id))?.returnvalue).toMatchObject({ deploymentChangesJobs: 2 })
  expect(await changesOf(d2)).toEqual(expected(b))
  expect(await processor.deploymentsLackingChanges(repoId)).toEqual([])
})

/** A deployment_status delivery as GitHub sends it (the fixture's shape), for a deployment of `sha`. */
function statusDelivery(world: WorldRepository, fullName: string, d: { id: number; sha: string; environment: string; state: string; at: string; productionFlag?: boolean }): WebhookJobData {
  const payload = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'deployment-status-success.json'), 'utf8'))
  Object.assign(payload.deployment, { id: d.id, sha: d.sha, environment: d.environment, original_environment: d.environment, created_at: d.at, updated_at: d.at })
  if (d.productionFlag !== undefined) payload.deployment.production_environment = d.productionFlag
  Object.assign(payload.deployment_status, { id: d.id * 10 + 1, state: d.state, environment: d.environment, created_at: d.at, updated_at: d.at })
  Object.assign(payload.repository, { id: world.id, name: world.name, full_name: fullName })
  return { deliveryId: randomUUID(), event: 'deployment_status', payload: JSON.stringify(payload), receivedAt: Date.now() }
}

test('end to end: a production deployment\'s success status queues deploymentChanges once, its changes land; a redelivery, a failure and a deployment flagged not production queue nothing', async () => {
  const { world, repoId, fullName } = await repository()
  const a = gh.world.commitChain(world, 2, 'main', 'a')
  const b = gh.world.commitChain(world, 3, 'main', 'b')
  const { deliver, github } = pipeline()
  const first = ++nextDeploymentId
  const second = ++nextDeploymentId
  const r1 = await deliver(statusDelivery(world, fullName, { id: first, sha: a[1].sha, environment: 'production', state: 'success', at: '2026-03-01T10:00:00Z' }))
  expect(r1.followUps).toBe(1) // the worker's summary: follow-ups queued
  await drained(github)
  expect((await github.getJob(`deploymentChanges:${repoId}:${first}`))?.data).toEqual({
    kind: 'deploymentChanges', repoId, repository: fullName, deploymentId: String(first), shas: [], before: null, after: null, forced: null, deliveryId: expect.any(String),
  })
  const success = statusDelivery(world, fullName, { id: second, sha: b[2].sha, environment: 'production', state: 'success', at: '2026-03-02T10:00:00Z' })
  await deliver(success)
  await drained(github)
  expect(await changesOf(String(first))).toEqual([])
  expect(await changesOf(String(second))).toEqual(expected(b))
  expect(await github.getJob(`deploymentChanges:${repoId}:${second}`)).toMatchObject({ returnvalue: { changes: 3, base: a[1].sha } })
  const counts = await github.getJobCounts()

  // GitHub redelivers the success: a duplicate re-deriving the same follow-up, no new job.
  const again = await deliver({ ...success, receivedAt: Date.now() })
  expect(again).toMatchObject({ status: 'duplicate', followUps: 1 }) // the same follow-up, re-derived: its id exists
  const failed = await deliver(statusDelivery(world, fullName, { id: ++nextDeploymentId, sha: b[0].sha, environment: 'production', state: 'failure', at: '2026-03-03T10:00:00Z' }))
  expect(failed.followUps).toBe(0)
  const flagged = await deliver(statusDelivery(world, fullName, { id: ++nextDeploymentId, sha: b[1].sha, environment: 'production-eu', state: 'success', at: '2026-03-03T11:00:00Z', productionFlag: false }))
  expect(flagged.followUps).toBe(0)
  await drained(github)
  expect(await github.getJobCounts()).toMatchObject({ completed: counts.completed })
  expect(await changesOf(String(second))).toEqual(expected(b))
})

test('a staging deployment\'s success queues the job, which finds it is not production and asks GitHub nothing', async () => {
  const { world, repoId, fullName } = await repository()
  const [c] = gh.world.commitChain(world, 1)
  const { deliver, github } = pipeline()
  const id = ++nextDeploymentId
  const from = gh.requests.length
  const r = await deliver(statusDelivery(world, fullName, { id, sha: c.sha, environment: 'staging', state: 'success', at: '2026-03-01T10:00:00Z' }))
  expect(r.followUps).toBe(1)
  await drained(github)
  expect(await github.getJob(`deploymentChanges:${repoId}:${id}`)).toMatchObject({ returnvalue: { skipped: 'not a successful production deployment', requests: 0 } })
  expect(gh.requests.length).toBe(from)
})
