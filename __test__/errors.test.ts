// Bad input gets a documented code, writes no entity rows, and never crashes Node.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ERROR_CODES, MAX_PAYLOAD_BYTES, WebhookProcessingError, WebhookProcessor, migrate } from '../lib'
import { createTestDatabase, insertRepository, tableCounts, TestDatabase } from './helpers/db'
import { freePort } from './helpers/redis'

const fixture = readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8')

let db: TestDatabase
let processor: WebhookProcessor

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
  processor = await WebhookProcessor.connect({ databaseUrl: db.url })
})

afterAll(async () => {
  await processor.close()
  await db.drop()
})

/** Runs `fn`, expects a WebhookProcessingError with `code`, and returns it. */
async function rejection(fn: () => Promise<unknown>, code: string): Promise<WebhookProcessingError> {
  let caught: unknown
  try {
    await fn()
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(WebhookProcessingError)
  const err = caught as WebhookProcessingError
  expect(err.name).toBe('WebhookProcessingError')
  expect({ code: err.code, message: err.message }).toEqual({ code, message: expect.any(String) })
  expect(err.retryable).toBe(['DATABASE_UNAVAILABLE', 'DATABASE_ERROR', 'PROCESSOR_CLOSED'].includes(code))
  return err
}

const entityCounts = async () => {
  const { events: _events, ...entities } = await tableCounts(db.pool)
  return entities
}

describe('the job envelope is INVALID_JOB', () => {
  const cases: [string, unknown][] = [
    ['an empty job', {}],
    ['null', null],
    ['a string', 'push'],
    ['no payload', { deliveryId: 'd', event: 'push' }],
    ['a null payload', { deliveryId: 'd', event: 'push', payload: null }],
    ['an empty payload', { deliveryId: 'd', event: 'push', payload: '' }],
    ['a numeric payload', { deliveryId: 'd', event: 'push', payload: 42 }],
    ['a numeric deliveryId', { deliveryId: 7, event: 'push', payload: fixture }],
    ['a blank event', { deliveryId: 'd', event: ' ', payload: fixture }],
    ['an event that is no GitHub event name', { deliveryId: 'd', event: 'Push; DROP', payload: fixture }],
    ['a non-string repoId', { deliveryId: 'd', event: 'push', payload: fixture, repoId: 5 }],
    ['an unparseable receivedAt', { deliveryId: 'd', event: 'push', payload: fixture, receivedAt: 'yesterday' }],
    ['an out-of-range receivedAt', { deliveryId: 'd', event: 'push', payload: fixture, receivedAt: 1e20 }],
  ]
  test.each(cases)('%s', async (_label, job) => {
    const before = await tableCounts(db.pool)
    await rejection(() => processor.process(job as never), 'INVALID_JOB')
    expect(await tableCounts(db.pool)).toEqual(before)
  })
})

describe('bad payloads are INVALID_PAYLOAD and write no entity rows', () => {
  const cases: [string, string | object][] = [
    ['malformed JSON', '{"ref": "refs/heads/main", "commits": ['],
    ['not an object', '[1, 2, 3]'],
    ['a wrong-typed field', { ...JSON.parse(fixture), commits: 'none' }],
    ['a missing required field', { ...JSON.parse(fixture), repository: undefined }],
    ['a null commit timestamp', { ...JSON.parse(fixture), commits: [{ ...JSON.parse(fixture).commits[0], timestamp: null }] }],
    ['an unparseable commit timestamp', { ...JSON.parse(fixture), commits: [{ ...JSON.parse(fixture).commits[0], timestamp: 'soon' }] }],
    ['a commit id that is no SHA', { ...JSON.parse(fixture), commits: [{ ...JSON.parse(fixture).commits[0], id: 'HEAD' }] }],
    ['invalid UTF-8', '{"ref":"\xff"}'],
  ]
  test.each(cases)('%s', async (label, payload) => {
    const before = await entityCounts()
    const body = label === 'invalid UTF-8' ? Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]) : payload
    const err = await rejection(() => processor.process({ deliveryId: `bad-${label}`, event: 'push', payload: body }), 'INVALID_PAYLOAD')
    expect(err.message.length).toBeGreaterThan(10)
    expect(await entityCounts()).toEqual(before)
  })

  test('a failed delivery of a known repository is visible as an unprocessed event row', async () => {
    const payload = { ...JSON.parse(fixture), commits: [{ ...JSON.parse(fixture).commits[0], timestamp: 'soon' }] }
    await rejection(() => processor.process({ deliveryId: 'visible-failure', event: 'push', payload }), 'INVALID_PAYLOAD')
    await rejection(() => processor.process({ deliveryId: 'visible-failure', event: 'push', payload }), 'INVALID_PAYLOAD')
    const { rows } = await db.pool.query(`SELECT processed, attempts, "lastError" FROM events WHERE "deliveryId" = 'visible-failure'`)
    expect(rows).toEqual([{ processed: false, attempts: 2, lastError: expect.stringContaining('INVALID_PAYLOAD') }])
    // A corrected redelivery of the same delivery is processed, not treated as a duplicate.
    const ok = await processor.process({ deliveryId: 'visible-failure', event: 'push', payload: fixture })
    expect(ok.status).toBe('processed')
    const after = await db.pool.query(`SELECT processed, attempts, "lastError" FROM events WHERE "deliveryId" = 'visible-failure'`)
    expect(after.rows).toEqual([{ processed: true, attempts: 3, lastError: null }])
  })
})

