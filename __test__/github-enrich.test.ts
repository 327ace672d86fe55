// GitHub API enrichment end to end: the real webhook worker and github worker on real queues
// (Bull here; github-enrich.bullmq.test.ts runs the same tests on BullMQ), the real addon on
// PostgreSQL, and the contract server (__test__/github) standing in for GitHub, which checks
// every request against GitHub's OpenAPI description and GraphQL schema. What a user relies
// on: real line counts for every commit, truncated pushes completed, rate limits that delay
// and never lose or repeat work, commits GitHub lost marked once, and no second API job for a
// redelivery.
import { randomUUID } from 'node:crypto'
import { createGitHubClient, githubJobOptions, WebhookJobData, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, insertTeam, insertUser, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { pushPayload } from './helpers/pushes'
import { testPrefix } from './helpers/redis'
import { GitHubServer, startGitHubServer } from './github/server'
import type { WorldCommit, WorldRepository } from './github/world'
import { suiteDriver } from './support/driver'
import { PipelineQueue, pipelineFactory } from './support/github-pipeline'

const TOKEN = 'enrich-test-token'

/** Delays and retried failures are expected in these tests: kept out of the console. */
const quiet = { info() {}, warn() {}, error() {} }

let db: TestDatabase
let processor: WebhookProcessor
let gh: GitHubServer
const { prefix, cleanup } = testPrefix()
const pipelines = pipelineFactory(prefix)
let repoCount = 0

/** A scripted repository on the contract server and its DevMetrics row. */
async function repository(teamId?: string): Promise<{ world: WorldRepository; repoId: string; fullName: string }> {
  repoCount++
  const world = gh.world.addRepository({ owner: 'acme', name: `api-${repoCount}` })
  const fullName = `acme/${world.name}`
  const repoId = await insertRepository(db.pool, world.id, { fullName, teamId })
  return { world, repoId, fullName }
}

/** A push delivery listing `commits` as GitHub would (author date, name, email). */
function delivery(world: WorldRepository, commits: WorldCommit[], before?: string, forced = false): WebhookJobData {
  const payload = pushPayload({
    repoGithubId: world.id,
    fullName: `acme/${world.name}`,
    before,
    forced,
    commits: commits.map((c) => ({ sha: c.sha, message: c.message, timestamp: c.author.date, name: c.author.name, email: c.author.email })),
  })
  return { deliveryId: randomUUID(), event: 'push', payload, receivedAt: Date.now() }
}

/** Both workers on fresh queues of the suite's driver; the github worker's client talks to the contract server. */
function pipeline(opts: { clientOptions?: Record<string, unknown>; processorFor?: (p: WebhookProcessor) => WebhookProcessor } = {}) {
  const client = createGitHubClient({ token: TOKEN, baseUrl: gh.url, ...opts.clientOptions })
  return pipelines.open({ client, processor, githubProcessor: opts.processorFor?.(processor), logger: quiet })
}

/** Waits until the github queue has nothing left to do (waiting, delayed or active). */
async function drained(github: PipelineQueue): Promise<void> {
  await eventually(
    () => github.getJobCounts(),
    (c) => c.waiting + c.delayed + c.active === 0,
    { timeoutMs: 60_000 },
  )
}

async function statsOf(repoId: string) {
  const { rows } = await db.pool.query(
    `SELECT sha, additions, deletions, "filesChanged" AS files, "statsFetchedAt" IS NOT NULL AS fetched, "statsMissing" AS missing
       FROM commits WHERE "repoId" = $1 ORDER BY sha`,
    [repoId],
  )
  return new Map(rows.map((r) => [r.sha as string, r]))
}

const graphqlRequests = (from = 0) => gh.requests.slice(from).filter((r) => r.path === '/graphql')
const compareRequests = (from = 0) => gh.requests.slice(from).filter((r) => r.path.includes('/compare/'))
/** GraphQL requests that carried completePush's truncation check (the history counts of `before` and `after`). */
const rangeChecks = (from = 0) => graphqlRequests(from).filter((r) => /\brange: repository\(/.test(String((r.body as { query?: string }).query)))
const okGraphqlOids = (from = 0) =>
  graphqlRequests(from)
    .filter((r) => r.status === 200)
    .map((r) => Object.entries((r.body as { variables: Record<string, string> }).variables).filter(([k]) => /^o\d+$/.test(k)).map(([, v]) => v))

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

test('a push is enriched end to end: the scripted counts land, statsFetchedAt is set, metric jobs are queued again', async () => {
  const team = await insertTeam(db.pool, 'core')
  const { world, repoId } = await repository()
  const dev = await insertUser(db.pool, { email: 'dev1@example.test', teamIds: [team] })
  const commits = gh.world.commitChain(world, 5)
  const { deliver, github, githubMetrics, githubWorker } = pipeline()
  const from = gh.requests.length

  const processed = await deliver(delivery(world, commits))
  expect(processed).toMatchObject({ status: 'processed', records: { commits: 5 } })
  await drained(github)

  const rows = await statsOf(repoId)
  for (const c of commits) {
    expect(rows.get(c.sha)).toEqual({ sha: c.sha, additions: c.additions, deletions: c.deletions, files: c.changedFiles, fetched: true, missing: false })
  }
  expect(graphqlRequests(from)).toHaveLength(1)
  const metricJobs = (await githubMetrics.jobData(['waiting'])).map((d) => [d.kind, d.id])
  expect(metricJobs).toEqual(expect.arrayContaining([['developer', dev], ['team', team]]))
  expect(githubWorker.health().counters).toMatchObject({ completed: 1, failed: 0, byKind: { commitStats: { completed: 1 } } })
})

test('a push of 2,100 commits, 2048 of them listed, is completed to 2,100 rows with every count', async () => {
  const { world, repoId } = await repository()
  const [base] = gh.world.commitChain(world, 1, 'main', 'base')
  const range = gh.world.commitChain(world, 2100)
  const { deliver, github, githubWorker } = pipeline()
  const from = gh.requests.length

  const listed = range.slice(range.length - 2048)
  const processed = await deliver(delivery(world, listed, base.sha))
  expect(processed.records.commits).toBe(2048)
  await drained(github)

  const rows = await statsOf(repoId)
  expect(rows.size).toBe(2100)
  expect(range.every((c) => rows.get(c.sha)?.fetched && rows.get(c.sha)?.additions === c.additions)).toBe(true)
  const compare = gh.requests.slice(from).filter((r) => r.path.includes('/compare/'))
  expect(compare).toHaveLength(21) // 100 a page
  expect(graphqlRequests(from)).toHaveLength(21) // 100 commits a request, each once
  expect(rangeChecks(from)).toHaveLength(1) // the first of them also sized the range
  expect(okGraphqlOids(from).flat()).toHaveLength(2100)
  expect(new Set(okGraphqlOids(from).flat()).size).toBe(2100)
  expect(gh.requests.length - from).toBe(42) // 1 GraphQL with the check + 21 compare pages + 20 GraphQL
})

test('a push listing exactly 2048 commits whose range is complete costs 21 requests in all: the check rides on the first batch of counts', async () => {
  const { world, repoId } = await repository()
  const [base] = gh.world.commitChain(world, 3, 'main', 'base').slice(-1)
  const listed = gh.world.commitChain(world, 2048)
  const { deliver, github } = pipeline({ clientOptions: { writeSpacingMs: 0 } }) // GraphQL requests unspaced: this test counts them
  const from = gh.requests.length

  const d = delivery(world, listed, base.sha)
  const processed = await deliver(d)
  expect(processed.records.commits).toBe(2048)
  await drained(github)

  const rows = await statsOf(repoId)
  expect(rows.size).toBe(2048)
  for (const c of listed) {
    expect(rows.get(c.sha)).toEqual({ sha: c.sha, additions: c.additions, deletions: c.deletions, files: c.changedFiles, fetched: true, missing: false })
  }
  expect(gh.requests.length - from).toBe(21) // the goal: at most 21
  expect(compareRequests(from)).toHaveLength(0)
  expect(rangeChecks(from)).toHaveLength(1)
  expect(okGraphqlOids(from).flat()).toHaveLength(2048) // every commit asked once
  expect(new Set(okGraphqlOids(from).flat()).size).toBe(2048)
  const body = JSON.parse(d.payload as string)
  const job = await github.getJob(`completePush:${repoId}:${body.before}:${body.after}`)
  expect(job?.returnvalue).toMatchObject({ requests: 1, graphql: 1, pages: 0, updated: 100, statsJobs: 20, complete: true, range: 'complete' })
})

test('a forced push of 2048 listed commits is completed from compare: the history counts of a rewritten branch say nothing of its range', async () => {
  // main: b0..b9; the branch was at old (b9 + 62 commits), and is force-pushed to b9 + 2100
  // new commits. History counts: after 10 + 2100, before 10 + 62: a difference of 2048 that
  // would wrongly pass for a complete push; compare says 2100.
  const { world, repoId } = await repository()
  const trunk = gh.world.commitChain(world, 10, 'main', 'b')
  world.branches.set('old', trunk[9].sha)
  const old = gh.world.commitChain(world, 62, 'old', 'old')
  const range = gh.world.commitChain(world, 2100)
  const { deliver, github } = pipeline({ clientOptions: { writeSpacingMs: 0 } })
  const from = gh.requests.length

  const d = delivery(world, range.slice(range.length - 2048), old[old.length - 1].sha, true)
  const processed = await deliver(d)
  expect(processed.records.commits).toBe(2048)
  const body = JSON.parse(d.payload as string)
  const job = (await github.getJob(`completePush:${repoId}:${body.before}:${body.after}`))!
  expect(job.data.forced).toBe(true) // the payload's word, carried to the job
  await drained(github)

  const rows = await statsOf(repoId)
  expect(rows.size).toBe(2100) // the whole rewritten range, none of the commits pushed away
  expect(range.every((c) => rows.get(c.sha)?.fetched && rows.get(c.sha)?.additions === c.additions)).toBe(true)
  expect(old.some((c) => rows.has(c.sha))).toBe(false)
  expect(compareRequests(from)).toHaveLength(21)
  expect(rangeChecks(from)).toHaveLength(0) // no history counts asked for a forced push
  expect(new Set(okGraphqlOids(from).flat()).size).toBe(2100)
  expect(okGraphqlOids(from).flat()).toHaveLength(2100)
  expect(gh.requests.length - from).toBe(42) // 21 compare pages + 21 GraphQL
})

test('a rate limit on the first request (the one carrying the check) delays the job; it resumes with no loss and no batch asked twice', async () => {
  const { world, repoId } = await repository()
  const [base] = gh.world.commitChain(world, 1, 'main', 'base')
  const listed = gh.world.commitChain(world, 2048)
  let applied = 0
  const { deliver, github } = pipeline({
    clientOptions: { maxInlineWaitMs: 0, writeSpacingMs: 0 }, // every limit goes to the queue
    // The real processor; once the first batch is written, the next GraphQL request is throttled too.
    processorFor: (p) =>
      ({
        commitsLackingStats: (repo: string, shas: string[]) => p.commitsLackingStats(repo, shas),
        async applyCommitStats(repo: string, text: string) {
          const outcome = await p.applyCommitStats(repo, text)
          if (++applied === 1) gh.throttleNext({ kind: 'secondary', status: 429, retryAfterSeconds: 1, path: '/graphql' })
          return outcome
        },
        completePush: (repo: string, text: string) => p.completePush(repo, text),
      }) as unknown as WebhookProcessor,
  })
  const from = gh.requests.length
  gh.throttleNext({ kind: 'secondary', status: 403, retryAfterSeconds: 1, path: '/graphql' })
  const d = delivery(world, listed, base.sha)
  await deliver(d)
  await drained(github)

  const rows = await statsOf(repoId)
  expect(rows.size).toBe(2048)
  expect([...rows.values()].every((r) => r.fetched && !r.missing)).toBe(true)
  const limited = graphqlRequests(from).filter((r) => r.status !== 200)
  expect(limited.map((r) => r.status)).toEqual([403, 429])
  expect(rangeChecks(from).filter((r) => r.status === 200)).toHaveLength(1) // answered once
  const oids = okGraphqlOids(from).flat()
  expect(oids).toHaveLength(2048) // every commit asked once in an answered request
  expect(new Set(oids).size).toBe(2048)
  expect(gh.requests.length - from).toBe(21 + 2) // the 21 requests, plus the two that were throttled
  expect(compareRequests(from)).toHaveLength(0)

  const body = JSON.parse(d.payload as string)
  const id = `completePush:${repoId}:${body.before}:${body.after}`
  const first = await github.getJob(id)
  expect(first?.attemptsRun).toBe(1) // the limit was not a failure
  const resumedOutcome = { requests: 1, updated: 100, statsJobs: 20, complete: true }
  if (suiteDriver.current === 'bull') {
    // Bull: the attempt ends with the delay, its work goes on in a new job.
    expect(first?.returnvalue).toMatchObject({ delayed: true, delayMs: 1000 })
    expect((await github.getJob(`${id}#resume1`))?.returnvalue).toMatchObject(resumedOutcome)
  } else {
    // BullMQ: the same job went back to the delayed set and went on where it stopped.
    expect(first?.returnvalue).toMatchObject(resumedOutcome)
  }
})

test('a secondary rate limit hit mid-batch delays the job: no attempt spent, no commit lost, no done batch asked again', async () => {
  const { world, repoId } = await repository()
  const commits = gh.world.commitChain(world, 250) // three GraphQL batches
  let applied = 0
  const { deliver, github, githubWorker } = pipeline({
    clientOptions: { maxInlineWaitMs: 0 }, // every limit goes to the queue
    // The real processor; after the first batch is written the next request is throttled.
    processorFor: (p) =>
      ({
        commitsLackingStats: (repo: string, shas: string[]) => p.commitsLackingStats(repo, shas),
        async applyCommitStats(repo: string, text: string) {
          const outcome = await p.applyCommitStats(repo, text)
          if (++applied === 1) gh.throttleNext({ kind: 'secondary', status: 403, retryAfterSeconds: 1, path: '/graphql' })
          return outcome
        },
        completePush: (repo: string, text: string) => p.completePush(repo, text),
      }) as unknown as WebhookProcessor,
  })
  const from = gh.requests.length
  const d = delivery(world, commits)
  await deliver(d)
  await drained(github)

  const rows = await statsOf(repoId)
  expect([...rows.values()].every((r) => r.fetched && !r.missing)).toBe(true)
  const limited = graphqlRequests(from).filter((r) => r.status === 403)
  expect(limited).toHaveLength(1)
  const oids = okGraphqlOids(from).flat()
  expect(oids).toHaveLength(250) // every commit asked once in an answered request
  expect(new Set(oids).size).toBe(250)

  expect(githubWorker.health().counters).toMatchObject({ delayed: 1, failed: 0, completed: 1, retried: 0 })
  const first = await github.getJob(`commitStats:${repoId}:${d.deliveryId}`)
  expect(first?.attemptsRun).toBe(1) // completed on its one attempt: the limit was not a failure
  if (suiteDriver.current === 'bull') {
    // Bull: the attempt ends with the delay, its work goes on in a new job with all its attempts.
    expect(first?.returnvalue).toMatchObject({ delayed: true, delayMs: 1000 })
    const resumed = await github.getJob(`commitStats:${repoId}:${d.deliveryId}#resume1`)
    expect(resumed?.returnvalue).toMatchObject({ requests: 2, updated: 150, skipped: 100 })
    expect(resumed?.opts.attempts).toBe(githubJobOptions.attempts)
  } else {
    // BullMQ: the same job went back to the delayed set and went on where it stopped.
    expect(first?.returnvalue).toMatchObject({ requests: 2, updated: 150, skipped: 100 })
    expect(first?.opts.attempts).toBe(githubJobOptions.attempts)
  }
})

test('a commit GitHub cannot resolve is marked, keeps unknown counts, and is never asked for again', async () => {
  const { world, repoId } = await repository()
  const known = gh.world.commitChain(world, 2)
  const lost: WorldCommit = { ...known[1], sha: 'f'.repeat(40), message: 'force-pushed away' }
  const { deliver, github, githubWorker } = pipeline()
  const from = gh.requests.length
  await deliver(delivery(world, [...known, lost]))
  await drained(github)

  const rows = await statsOf(repoId)
  expect(rows.get(lost.sha)).toMatchObject({ fetched: true, missing: true, additions: 0, deletions: 0 })
  expect(rows.get(known[0].sha)).toMatchObject({ fetched: true, missing: false, additions: known[0].additions })
  expect(graphqlRequests(from)).toHaveLength(1)

  // Another push naming it again: no request at all.
  const again = await deliver(delivery(world, [lost]))
  expect(again.status).toBe('processed')
  await drained(github)
  expect(graphqlRequests(from)).toHaveLength(1)
})

test('a redelivery of the same push creates no second API job and no second request', async () => {
  const { world } = await repository()
  const commits = gh.world.commitChain(world, 3)
  const { deliver, github, githubWorker } = pipeline()
  const from = gh.requests.length
  const d = delivery(world, commits)
  await deliver(d)
  await drained(github)
  // GitHub redelivers: same X-GitHub-Delivery, after the API job finished.
  const again = await deliver({ ...d, receivedAt: Date.now() })
  expect(again.status).toBe('duplicate')
  await drained(github)
  expect(await github.getJobCounts()).toMatchObject({ completed: 1 })
  expect(githubWorker.health().counters.completed).toBe(1)
  expect(graphqlRequests(from)).toHaveLength(1)
})

test('502s past the client retries fail the attempt as retryable; the queue retries it and the counts land', async () => {
  const { world, repoId } = await repository()
  const commits = gh.world.commitChain(world, 2)
  const { deliver, github, githubWorker } = pipeline({ clientOptions: { retries: 0 } })
  // The webhook path queues with githubJobOptions (15 s backoff); this job is added by hand with a short one.
  const processed = await deliver(delivery(world, commits))
  expect(processed.status).toBe('processed')
  await drained(github)
  // The batch and both halves it is split into answer 502: GitHub fails whatever is asked (an outage).
  gh.failNext(3, 502, '/graphql')
  await db.pool.query('UPDATE commits SET "statsFetchedAt" = NULL WHERE "repoId" = $1', [repoId])
  const id = await github.add(
    { kind: 'commitStats', repoId, repository: `acme/${world.name}`, shas: commits.map((c) => c.sha), before: null, after: null },
    { ...githubJobOptions, jobId: `manual-${randomUUID()}`, backoff: { type: 'fixed', delay: 10 } },
  )
  const done = await github.finished(id)
  expect(done).toMatchObject({ requests: 1, updated: 2 })
  expect((await github.getJob(id))?.attemptsRun).toBe(2) // one failed attempt, then success
  expect(githubWorker.health().counters).toMatchObject({ retried: 1, discarded: 0 })
})

test('a job no retry can fix (unknown kind, bad SHAs, a repository GitHub does not resolve) is discarded after one attempt', async () => {
  const { repoId } = await repository()
  const { github, githubWorker } = pipeline()
  const add = (data: Record<string, unknown>) => github.add(data, { ...githubJobOptions, jobId: `bad-${randomUUID()}` })
  const jobs = [
    await add({ kind: 'fetchEverything', repoId, repository: 'acme/x' }),
    await add({ kind: 'commitStats', repoId, repository: 'acme/x', shas: ['not-a-sha'] }),
    await add({ kind: 'completePush', repoId, repository: 'acme', before: 'a'.repeat(40), after: 'b'.repeat(40) }),
  ]
  gh.world.addRepository({ owner: 'acme', name: 'gone' })
  await db.pool.query(`INSERT INTO commits (id, "repoId", sha, message, "authorName", "authorEmail", "committedAt") VALUES ($1, $2, $3, 'm', 'n', 'e', now())`, [randomUUID(), repoId, 'e'.repeat(40)])
  jobs.push(await add({ kind: 'commitStats', repoId, repository: 'acme/not-there', shas: ['e'.repeat(40)] }))
  const codes = []
  for (const id of jobs) {
    await expect(github.finished(id)).rejects.toBeDefined()
    const failed = await github.getJob(id)
    expect(failed?.attemptsRun).toBe(1)
    codes.push(failed?.failedReason)
  }
  expect(githubWorker.health().counters).toMatchObject({ discarded: 4, retried: 0 })
  expect(codes[0]).toMatch(/unknown github job kind/)
  expect(codes[3]).toMatch(/does not resolve the repository acme\/not-there/)
})

test('a truncated push throttled mid-range resumes at its saved page: every compare page fetched once, no commit lost', async () => {
  const { world, repoId } = await repository()
  const [base] = gh.world.commitChain(world, 1, 'main', 'base')
  const range = gh.world.commitChain(world, 2100)
  let pages = 0
  const { deliver, github, githubWorker } = pipeline({
    clientOptions: { maxInlineWaitMs: 0 },
    // The real processor; after the first compare page is written the next page is throttled.
    processorFor: (p) =>
      ({
        commitsLackingStats: (repo: string, shas: string[]) => p.commitsLackingStats(repo, shas),
        applyCommitStats: (repo: string, text: string) => p.applyCommitStats(repo, text),
        async completePush(repo: string, text: string) {
          const outcome = await p.completePush(repo, text)
          if (++pages === 1) gh.throttleNext({ kind: 'secondary', status: 429, retryAfterSeconds: 1, path: /\/compare\// })
          return outcome
        },
      }) as unknown as WebhookProcessor,
  })
  const from = gh.requests.length
  await deliver(delivery(world, range.slice(52), base.sha))
  await drained(github)

  const rows = await statsOf(repoId)
  expect(rows.size).toBe(2100)
  expect([...rows.values()].every((r) => r.fetched)).toBe(true)
  const compare = gh.requests.slice(from).filter((r) => r.path.includes('/compare/'))
  expect(compare.filter((r) => r.status === 429)).toHaveLength(1)
  const answered = compare.filter((r) => r.status === 200).map((r) => r.query.page ?? '1')
  expect(answered.sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 21 }, (_, i) => String(i + 1)))
  // The check was made before the limit and saved in the job: the resumed job did not ask it again.
  expect(rangeChecks(from)).toHaveLength(1)
  expect(okGraphqlOids(from).flat()).toHaveLength(2100)
  expect(new Set(okGraphqlOids(from).flat()).size).toBe(2100)
})

test.each([
  ['not forced: GraphQL answers null for it, compare is never asked', false, [], 21],
  ['forced: compare answers 404', true, [404], 21],
])('a truncated push whose range GitHub no longer has keeps the listed commits and fetches their counts (%s)', async (_, forced, compareStatuses, graphql) => {
  const { world, repoId } = await repository()
  const listed = gh.world.commitChain(world, 2048)
  const { deliver, github } = pipeline({ clientOptions: { writeSpacingMs: 0 } })
  const from = gh.requests.length
  const gone = 'd'.repeat(40) // `before` was force-pushed away
  await deliver(delivery(world, listed, gone, forced))
  await drained(github)

  const rows = await statsOf(repoId)
  expect(rows.size).toBe(2048)
  expect(listed.every((c) => rows.get(c.sha)?.fetched && !rows.get(c.sha)?.missing && rows.get(c.sha)?.additions === c.additions)).toBe(true)
  expect(compareRequests(from).map((r) => r.status)).toEqual(compareStatuses)
  expect(graphqlRequests(from)).toHaveLength(graphql)
  expect(new Set(okGraphqlOids(from).flat()).size).toBe(2048)
})
