// Reconcile (issue 22, item 7): redeliveries GitHub refuses (422, and it records no attempt for
// them, so the give-up after maxAttempts never counts them) must not take every run's budget
// while a newer missing delivery waits: a refused delivery is settled (reported, not asked for
// again by the next run), and the newer one is redelivered by the next run.
import { runReconcile } from '../lib'
import { insertRepository } from './helpers/db'
import { recoveryEnv, RecoveryEnv, requestsTo } from './recovery/github-env'

const REPO_ID = 61_500_001
const HOOK = { kind: 'repo' as const, owner: 'acme', repo: 'refused', hookId: 7 }
const TARGET = { repo: 'acme/refused', hookId: 7 }
const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString()

let env: RecoveryEnv

beforeAll(async () => {
  env = await recoveryEnv()
  await insertRepository(env.db.pool, REPO_ID, { fullName: 'acme/refused' })
  env.server.world.addRepository({ owner: 'acme', name: 'refused', id: REPO_ID })
})

afterAll(async () => {
  await env.close()
})

afterEach(() => env.server.assertNoViolations())

test('refused redeliveries are asked for once; a newer missing delivery gets the next run', async () => {
  const w = env.server.world
  const refused = new Set<string>()
  for (let i = 0; i < 5; i++) {
    const d = w.addDelivery(TARGET, { event: 'push', status_code: 502, repository_id: REPO_ID, delivered_at: ago(600 - i) })
    refused.add(d.guid)
  }
  const newer = w.addDelivery(TARGET, { event: 'issues', action: 'opened', status_code: 502, repository_id: REPO_ID, delivered_at: ago(30) })
  w.refusesRedelivery = (d) => refused.has(d.guid)
  const ctx = { client: env.client, pool: env.db.pool, hooks: [HOOK] }

  const first = await runReconcile({ data: { maxRedeliveries: 5 } }, ctx)
  expect(first.hooks[0].deliveries.filter((d) => refused.has(d.guid)).map((d) => d.outcome)).toEqual(Array(5).fill('redelivery refused: GITHUB_NOT_FOUND 422'))
  expect(first.hooks[0].deliveries.find((d) => d.guid === newer.guid)!.outcome).toBe("over this run's limit")

  const second = await runReconcile({ data: { maxRedeliveries: 5 } }, ctx)
  expect(second.hooks[0].deliveries.map((d) => [d.guid, d.outcome])).toEqual([[newer.guid, 'redelivered']])
  // Each refused delivery was asked for once in all.
  const posts = requestsTo(env.server, 'POST', /\/deliveries\/\d+\/attempts$/)
  expect(posts).toHaveLength(6)
  expect(w.deliveriesOf(TARGET)!.filter((d) => d.redelivery).map((d) => d.guid)).toEqual([newer.guid])
})
