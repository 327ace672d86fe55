// __test__/e2e-processes.test.ts on BullMQ: the same tests, the backends started with QUEUE_DRIVER=bullmq.
import { suiteDriver } from './support/driver'

suiteDriver.current = 'bullmq'
require('./e2e-processes.test')
