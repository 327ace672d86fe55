// Reconcile: only a redelivery GitHub refuses for good (422, 404, 410) is settled. A 403 on the
// redelivery request (the App or token lacks the webhooks write permission, or lost access)
// says nothing about the delivery: once the permission is fixed the next run must ask again,
// so the cursor must not pass it (it did: every non-retryable error was settled and the
// delivery was lost for good).
import { runReconcile } from '../lib'
import { insertRepository } from './helpers/db'
import { recoveryEnv, RecoveryEnv } from './recovery/github-env'

const REPO_ID = 61_500_101
const HOOK = { kind: 'repo' as const, owner: 'acme', repo: 'forbidden', hookId: 8 }
const TARGET = { repo: 'acme/forbidden', hookId: 8 }
const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString()

let env: RecoveryEnv

beforeAll(async () => {
  env = await recoveryEnv()
  await insertRepository(env.db.pool, REPO_ID, { fullName: 'acme/forbidden' })
  env.server.world.addRepository({ owner: 'acme', name: 'forbidden', id: REPO_ID })
})

afterAll(async () => {
  await env.close()
})

afterEach(() => env.server.assertNoViolations())

test('a redelivery answered 403 is asked for again once the permission is fixed', async () => {
  const w = env.server.world
  const missed = w.addDelivery(TARGET, { event: 'push', status_code: 502, repository_id: REPO_ID, delivered_at: ago(60) })
  const ctx = { client: env.client, pool: env.db.pool, hooks: [HOOK] }

  const forbidden = env.server.failWhile((r) => r.method === 'POST' && /\/deliveries\/\d+\/attempts$/.test(r.path), 403)
  const first = await runReconcile({ data: {} }, ctx)
  forbidden.stop()
  expect(first.hooks[0].deliveries.map((d) => [d.guid, d.outcome])).toEqual([[missed.guid, 'redelivery refused: GITHUB_AUTH 403']])

  const second = await runReconcile({ data: {} }, ctx)
  expect(second.hooks[0].deliveries.map((d) => [d.guid, d.outcome])).toEqual([[missed.guid, 'redelivered']])
  expect(w.deliveriesOf(TARGET)!.filter((d) => d.redelivery).map((d) => d.guid)).toEqual([missed.guid])
})
