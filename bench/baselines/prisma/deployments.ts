// deployment_status → deployments and deployment_statuses with Prisma, the way a Prisma team
// writes the addon's rules (docs/dora.md): lock the deployment (raw: Prisma has no locking
// read), then
// - read the deployment, decide with the convergent rule which of its own fields the embedded
//   copy wins (./converge.ts: updatedAt, then a fixed order on content; creatorId fills,
//   workflowRunId keeps the least), upsert when something changes;
// - read the status, the same for its fields (fixed at first sight; a fixed order on content
//   decides if two payloads of one status differ), upsert when something changes;
// - read the deployment's statuses (a handful) and derive state, environment, firstSuccessAt,
//   failedAt, finishedAt and the production decision in TypeScript; update when they change.
// The lock serialises the writers of one deployment, so the statuses read include every one
// committed before it was granted.

import type { WriteContext } from '../shared/pipeline'
import { LOCK_CLASS } from '../shared/locks'
import { DEFAULT_PRODUCTION_ENVIRONMENTS, personIdentity, PlannedDeployment, PlannedDeploymentStatus } from '../shared/plan'
import { NO_RECORDS, RecordCounts } from '../shared/result'
import type { PrismaDb } from './client'
import { Convergence, convergeUpdate, lockEntity, ms } from './converge'

interface DeploymentData {
  repoId: string
  githubId: bigint
  sha: string
  ref: string
  task: string
  /** Derived (see refresh); a new row starts with the payload's. */
  environment: string
  originalEnvironment: string
  deploymentEnvironment: string | null
  productionEnvironment: boolean | null
  transientEnvironment: boolean | null
  description: string | null
  creatorId: string | null
  creatorGithubId: bigint | null
  creatorLogin: string | null
  creatorIsBot: boolean
  workflowRunId: bigint | null
  createdAt: Date
  updatedAt: Date
}

interface StoredDeployment extends DeploymentData {
  id: string
  state: string | null
  firstSuccessAt: Date | null
  failedAt: Date | null
  isProduction: boolean
  productionReason: string | null
}

const flag = (b: boolean | null) => (b === null ? -1 : Number(b))

const DEPLOYMENT: Convergence<DeploymentData> = {
  groups: [
    {
      key: (r) => [
        ms(r.updatedAt),
        r.sha,
        r.ref,
        r.task,
        r.deploymentEnvironment ?? '',
        r.originalEnvironment,
        flag(r.productionEnvironment),
        flag(r.transientEnvironment),
        r.description ?? '',
        r.creatorLogin ?? '',
        r.creatorGithubId ?? -1n,
        r.creatorIsBot,
        ms(r.createdAt),
      ],
      columns: [
        'sha', 'ref', 'task', 'deploymentEnvironment', 'originalEnvironment', 'productionEnvironment', 'transientEnvironment',
        'description', 'creatorGithubId', 'creatorLogin', 'creatorIsBot', 'createdAt', 'updatedAt',
      ],
    },
  ],
  earliest: [],
  fill: ['creatorId'],
  least: ['workflowRunId'],
}

interface StatusData {
  githubId: bigint
  repoId: string
  deploymentId: string
  state: string
  environment: string | null
  environmentUrl: string | null
  logUrl: string | null
  description: string | null
  creatorLogin: string | null
  createdAt: Date
}

const STATUS: Convergence<StatusData> = {
  groups: [
    {
      key: (r) => [ms(r.createdAt), r.state, r.environment ?? '', r.environmentUrl ?? '', r.logUrl ?? '', r.description ?? '', r.creatorLogin ?? ''],
      columns: ['state', 'environment', 'environmentUrl', 'logUrl', 'description', 'creatorLogin', 'createdAt'],
    },
  ],
  earliest: [],
  fill: [],
}

/** The addon's default productionEnvironments, as PostgreSQL's `~*` reads it: case-insensitive,
 * `.` matching any character (the `s` flag). The bench connects the addon with its defaults. */
const PRODUCTION = new RegExp(DEFAULT_PRODUCTION_ENVIRONMENTS, 'is')

