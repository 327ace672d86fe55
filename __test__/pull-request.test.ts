// The pull_request processor through the built addon: the original task's cases (opened,
// closed, merged, synchronize, state transitions, author mapping), out-of-order and stale
// deliveries, every pull_request example GitHub publishes, and rejected payloads.
import { examplesOf } from './helpers/examples'
import {
  closeEnv,
  EntityEnv,
  entityEnv,
  expectInvalidPayload,
  fixture,
  freshRepository,
  jobKeys,
  OCTOCAT,
  rowOf,
} from './support/entities'

const PR_ID = 1754321001

let env: EntityEnv

beforeAll(async () => {
  env = await entityEnv()
})

afterAll(async () => {
  await closeEnv(env)
})

beforeEach(async () => {
  await env.db.pool.query('DELETE FROM pull_request_reviews; DELETE FROM pull_requests')
})

/** The opened fixture, changed by `edit` (which receives the pull request object). */
function openedWith(action: string, edit: (pr: any) => void = () => {}) {
  const payload = fixture('pull-request-opened.json')
  payload.action = action
  edit(payload.pull_request)
  return payload
}

test('opened: a row with title, state, refs, line counts and the mapped author', async () => {
  const result = await env.send('pull_request', fixture('pull-request-opened.json'))
  expect(result).toMatchObject({ status: 'processed', event: 'pull_request', action: 'opened', repoId: env.repoId })
  expect(result.records).toEqual({ commits: 0, pullRequests: 1, issues: 0, reviews: 0, deployments: 0, deploymentStatuses: 0, workflowRuns: 0, workflowJobs: 0, releases: 0 })
  expect(result.unmappedUsers).toEqual([])
  expect(jobKeys(result)).toEqual([`developer:${env.octocatId}:2024-03-04`, `team:${env.teamId}:2024-03-04`])

  const row = await rowOf(env, 'pull_requests', PR_ID)
  expect(row).toMatchObject({
    repoId: env.repoId,
    number: 42,
    title: 'Add webhook metrics collector',
    state: 'OPEN',
    draft: false,
    authorId: env.octocatId,
    authorGithubId: String(OCTOCAT),
    authorLogin: 'octocat',
    authorIsBot: false,
    headRef: 'metrics-collector',
    baseRef: 'main',
    additions: 245,
    deletions: 18,
    filesChanged: 7,
    countsUpdatedAt: new Date('2024-03-04T14:00:00Z'),
    mergedAt: null,
    closedAt: null,
    createdAt: new Date('2024-03-04T14:00:00Z'),
    updatedAt: new Date('2024-03-04T14:00:00Z'),
    firstReviewAt: null,
    cycleTimeSeconds: null,
  })
  expect(row.id).toMatch(/^[0-9a-f-]{36}$/)
})

test('merged: MERGED with mergedAt, closedAt and the cycle time (merged − created)', async () => {
  await env.send('pull_request', fixture('pull-request-opened.json'))
  const result = await env.send('pull_request', fixture('pull-request-merged.json'))
  expect(result).toMatchObject({ status: 'processed', action: 'closed' })
  expect(result.records.pullRequests).toBe(1)
  expect(await rowOf(env, 'pull_requests', PR_ID)).toMatchObject({
    state: 'MERGED',
    mergedAt: new Date('2024-03-05T16:30:00Z'),
    closedAt: new Date('2024-03-05T16:30:00Z'),
    updatedAt: new Date('2024-03-05T16:30:00Z'),
    cycleTimeSeconds: 26.5 * 3600,
    additions: 251,
    deletions: 20,
    filesChanged: 8,
  })
})

