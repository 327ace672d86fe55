// Every event type of @octokit/webhooks-examples that no processor tracks is answered
// `ignored` without error: stored as processed when its repository is known, not stored
// otherwise, and never writing entity rows or asking for metric jobs.
import { WebhookProcessor } from '../lib'
import { createTestDatabase, EXAMPLES_REPO_GITHUB_ID, insertRepository, tableCounts, TestDatabase } from './helpers/db'
import { exampleGroups } from './helpers/examples'

// installation, installation_repositories and repository: repositories follow GitHub (repos-follow.test.ts).
const TRACKED = ['push', 'pull_request', 'issues', 'pull_request_review', 'deployment', 'deployment_status', 'workflow_run', 'workflow_job', 'release', 'installation', 'installation_repositories', 'repository']

let db: TestDatabase
let processor: WebhookProcessor
let repoId: string

beforeAll(async () => {
  db = await createTestDatabase()
  repoId = await insertRepository(db.pool)
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
})

afterAll(async () => {
  await processor.close()
  await db.drop()
})

const untracked = exampleGroups.filter((g) => !TRACKED.includes(g.name))
const cases = untracked.flatMap((g) =>
  g.examples.map((payload, i): [string, string, Record<string, unknown>] => [`${g.name} #${i} ${String(payload.action ?? '')}`, g.name, payload]),
)

test('the examples cover many untracked event types', () => {
  // 49 since deployment, deployment_status, workflow_run, workflow_job and release are tracked.
  expect(untracked.length).toBeGreaterThanOrEqual(45)
})

test.each(cases)('%s is ignored', async (_label, event, payload) => {
  const deliveryId = `ignored-${event}-${Math.random()}`
  const result = await processor.process({ deliveryId, event, payload: JSON.stringify(payload) })
  const repository = payload.repository as { id?: number } | undefined
  const known = repository?.id === EXAMPLES_REPO_GITHUB_ID
  expect(result).toMatchObject({
    status: 'ignored',
    deliveryId,
    event,
    action: typeof payload.action === 'string' ? payload.action : null,
    repoId: known ? repoId : null,
    records: { commits: 0, pullRequests: 0, issues: 0, reviews: 0 },
    metricJobs: [],
    unmappedUsers: [],
  })
  if (known) expect(result.eventId).toEqual(expect.any(String))
  else expect(result.eventId).toBeNull()
})

test('no entity rows were written', async () => {
  const { events, ...entities } = await tableCounts(db.pool)
  expect(entities).toEqual({ commits: 0, pull_requests: 0, issues: 0, pull_request_reviews: 0 })
  expect(events).toBeGreaterThan(0)
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM events WHERE NOT processed')
  expect(rows[0].n).toBe(0)
})
