// The JS wrapper's own logic: how native failures become WebhookProcessingErrors.
import { toProcessingError, WebhookProcessingError } from '../lib/errors'

test('a coded native message keeps its code and loses the prefix', () => {
  const err = toProcessingError(new Error('[DATABASE_ERROR] database error: 40P01: deadlock detected'))
  expect(err).toBeInstanceOf(WebhookProcessingError)
  expect({ code: err.code, retryable: err.retryable, message: err.message }).toEqual({
    code: 'DATABASE_ERROR',
    retryable: true,
    message: 'database error: 40P01: deadlock detected',
  })
})

test.each([
  ['an uncoded native error', new Error('GenericFailure: something')],
  ['an unknown code', new Error('[NOT_A_CODE] x')],
  ['a thrown string', 'boom'],
  ['undefined', undefined],
])('%s becomes INTERNAL, not retryable', (_label, thrown) => {
  const err = toProcessingError(thrown)
  expect({ name: err.name, code: err.code, retryable: err.retryable }).toEqual({
    name: 'WebhookProcessingError',
    code: 'INTERNAL',
    retryable: false,
  })
})

test('an existing WebhookProcessingError passes through unchanged', () => {
  const original = new WebhookProcessingError('INVALID_JOB', 'x')
  expect(toProcessingError(original)).toBe(original)
})

test('redactCredentials removes the user information of every URL, and nothing else', () => {
  const { redactCredentials } = jest.requireActual('../lib') as typeof import('../lib')
  expect(redactCredentials('connect postgres://app:s3cret@db:5432/x failed; cache "redis://:p%40ss@cache:6379/1"')).toBe(
    'connect postgres://***@db:5432/x failed; cache "redis://***@cache:6379/1"',
  )
  expect(redactCredentials('no credentials: redis://cache:6379 mona@corp.example')).toBe('no credentials: redis://cache:6379 mona@corp.example')
})