test('closed without merging: CLOSED with closedAt and no cycle time', async () => {
  await env.send('pull_request', fixture('pull-request-opened.json'))
  await env.send(
    'pull_request',
    openedWith('closed', (pr) => Object.assign(pr, { state: 'closed', closed_at: '2024-03-04T15:00:00Z', updated_at: '2024-03-04T15:00:00Z' })),
  )
  expect(await rowOf(env, 'pull_requests', PR_ID)).toMatchObject({
    state: 'CLOSED',
    closedAt: new Date('2024-03-04T15:00:00Z'),
    mergedAt: null,
    cycleTimeSeconds: null,
  })
})

test('synchronize updates the line counts; labeled without counts keeps them', async () => {
  await env.send('pull_request', fixture('pull-request-opened.json'))
  const sync = await env.send(
    'pull_request',
    openedWith('synchronize', (pr) => Object.assign(pr, { updated_at: '2024-03-04T15:00:00Z', additions: 300, deletions: 40, changed_files: 9 })),
  )
  expect(sync.records.pullRequests).toBe(1)
  const labeled = openedWith('labeled', (pr) => {
    pr.updated_at = '2024-03-04T16:00:00Z'
    pr.labels = [{ id: 1, name: 'metrics' }]
    delete pr.additions
    delete pr.deletions
    delete pr.changed_files
  })
  expect((await env.send('pull_request', labeled)).records.pullRequests).toBe(1)
  expect(await rowOf(env, 'pull_requests', PR_ID)).toMatchObject({
    additions: 300,
    deletions: 40,
    filesChanged: 9,
    countsUpdatedAt: new Date('2024-03-04T15:00:00Z'),
    updatedAt: new Date('2024-03-04T16:00:00Z'),
  })
})

test('state transitions: draft → ready for review → closed → reopened → merged', async () => {
  const at = (h: number) => `2024-03-04T${String(h).padStart(2, '0')}:00:00Z`
  const steps: [string, (pr: any) => void, Record<string, unknown>][] = [
    ['opened', (pr) => Object.assign(pr, { draft: true }), { state: 'OPEN', draft: true }],
    ['ready_for_review', (pr) => Object.assign(pr, { updated_at: at(15) }), { state: 'OPEN', draft: false }],
    ['closed', (pr) => Object.assign(pr, { state: 'closed', closed_at: at(16), updated_at: at(16) }), { state: 'CLOSED', closedAt: new Date(at(16)) }],
    ['reopened', (pr) => Object.assign(pr, { updated_at: at(17) }), { state: 'OPEN', closedAt: null }],
    [
      'closed',
      (pr) => Object.assign(pr, { state: 'closed', merged: true, merged_at: at(18), closed_at: at(18), updated_at: at(18) }),
      { state: 'MERGED', mergedAt: new Date(at(18)), cycleTimeSeconds: 4 * 3600 },
    ],
  ]
  for (const [action, edit, expected] of steps) {
    const result = await env.send('pull_request', openedWith(action, edit))
    expect(result.records.pullRequests).toBe(1)
    expect(await rowOf(env, 'pull_requests', PR_ID)).toMatchObject(expected)
  }
  // MERGED is terminal: a stale delivery (a manual redelivery, a slow worker) changes nothing.
  const stale = await env.send('pull_request', fixture('pull-request-opened.json'))
  expect(stale).toMatchObject({ status: 'processed', records: { pullRequests: 0 } })
  expect((await rowOf(env, 'pull_requests', PR_ID)).state).toBe('MERGED')
})

test('out of order: the merge delivered before the opening still ends merged, with the newest fields', async () => {
  await env.send('pull_request', fixture('pull-request-merged.json'))
  const late = await env.send('pull_request', fixture('pull-request-opened.json'))
  expect(late.records.pullRequests).toBe(0)
  const inOrder = await rowOf(env, 'pull_requests', PR_ID)

  await env.db.pool.query('DELETE FROM pull_requests')
  await env.send('pull_request', fixture('pull-request-opened.json'))
  await env.send('pull_request', fixture('pull-request-merged.json'))
  const { id: _a, ...reversed } = inOrder
  const { id: _b, ...forward } = await rowOf(env, 'pull_requests', PR_ID)
  expect(reversed).toEqual(forward)
})

