// The pg baseline: the processors as the best JavaScript team would write them with `pg`:
// JSON.parse of the payload, raw SQL with bound parameters, one transaction per event, commits
// in one UNNEST statement, user and repository lookups behind an in-process TTL cache, and the
// addon's semantics (idempotency on deliveryId, the convergent upserts, user mapping).
//
// Round trips per event once the caches are warm: BEGIN, claim the event, [entity lock, upsert]
// per entity, COMMIT: push 4, pull_request 5, issues 5, pull_request_review 6, workflow_run 4 (no
// lock: one unique index), deployment_status 7 (lock, deployment, status, refresh); a cache miss adds
// one lookup each for the repository and the users. The addon folds the entity lock into its
// upsert (one fewer per entity).

import type { ImplementationFactory } from '../types'
import { DeliveryPipeline, DeliveryStore } from '../shared/pipeline'
import { writeDeploymentStatus } from './deployments'
import { claimEvent, recordFailure, recordIgnored } from './events'
import { writeIssue } from './issues'
import { findRepository, loadUsers } from './lookups'
import { createPool, inTransaction } from './pool'
import { writePullRequest } from './pull-request'
import { writePush } from './push'
import { writeReview } from './review'
import { writeWorkflowRun } from './workflow-runs'

function pgStore(databaseUrl: string, connections: number): DeliveryStore {
  const pool = createPool(databaseUrl, connections)
  return {
    findRepository: (githubId) => findRepository(pool, githubId),
    loadUsers: (keys) => loadUsers(pool, keys),
    recordIgnored: (ev, now) => recordIgnored(pool, ev, now),
    recordFailure: (ev, message, now) => recordFailure(pool, ev, message, now),
    write: (ev, plan, ctx, now) =>
      inTransaction(pool, async (client) => {
        const eventId = await claimEvent(client, ev, now)
        if (eventId === null) return null
        switch (plan.event) {
          case 'push':
            return { eventId, records: await writePush(client, plan.commits, ctx) }
          case 'pull_request':
            return { eventId, records: await writePullRequest(client, plan.pullRequest, ctx) }
          case 'issues':
            return { eventId, records: await writeIssue(client, plan.issue, ctx) }
          case 'pull_request_review':
            return { eventId, records: await writeReview(client, plan.pullRequest, plan.review, ctx) }
          case 'deployment_status':
            return { eventId, records: await writeDeploymentStatus(client, plan.deployment, plan.status, ctx) }
          case 'workflow_run':
            return { eventId, records: await writeWorkflowRun(client, plan.run, ctx) }
        }
      }),
    close: () => pool.end(),
  }
}

/** The pg baseline as the check drives it (results included). */
export async function connectPgBaseline(databaseUrl: string, connections: number): Promise<DeliveryPipeline> {
  const store = pgStore(databaseUrl, connections)
  // Fail at connect, not at the first event, when the database is unreachable.
  await store.findRepository(-1)
  return new DeliveryPipeline('pg', store)
}

export const createPgBaseline: ImplementationFactory = (databaseUrl, options) => connectPgBaseline(databaseUrl, options.connections)
