// The push processor through the built addon: the original task's push cases, every push
// example GitHub publishes, and the 2048-commit maximum.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, insertTeam, insertUser, TestDatabase } from './helpers/db'
import { examplesOf } from './helpers/examples'

const fixture = readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8')

let db: TestDatabase
let processor: WebhookProcessor
let repoId: string
let teamId: string
let monaId: string

beforeAll(async () => {
  db = await createTestDatabase()
  teamId = await insertTeam(db.pool, 'Platform')
  repoId = await insertRepository(db.pool, undefined, { teamId })
  monaId = await insertUser(db.pool, { email: 'mona@corp.example', githubLogin: 'OctoCat', githubId: 583231 })
  // Hubot has no login in the payload: mapped by email, case-insensitively.
  await insertUser(db.pool, { email: 'HUBOT@example.com' })
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4 })
})

afterAll(async () => {
  await processor.close()
  await db.drop()
})

let seq = 0
const delivery = () => `push-${++seq}-${Date.now()}`

test('a push with several commits creates one commit row each, with mapped authors', async () => {
  const result = await processor.process({ deliveryId: delivery(), event: 'push', payload: fixture })
  expect(result).toMatchObject({ status: 'processed', event: 'push', action: null, repoId })
  expect(result.records).toEqual({ commits: 3, pullRequests: 0, issues: 0, reviews: 0, deployments: 0, deploymentStatuses: 0, workflowRuns: 0, workflowJobs: 0, releases: 0 })

  const { rows } = await db.pool.query(
    `SELECT sha, message, "authorId", "authorLogin", "authorName", "authorEmail", "authorIsBot",
            additions, deletions, "filesChanged", "committedAt", "repoId"
     FROM commits ORDER BY sha`,
  )
  const hubotId = (await db.pool.query(`SELECT id FROM users WHERE email = 'HUBOT@example.com'`)).rows[0].id
  expect(rows).toEqual([
    {
      sha: 'a10867b14bb761a232cd80139fbd4c0d33264240',
      message: 'Add metrics collector\n\nCollects developer metrics from webhook events.',
      authorId: monaId, // username "octocat" matched githubLogin "OctoCat"
      authorLogin: 'octocat',
      authorName: 'Mona Lisa',
      authorEmail: 'mona@example.com',
      authorIsBot: false,
      additions: 0, // push payloads carry no line counts
      deletions: 0,
      filesChanged: 3,
      committedAt: new Date('2024-03-04T14:15:02.000Z'),
      repoId,
    },
    expect.objectContaining({ sha: 'b2c4e6f8a0b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9', authorId: hubotId, authorLogin: null, filesChanged: 2 }),
    expect.objectContaining({ authorId: null, authorLogin: 'dependabot[bot]', authorIsBot: true, filesChanged: 2 }),
  ])
  // Bots are not reported as unmapped people.
  expect(result.unmappedUsers).toEqual([])
})

test('metric jobs: one developer job per mapped user and UTC date, team jobs for their teams and the repository', async () => {
  await db.pool.query('DELETE FROM commits')
  const result = await processor.process({ deliveryId: delivery(), event: 'push', payload: fixture })
  const jobs = result.metricJobs.map(({ kind, id, date }) => `${kind}:${id}:${date}`)
  const hubotId = (await db.pool.query(`SELECT id FROM users WHERE email = 'HUBOT@example.com'`)).rows[0].id
  expect(jobs.sort()).toEqual(
    [
      `developer:${monaId}:2024-03-04`,
      `developer:${hubotId}:2024-03-04`,
      `team:${teamId}:2024-03-04`, // the repository's team, for every activity date
      `team:${teamId}:2024-03-05`, // dependabot's commit is on 2024-03-05 UTC
    ].sort(),
  )
  for (const job of result.metricJobs) {
    expect(job.jobId).toMatch(new RegExp(`^${job.kind}:${job.id}:${job.date}:\\d+$`))
  }
})

test('the same delivery twice: one event row, the second call is a duplicate that writes nothing', async () => {
  const deliveryId = delivery()
  const first = await processor.process({ deliveryId, event: 'push', payload: fixture })
  const before = await db.pool.query('SELECT count(*)::int AS n FROM commits')
  const second = await processor.process({ deliveryId, event: 'push', payload: Buffer.from(fixture) })
  expect(second.status).toBe('duplicate')
  expect(second.eventId).toBe(first.eventId)
  expect(second.records).toEqual({ commits: 0, pullRequests: 0, issues: 0, reviews: 0, deployments: 0, deploymentStatuses: 0, workflowRuns: 0, workflowJobs: 0, releases: 0 })
  // Metric jobs are re-derived from the stored payload, so a crash before enqueue loses none.
  expect(second.metricJobs.map((j) => j.id).sort()).toEqual(first.metricJobs.map((j) => j.id).sort())
  const events = await db.pool.query('SELECT processed, attempts FROM events WHERE "deliveryId" = $1', [deliveryId])
  expect(events.rows).toEqual([{ processed: true, attempts: 1 }])
  expect((await db.pool.query('SELECT count(*)::int AS n FROM commits')).rows[0].n).toBe(before.rows[0].n)
})