function deploymentData(d: PlannedDeployment, ctx: WriteContext): DeploymentData {
  const creator = personIdentity(d.creator)
  return {
    repoId: ctx.repo.id,
    githubId: BigInt(d.githubId),
    sha: d.sha,
    ref: d.ref,
    task: d.task,
    environment: d.environment,
    originalEnvironment: d.originalEnvironment,
    deploymentEnvironment: d.environment,
    productionEnvironment: d.productionEnvironment,
    transientEnvironment: d.transientEnvironment,
    description: d.description,
    creatorId: creator === null ? null : (ctx.users.get(creator)?.id ?? null),
    creatorGithubId: d.creator.githubId === null ? null : BigInt(d.creator.githubId),
    creatorLogin: d.creator.login,
    creatorIsBot: d.creator.isBot,
    workflowRunId: d.workflowRunId === null ? null : BigInt(d.workflowRunId),
    createdAt: new Date(d.createdAt),
    updatedAt: new Date(d.updatedAt),
  }
}

const earliest = (times: Date[]) => (times.length === 0 ? null : new Date(Math.min(...times.map((t) => t.getTime()))))
const sameTime = (a: Date | null, b: Date | null) => (a === null || b === null ? a === b : a.getTime() === b.getTime())

/** Recomputes the deployment's derived fields from its stored statuses; writes only a change. */
async function refresh(tx: PrismaDb, row: StoredDeployment): Promise<void> {
  const statuses: { githubId: bigint; state: string; environment: string | null; createdAt: Date }[] = await tx.deploymentStatus.findMany({
    where: { deploymentId: row.id },
    select: { githubId: true, state: true, environment: true, createdAt: true },
  })
  // Latest first: createdAt, then githubId.
  statuses.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (b.githubId > a.githubId ? 1 : b.githubId < a.githubId ? -1 : 0))
  const environment = statuses.find((s) => s.environment !== null)?.environment ?? row.deploymentEnvironment ?? row.environment
  const state = statuses[0]?.state ?? null
  const firstSuccessAt = earliest(statuses.filter((s) => s.state === 'success').map((s) => s.createdAt))
  const failedAt = earliest(statuses.filter((s) => s.state === 'failure' || s.state === 'error').map((s) => s.createdAt))
  const matches = PRODUCTION.test(environment)
  const isProduction = row.productionEnvironment ?? matches
  const productionReason = row.productionEnvironment === true ? 'github_flag' : row.productionEnvironment === null && matches ? 'environment_pattern' : null
  if (
    row.environment === environment &&
    row.state === state &&
    sameTime(row.firstSuccessAt, firstSuccessAt) &&
    sameTime(row.failedAt, failedAt) &&
    row.isProduction === isProduction &&
    row.productionReason === productionReason
  ) {
    return
  }
  await tx.deployment.update({
    where: { id: row.id },
    data: { environment, state, firstSuccessAt, failedAt, finishedAt: firstSuccessAt ?? failedAt, isProduction, productionReason },
    select: { id: true },
  })
}

export async function writeDeploymentStatus(tx: PrismaDb, d: PlannedDeployment, s: PlannedDeploymentStatus, ctx: WriteContext): Promise<RecordCounts> {
  await lockEntity(tx, LOCK_CLASS.deployment, d.githubId)
  const incoming = deploymentData(d, ctx)
  const stored: StoredDeployment | null = await tx.deployment.findUnique({ where: { githubId: incoming.githubId } })
  let row: StoredDeployment
  let deployments = 0
  if (!stored) {
    row = await tx.deployment.create({ data: incoming })
    deployments = 1
  } else {
    const update = convergeUpdate(DEPLOYMENT, stored, incoming)
    row = update ? await tx.deployment.update({ where: { id: stored.id }, data: update }) : stored
    deployments = update ? 1 : 0
  }

  const status: StatusData = {
    githubId: BigInt(s.githubId),
    repoId: ctx.repo.id,
    deploymentId: row.id,
    state: s.state,
    environment: s.environment,
    environmentUrl: s.environmentUrl,
    logUrl: s.logUrl,
    description: s.description,
    creatorLogin: s.creatorLogin,
    createdAt: new Date(s.createdAt),
  }
  const storedStatus: StatusData | null = await tx.deploymentStatus.findUnique({ where: { githubId: status.githubId } })
  const statusUpdate = storedStatus ? convergeUpdate(STATUS, storedStatus, status) : status
  if (statusUpdate) {
    await tx.deploymentStatus.upsert({ where: { githubId: status.githubId }, create: status, update: statusUpdate, select: { id: true } })
  }

  await refresh(tx, row)
  return { ...NO_RECORDS, deployments, deploymentStatuses: statusUpdate ? 1 : 0 }
}