test('a payload over 25 MiB is PAYLOAD_TOO_LARGE, as text and as bytes', async () => {
  const big = `{"pad":"${'x'.repeat(MAX_PAYLOAD_BYTES)}"}`
  await rejection(() => processor.process({ deliveryId: 'big-1', event: 'push', payload: big }), 'PAYLOAD_TOO_LARGE')
  await rejection(() => processor.process({ deliveryId: 'big-2', event: 'push', payload: Buffer.from(big) }), 'PAYLOAD_TOO_LARGE')
})

test('a tracked event of an unknown repository is UNKNOWN_REPOSITORY and writes nothing', async () => {
  const before = await tableCounts(db.pool)
  const payload = { ...JSON.parse(fixture), repository: { id: 999_999_999, full_name: 'someone/else' } }
  await rejection(() => processor.process({ deliveryId: 'unknown-repo', event: 'push', payload }), 'UNKNOWN_REPOSITORY')
  await rejection(
    () => processor.process({ deliveryId: 'unknown-repo-id', event: 'push', payload: fixture, repoId: 'no-such-repo' }),
    'UNKNOWN_REPOSITORY',
  )
  expect(await tableCounts(db.pool)).toEqual(before)
})

test('an event type no processor tracks is ignored: stored when its repository is known, never an error', async () => {
  const star = { action: 'created', repository: { id: 186853002 }, sender: { id: 1, login: 'x' } }
  const stored = await processor.process({ deliveryId: 'star-1', event: 'star', payload: star })
  expect(stored).toMatchObject({ status: 'ignored', action: 'created', eventId: expect.any(String) })
  const other = await processor.process({ deliveryId: 'star-2', event: 'star', payload: { ...star, repository: { id: 1 } } })
  expect(other).toMatchObject({ status: 'ignored', eventId: null, repoId: null })
  const { rows } = await db.pool.query(`SELECT "deliveryId", processed FROM events WHERE type = 'star'`)
  expect(rows).toEqual([{ deliveryId: 'star-1', processed: true }])
  // Parsing comes before the event type: malformed JSON is rejected even for untracked types.
  await rejection(() => processor.process({ deliveryId: 'star-3', event: 'star', payload: '{' }), 'INVALID_PAYLOAD')
})