test('commits dedupe on [repoId, sha] across deliveries', async () => {
  const again = await processor.process({ deliveryId: delivery(), event: 'push', payload: fixture })
  expect(again.status).toBe('processed')
  expect(again.records.commits).toBe(0)
  const { rows } = await db.pool.query('SELECT sha, count(*)::int AS n FROM commits GROUP BY sha HAVING count(*) > 1')
  expect(rows).toEqual([])
})

test('the event row stores the payload as JSONB, the sender and the received time', async () => {
  const deliveryId = delivery()
  await processor.process({ deliveryId, event: 'push', payload: JSON.parse(fixture), receivedAt: '2024-03-05T10:00:00.123Z' })
  const { rows } = await db.pool.query(
    `SELECT type, action, "repoId", "senderGithubId", processed, "processedAt" IS NOT NULL AS "hasProcessedAt",
            "receivedAt", payload->'commits'->0->>'id' AS "firstSha", "lastError"
     FROM events WHERE "deliveryId" = $1`,
    [deliveryId],
  )
  expect(rows).toEqual([
    {
      type: 'push',
      action: null,
      repoId,
      senderGithubId: '583231',
      processed: true,
      hasProcessedAt: true,
      receivedAt: new Date('2024-03-05T10:00:00.123Z'),
      firstSha: 'a10867b14bb761a232cd80139fbd4c0d33264240',
      lastError: null,
    },
  ])
})

test('an empty commits array (tag push, branch delete) is processed with 0 commits', async () => {
  const payload = { ...JSON.parse(fixture), ref: 'refs/heads/gone', deleted: true, commits: [], head_commit: null, after: '0'.repeat(40) }
  const result = await processor.process({ deliveryId: delivery(), event: 'push', payload })
  expect(result.status).toBe('processed')
  expect(result.records.commits).toBe(0)
  expect(result.metricJobs).toEqual([])
})

test('NUL characters are stripped, never rejected', async () => {
  const payload = JSON.parse(fixture)
  payload.commits = [{ ...payload.commits[0], id: 'd'.repeat(40), message: 'nul\u0000inside', author: { name: 'A\u0000B', email: 'a@b.c' } }]
  const deliveryId = delivery()
  const result = await processor.process({ deliveryId, event: 'push', payload: JSON.stringify(payload) })
  expect(result.records.commits).toBe(1)
  const { rows } = await db.pool.query(`SELECT message, "authorName" FROM commits WHERE sha = $1`, ['d'.repeat(40)])
  expect(rows).toEqual([{ message: 'nulinside', authorName: 'AB' }])
  const stored = await db.pool.query(`SELECT payload->'commits'->0->>'message' AS m FROM events WHERE "deliveryId" = $1`, [deliveryId])
  expect(stored.rows[0].m).toBe('nulinside')
})

test('a 2048-commit push (GitHub maximum, ~1.3 MB) lands as 2048 rows in one call', async () => {
  const base = JSON.parse(fixture)
  base.commits = Array.from({ length: 2048 }, (_, i) => ({
    ...base.commits[0],
    id: 'f' + i.toString(16).padStart(39, '0'),
    message: `Commit ${i}: ${'lorem ipsum dolor sit amet '.repeat(12)}`,
    timestamp: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
    modified: ['src/a.ts', 'src/b.ts', 'README.md'],
  }))
  const payload = JSON.stringify(base)
  expect(payload.length).toBeGreaterThan(1_000_000)
  const result = await processor.process({ deliveryId: delivery(), event: 'push', payload })
  expect(result.records.commits).toBe(2048)
  const shas = base.commits.map((c: { id: string }) => c.id)
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM commits WHERE sha = ANY($1)', [shas])
  expect(rows[0].n).toBe(2048)
})

describe.each(examplesOf('push'))('GitHub example %s', (_label, payload) => {
  test('is processed', async () => {
    const result = await processor.process({ deliveryId: delivery(), event: 'push', payload })
    expect(result.status).toBe('processed')
    expect(result.records.commits).toBeLessThanOrEqual((payload.commits as unknown[]).length)
  })
})
