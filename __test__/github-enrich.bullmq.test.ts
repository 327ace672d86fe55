// __test__/github-enrich.test.ts on BullMQ: the same enrichment end to end, through
// createBullMQWorker and createGitHubBullMQWorker on BullMQ queues.
import { suiteDriver } from './support/driver'

suiteDriver.current = 'bullmq'
require('./github-enrich.test')
