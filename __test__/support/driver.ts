// The queue driver (QUEUE_DRIVER) a shared suite runs its backends on. A suite file runs on
// Bull; its `*.bullmq.test.ts` twin sets `suiteDriver.current = 'bullmq'` and then requires the
// suite, so the same tests run on both drivers. Jest gives every test file its own module
// registry, so the choice never leaks into another file.
export type QueueDriverName = 'bull' | 'bullmq'

export const suiteDriver: { current: QueueDriverName } = { current: 'bull' }

/** The separator in metric job ids: the addon's `:`, which BullMQ ids cannot hold, becomes `.` there. */
export function idSeparator(): string {
  return suiteDriver.current === 'bullmq' ? '.' : ':'
}
