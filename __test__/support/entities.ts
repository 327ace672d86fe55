// Shared by the pull request, issue and review tests: fixtures, the processor per test
// file, and readers of the entity rows.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ProcessingResult, WebhookJobData, WebhookProcessingError, WebhookProcessor } from '../../lib'
import { createTestDatabase, insertRepository, insertTeam, insertUser, tableCounts, TestDatabase } from '../helpers/db'

/** GitHub ids of the people in the fixtures. */
export const OCTOCAT = 583231
export const HUBOT = 480938

/** A fixture of __test__/fixtures, parsed (a fresh copy each call, free to edit). */
export function fixture(name: string): any {
  return JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8'))
}

export interface EntityEnv {
  db: TestDatabase
  processor: WebhookProcessor
  repoId: string
  teamId: string
  /** DevMetrics users linked to octocat (in the team) and hubot. */
  octocatId: string
  hubotId: string
  /** Processes one delivery under a fresh delivery id. */
  send(event: string, payload: unknown, extra?: Partial<WebhookJobData>): Promise<ProcessingResult>
}

let seq = 0

/** A database with the examples' repository in a team and two linked users. */
export async function entityEnv(): Promise<EntityEnv> {
  const db = await createTestDatabase()
  const teamId = await insertTeam(db.pool, 'Platform')
  const repoId = await insertRepository(db.pool, undefined, { teamId })
  const octocatId = await insertUser(db.pool, { email: 'mona@corp.example', githubId: OCTOCAT, githubLogin: 'octocat', teamIds: [teamId] })
  const hubotId = await insertUser(db.pool, { email: 'hubot@corp.example', githubId: HUBOT })
  const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4 })
  return {
    db,
    processor,
    repoId,
    teamId,
    octocatId,
    hubotId,
    send: (event, payload, extra = {}) =>
      processor.process({ deliveryId: `${event}-${++seq}-${Date.now()}`, event, payload: JSON.stringify(payload), ...extra }),
  }
}

export async function closeEnv(env: EntityEnv): Promise<void> {
  await env.processor.close()
  await env.db.drop()
}

/** Row counts of the entity tables (events left out: failures are recorded there). */
export async function entityCounts(env: EntityEnv): Promise<Record<string, number>> {
  const { events: _events, ...entities } = await tableCounts(env.db.pool)
  return entities
}

/** The one row of `table` with this GitHub id, or undefined. */
export async function rowOf(env: EntityEnv, table: 'pull_requests' | 'issues' | 'pull_request_reviews', githubId: number | string) {
  const { rows } = await env.db.pool.query(`SELECT * FROM ${table} WHERE "githubId" = $1`, [githubId])
  return rows[0]
}

/** Expects the call to reject with INVALID_PAYLOAD (not retryable) and write no entity rows. */
export async function expectInvalidPayload(env: EntityEnv, call: () => Promise<unknown>): Promise<WebhookProcessingError> {
  const before = await entityCounts(env)
  let caught: unknown
  try {
    await call()
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(WebhookProcessingError)
  const err = caught as WebhookProcessingError
  expect({ code: err.code, retryable: err.retryable }).toEqual({ code: 'INVALID_PAYLOAD', retryable: false })
  expect(await entityCounts(env)).toEqual(before)
  return err
}

/** `developer:<id>:<date>` and `team:<id>:<date>` of a result's metric jobs, sorted. */
export function jobKeys(result: ProcessingResult): string[] {
  return result.metricJobs.map((j) => `${j.kind}:${j.id}:${j.date}`).sort()
}

let repoSeq = 900_000_000

/** A repository of its own, for payloads that must not share rows with others. */
export async function freshRepository(env: EntityEnv): Promise<string> {
  return insertRepository(env.db.pool, ++repoSeq, { fullName: `octo/r${repoSeq}` })
}
