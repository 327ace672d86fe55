// Repositories follow GitHub, attacked from outside (docs/repositories.md, docs/reprocess.md):
// each case is a way the feature lost, duplicated or corrupted data, found by trying what the
// contract promises through the built addon, real PostgreSQL and the package's own functions.
import { registerRepository, WebhookProcessor } from '../lib'
import { Client, type Pool } from 'pg'
import { createTestDatabase, type TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { pushPayload, shaOf } from './helpers/pushes'

let db: TestDatabase
let processor: WebhookProcessor
let n = 0

beforeAll(async () => {
  db = await createTestDatabase()
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4, autoRegisterRepositories: true })
})

afterAll(async () => {
  await processor?.close()
  await db?.drop()
})

// Times of the history, all before the real clock (a `npm run register` fact is stamped now()).
const at = (minute: number) => Date.UTC(2026, 11, 7, 9, minute)

const send = (p: WebhookProcessor, event: string, payload: unknown, receivedAt: number, deliveryId = `adv-${++n}`) =>
  p.process({ deliveryId, event, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), receivedAt })

const listed = (id: number, fullName: string) => ({ id, node_id: `R_${id}`, name: fullName.split('/')[1], full_name: fullName, private: false })
const account = (login: string) => ({ login, id: 7_000_001, type: 'Organization' })

const installationCreated = (installationId: number, repos: [number, string][]) => ({
  action: 'created',
  installation: { id: installationId, account: account(repos[0][1].split('/')[0]), repository_selection: 'selected' },
  repositories: repos.map(([id, name]) => listed(id, name)),
  sender: { login: 'octocat', id: 583231, type: 'User' },
})

const removed = (installationId: number, id: number, fullName: string) => ({
  action: 'removed',
  installation: { id: installationId, account: account(fullName.split('/')[0]) },
  repository_selection: 'selected',
  repositories_added: [],
  repositories_removed: [listed(id, fullName)],
  sender: { login: 'octocat', id: 583231, type: 'User' },
})

/** A push of commits `seed`:0..count-1 to the repository, under `installationId` when given. */
const push = (githubId: number, fullName: string, seed: string, count: number, installationId?: number) => {
  const body = JSON.parse(pushPayload({ repoGithubId: githubId, fullName, commits: Array.from({ length: count }, (_, i) => ({ sha: shaOf(seed, i) })) }))
  if (installationId !== undefined) body.installation = { id: installationId, node_id: 'I' }
  return body
}

const commitShas = async (githubId: number) =>
  (
    await db.pool.query(
      `SELECT c.sha FROM commits c JOIN repositories r ON r.id = c."repoId" WHERE r."githubId" = $1 ORDER BY c.sha`,
      [githubId],
    )
  ).rows.map((r) => r.sha)

test('rebuild equals live: reprocessing does not apply the deliveries live processing ignored (received after the removal)', async () => {
  const repo: [number, string] = [90_001, 'adv-one/one']
  await send(processor, 'installation', installationCreated(9_001, [repo]), at(0))
  expect(await send(processor, 'push', push(...repo, 'kept', 2), at(1))).toMatchObject({ status: 'processed', records: { commits: 2 } })
  await send(processor, 'installation_repositories', removed(9_001, ...repo), at(2))
  const late = await send(processor, 'push', push(...repo, 'late', 3), at(3))
  expect(late).toMatchObject({ status: 'ignored', reason: expect.stringContaining('removed from tracking') })
  const live = await commitShas(repo[0])
  expect(live).toHaveLength(2)

  // The operator rebuilds the commits from the stored deliveries.
  await db.pool.query(`DELETE FROM commits WHERE "repoId" = (SELECT id FROM repositories WHERE "githubId" = $1)`, [repo[0]])
  const report = await processor.reprocessEvents({ types: ['push'], repositoryGithubIds: [repo[0]] })
  expect(report).toMatchObject({ complete: true, events: 1 })
  expect(await commitShas(repo[0])).toEqual(live)
})

