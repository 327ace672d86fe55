// A rebuild (entity rows deleted, reprocessEvents) must equal live processing whatever links
// happened meanwhile. Live rows keep the user they were written with ("a row's user is set
// once"), while a rebuild maps every row by the links as they are now, so a link that would
// change whom an already attributed identity maps to would make the two differ: such links
// are refused with CONSTRAINT_VIOLATION. Through the built addon, real PostgreSQL.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { WebhookProcessingError, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'

const pushFixture = JSON.parse(readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8'))
const prFixture = JSON.parse(readFileSync(join(__dirname, 'fixtures/pull-request-opened.json'), 'utf8'))

let db: TestDatabase
let processor: WebhookProcessor

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
})

afterAll(async () => {
  await processor?.close()
  await db.drop()
})

afterEach(async () => {
  await db.pool.query(
    'DELETE FROM reprocess_runs; DELETE FROM commits; DELETE FROM pull_request_reviews; DELETE FROM pull_requests; DELETE FROM events; DELETE FROM users',
  )
})

/** A push of one new commit by `author`. */
function pushBy(author: { name: string; email: string; username?: string }) {
  return { ...pushFixture, commits: [{ ...pushFixture.commits[0], id: randomUUID().replace(/-/g, '').padEnd(40, '0'), author }] }
}

/** A pull request opened by the GitHub account `id`. */
function pullRequestBy(id: number, login: string) {
  const number = Math.floor(Math.random() * 1e6) + 1
  return {
    ...prFixture,
    number,
    pull_request: { ...prFixture.pull_request, id: 1e9 + number, number, user: { ...prFixture.pull_request.user, id, login } },
  }
}

/** Every author column of every commit and pull request. */
async function authors() {
  const commits = await db.pool.query('SELECT sha, "authorId" FROM commits ORDER BY sha')
  const prs = await db.pool.query('SELECT "githubId", "authorId" FROM pull_requests ORDER BY "githubId"')
  return { commits: commits.rows, prs: prs.rows }
}

/** The rows a rebuild gives: entity rows deleted, every stored delivery reprocessed. */
async function rebuilt() {
  await db.pool.query('DELETE FROM commits; DELETE FROM pull_request_reviews; DELETE FROM pull_requests')
  const report = await processor.reprocessEvents()
  expect(report.complete).toBe(true)
  return authors()
}

async function expectRefused(link: Promise<unknown>) {
  const err = await link.then(
    () => null,
    (e) => e,
  )
  expect(err).toBeInstanceOf(WebhookProcessingError)
  expect(err.code).toBe('CONSTRAINT_VIOLATION')
}

test('a user linked to one GitHub id is not linked to another: its attributed rows would be lost by a rebuild', async () => {
  const user = await insertUser(db.pool, { email: 'ann@corp.example' })
  await processor.linkGithubUser(user, { id: 7001 })
  await processor.process({ deliveryId: randomUUID(), event: 'pull_request', payload: pullRequestBy(7001, 'ann') })
  await expectRefused(processor.linkGithubUser(user, { id: 7002 }))
  const live = await authors()
  expect(live.prs[0].authorId).toBe(user)
  expect(await rebuilt()).toEqual(live)
  // The same id again is no change, and is accepted.
  await processor.linkGithubUser(user, { id: 7001 })
})

test('a user linked to one login is not linked to another: its attributed commits would be lost by a rebuild', async () => {
  const user = await insertUser(db.pool, { email: 'bea@corp.example' })
  await processor.linkGithubUser(user, { login: 'bea' })
  await processor.process({ deliveryId: randomUUID(), event: 'push', payload: pushBy({ name: 'Bea', email: 'bea@home.example', username: 'bea' }) })
  await expectRefused(processor.linkGithubUser(user, { login: 'bea-renamed' }))
  const live = await authors()
  expect(live.commits[0].authorId).toBe(user)
  expect(await rebuilt()).toEqual(live)
  // The same login in another case is the same login.
  await processor.linkGithubUser(user, { login: 'BEA' })
})

test('a login whose commits are attributed to another user by email is not linked: a rebuild would give them to the login', async () => {
  const byEmail = await insertUser(db.pool, { email: 'cid@home.example' })
  const byLinkedEmail = await insertUser(db.pool, { email: 'cid-other@corp.example' })
  await processor.linkGithubUser(byLinkedEmail, { email: 'Dee@Home.example' })
  await processor.process({ deliveryId: randomUUID(), event: 'push', payload: pushBy({ name: 'Cid', email: 'CID@home.example', username: 'cid' }) })
  await processor.process({ deliveryId: randomUUID(), event: 'push', payload: pushBy({ name: 'Dee', email: 'dee@home.example', username: 'dee' }) })
  const other = await insertUser(db.pool, { email: 'someone@corp.example' })
  await expectRefused(processor.linkGithubUser(other, { login: 'Cid' }))
  await expectRefused(processor.linkGithubUser(other, { login: 'dee' }))
  const live = await authors()
  expect(live.commits.map((c: { authorId: string }) => c.authorId).sort()).toEqual([byEmail, byLinkedEmail].sort())
  expect(await rebuilt()).toEqual(live)
  // The user the commits are attributed to may take the login.
  await processor.linkGithubUser(byEmail, { login: 'cid' })
  expect(await rebuilt()).toEqual(live)
})

test('a login another user holds in another case is not linked: logins match in any case', async () => {
  const holder = await insertUser(db.pool, { email: 'eve@corp.example', githubLogin: 'eve' })
  const other = await insertUser(db.pool, { email: 'eve2@corp.example' })
  await expectRefused(processor.linkGithubUser(other, { login: 'EVE' }))
  await processor.process({ deliveryId: randomUUID(), event: 'push', payload: pushBy({ name: 'Eve', email: 'eve@home.example', username: 'Eve' }) })
  const live = await authors()
  expect(live.commits[0].authorId).toBe(holder)
  expect(await rebuilt()).toEqual(live)
})