describe('connect', () => {
  test.each([
    ['no options', undefined],
    ['no databaseUrl', {}],
    ['a zero pool', { databaseUrl: 'postgres://x@127.0.0.1/x', maxConnections: 0 }],
    ['a fractional TTL', { databaseUrl: 'postgres://x@127.0.0.1/x', userCacheTtlSeconds: 1.5 }],
    ['a URL that is no URL', { databaseUrl: 'not a url' }],
  ])('rejects %s with CONFIG_ERROR', async (_label, options) => {
    await rejection(() => WebhookProcessor.connect(options as never), 'CONFIG_ERROR')
  })

  test('an unreachable database is DATABASE_UNAVAILABLE (retryable), with no password in the message', async () => {
    const err = await rejection(
      () => WebhookProcessor.connect({ databaseUrl: 'postgres://postgres:s3cret@127.0.0.1:1/none' }),
      'DATABASE_UNAVAILABLE',
    )
    expect(err.message).not.toContain('s3cret')
  })

  test('a redisUrl the client cannot use is CONFIG_ERROR, with no password in the message', async () => {
    const err = await rejection(
      () => WebhookProcessor.connect({ databaseUrl: db.url, redisUrl: 'redis://:s3cret@127.0.0.1:notaport/0' }),
      'CONFIG_ERROR',
    )
    expect(err.message).not.toContain('s3cret')
  })

  test("the addon's own log (stderr) names an unreachable Redis without its password", async () => {
    // A process of its own, to read what the addon writes to stderr.
    const redisUrl = `redis://:s3cret@127.0.0.1:${await freePort()}`
    const script = `
      const { WebhookProcessor } = require(${JSON.stringify(join(__dirname, '..', 'lib'))})
      WebhookProcessor.connect({ databaseUrl: process.env.DB, redisUrl: process.env.REDIS })
        .then(async (p) => { await p.getUserIdByGithubId(1); await p.close() })`
    const { stderr } = await promisify(execFile)(process.execPath, ['-e', script], {
      env: { ...process.env, DB: db.url, REDIS: redisUrl, DEVMETRICS_LOG: 'warn', NO_COLOR: '1' },
    })
    expect(stderr).toContain('Redis user cache unavailable')
    expect(stderr).not.toContain('s3cret')
  })

  test('a database without our schema is SCHEMA_MISMATCH naming what is missing', async () => {
    const empty = await createTestDatabase({ migrated: false })
    try {
      await empty.pool.query('CREATE TABLE events (id TEXT PRIMARY KEY)')
      const err = await rejection(() => WebhookProcessor.connect({ databaseUrl: empty.url }), 'SCHEMA_MISMATCH')
      expect(err.message).toContain('events.deliveryId')
      expect(err.message).toContain('table commits')
      await migrate(empty.url).catch(() => undefined)
    } finally {
      await empty.drop()
    }
  })
})

test('after close every call rejects PROCESSOR_CLOSED, which is retryable', async () => {
  const own = await WebhookProcessor.connect({ databaseUrl: db.url })
  await own.close()
  await rejection(() => own.process({ deliveryId: 'late', event: 'push', payload: fixture }), 'PROCESSOR_CLOSED')
  await rejection(() => own.getUserIdByGithubId(1), 'PROCESSOR_CLOSED')
  await own.close() // closing twice is fine
})

test('close waits for in-flight calls', async () => {
  const own = await WebhookProcessor.connect({ databaseUrl: db.url })
  const inFlight = Array.from({ length: 8 }, (_, i) => own.process({ deliveryId: `inflight-${i}`, event: 'push', payload: fixture }))
  await own.close()
  const results = await Promise.allSettled(inFlight)
  expect(results.map((r) => r.status)).toEqual(Array(8).fill('fulfilled'))
})

test('stats count outcomes by status and error code', async () => {
  const s = processor.stats()
  expect(s.failed).toBeGreaterThan(0)
  expect(s.errors.INVALID_PAYLOAD).toBeGreaterThan(0)
  expect(s.errors.UNKNOWN_REPOSITORY).toBe(2)
  expect(s.latencyMicros.count).toBe(s.processed + s.duplicate + s.ignored + s.failed)
  expect(s.latencyMicros.p50).toBeLessThanOrEqual(s.latencyMicros.p99)
})

test('the exported codes are the documented ones', () => {
  expect([...ERROR_CODES].sort()).toEqual(
    [
      'CONFIG_ERROR', 'CONSTRAINT_VIOLATION', 'DATABASE_ERROR', 'DATABASE_UNAVAILABLE', 'INTERNAL', 'INVALID_JOB',
      'INVALID_PAYLOAD', 'PAYLOAD_TOO_LARGE', 'PROCESSOR_CLOSED', 'SCHEMA_MISMATCH', 'UNKNOWN_REPOSITORY',
      'GITHUB_RATE_LIMITED', 'GITHUB_UNAVAILABLE', 'GITHUB_NOT_FOUND', 'GITHUB_AUTH', 'GITHUB_ERROR',
    ].sort(),
  )
})