test('a repository row deleted and registered again while the processor caches its untracked old row: its deliveries are processed into the new row', async () => {
  const repo: [number, string] = [90_002, 'adv-two/two']
  await send(processor, 'installation', installationCreated(9_002, [repo]), at(10))
  await send(processor, 'installation_repositories', removed(9_002, ...repo), at(11))
  // Received after the removal: ignored, and the processor now caches the stopped row.
  expect(await send(processor, 'push', push(...repo, 'stopped', 1), at(12))).toMatchObject({ status: 'ignored' })

  // The backend deletes the row and registers the repository again by hand (another process,
  // so this processor's cache is not told).
  await db.pool.query(`DELETE FROM repositories WHERE "githubId" = $1`, [repo[0]])
  const again = await registerRepository({ fullName: repo[1], githubId: repo[0] }, { pool: db.pool })
  expect(again.created).toBe(true)

  const result = await send(processor, 'push', push(...repo, 'back', 2), Date.now())
  expect(result).toMatchObject({ status: 'processed', repoId: again.id, records: { commits: 2 } })
  expect(await commitShas(repo[0])).toEqual([shaOf('back', 0), shaOf('back', 1)].sort())
})

test('a delivery whose failed attempt is stored, redelivered after its repository was removed: ignored in the row too, not left failed', async () => {
  const repo: [number, string] = [90_003, 'adv-three/three']
  await send(processor, 'installation', installationCreated(9_003, [repo]), at(20))
  // A first attempt that fails (a commit id that is not a SHA): a visible failed row.
  const broken = push(...repo, 'broken', 1)
  broken.commits[0].id = 'not-a-sha'
  await expect(send(processor, 'push', broken, at(21), 'adv-failed-then-ignored')).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' })
  expect((await db.pool.query(`SELECT processed FROM events WHERE "deliveryId" = 'adv-failed-then-ignored'`)).rows).toEqual([{ processed: false }])

  await send(processor, 'installation_repositories', removed(9_003, ...repo), at(22))
  // The redelivery (reconcile, or by hand), received after the removal, is ignored.
  const redelivered = await send(processor, 'push', broken, at(23), 'adv-failed-then-ignored')
  expect(redelivered).toMatchObject({ status: 'ignored', reason: expect.stringContaining('removed from tracking') })
  // So its row says so: processed (nothing more will happen to it), with the reason; a row
  // left `processed = false` is a failed delivery to the monitoring and to reconcile, which
  // would keep asking GitHub to redeliver it.
  const { rows } = await db.pool.query(`SELECT processed, "ignoredReason", "lastError", attempts FROM events WHERE "deliveryId" = 'adv-failed-then-ignored'`)
  expect(rows).toEqual([{ processed: true, ignoredReason: redelivered.reason, lastError: null, attempts: 2 }])
})

test('a delivery that registers its unknown repository but is bad input (INVALID_PAYLOAD) registers nothing', async () => {
  const broken = push(90_004, 'adv-four/four', 'bad', 1, 9_004)
  broken.commits[0].timestamp = 'yesterday'
  await expect(send(processor, 'push', broken, at(30))).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' })
  const count = async (sql: string) => (await db.pool.query(sql)).rows[0].n
  expect(await count(`SELECT count(*)::int AS n FROM repositories WHERE "githubId" = 90004`)).toBe(0)
  expect(await count(`SELECT count(*)::int AS n FROM repository_changes WHERE "repoGithubId" = 90004`)).toBe(0)
  expect(await count(`SELECT count(*)::int AS n FROM github_installations WHERE "githubId" = 9004`)).toBe(0)

  // The first good delivery registers it, and carries its backfill.
  const good = await send(processor, 'push', push(90_004, 'adv-four/four', 'good', 1, 9_004), at(31))
  expect(good).toMatchObject({ status: 'processed', records: { commits: 1 } })
  expect(good.followUps).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'backfill', jobId: `backfill:${good.repoId}:registered` })]))
})

