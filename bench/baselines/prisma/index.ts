// The Prisma baseline: the processors written the way TASK-021 planned them, with Prisma 7
// Client over @prisma/adapter-pg: the event-record service (create the event, mark it processed)
// around the processor in one interactive transaction (`$transaction(async tx => …)`),
// `createMany({ skipDuplicates })` for commits, `findUnique` + `upsert` for pull requests,
// issues and reviews, a cached user-mapping service. Same semantics as the addon (the shared
// pipeline and plans; the convergence rules in ./converge.ts).
//
// Queries per event once the caches are warm: BEGIN, find event, create event, [lock, find,
// upsert] per entity (the upsert skipped when the payload changes nothing), mark processed,
// COMMIT: pull_request 8, issues 8, pull_request_review 10, push 6, workflow_run 8 (counted;
// Prisma sends each upsert as one INSERT … ON CONFLICT); deployment_status: BEGIN, find event,
// create event, lock, find + create/update the deployment, find + upsert the status, find its
// statuses, update the derived fields, mark processed, COMMIT = 12 (a write that changes nothing
// is skipped). A user lookup that misses the cache is two queries (users, then their team_members).

import { PrismaPg } from '@prisma/adapter-pg'
import type { ImplementationFactory } from '../types'
import { DeliveryPipeline, DeliveryStore } from '../shared/pipeline'
import { isRetryable, loadPrismaClient, PrismaDb } from './client'
import { writeDeploymentStatus } from './deployments'
import { createEvent, markEventProcessed, recordFailure, recordIgnored } from './events'
import { writeIssue } from './issues'
import { findRepository, loadUsers } from './lookups'
import { writePullRequest } from './pull-request'
import { writePush } from './push'
import { writeReview } from './review'
import { writeWorkflowRun } from './workflow-runs'

export { ensurePrismaClient } from './client'

/** Tries of one event's transaction when a concurrent delivery wrote the same row first. */
const TRIES = 5
/** Waiting for a pooled connection and running the transaction: generous, the bench queues work. */
const TRANSACTION_OPTIONS = { maxWait: 60_000, timeout: 60_000 }

function prismaStore(prisma: PrismaDb): DeliveryStore {
  return {
    findRepository: (githubId) => findRepository(prisma, githubId),
    loadUsers: (keys) => loadUsers(prisma, keys),
    recordIgnored: (ev, now) => recordIgnored(prisma, ev, now),
    recordFailure: (ev, message, now) => recordFailure(prisma, ev, message, now),
    async write(ev, plan, ctx, now) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await prisma.$transaction(async (tx: PrismaDb) => {
            const eventId = await createEvent(tx, ev, now)
            if (eventId === null) return null
            let records
            switch (plan.event) {
              case 'push':
                records = await writePush(tx, plan.commits, ctx)
                break
              case 'pull_request':
                records = await writePullRequest(tx, plan.pullRequest, ctx)
                break
              case 'issues':
                records = await writeIssue(tx, plan.issue, ctx)
                break
              case 'pull_request_review':
                records = await writeReview(tx, plan.pullRequest, plan.review, ctx)
                break
              case 'deployment_status':
                records = await writeDeploymentStatus(tx, plan.deployment, plan.status, ctx)
                break
              case 'workflow_run':
                records = await writeWorkflowRun(tx, plan.run, ctx)
                break
            }
            await markEventProcessed(tx, eventId, now)
            return { eventId, records }
          }, TRANSACTION_OPTIONS)
        } catch (e) {
          if (attempt >= TRIES || !isRetryable(e)) throw e
        }
      }
    },
    close: () => prisma.$disconnect(),
  }
}

/** The Prisma baseline as the check drives it (results included). */
export async function connectPrismaBaseline(databaseUrl: string, connections: number): Promise<DeliveryPipeline> {
  const PrismaClient = loadPrismaClient()
  const prisma = new PrismaClient({
    adapter: new PrismaPg({ connectionString: databaseUrl, max: connections, options: '-c TimeZone=UTC', application_name: 'bench-prisma-baseline' }),
  })
  await prisma.$connect()
  return new DeliveryPipeline('prisma', prismaStore(prisma))
}

export const createPrismaBaseline: ImplementationFactory = (databaseUrl, options) => connectPrismaBaseline(databaseUrl, options.connections)
