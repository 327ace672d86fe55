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
