// Installation and repository ids out of range in the follow events (docs/repositories.md):
// GitHub's ids start at 1, so an `installation`, `installation_repositories` or `repository`
// delivery naming 0 or a negative id is INVALID_PAYLOAD and writes nothing, as a deployment
// or workflow id out of range is. They were processed, registering repository rows under
// installation 0 or recording facts about repository -1.
import { WebhookProcessor } from '../lib'
import { createTestDatabase, TestDatabase } from './helpers/db'
import { exampleGroups } from './helpers/examples'

let db: TestDatabase
let processor: WebhookProcessor

beforeAll(async () => {
  db = await createTestDatabase()
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2, autoRegisterRepositories: true })
})

afterAll(async () => {
  await processor?.close()
  await db?.drop()
})

const example = (event: string, action: string): Record<string, any> =>
  JSON.parse(JSON.stringify(exampleGroups.find((g) => g.name === event)!.examples.find((e) => e.action === action)))

async function counts() {
  const n = async (table: string) => (await db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n
  return { events: await n('events'), repositories: await n('repositories'), changes: await n('repository_changes') }
}

const cases: [string, string, (p: Record<string, any>) => Record<string, any>][] = [
  ['installation created with installation id 0', 'installation', (p) => ({ ...p, installation: { ...p.installation, id: 0 } })],
  ['installation created with a negative installation id', 'installation', (p) => ({ ...p, installation: { ...p.installation, id: -3 } })],
  ['installation created listing repository id 0', 'installation', (p) => ({ ...p, repositories: [{ ...p.repositories[0], id: 0 }] })],
  [
    'installation_repositories removing repository -1',
    'installation_repositories',
    (p) => ({ ...p, repositories_removed: [{ ...p.repositories_removed[0], id: -1 }] }),
  ],
  ['repository renamed under installation -1', 'repository', (p) => ({ ...p, installation: { id: -1 } })],
]
const actions: Record<string, string> = { installation: 'created', installation_repositories: 'removed', repository: 'renamed' }

test.each(cases)('%s: INVALID_PAYLOAD, nothing written', async (label, event, mutate) => {
  const before = await counts()
  const payload = mutate(example(event, actions[event]))
  await expect(processor.process({ deliveryId: `ids-${label}`, event, payload: JSON.stringify(payload) })).rejects.toMatchObject({
    code: 'INVALID_PAYLOAD',
  })
  const after = await counts()
  expect({ repositories: after.repositories, changes: after.changes }).toEqual({ repositories: before.repositories, changes: before.changes })
})