test('author mapping: unlinked authors are reported, bots are flagged and not reported', async () => {
  const stranger = openedWith('opened', (pr) => {
    pr.id = PR_ID + 1
    pr.number = 44
    pr.user = { ...pr.user, login: 'stranger', id: 99 }
  })
  const result = await env.send('pull_request', stranger)
  expect(result.unmappedUsers).toEqual(['stranger'])
  expect(jobKeys(result)).toEqual([`team:${env.teamId}:2024-03-04`])
  expect(await rowOf(env, 'pull_requests', PR_ID + 1)).toMatchObject({ authorId: null, authorLogin: 'stranger', authorIsBot: false })

  const bot = openedWith('opened', (pr) => {
    pr.id = PR_ID + 2
    pr.number = 45
    pr.user = { ...pr.user, login: 'dependabot[bot]', id: 49699333, type: 'Bot' }
  })
  const botResult = await env.send('pull_request', bot)
  expect(botResult.unmappedUsers).toEqual([])
  expect(await rowOf(env, 'pull_requests', PR_ID + 2)).toMatchObject({ authorId: null, authorIsBot: true })
})

test('the same delivery twice is a duplicate that writes nothing', async () => {
  const deliveryId = `pr-dup-${Date.now()}`
  const payload = JSON.stringify(fixture('pull-request-opened.json'))
  const first = await env.processor.process({ deliveryId, event: 'pull_request', payload })
  const second = await env.processor.process({ deliveryId, event: 'pull_request', payload })
  expect(second).toMatchObject({ status: 'duplicate', eventId: first.eventId, action: 'opened' })
  expect(second.records).toEqual({ commits: 0, pullRequests: 0, issues: 0, reviews: 0, deployments: 0, deploymentStatuses: 0, workflowRuns: 0, workflowJobs: 0, releases: 0 })
  expect(jobKeys(second)).toEqual(jobKeys(first))
})

describe('every pull_request example of @octokit/webhooks-examples', () => {
  // The examples are not one timeline (pull request #2 appears under two ids across
  // event types), so each goes to a repository of its own.
  test.each(examplesOf('pull_request'))('%s', async (_label, payload) => {
    const repoId = await freshRepository(env)
    const result = await env.send('pull_request', payload, { repoId })
    expect(result).toMatchObject({ status: 'processed', action: payload.action, repoId })
    const pr = (payload as any).pull_request
    const row = await rowOf(env, 'pull_requests', pr.id)
    expect(row).toMatchObject({ number: pr.number, title: pr.title, updatedAt: new Date(pr.updated_at) })
    expect(row.state).toBe(pr.merged_at ? 'MERGED' : pr.state.toUpperCase())
  })
})

describe('bad pull_request payloads are INVALID_PAYLOAD and write no entity rows', () => {
  const cases: [string, () => unknown][] = [
    ['not JSON', () => '{"action": "opened", "pull_request": '],
    ['no pull_request', () => ({ ...fixture('pull-request-opened.json'), pull_request: undefined })],
    ['an unknown state', () => openedWith('opened', (pr) => (pr.state = 'merged'))],
    ['a string id', () => openedWith('opened', (pr) => (pr.id = 'PR_1'))],
    ['a zero number', () => openedWith('opened', (pr) => (pr.number = 0))],
    ['an unparseable updated_at', () => openedWith('opened', (pr) => (pr.updated_at = 'yesterday'))],
    ['negative additions', () => openedWith('opened', (pr) => (pr.additions = -5))],
    ['a null head', () => openedWith('opened', (pr) => (pr.head = null))],
  ]
  test.each(cases)('%s', async (_label, make) => {
    const payload = make()
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload)
    const err = await expectInvalidPayload(env, () =>
      env.processor.process({ deliveryId: `bad-pr-${Date.now()}-${Math.random()}`, event: 'pull_request', payload: text }),
    )
    expect(err.message).not.toBe('')
  })
})