/**
 * `pool` whose statements calling devmetrics_refresh_repository wait until `open` resolves
 * (after calling `reached`): it holds `npm run register` between storing its fact and folding
 * the row, the window a concurrent follow delivery can fall into.
 */
function heldBeforeRefresh(pool: Pool, reached: () => void, open: Promise<void>) {
  const held = async <T>(run: () => Promise<T>, text: string): Promise<T> => {
    if (text.includes('devmetrics_refresh_repository')) {
      reached()
      await open
    }
    return run()
  }
  return {
    query: (text: string, values?: unknown[]) => held(() => pool.query(text, values), text),
    connect: async () => {
      const client = await pool.connect()
      return { query: (text: string, values?: unknown[]) => held(() => client.query(text, values), text), release: () => client.release() }
    },
  }
}

test('npm run register racing a rename: the row ends with the rename (register folds the row under the same lock as the deliveries)', async () => {
  const [githubId, installationId] = [90_005, 9_005]
  await send(processor, 'installation', installationCreated(installationId, [[githubId, 'adv-five/old']]), at(40))
  const lockWaiters = async () =>
    (await db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`, [db.name])).rows[0].n as number

  // 1. Register (by hand, under the old name) stores its fact and is held before its refresh.
  let reached!: () => void
  const atRefresh = new Promise<void>((resolve) => (reached = resolve))
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  let registerDone = false
  const registering = registerRepository(
    { fullName: 'adv-five/old', githubId },
    { pool: heldBeforeRefresh(db.pool, reached, opened) as unknown as Pool },
  ).finally(() => (registerDone = true))
  await atRefresh

  // 2. A rename is processed meanwhile; a transaction holding its delivery id keeps it from
  //    committing (its claim of the events row waits), after its refresh has run.
  const holder = new Client({ connectionString: db.url })
  await holder.connect()
  try {
    await holder.query('BEGIN')
    await holder.query(`INSERT INTO events (id, "deliveryId", type, payload) VALUES ('holder', 'adv-rename', 'repository', '{}')`)
    const renamed = {
      action: 'renamed',
      changes: { repository: { name: { from: 'old' } } },
      repository: { id: githubId, name: 'new', full_name: 'adv-five/new', owner: { login: 'adv-five', id: 7_000_001 }, private: false, archived: false, updated_at: '2026-12-07T09:41:00Z' },
      installation: { id: installationId, node_id: 'I' },
      sender: { login: 'octocat', id: 583231, type: 'User' },
    }
    const renaming = send(processor, 'repository', renamed, at(41), 'adv-rename')
    await eventually(lockWaiters, (n) => n >= 1)

    // 3. Register's refresh goes ahead while the rename's transaction is open: it waits (for
    //    the row, or for the lock), or has finished.
    open()
    await eventually(async () => ({ registerDone, waiters: await lockWaiters() }), (s) => s.registerDone || s.waiters >= 2)

    // 4. The rename commits.
    await holder.query('ROLLBACK')
    expect(await renaming).toMatchObject({ status: 'processed' })
    await registering
  } finally {
    await holder.end()
  }

  const row = async () => (await db.pool.query(`SELECT "fullName", "trackingStoppedAt" FROM repositories WHERE "githubId" = $1`, [githubId])).rows[0]
  const ended = await row()
  // The row is the fold of every stored fact: folding again changes nothing.
  await db.pool.query('SELECT devmetrics_refresh_repository($1)', [githubId])
  expect(ended).toEqual(await row())
  expect(ended).toEqual({ fullName: 'adv-five/new', trackingStoppedAt: null })
})

describe('the backfill of a repository a delivery registered is not lost when that delivery is attempted again', () => {
  const backfillOf = (result: { followUps: { kind: string; jobId: string }[] }) => result.followUps.filter((f) => f.kind === 'backfill').map((f) => f.jobId)

  test('a duplicate of the registering delivery (its first attempt committed, then queueing its jobs failed) carries the backfill again', async () => {
    const body = push(90_006, 'adv-six/six', 'dup', 1, 9_006)
    const first = await send(processor, 'push', body, at(50), 'adv-registers-dup')
    expect(first).toMatchObject({ status: 'processed', records: { commits: 1 } })
    expect(backfillOf(first)).toEqual([`backfill:${first.repoId}:registered`])
    const again = await send(processor, 'push', body, at(50), 'adv-registers-dup')
    expect(again.status).toBe('duplicate')
    expect(backfillOf(again)).toEqual([`backfill:${first.repoId}:registered`])
    // Another delivery of the repository carries none.
    expect(backfillOf(await send(processor, 'push', push(90_006, 'adv-six/six', 'next', 1, 9_006), at(51)))).toEqual([])
  })

  test('an attempt that registered the repository and then failed (its connection killed): the retry carries the backfill', async () => {
    const one = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 1, autoRegisterRepositories: true })
    const holder = new Client({ connectionString: db.url })
    await holder.connect()
    try {
      const body = push(90_007, 'adv-seven/seven', 'killed', 1, 9_007)
      // The delivery's claim waits behind this transaction, after the registration committed.
      await holder.query('BEGIN')
      await holder.query(`INSERT INTO events (id, "deliveryId", type, payload) VALUES ('holder-7', 'adv-registers-killed', 'push', '{}')`)
      let settled = false
      const attempt = send(one, 'push', body, at(60), 'adv-registers-killed').then(
        () => ({ failed: false }),
        (err) => ({ failed: true, code: err.code }),
      ).finally(() => (settled = true))
      // Each connection of the attempt that waits is killed, until the attempt gives up.
      await eventually(
        async () => {
          await db.pool.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> $2`,
            [db.name, (holder as unknown as { processID: number }).processID],
          )
          return settled
        },
        (done) => done,
        { timeoutMs: 30_000 },
      )
      expect(await attempt).toMatchObject({ failed: true })
      await holder.query('ROLLBACK')
      expect((await db.pool.query(`SELECT count(*)::int AS n FROM repositories WHERE "githubId" = 90007`)).rows[0].n).toBe(1)

      const retry = await send(one, 'push', body, at(60), 'adv-registers-killed')
      expect(retry).toMatchObject({ status: 'processed', records: { commits: 1 } })
      expect(backfillOf(retry)).toEqual([`backfill:${retry.repoId}:registered`])
    } finally {
      await holder.end().catch(() => undefined)
      await one.close()
    }
  })
})

test('a NUL in a repository name or an account login is stripped, as everywhere, not a failure', async () => {
  const created = installationCreated(9_008, [[90_008, 'adv-eight/ei\u0000ght']])
  created.installation.account.login = 'adv-\u0000eight'
  expect(await send(processor, 'installation', created, at(70))).toMatchObject({ status: 'processed' })
  const renamed = {
    action: 'renamed',
    repository: { id: 90_008, name: 'nine', full_name: 'adv-eight/ni\u0000ne', owner: { login: 'adv-eight\u0000', id: 7_000_001 }, private: false, updated_at: '2026-12-07T10:11:00Z' },
    installation: { id: 9_008 },
    sender: { login: 'octocat', id: 583231, type: 'User' },
  }
  expect(await send(processor, 'repository', renamed, at(71))).toMatchObject({ status: 'processed' })
  const { rows } = await db.pool.query(
    `SELECT r."fullName", r.owner, i."accountLogin" FROM repositories r JOIN github_installations i ON i."githubId" = r."installationId" WHERE r."githubId" = 90008`,
  )
  expect(rows).toEqual([{ fullName: 'adv-eight/nine', owner: 'adv-eight', accountLogin: 'adv-eight' }])
})
