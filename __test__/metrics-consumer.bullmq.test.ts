// __test__/metrics-consumer.test.ts on BullMQ: the backend started with QUEUE_DRIVER=bullmq.
import { suiteDriver } from './support/driver'

suiteDriver.current = 'bullmq'
require('./metrics-consumer.test')
