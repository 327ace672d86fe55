// inspectWebhook: the checks process() makes before the database, for an endpoint to use
// at the door. What it accepts, process() accepts; what it rejects, process() rejects with
// the same code.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { inspectWebhook, MAX_PAYLOAD_BYTES, WebhookProcessingError, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'
import { exampleGroups, examplesOf } from './helpers/examples'

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8')
const TRACKED = ['push', 'pull_request', 'issues', 'pull_request_review', 'deployment', 'deployment_status', 'workflow_run', 'workflow_job', 'release']

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookProcessingError)
    return (err as WebhookProcessingError).code
  }
  return undefined
}

describe.each(TRACKED)('%s examples', (event) => {
  test.each(examplesOf(event))('%s is tracked and names its repository', (_label, payload) => {
    const body = JSON.stringify(payload)
    const seen = inspectWebhook(event, body)
    expect(seen).toEqual({
      tracked: true,
      action: (payload.action as string | undefined) ?? null,
      repositoryGithubId: (payload.repository as { id: number }).id,
      senderGithubId: (payload.sender as { id: number }).id,
    })
    // The same answer from bytes and from a parsed object.
    expect(inspectWebhook(event, Buffer.from(body))).toEqual(seen)
    expect(inspectWebhook(event, payload)).toEqual(seen)
  })
})

test('event types no processor tracks are inspected, not rejected', () => {
  const untracked = exampleGroups.filter((g) => !TRACKED.includes(g.name))
  expect(untracked.length).toBeGreaterThan(20)
  for (const group of untracked) {
    for (const payload of group.examples) {
      const seen = inspectWebhook(group.name, JSON.stringify(payload))
      expect(seen.tracked).toBe(false)
      const repo = payload.repository as { id?: number } | undefined
      expect(seen.repositoryGithubId).toBe(repo?.id ?? null)
    }
  }
})

test('bad arguments are INVALID_JOB, not a napi error', () => {
  expect(codeOf(() => inspectWebhook('', '{}'))).toBe('INVALID_JOB')
  expect(codeOf(() => inspectWebhook(42 as unknown as string, '{}'))).toBe('INVALID_JOB')
  expect(codeOf(() => inspectWebhook('push', undefined as unknown as string))).toBe('INVALID_JOB')
})

test('deep nesting on the calling thread: the deepest the parser accepts is read, deeper is INVALID_PAYLOAD', () => {
  // inspectWebhook runs on the JS thread, not on the addon's big-stack runtime threads.
  const fixtureText = fixture('push-event.json')
  const withDeep = (depth: number, event = 'push') =>
    inspectWebhook(event, fixtureText.replace('{', `{"deep":${'['.repeat(depth)}${']'.repeat(depth)},`))
  expect(withDeep(1023).tracked).toBe(true)
  expect(withDeep(1023, 'star').tracked).toBe(false)
  expect(codeOf(() => withDeep(200_000))).toBe('INVALID_PAYLOAD')
})

describe('rejections match process()', () => {
  let db: TestDatabase
  let processor: WebhookProcessor

  beforeAll(async () => {
    db = await createTestDatabase()
    await insertRepository(db.pool)
    processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
  })

  afterAll(async () => {
    await processor.close()
    await db.drop()
  })

  const push = JSON.parse(fixture('push-event.json'))
  const pr = JSON.parse(fixture('pull-request-opened.json'))
  const cases: [string, string, string | Buffer, string][] = [
    ['truncated JSON', 'push', fixture('push-event.json').slice(0, 200), 'INVALID_PAYLOAD'],
    ['invalid UTF-8', 'issues', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 'INVALID_PAYLOAD'],
    ['a wrong-typed field', 'push', JSON.stringify({ ...push, commits: 'none' }), 'INVALID_PAYLOAD'],
    ['a missing pull request', 'pull_request', JSON.stringify({ ...pr, pull_request: undefined }), 'INVALID_PAYLOAD'],
    ['a bad timestamp', 'pull_request', JSON.stringify({ ...pr, pull_request: { ...pr.pull_request, created_at: 'yesterday' } }), 'INVALID_PAYLOAD'],
    ['over 25 MiB', 'push', ' '.repeat(MAX_PAYLOAD_BYTES + 1), 'PAYLOAD_TOO_LARGE'],
  ]

  test.each(cases)('%s', async (_label, event, body, code) => {
    let inspected: WebhookProcessingError | undefined
    try {
      inspectWebhook(event, body)
    } catch (err) {
      inspected = err as WebhookProcessingError
    }
    expect(inspected?.code).toBe(code)
    const outcome = await processor.process({ deliveryId: `inspect-${_label}`, event, payload: body }).then(
      () => undefined,
      (err: WebhookProcessingError) => err,
    )
    expect(outcome?.code).toBe(code)
    // inspectWebhook reads the JS value a second time to describe a failure; the message
    // (with the field path) is the one process() gives.
    expect(inspected?.message).toBe(outcome?.message)
  })

  test('text of every UTF-8 width, and an unpaired surrogate, is read as Node encodes it', async () => {
    // Two-byte JS strings (any character above U+00FF) cross the boundary as UTF-16 and are
    // transcoded in Rust; one-byte strings and Buffers take other paths. All must agree.
    // JSON.stringify would escape the lone surrogate as `\ud83d`; put it in raw.
    const title = 'é ü 中文 🚀 ' + '\uD83D' + ' end'
    const body = JSON.stringify({ ...pr, pull_request: { ...pr.pull_request, title: 'TITLE' } }).replace('TITLE', title)
    const stored = Buffer.from(title).toString('utf8')
    expect(stored).toContain('\uFFFD')
    for (const [label, payload] of [['text', body], ['bytes', Buffer.from(body)]] as const) {
      await db.pool.query('DELETE FROM pull_requests')
      expect(inspectWebhook('pull_request', payload).tracked).toBe(true)
      const result = await processor.process({ deliveryId: `inspect-utf16-${label}`, event: 'pull_request', payload })
      expect(result.status).toBe('processed')
      const { rows } = await db.pool.query('SELECT title FROM pull_requests')
      expect(rows).toEqual([{ title: stored }])
    }
    // A large two-byte string, the case the transcoding is for.
    const many = JSON.stringify({ ...pr, pull_request: { ...pr.pull_request, body: '🚀 ünïcödé '.repeat(100_000) } })
    expect(inspectWebhook('pull_request', many).tracked).toBe(true)
  })

  test('a payload it accepts, process() stores', async () => {
    const body = fixture('pull-request-opened.json')
    expect(inspectWebhook('pull_request', body).tracked).toBe(true)
    const result = await processor.process({ deliveryId: 'inspect-accepted', event: 'pull_request', payload: body })
    expect(result.status).toBe('processed')
  })
})
