// __test__/fault-injection.test.ts on BullMQ: the queue faults again, through createBullMQWorker.
import { suiteDriver } from './support/driver'

suiteDriver.current = 'bullmq'
require('./fault-injection.test')
