// __test__/github-backend.test.ts on BullMQ: the reference backend with QUEUE_DRIVER=bullmq runs
// the GitHub API side too (the github queue and its worker on BullMQ, in stats, metrics and the UI).
import { suiteDriver } from './support/driver'

suiteDriver.current = 'bullmq'
require('./github-backend.test')
