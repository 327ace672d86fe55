// The pull_request_review processor through the built addon: the original task's cases
// (submitted, reviewer mapping, review states), the slim pull request, first review and
// turnaround, dismissal, every review example GitHub publishes, and rejected payloads.
import { examplesOf } from './helpers/examples'
import {
  closeEnv,
  EntityEnv,
  entityEnv,
  expectInvalidPayload,
  fixture,
  freshRepository,
  HUBOT,
  jobKeys,
  OCTOCAT,
  rowOf,
} from './support/entities'

const PR_ID = 1754321001
const REVIEW_ID = 1923456789
/** 2024-03-04T14:00:00Z (pull request created) → 2024-03-05T10:00:00Z (review submitted). */
const TURNAROUND_SECONDS = 20 * 3600

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

/** The review fixture, changed by `edit` (which receives the whole payload). */
function reviewWith(edit: (payload: any) => void) {
  const payload = fixture('pull-request-review.json')
  edit(payload)
  return payload
}

test('submitted before any pull_request delivery: the slim pull request is upserted and the review links to it', async () => {
  const result = await env.send('pull_request_review', fixture('pull-request-review.json'))
  expect(result).toMatchObject({ status: 'processed', event: 'pull_request_review', action: 'submitted', repoId: env.repoId })
  expect(result.records).toEqual({ commits: 0, pullRequests: 1, issues: 0, reviews: 1, deployments: 0, deploymentStatuses: 0, workflowRuns: 0, workflowJobs: 0, releases: 0 })
  // The reviewer's activity on the submission date (hubot is in no team; the repository's team is).
  expect(jobKeys(result)).toEqual([`developer:${env.hubotId}:2024-03-05`, `team:${env.teamId}:2024-03-05`])
  expect(result.unmappedUsers).toEqual([])

  const pr = await rowOf(env, 'pull_requests', PR_ID)
  expect(pr).toMatchObject({
    state: 'OPEN',
    authorId: env.octocatId,
    additions: 0, // the slim form has no line counts...
    countsUpdatedAt: null, // ...so the row does not claim any
    firstReviewAt: new Date('2024-03-05T10:00:00Z'),
    updatedAt: new Date('2024-03-05T10:00:00Z'),
  })
  expect(await rowOf(env, 'pull_request_reviews', REVIEW_ID)).toMatchObject({
    repoId: env.repoId,
    pullRequestId: pr.id,
    reviewerId: env.hubotId,
    reviewerGithubId: String(HUBOT),
    reviewerLogin: 'hubot',
    reviewerIsBot: false,
    state: 'APPROVED',
    commitId: 'c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1',
    submittedAt: new Date('2024-03-05T10:00:00Z'),
    dismissedAt: null,
    turnaroundSeconds: TURNAROUND_SECONDS,
  })
})

test('pull_request deliveries before and after the review keep one row, the counts and the first review', async () => {
  await env.send('pull_request', fixture('pull-request-opened.json'))
  await env.send('pull_request_review', fixture('pull-request-review.json'))
  await env.send('pull_request', fixture('pull-request-merged.json'))
  const { rows } = await env.db.pool.query('SELECT count(*)::int AS n FROM pull_requests')
  expect(rows[0].n).toBe(1)
  expect(await rowOf(env, 'pull_requests', PR_ID)).toMatchObject({
    state: 'MERGED',
    additions: 251,
    firstReviewAt: new Date('2024-03-05T10:00:00Z'),
  })
})

test.each([
  ['approved', 'APPROVED'],
  ['changes_requested', 'CHANGES_REQUESTED'],
  ['commented', 'COMMENTED'],
  ['dismissed', 'DISMISSED'],
  ['APPROVED', 'APPROVED'], // the REST spelling is accepted too
])('review state %s is stored as %s', async (state, stored) => {
  await env.send('pull_request_review', reviewWith((p) => (p.review.state = state)))
  expect((await rowOf(env, 'pull_request_reviews', REVIEW_ID)).state).toBe(stored)
})

test('dismissed: terminal, with dismissedAt = the received time of the dismissal', async () => {
  await env.send('pull_request_review', fixture('pull-request-review.json'))
  const dismissal = reviewWith((p) => {
    p.action = 'dismissed'
    p.review.state = 'dismissed'
  })
  const dismissed = await env.send('pull_request_review', dismissal, { receivedAt: '2024-03-05T11:22:33.444Z' })
  expect(dismissed.records.reviews).toBe(1)
  // A late redelivery of the submission does not undo it.
  const late = await env.send('pull_request_review', fixture('pull-request-review.json'))
  expect(late.records.reviews).toBe(0)
  expect(await rowOf(env, 'pull_request_reviews', REVIEW_ID)).toMatchObject({
    state: 'DISMISSED',
    dismissedAt: new Date('2024-03-05T11:22:33.444Z'),
    submittedAt: new Date('2024-03-05T10:00:00Z'),
  })
})

