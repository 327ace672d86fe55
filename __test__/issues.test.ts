// The issues processor through the built addon: the original task's cases (opened, closed,
// reopened, author mapping), resolution time, deletion and transfer, out-of-order
// deliveries, every issues example GitHub publishes, and rejected payloads.
import { examplesOf } from './helpers/examples'
import { closeEnv, EntityEnv, entityEnv, expectInvalidPayload, fixture, freshRepository, jobKeys, OCTOCAT, rowOf } from './support/entities'

const ISSUE_ID = 2154321002
/** 2024-03-04T09:00:00Z → 2024-03-06T12:00:00Z. */
const RESOLUTION_SECONDS = 51 * 3600

let env: EntityEnv

beforeAll(async () => {
  env = await entityEnv()
})

afterAll(async () => {
  await closeEnv(env)
})

beforeEach(async () => {
  await env.db.pool.query('DELETE FROM issues')
})

/** The opened fixture as `action`, changed by `edit` (which receives the issue object). */
function issueWith(action: string, edit: (issue: any) => void = () => {}) {
  const payload = fixture('issue-opened.json')
  payload.action = action
  edit(payload.issue)
  return payload
}

test('opened: a row with title, state and the mapped author', async () => {
  const result = await env.send('issues', fixture('issue-opened.json'))
  expect(result).toMatchObject({ status: 'processed', event: 'issues', action: 'opened', repoId: env.repoId })
  expect(result.records).toEqual({ commits: 0, pullRequests: 0, issues: 1, reviews: 0, deployments: 0, deploymentStatuses: 0, workflowRuns: 0, workflowJobs: 0, releases: 0 })
  expect(jobKeys(result)).toEqual([`developer:${env.octocatId}:2024-03-04`, `team:${env.teamId}:2024-03-04`])
  expect(await rowOf(env, 'issues', ISSUE_ID)).toMatchObject({
    repoId: env.repoId,
    number: 43,
    title: 'Metrics are missing for webhook events',
    state: 'OPEN',
    stateReason: null,
    authorId: env.octocatId,
    authorGithubId: String(OCTOCAT),
    authorLogin: 'octocat',
    authorIsBot: false,
    closedAt: null,
    createdAt: new Date('2024-03-04T09:00:00Z'),
    updatedAt: new Date('2024-03-04T09:00:00Z'),
    resolutionTimeSeconds: null,
    deletedAt: null,
  })
})

test('closed: CLOSED with closedAt, the reason and the resolution time', async () => {
  await env.send('issues', fixture('issue-opened.json'))
  const result = await env.send('issues', fixture('issue-closed.json'))
  expect(result).toMatchObject({ action: 'closed', records: { issues: 1 } })
  expect(jobKeys(result)).toContain(`developer:${env.octocatId}:2024-03-06`)
  expect(await rowOf(env, 'issues', ISSUE_ID)).toMatchObject({
    state: 'CLOSED',
    stateReason: 'completed',
    closedAt: new Date('2024-03-06T12:00:00Z'),
    updatedAt: new Date('2024-03-06T12:00:00Z'),
    resolutionTimeSeconds: RESOLUTION_SECONDS,
  })
})

test('reopened clears closedAt and the resolution time; closing again sets them anew', async () => {
  await env.send('issues', fixture('issue-opened.json'))
  await env.send('issues', fixture('issue-closed.json'))
  const reopened = await env.send(
    'issues',
    issueWith('reopened', (i) => Object.assign(i, { state: 'open', state_reason: 'reopened', updated_at: '2024-03-07T08:00:00Z' })),
  )
  expect(reopened.records.issues).toBe(1)
  expect(await rowOf(env, 'issues', ISSUE_ID)).toMatchObject({ state: 'OPEN', stateReason: 'reopened', closedAt: null, resolutionTimeSeconds: null })

  await env.send(
    'issues',
    issueWith('closed', (i) =>
      Object.assign(i, { state: 'closed', state_reason: 'not_planned', closed_at: '2024-03-08T09:00:00Z', updated_at: '2024-03-08T09:00:00Z' }),
    ),
  )
  expect(await rowOf(env, 'issues', ISSUE_ID)).toMatchObject({ state: 'CLOSED', stateReason: 'not_planned', resolutionTimeSeconds: 4 * 24 * 3600 })
})

test('out of order: the close delivered before the opening still ends closed', async () => {
  await env.send('issues', fixture('issue-closed.json'))
  const late = await env.send('issues', fixture('issue-opened.json'))
  expect(late).toMatchObject({ status: 'processed', records: { issues: 0 } })
  expect(await rowOf(env, 'issues', ISSUE_ID)).toMatchObject({ state: 'CLOSED', resolutionTimeSeconds: RESOLUTION_SECONDS })
})

