// Hostile input through the built addon: mutated real payloads as text, bytes and objects,
// nesting the parser refuses, payloads over 25 MiB. Each call resolves or rejects with a
// documented, non-retryable code (docs/errors.md); a rejection writes no entity rows and
// leaves no processed events row; the process stays alive and keeps working. The Rust
// properties in crates/core/tests/fuzz_parse.rs cover far more cases without Node.
//
// HOSTILE_SEED and HOSTILE_CASES change the mutants (defaults: 20241130, 150).
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ERROR_CODES, MAX_PAYLOAD_BYTES, WebhookProcessingError, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, tableCounts, TestDatabase } from './helpers/db'
import { mutants } from './helpers/mutate'

const SEED = Number(process.env.HOSTILE_SEED ?? 20241130)
const CASES = Number(process.env.HOSTILE_CASES ?? 150)

let db: TestDatabase
let processor: WebhookProcessor

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool) // 186853002, the examples' repository
  await insertRepository(db.pool, 17273051, { fullName: 'octo-org/octo-repo' })
  processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4 })
})

afterAll(async () => {
  await processor.close()
  await db.drop()
})

const entityCounts = async () => {
  const { events: _events, ...entities } = await tableCounts(db.pool)
  return entities
}

/** Rows of this delivery in events: processed flags. */
async function eventRows(deliveryId: string): Promise<boolean[]> {
  const { rows } = await db.pool.query('SELECT processed FROM events WHERE "deliveryId" = $1', [deliveryId])
  return rows.map((r) => r.processed)
}

/** What a call did: a status, or the code of its rejection (anything else fails the test). */
async function outcome(event: string, payload: unknown): Promise<{ deliveryId: string; status?: string; code?: string; message?: string }> {
  const deliveryId = randomUUID()
  try {
    const r = await processor.process({ deliveryId, event, payload: payload as string })
    return { deliveryId, status: r.status }
  } catch (err) {
    if (!(err instanceof WebhookProcessingError)) throw err
    return { deliveryId, code: err.code, message: err.message }
  }
}

test(`${CASES} mutated deliveries (seed ${SEED}) each resolve or reject with a documented code, and a rejection writes nothing`, async () => {
  const tally: Record<string, number> = {}
  for (const m of mutants(CASES, SEED)) {
    const before = await entityCounts()
    const r = await outcome(m.event, m.payload)
    const key = r.status ?? r.code!
    tally[key] = (tally[key] ?? 0) + 1
    if (r.code) {
      // Bad input: documented, never retryable, never a bug (INTERNAL), and no rows.
      expect({ label: m.label, code: r.code, documented: ERROR_CODES.includes(r.code as never) }).toEqual({
        label: m.label,
        code: expect.stringMatching(/^(INVALID_PAYLOAD|INVALID_JOB|UNKNOWN_REPOSITORY|CONSTRAINT_VIOLATION|PAYLOAD_TOO_LARGE)$/),
        documented: true,
      })
      expect(r.message!.length).toBeLessThan(512)
      expect({ label: m.label, counts: await entityCounts() }).toEqual({ label: m.label, counts: before })
      expect({ label: m.label, rows: await eventRows(r.deliveryId) }).toEqual({ label: m.label, rows: expect.not.arrayContaining([true]) })
    } else {
      expect({ label: m.label, status: r.status }).toEqual({ label: m.label, status: expect.stringMatching(/^(processed|ignored)$/) })
    }
  }
  console.log(`hostile input, seed ${SEED}: ${JSON.stringify(tally)}`)
  expect(Object.values(tally).reduce((a, b) => a + b, 0)).toBe(CASES)
  expect(tally.INVALID_PAYLOAD).toBeGreaterThan(0)
  expect(tally.processed).toBeGreaterThan(0)
})

describe('nesting', () => {
  const fixture = readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8')
  const withDeep = (depth: number) => fixture.replace('{', `{"deep":${'['.repeat(depth)}${']'.repeat(depth)},`)

  test('200,000 levels are INVALID_PAYLOAD, as text and as bytes', async () => {
    for (const payload of [withDeep(200_000), Buffer.from(withDeep(200_000))]) {
      const r = await outcome('push', payload)
      expect(r).toMatchObject({ code: 'INVALID_PAYLOAD', message: expect.stringContaining('DepthLimitExceeded') })
    }
  })

  test('an object nested 200,000 levels deep, which JSON.stringify cannot serialise, is INVALID_PAYLOAD', async () => {
    let deep: Record<string, unknown> = {}
    for (let i = 0; i < 200_000; i++) deep = { a: deep }
    const r = await outcome('push', { ...JSON.parse(fixture), deep })
    expect(r).toMatchObject({ code: 'INVALID_PAYLOAD' })
  })

  test('1023 levels, the most the parser accepts, in an ignored field are processed', async () => {
    expect(await outcome('push', withDeep(1023))).toMatchObject({ status: 'processed' })
  })
})

test('over 25 MiB is PAYLOAD_TOO_LARGE as text, bytes and object, and writes nothing', async () => {
  const before = await tableCounts(db.pool)
  const pad = 'x'.repeat(MAX_PAYLOAD_BYTES)
  for (const payload of [`{"pad":"${pad}"}`, Buffer.from(`{"pad":"${pad}"}`), { pad }]) {
    expect(await outcome('push', payload)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
  }
  // Under the limit in UTF-16 units, over it in UTF-8 bytes: refused before the copy into native memory.
  const wide = `{"pad":"${'é'.repeat(MAX_PAYLOAD_BYTES / 2)}"}`
  expect(wide.length).toBeLessThan(MAX_PAYLOAD_BYTES)
  expect(await outcome('push', wide)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/^payload is at least \d+ bytes/) })
  expect(await tableCounts(db.pool)).toEqual(before)
})

test('after all of it the process is alive and the processor still works', async () => {
  const fixture = readFileSync(join(__dirname, 'fixtures/push-event.json'))
  expect(await outcome('push', fixture)).toMatchObject({ status: 'processed' })
  expect(processor.stats().errors.INTERNAL).toBeUndefined()
})