test('firstReviewAt ignores self-reviews and bots and keeps the earliest of the others', async () => {
  const review = (id: number, user: object, at: string) =>
    reviewWith((p) => {
      p.review = { ...p.review, id, user: { ...p.review.user, ...user }, submitted_at: at }
      p.pull_request.updated_at = at
    })
  await env.send('pull_request_review', review(1, { login: 'octocat', id: OCTOCAT }, '2024-03-04T15:00:00Z'))
  await env.send('pull_request_review', review(2, { login: 'renovate[bot]', id: 29139614, type: 'Bot' }, '2024-03-04T16:00:00Z'))
  expect((await rowOf(env, 'pull_requests', PR_ID)).firstReviewAt).toBeNull()
  await env.send('pull_request_review', review(3, { login: 'hubot', id: HUBOT }, '2024-03-05T09:00:00Z'))
  const stranger = await env.send('pull_request_review', review(4, { login: 'stranger', id: 99 }, '2024-03-04T20:00:00Z'))
  expect(stranger.unmappedUsers).toEqual(['stranger'])
  expect((await rowOf(env, 'pull_requests', PR_ID)).firstReviewAt).toEqual(new Date('2024-03-04T20:00:00Z'))
  expect(await rowOf(env, 'pull_request_reviews', 2)).toMatchObject({ reviewerIsBot: true, reviewerId: null })
  expect(await rowOf(env, 'pull_request_reviews', 4)).toMatchObject({ reviewerLogin: 'stranger', reviewerId: null, turnaroundSeconds: 6 * 3600 })
})

test('a review by a deleted account with no submission time is stored without reviewer or times', async () => {
  const result = await env.send(
    'pull_request_review',
    reviewWith((p) => Object.assign(p.review, { user: null, submitted_at: null, state: 'commented' })),
  )
  expect(result.records.reviews).toBe(1)
  expect(result.metricJobs).toEqual([])
  expect(await rowOf(env, 'pull_request_reviews', REVIEW_ID)).toMatchObject({
    reviewerId: null,
    reviewerGithubId: null,
    reviewerLogin: null,
    submittedAt: null,
    turnaroundSeconds: null,
  })
  expect((await rowOf(env, 'pull_requests', PR_ID)).firstReviewAt).toBeNull()
})

describe('every pull_request_review example of @octokit/webhooks-examples', () => {
  // Each in a repository of its own: two examples name pull request #2 under different ids.
  test.each(examplesOf('pull_request_review'))('%s', async (_label, payload) => {
    const repoId = await freshRepository(env)
    const result = await env.send('pull_request_review', payload, { repoId })
    expect(result).toMatchObject({ status: 'processed', action: payload.action, repoId })
    const { review, pull_request: pr } = payload as any
    const row = await rowOf(env, 'pull_request_reviews', review.id)
    expect(row).toMatchObject({ state: review.state.toUpperCase(), reviewerLogin: review.user.login })
    expect(await rowOf(env, 'pull_requests', pr.id)).toMatchObject({ id: row.pullRequestId, number: pr.number })
  })
})

describe('bad pull_request_review payloads are INVALID_PAYLOAD and write no entity rows', () => {
  const cases: [string, () => unknown][] = [
    ['not JSON', () => '{"action":"submitted","review":'],
    ['no review', () => reviewWith((p) => delete p.review)],
    ['no pull_request', () => reviewWith((p) => delete p.pull_request)],
    ['a pending state', () => reviewWith((p) => (p.review.state = 'pending'))],
    ['a numeric state', () => reviewWith((p) => (p.review.state = 1))],
    ['an unparseable submitted_at', () => reviewWith((p) => (p.review.submitted_at = 'soon'))],
    ['a pull request without created_at', () => reviewWith((p) => delete p.pull_request.created_at)],
  ]
  test.each(cases)('%s', async (_label, make) => {
    const payload = make()
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload)
    await expectInvalidPayload(env, () =>
      env.processor.process({ deliveryId: `bad-review-${Date.now()}-${Math.random()}`, event: 'pull_request_review', payload: text }),
    )
  })
})
