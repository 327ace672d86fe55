// The reconcile schedule (issue 16): a repeatable job on the `github` queue, off unless
// configured (GITHUB_RECONCILE_EVERY), default every 10 minutes, one schedule however often
// it is set up, removed when turned off. Real Bull on the shared Redis under a test prefix;
// recovery-schedule.bullmq.test.ts runs the same on BullMQ (a job scheduler).
import Bull from 'bull'
import { Queue as BullMQQueue } from 'bullmq'
import { scheduleReconcile, unscheduleReconcile } from '../lib'
import { reconcileEveryMs, startReconcileSchedule } from '../examples/backend/src/recovery'
import { SHARED_REDIS_URL, testPrefix } from './helpers/redis'
import { suiteDriver } from './support/driver'

const redis = testPrefix()
let queue: Bull.Queue | BullMQQueue

beforeAll(() => {
  const url = new URL(SHARED_REDIS_URL)
  queue =
    suiteDriver.current === 'bull'
      ? new Bull('github', SHARED_REDIS_URL, { prefix: redis.prefix.slice(0, -1) })
      : new BullMQQueue('github', { connection: { host: url.hostname, port: Number(url.port || 6379) }, prefix: redis.prefix.slice(0, -1) })
})

afterAll(async () => {
  await queue.close()
  await redis.cleanup()
})

/** The reconcile schedules as `{ id, every }`: Bull's repeatable jobs, BullMQ's job schedulers. */
const schedules = async () =>
  queue instanceof BullMQQueue
    ? (await queue.getJobSchedulers()).map((r) => ({ id: r.key, every: Number(r.every) }))
    : (await queue.getRepeatableJobs()).map((r) => ({ id: r.id, every: Number(r.every) }))

test('scheduled every 10 minutes by default, once however often; another interval replaces it; unscheduling removes it', async () => {
  await scheduleReconcile(queue)
  await scheduleReconcile(queue)
  expect(await schedules()).toEqual([{ id: 'github-reconcile', every: 600_000 }])
  const [delayed] = await queue.getDelayed()
  expect(delayed.data).toEqual({ kind: 'reconcile' })
  await scheduleReconcile(queue, { everyMs: 300_000 })
  expect(await schedules()).toEqual([{ id: 'github-reconcile', every: 300_000 }])
  await unscheduleReconcile(queue)
  expect(await schedules()).toEqual([])
  await expect(scheduleReconcile(queue, { everyMs: 1000 })).rejects.toMatchObject({ code: 'CONFIG_ERROR' })
})

test('the backend schedules it only when GITHUB_RECONCILE_EVERY is set and GitHub access is configured', async () => {
  expect(reconcileEveryMs({})).toBeNull()
  expect(reconcileEveryMs({ GITHUB_RECONCILE_EVERY: 'on' })).toBe(600_000)
  expect(reconcileEveryMs({ GITHUB_RECONCILE_EVERY: '15m' })).toBe(900_000)
  expect(() => reconcileEveryMs({ GITHUB_RECONCILE_EVERY: '10s' })).toThrow(/GITHUB_RECONCILE_EVERY/)
  const said: string[] = []
  const log = (m: string) => said.push(m)
  expect(await startReconcileSchedule(queue, { GITHUB_RECONCILE_EVERY: '15m' }, log)).toBeNull()
  expect(await schedules()).toEqual([])
  const env = { GITHUB_RECONCILE_EVERY: '15m', GITHUB_TOKEN: 'ghp_x', GITHUB_HOOKS: 'acme/widgets#42' }
  expect(await startReconcileSchedule(queue, env, log)).toBe(900_000)
  expect(await schedules()).toEqual([{ id: 'github-reconcile', every: 900_000 }])
  expect(await startReconcileSchedule(queue, { GITHUB_TOKEN: 'ghp_x' }, log)).toBeNull()
  expect(await schedules()).toEqual([])
  expect(said.join('\n')).not.toContain('ghp_x')
})
