// __test__/recovery-worker.test.ts on BullMQ: queueBackfill on a BullMQ queue, the backfill and
// reconcile jobs through createGitHubBullMQWorker.
import { suiteDriver } from './support/driver'

suiteDriver.current = 'bullmq'
require('./recovery-worker.test')
