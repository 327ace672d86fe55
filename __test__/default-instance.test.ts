// processWebhook(job.data): the module-level default instance, as the backend's worker calls it.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { closeDefaultProcessor, processWebhook, WebhookProcessingError } from '../lib'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'

const fixture = readFileSync(join(__dirname, 'fixtures/push-event.json'), 'utf8')
const savedUrl = process.env.DATABASE_URL

let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase()
  await insertRepository(db.pool)
})

afterAll(async () => {
  await closeDefaultProcessor()
  process.env.DATABASE_URL = savedUrl
  await db.drop()
})

test('without DATABASE_URL it rejects CONFIG_ERROR, and validates the job first', async () => {
  delete process.env.DATABASE_URL
  await expect(processWebhook({ deliveryId: 'a', event: 'push', payload: fixture })).rejects.toMatchObject({
    name: 'WebhookProcessingError',
    code: 'CONFIG_ERROR',
    retryable: false,
  })
  await expect(processWebhook({} as never)).rejects.toBeInstanceOf(WebhookProcessingError)
  await expect(processWebhook({} as never)).rejects.toMatchObject({ code: 'INVALID_JOB' })
})

test('connects from DATABASE_URL once and processes job.data as Bull delivers it', async () => {
  process.env.DATABASE_URL = db.url
  // Bull stores job.data as JSON: the raw body travels as a string.
  const jobData = JSON.parse(JSON.stringify({ deliveryId: 'default-1', event: 'push', payload: fixture, receivedAt: Date.now() }))
  const [first, second] = await Promise.all([processWebhook(jobData), processWebhook({ ...jobData, deliveryId: 'default-2' })])
  expect([first.status, second.status]).toEqual(['processed', 'processed'])
  // Both carry the same three commits; together they insert each exactly once.
  expect(first.records.commits + second.records.commits).toBe(3)
  expect((await processWebhook(jobData)).status).toBe('duplicate')
})

test('closeDefaultProcessor closes it; the next call opens a new one', async () => {
  await closeDefaultProcessor()
  const again = await processWebhook({ deliveryId: 'default-3', event: 'push', payload: fixture })
  expect(again.status).toBe('processed')
})
