// workflow_run → workflow_runs with Prisma: one row per (githubId, runAttempt). Lock the run
// (raw: Prisma has no locking read), read the attempt, decide with the addon's rules
// (./converge.ts) whether the payload wins: the run never goes back, (status rank, updatedAt,
// then a fixed order on content), the rank being requested/queued/waiting/pending <
// in_progress < completed; completedAt keeps the earliest `completed` payload's updatedAt;
// actorId fills. Upsert when something changes.

import type { WriteContext } from '../shared/pipeline'
import { LOCK_CLASS } from '../shared/locks'
import { personIdentity, PlannedWorkflowRun } from '../shared/plan'
import { NO_RECORDS, RecordCounts } from '../shared/result'
import type { PrismaDb } from './client'
import { Convergence, convergeUpdate, lockEntity, ms } from './converge'

interface WorkflowRunData {
  repoId: string
  githubId: bigint
  runAttempt: number
  workflowId: bigint
  name: string
  path: string | null
  event: string
  headSha: string
  headBranch: string | null
  status: string
  conclusion: string | null
  runNumber: number
  actorId: string | null
  actorGithubId: bigint | null
  actorLogin: string | null
  actorIsBot: boolean
  createdAt: Date
  runStartedAt: Date | null
  updatedAt: Date
  completedAt: Date | null
  pullRequestNumbers: number[]
}

const rank = (status: string) => (status === 'completed' ? 2 : status === 'in_progress' ? 1 : 0)

const RUN: Convergence<WorkflowRunData> = {
  groups: [
    {
      key: (r) => [
        rank(r.status),
        ms(r.updatedAt),
        r.status,
        r.conclusion ?? '',
        ms(r.runStartedAt),
        r.name,
        r.path ?? '',
        r.event,
        r.headSha,
        r.headBranch ?? '',
        r.runNumber,
        r.workflowId,
        r.actorLogin ?? '',
        r.actorGithubId ?? -1n,
        r.actorIsBot,
        ms(r.createdAt),
        r.pullRequestNumbers ?? [],
      ],
      columns: [
        'workflowId', 'name', 'path', 'event', 'headSha', 'headBranch', 'status', 'conclusion', 'runNumber', 'actorGithubId',
        'actorLogin', 'actorIsBot', 'createdAt', 'runStartedAt', 'updatedAt', 'pullRequestNumbers',
      ],
    },
  ],
  earliest: ['completedAt'],
  fill: ['actorId'],
}

const date = (t: number | null) => (t === null ? null : new Date(t))

export async function writeWorkflowRun(tx: PrismaDb, r: PlannedWorkflowRun, ctx: WriteContext): Promise<RecordCounts> {
  await lockEntity(tx, LOCK_CLASS.workflowRun, r.githubId)
  const actor = personIdentity(r.actor)
  const incoming: WorkflowRunData = {
    repoId: ctx.repo.id,
    githubId: BigInt(r.githubId),
    runAttempt: r.runAttempt,
    workflowId: BigInt(r.workflowId),
    name: r.name,
    path: r.path,
    event: r.event,
    headSha: r.headSha,
    headBranch: r.headBranch,
    status: r.status,
    conclusion: r.conclusion,
    runNumber: r.runNumber,
    actorId: actor === null ? null : (ctx.users.get(actor)?.id ?? null),
    actorGithubId: r.actor.githubId === null ? null : BigInt(r.actor.githubId),
    actorLogin: r.actor.login,
    actorIsBot: r.actor.isBot,
    createdAt: new Date(r.createdAt),
    runStartedAt: date(r.runStartedAt),
    updatedAt: new Date(r.updatedAt),
    completedAt: date(r.completedAt),
    pullRequestNumbers: r.pullRequestNumbers,
  }
  const where = { githubId_runAttempt: { githubId: incoming.githubId, runAttempt: incoming.runAttempt } }
  const stored: WorkflowRunData | null = await tx.workflowRun.findUnique({ where })
  const update = stored ? convergeUpdate(RUN, stored, incoming) : incoming
  if (!update) return NO_RECORDS
  await tx.workflowRun.upsert({ where, create: incoming, update, select: { id: true } })
  return { ...NO_RECORDS, workflowRuns: 1 }
}
