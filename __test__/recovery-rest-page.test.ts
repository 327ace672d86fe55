// processor.applyRestPage (issue 16) with careless callers: a wrong kind or argument type is
// INVALID_JOB, a page that is not the list it claims to be is INVALID_PAYLOAD naming the item,
// and either way nothing of the page is written; an unregistered repository is
// UNKNOWN_REPOSITORY. A good page writes no events row.
import { WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, tableCounts, TestDatabase } from './helpers/db'

let db: TestDatabase
let processor: WebhookProcessor
let repoId: string

const issue = (n: number, extra: Record<string, unknown> = {}) => ({
  id: 66_000 + n,
  number: n,
  title: `Issue ${n}`,
  state: 'open',
  user: { id: 9, login: 'mona', type: 'User' },
  created_at: '2026-11-01T10:00:00Z',
  updated_at: '2026-11-02T10:00:00Z',
  closed_at: null,
  ...extra,
})

beforeAll(async () => {
  db = await createTestDatabase()
  repoId = await insertRepository(db.pool, 66_000_001, { fullName: 'acme/widgets' })
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
})

afterAll(async () => {
  await processor.close()
  await db.drop()
})

test('a good page writes its rows and no events row; the issues list skips its pull requests', async () => {
  const r = await processor.applyRestPage(repoId, 'issues', [issue(1), issue(2, { pull_request: { url: 'x' } })])
  expect(r).toMatchObject({ items: 2, skipped: 1, records: { issues: 1, pullRequests: 0, reviews: 0, commits: 0 }, unmappedUsers: ['mona'] })
  expect(await tableCounts(db.pool)).toMatchObject({ events: 0, issues: 1 })
  // The same page again changes nothing.
  const again = await processor.applyRestPage(repoId, 'issues', JSON.stringify([issue(1)]))
  expect(again.records.issues).toBe(0)
})

test('careless calls are refused with documented codes and write nothing', async () => {
  const before = await tableCounts(db.pool)
  const call = (...args: unknown[]) => (processor.applyRestPage as (...a: unknown[]) => Promise<unknown>)(...args)
  await expect(call(repoId, 'labels', [])).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(call('', 'issues', [])).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(call(repoId, 'issues', undefined)).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(call(repoId, 'issues', 42)).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(call(repoId, 'reviews', [])).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(call(repoId, 'pulls', [], {})).rejects.toMatchObject({ code: 'INVALID_JOB' })
  // The second item is broken: the first is not written either.
  await expect(call(repoId, 'issues', [issue(3), { ...issue(4), created_at: 'yesterday' }])).rejects.toMatchObject({
    code: 'INVALID_PAYLOAD',
    message: expect.stringContaining('[1]'),
  })
  await expect(call(repoId, 'issues', '{"not":"a list"}')).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' })
  await expect(call(repoId, 'commits', 'not json')).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' })
  await expect(call('00000000-0000-4000-8000-000000000000', 'issues', [issue(5)])).rejects.toMatchObject({ code: 'UNKNOWN_REPOSITORY' })
  expect(await tableCounts(db.pool)).toEqual(before)
})
