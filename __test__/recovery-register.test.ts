// Registering a repository (issue 16): the step the DevMetrics backend calls from its
// repository settings, and `npm run register` runs. The GitHub id is looked up through the API
// when none is given; registering again updates the row; bad input writes nothing.
import { registerRepository } from '../lib'
import { recoveryEnv, RecoveryEnv, requestsTo } from './recovery/github-env'

let env: RecoveryEnv

beforeAll(async () => {
  env = await recoveryEnv()
  env.server.world.addRepository({ owner: 'Acme', name: 'Widgets', id: 63_000_001 })
})

afterAll(async () => {
  await env.close()
})

const repositories = async () => (await env.db.pool.query('SELECT "githubId"::int AS "githubId", "fullName", "teamId" FROM repositories ORDER BY "fullName"')).rows

test('without an id, the id and the canonical name come from the API; a team is created by name', async () => {
  const r = await registerRepository({ fullName: 'acme/widgets', teamName: 'Platform' }, { pool: env.db.pool, client: env.client })
  expect(r).toMatchObject({ githubId: 63_000_001, fullName: 'Acme/Widgets', created: true })
  expect(requestsTo(env.server, 'GET', /^\/repos\/acme\/widgets$/i)).toHaveLength(1)
  const team = await env.db.pool.query('SELECT id, name FROM teams')
  expect(team.rows).toEqual([{ id: r.teamId, name: 'Platform' }])
  // A delivery of that repository is now accepted.
  const result = await env.processor.process({
    deliveryId: 'register-1',
    event: 'issues',
    payload: JSON.stringify({
      action: 'opened',
      issue: { id: 1, number: 1, title: 'T', state: 'open', user: { id: 3, login: 'mona' }, created_at: '2026-11-30T10:00:00Z', updated_at: '2026-11-30T10:00:00Z' },
      repository: { id: 63_000_001 },
    }),
  })
  expect(result).toMatchObject({ status: 'processed', repoId: r.id })
})

test('registering again updates the name and keeps the team unless another is given; with an id no request is made', async () => {
  const before = env.server.requests.length
  const again = await registerRepository({ fullName: 'acme/widgets-renamed', githubId: 63_000_001 }, { pool: env.db.pool })
  expect(again.created).toBe(false)
  expect(env.server.requests.length).toBe(before)
  const rows = await repositories()
  expect(rows).toHaveLength(1)
  expect(rows[0]).toMatchObject({ fullName: 'acme/widgets-renamed' })
  expect(rows[0].teamId).not.toBeNull()
  const other = await registerRepository({ fullName: 'acme/tools', githubId: '63000002', teamName: 'Platform' }, { pool: env.db.pool })
  expect(other.teamId).toBe(rows[0].teamId)
})

test('bad input is refused with a documented code and writes nothing', async () => {
  const before = await repositories()
  const teams = (await env.db.pool.query('SELECT count(*)::int AS n FROM teams')).rows[0].n
  await expect(registerRepository({ fullName: 'no-slash' }, { pool: env.db.pool })).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(registerRepository({ fullName: 'a/b', githubId: -4 }, { pool: env.db.pool })).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(registerRepository({ fullName: 'a/b', teamName: '' }, { pool: env.db.pool })).rejects.toMatchObject({ code: 'INVALID_JOB' })
  await expect(registerRepository({ fullName: 'a/b' }, { pool: env.db.pool })).rejects.toMatchObject({ code: 'CONFIG_ERROR' })
  await expect(registerRepository({ fullName: 'acme/missing' }, { pool: env.db.pool, client: env.client })).rejects.toMatchObject({ code: 'GITHUB_NOT_FOUND' })
  await expect(registerRepository({ fullName: 'a/b', githubId: 5 }, {} as never)).rejects.toMatchObject({ code: 'CONFIG_ERROR' })
  expect(await repositories()).toEqual(before)
  expect((await env.db.pool.query('SELECT count(*)::int AS n FROM teams')).rows[0].n).toBe(teams)
})
