// __test__/deployment-changes.test.ts on BullMQ: what each production deployment shipped, through
// createGitHubBullMQWorker on BullMQ queues.
import { suiteDriver } from './support/driver'

suiteDriver.current = 'bullmq'
require('./deployment-changes.test')