test('deleted: kept with deletedAt (the received time), and terminal', async () => {
  await env.send('issues', fixture('issue-opened.json'))
  await env.send('issues', { ...fixture('issue-closed.json'), action: 'deleted' }, { receivedAt: '2024-03-09T10:11:12.345Z' })
  const later = await env.send('issues', issueWith('edited', (i) => Object.assign(i, { title: 'Revived?', updated_at: '2024-03-10T00:00:00Z' })))
  expect(later.records.issues).toBe(0)
  expect(await rowOf(env, 'issues', ISSUE_ID)).toMatchObject({
    state: 'CLOSED',
    title: 'Metrics are missing for webhook events',
    deletedAt: new Date('2024-03-09T10:11:12.345Z'),
  })
})

// A removal comes first in the labels' order too (terminal): one that lists no labels means none,
// whatever arrived before it. Before, it left the stored labels, so [bug, incident] or [bug]
// stayed depending on the order.
test('labels: a deletion that lists none ends with none, in every order', async () => {
  const label = (name: string) => ({ id: name.length, name, color: 'd73a4a', default: false })
  const tagged = issueWith('labeled', (i) => Object.assign(i, { updated_at: '2024-03-05T10:00:00Z', labels: [label('bug')] }))
  const incident = issueWith('labeled', (i) => Object.assign(i, { updated_at: '2024-03-06T10:00:00Z', labels: [label('bug'), label('incident')] }))
  const deleted = issueWith('deleted', (i) => {
    i.updated_at = '2024-03-05T12:00:00Z'
    delete i.labels
  })
  const orders = [
    [tagged, incident, deleted],
    [tagged, deleted, incident],
    [deleted, tagged, incident],
    [incident, deleted, tagged],
  ]
  for (const order of orders) {
    await env.db.pool.query('DELETE FROM issues')
    for (const payload of order) await env.send('issues', payload)
    expect(await rowOf(env, 'issues', ISSUE_ID)).toMatchObject({
      labels: [],
      labelsUpdatedAt: new Date('2024-03-05T12:00:00Z'),
      deletedAt: expect.any(Date),
    })
  }
})

test('author mapping: unlinked authors are reported, bots are flagged and not reported', async () => {
  const stranger = await env.send('issues', issueWith('opened', (i) => (i.user = { ...i.user, login: 'stranger', id: 99 })))
  expect(stranger.unmappedUsers).toEqual(['stranger'])
  expect(await rowOf(env, 'issues', ISSUE_ID)).toMatchObject({ authorId: null, authorLogin: 'stranger' })

  await env.db.pool.query('DELETE FROM issues')
  const bot = await env.send('issues', issueWith('opened', (i) => (i.user = { ...i.user, login: 'github-actions[bot]', id: 41898282, type: 'Bot' })))
  expect(bot.unmappedUsers).toEqual([])
  expect(await rowOf(env, 'issues', ISSUE_ID)).toMatchObject({ authorId: null, authorIsBot: true })
})

describe('every issues example of @octokit/webhooks-examples', () => {
  // Each in a repository of its own: the examples are not one timeline, and the
  // transferred one names another repository.
  test.each(examplesOf('issues'))('%s', async (_label, payload) => {
    const repoId = await freshRepository(env)
    const result = await env.send('issues', payload, { repoId })
    expect(result).toMatchObject({ status: 'processed', action: payload.action, repoId })
    const issue = (payload as any).issue
    const row = await rowOf(env, 'issues', issue.id)
    expect(row).toMatchObject({ number: issue.number, title: issue.title })
    expect(row.deletedAt === null).toBe(!['deleted', 'transferred'].includes(String(payload.action)))
  })
})

describe('bad issues payloads are INVALID_PAYLOAD and write no entity rows', () => {
  const cases: [string, () => unknown][] = [
    ['not JSON', () => '{"action":"opened","issue":{'],
    ['no issue', () => ({ ...fixture('issue-opened.json'), issue: null })],
    ['an unknown state', () => issueWith('opened', (i) => (i.state = 'merged'))],
    ['a numeric title', () => issueWith('opened', (i) => (i.title = 42))],
    ['no created_at', () => issueWith('opened', (i) => delete i.created_at)],
    ['an unparseable closed_at', () => issueWith('closed', (i) => (i.closed_at = 'later'))],
    ['a negative number', () => issueWith('opened', (i) => (i.number = -1))],
  ]
  test.each(cases)('%s', async (_label, make) => {
    const payload = make()
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload)
    await expectInvalidPayload(env, () =>
      env.processor.process({ deliveryId: `bad-issue-${Date.now()}-${Math.random()}`, event: 'issues', payload: text }),
    )
  })
})
