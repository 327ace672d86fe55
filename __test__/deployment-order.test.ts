// Deployment rows end the same whatever order deliveries arrive in (docs/dora.md "state from
// the object, never the action"), including the columns only some deliveries carry: a
// deployment's `workflowRunId` and a workflow job's `environment`. These were "first seen
// kept", so two deliveries naming different values gave rows that depended on arrival order.
import { WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, TestDatabase } from './helpers/db'
import { exampleGroups } from './helpers/examples'

interface Delivery {
  event: string
  payload: Record<string, any>
}

const example = (event: string, index: number): Record<string, any> =>
  JSON.parse(JSON.stringify(exampleGroups.find((g) => g.name === event)!.examples[index]))

function deploymentNamingRun(runId: number): Delivery {
  const payload = example('deployment', 0)
  payload.deployment.id = 500
  payload.workflow_run = { ...example('workflow_run', 0).workflow_run, id: runId }
  return { event: 'deployment', payload }
}

function jobNamingEnvironment(status: string, environment: string): Delivery {
  const payload = example('workflow_job', 1)
  Object.assign(payload.workflow_job, { id: 700, run_id: 800, run_attempt: 1, status })
  if (status !== 'completed') Object.assign(payload.workflow_job, { conclusion: null, completed_at: null })
  payload.deployment = { ...example('deployment', 0).deployment, id: 500, environment }
  return { event: 'workflow_job', payload }
}

const deliveries: Delivery[] = [
  deploymentNamingRun(801),
  deploymentNamingRun(800),
  jobNamingEnvironment('queued', 'staging'),
  jobNamingEnvironment('in_progress', 'production'),
]

async function rowsAfter(order: Delivery[]) {
  const db: TestDatabase = await createTestDatabase()
  try {
    await insertRepository(db.pool)
    const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
    try {
      for (const [i, d] of order.entries()) {
        const result = await processor.process({ deliveryId: `order-${i}`, event: d.event, payload: JSON.stringify(d.payload) })
        expect(result.status).toBe('processed')
      }
    } finally {
      await processor.close()
    }
    const deployment = (await db.pool.query('SELECT "workflowRunId" FROM deployments WHERE "githubId" = 500')).rows[0]
    const job = (await db.pool.query('SELECT environment FROM workflow_jobs WHERE "githubId" = 700')).rows[0]
    return { workflowRunId: Number(deployment.workflowRunId), jobEnvironment: job.environment }
  } finally {
    await db.drop()
  }
}

test('a deployment naming two runs and a job naming two environments end the same in either order', async () => {
  const forward = await rowsAfter(deliveries)
  const reversed = await rowsAfter([...deliveries].reverse())
  expect(reversed).toEqual(forward)
  // The kept value is the least one: a rule of the set of deliveries, not of their order.
  expect(forward).toEqual({ workflowRunId: 800, jobEnvironment: 'production' })
})
