// __test__/recovery-schedule.test.ts on BullMQ: the reconcile schedule as a BullMQ job
// scheduler, one however often it is set up, replaced by another interval, removed when off.
import { suiteDriver } from './support/driver'

suiteDriver.current = 'bullmq'
require('./recovery-schedule.test')
