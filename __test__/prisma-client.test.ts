// The backend's view: Prisma Client generated from our prisma/schema.prisma (Prisma 7,
// `prisma-client` generator, @prisma/adapter-pg) reads the rows the addon wrote, and the
// addon reads the rows Prisma wrote, with no mapping code between them.
//
// Prisma 7's CLI cannot download its schema engine here; `prisma generate` does not need
// it, only PRISMA_SCHEMA_ENGINE_BINARY set to some path. The client is generated into the
// schema's own (gitignored) output folder, generated/prisma, as TypeScript that ts-jest
// compiles when it is required. It is required by path at run time rather than imported,
// so `tsc --noEmit` passes on a clean clone where it has not been generated yet.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { PrismaPg } from '@prisma/adapter-pg'
import { WebhookProcessor } from '../lib'
import { createTestDatabase, EXAMPLES_REPO_GITHUB_ID, TestDatabase } from './helpers/db'

const root = resolve(__dirname, '..')
const fixture = readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8')

let db: TestDatabase
let processor: WebhookProcessor
// The generated client's types exist only after generation: see the header.
let prisma: any

beforeAll(async () => {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/prisma/build/index.js'), 'generate', '--schema', join(root, 'prisma/schema.prisma')],
    {
      cwd: root,
      env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const { PrismaClient } = require(join(root, 'generated/prisma/client.ts'))
  db = await createTestDatabase()
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) })
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
}, 120_000)

afterAll(async () => {
  await processor?.close()
  await prisma?.$disconnect()
  await db?.drop()
})

test('the addon maps authors to users Prisma created, and Prisma reads the rows the addon wrote', async () => {
  // The backend's side: Prisma Client writes the tables the addon only reads (ids from
  // Prisma's uuid() default, which the database does not have).
  const team = await prisma.team.create({ data: { name: 'Platform' } })
  const repository = await prisma.repository.create({
    data: { githubId: BigInt(EXAMPLES_REPO_GITHUB_ID), fullName: 'Codertocat/Hello-World', teamId: team.id },
  })
  const mona = await prisma.user.create({
    data: { email: 'mona@corp.example', githubLogin: 'OctoCat', githubId: 583231n, teams: { create: { teamId: team.id } } },
  })

  const deliveryId = `prisma-${Date.now()}`
  const result = await processor.process({
    deliveryId,
    event: 'push',
    payload: fixture,
    receivedAt: '2024-03-05T10:00:00.123Z',
  })
  expect(result).toMatchObject({ status: 'processed', repoId: repository.id, records: { commits: 3 } })
  expect(result.metricJobs).toEqual(
    expect.arrayContaining([expect.objectContaining({ kind: 'developer', id: mona.id, date: '2024-03-04' })]),
  )

  // The Event row: BigInt, Json, DateTime (UTC), and its repository relation.
  const event = await prisma.event.findUniqueOrThrow({ where: { deliveryId }, include: { repository: true } })
  expect(event).toMatchObject({
    id: result.eventId,
    repoId: repository.id,
    type: 'push',
    action: null,
    senderGithubId: 583231n,
    processed: true,
    attempts: 1,
    lastError: null,
  })
  expect(typeof event.senderGithubId).toBe('bigint')
  expect(event.receivedAt).toEqual(new Date('2024-03-05T10:00:00.123Z'))
  expect(event.processedAt).toBeInstanceOf(Date)
  expect(event.payload).toEqual(JSON.parse(fixture))
  expect(event.repository.githubId).toBe(BigInt(EXAMPLES_REPO_GITHUB_ID))

  // The Commit rows, with their author and repository relations.
  const commits = await prisma.commit.findMany({
    where: { repoId: repository.id },
    include: { author: true, repository: true },
    orderBy: { sha: 'asc' },
  })
  expect(commits).toHaveLength(3)
  const [first, second, third] = commits
  expect(first).toMatchObject({
    sha: 'a10867b14bb761a232cd80139fbd4c0d33264240',
    authorId: mona.id,
    authorLogin: 'octocat',
    authorName: 'Mona Lisa',
    authorEmail: 'mona@example.com',
    authorIsBot: false,
    additions: 0,
    deletions: 0,
    filesChanged: 3,
  })
  // 2024-03-04T09:15:02-05:00 in the payload: stored and read back as the UTC instant.
  expect(first.committedAt).toEqual(new Date('2024-03-04T14:15:02.000Z'))
  expect(first.author).toMatchObject({ id: mona.id, email: 'mona@corp.example', githubId: 583231n })
  expect(first.repository.id).toBe(repository.id)
  expect(second).toMatchObject({ authorId: null, author: null, authorName: 'Hubot' })
  // 2024-03-05T02:10:44+01:00
  expect(third).toMatchObject({ authorLogin: 'dependabot[bot]', authorIsBot: true, author: null })
  expect(third.committedAt.toISOString()).toBe('2024-03-05T01:10:44.000Z')

  // And back through the user's side of the relation.
  const withCommits = await prisma.user.findUniqueOrThrow({ where: { id: mona.id }, include: { commits: true } })
  expect(withCommits.commits.map((c: { sha: string }) => c.sha)).toEqual([first.sha])
})

test('a failed attempt is visible to Prisma as an unprocessed event', async () => {
  const payload = JSON.parse(fixture)
  payload.commits[0].timestamp = 'not a time'
  const deliveryId = `prisma-failed-${Date.now()}`
  await expect(processor.process({ deliveryId, event: 'push', payload })).rejects.toMatchObject({
    code: 'INVALID_PAYLOAD',
  })
  const failed = await prisma.event.findMany({ where: { processed: false } })
  expect(failed).toHaveLength(1)
  expect(failed[0]).toMatchObject({ deliveryId, processed: false, processedAt: null, attempts: 1 })
  expect(failed[0].lastError).toMatch(/^INVALID_PAYLOAD: .*commits\[0\]\.timestamp/)
})
