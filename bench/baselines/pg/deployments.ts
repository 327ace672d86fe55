// deployment_status → deployments and deployment_statuses, for the pg baseline (the addon's
// store/deployments.rs; docs/dora.md). Three statements after the entity lock:
// - the deployment's own fields, from the copy every status embeds, by one convergent upsert:
//   one group ordered by (updatedAt, then a fixed order on content); creatorId is filled once
//   known, workflowRunId keeps the least id seen;
// - the status, fixed at first sight (a fixed order on content decides if two payloads of one
//   status ever differ);
// - the fields derived from the stored statuses (state, environment, firstSuccessAt, failedAt,
//   finishedAt, isProduction and its reason), recomputed by one UPDATE that writes only when
//   something changed: any order of deliveries ends in the same row.
// The lock serialises the writers of one deployment, so the refresh (a later statement, with a
// snapshot of its own) sees every status committed before the lock was granted, plus its own.

import { randomUUID } from 'node:crypto'
import type { PoolClient } from 'pg'
import type { WriteContext } from '../shared/pipeline'
import { DEFAULT_PRODUCTION_ENVIRONMENTS, personIdentity, PlannedDeployment, PlannedDeploymentStatus } from '../shared/plan'
import { NO_RECORDS, RecordCounts } from '../shared/result'
import { sqlTimestamp } from '../shared/time'
import { UserMap } from '../shared/users'
import { LOCK_CLASS } from '../shared/locks'
import { convergentUpsertSql, ENTITY_LOCK } from './converge'
import { execute } from './pool'
import { statement } from './statement'

export const UPSERT_DEPLOYMENT = statement(
  [
    'id', 'repoId', 'githubId', 'sha', 'ref', 'task', 'environment', 'originalEnvironment', 'productionEnvironment',
    'transientEnvironment', 'description', 'creatorId', 'creatorGithubId', 'creatorLogin', 'creatorIsBot', 'workflowRunId',
    'createdAt', 'updatedAt',
  ] as const,
  convergentUpsertSql({
    target: `deployments AS t
      (id, "repoId", "githubId", sha, ref, task, environment, "originalEnvironment", "deploymentEnvironment",
       "productionEnvironment", "transientEnvironment", description, "creatorId", "creatorGithubId", "creatorLogin",
       "creatorIsBot", "workflowRunId", "createdAt", "updatedAt")`,
    // `environment` starts as the payload's; the refresh below derives it from the statuses.
    values: `@id, @repoId, @githubId, @sha, @ref, @task, @environment, @originalEnvironment, @environment,
      @productionEnvironment, @transientEnvironment, @description,
      COALESCE(@creatorId, (SELECT u.id FROM users u WHERE u."githubId" = @creatorGithubId)),
      @creatorGithubId, @creatorLogin, @creatorIsBot, @workflowRunId, @createdAt, @updatedAt`,
    conflict: '"githubId"',
    groups: [
      {
        key: [
          '{side}."updatedAt"',
          '{side}.sha COLLATE "C"',
          '{side}.ref COLLATE "C"',
          '{side}.task COLLATE "C"',
          '{side}."deploymentEnvironment" COLLATE "C"',
          '{side}."originalEnvironment" COLLATE "C"',
          'COALESCE({side}."productionEnvironment"::int, -1)',
          'COALESCE({side}."transientEnvironment"::int, -1)',
          `COALESCE({side}.description, '') COLLATE "C"`,
          `COALESCE({side}."creatorLogin", '') COLLATE "C"`,
          'COALESCE({side}."creatorGithubId", -1)',
          '{side}."creatorIsBot"',
          '{side}."createdAt"',
        ],
        columns: [
          'sha', 'ref', 'task', '"deploymentEnvironment"', '"originalEnvironment"', '"productionEnvironment"',
          '"transientEnvironment"', 'description', '"creatorGithubId"', '"creatorLogin"', '"creatorIsBot"', '"createdAt"',
          '"updatedAt"',
        ],
      },
    ],
    merges: [{ fill: '"creatorId"' }, { least: '"workflowRunId"' }],
  }),
)
export type DeploymentParam = (typeof UPSERT_DEPLOYMENT.params)[number]

export const UPSERT_DEPLOYMENT_STATUS = statement(
  ['id', 'githubId', 'repoId', 'deploymentGithubId', 'state', 'environment', 'environmentUrl', 'logUrl', 'description', 'creatorLogin', 'createdAt'] as const,
  convergentUpsertSql({
    target: `deployment_statuses AS t
      (id, "githubId", "repoId", "deploymentId", state, environment, "environmentUrl", "logUrl", description,
       "creatorLogin", "createdAt")`,
    values: `@id, @githubId, @repoId, (SELECT d.id FROM deployments d WHERE d."githubId" = @deploymentGithubId),
      @state, @environment, @environmentUrl, @logUrl, @description, @creatorLogin, @createdAt`,
    conflict: '"githubId"',
    groups: [
      {
        key: [
          '{side}."createdAt"',
          '{side}.state COLLATE "C"',
          `COALESCE({side}.environment, '') COLLATE "C"`,
          `COALESCE({side}."environmentUrl", '') COLLATE "C"`,
          `COALESCE({side}."logUrl", '') COLLATE "C"`,
          `COALESCE({side}.description, '') COLLATE "C"`,
          `COALESCE({side}."creatorLogin", '') COLLATE "C"`,
        ],
        columns: ['state', 'environment', '"environmentUrl"', '"logUrl"', 'description', '"creatorLogin"', '"createdAt"'],
      },
    ],
    merges: [],
  }),
)
export type DeploymentStatusParam = (typeof UPSERT_DEPLOYMENT_STATUS.params)[number]

/** The derived fields from the stored statuses: the latest status (createdAt, then githubId)
 * gives the state, the latest naming an environment the environment (else the deployment's
 * own); the earliest success and the earliest failure or error give firstSuccessAt, failedAt
 * and finishedAt; production is GitHub's flag when sent, else the environment matching the
 * productionEnvironments pattern (case-insensitive), with the reason. */
export const REFRESH_DEPLOYMENT = statement(
  ['githubId', 'productionPattern'] as const,
  `WITH x AS (
     SELECT d.id, d."productionEnvironment" AS flag,
       COALESCE((SELECT s.environment FROM deployment_statuses s
                 WHERE s."deploymentId" = d.id AND s.environment IS NOT NULL
                 ORDER BY s."createdAt" DESC, s."githubId" DESC LIMIT 1), d."deploymentEnvironment") AS env,
       (SELECT s.state FROM deployment_statuses s WHERE s."deploymentId" = d.id
        ORDER BY s."createdAt" DESC, s."githubId" DESC LIMIT 1) AS state,
       (SELECT min(s."createdAt") FROM deployment_statuses s WHERE s."deploymentId" = d.id AND s.state = 'success') AS first_success,
       (SELECT min(s."createdAt") FROM deployment_statuses s WHERE s."deploymentId" = d.id AND s.state IN ('failure', 'error')) AS failed
     FROM deployments d WHERE d."githubId" = @githubId
   ), y AS (
     SELECT x.*, COALESCE(x.flag, x.env ~* @productionPattern) AS production,
       CASE WHEN x.flag THEN 'github_flag' WHEN x.flag IS NULL AND x.env ~* @productionPattern THEN 'environment_pattern' END AS reason
     FROM x
   )
   UPDATE deployments AS d SET environment = y.env, state = y.state, "firstSuccessAt" = y.first_success, "failedAt" = y.failed,
     "finishedAt" = COALESCE(y.first_success, y.failed), "isProduction" = y.production, "productionReason" = y.reason
   FROM y
   WHERE d.id = y.id
     AND (d.environment, d.state, d."firstSuccessAt", d."failedAt", d."isProduction", d."productionReason")
         IS DISTINCT FROM (y.env, y.state, y.first_success, y.failed, y.production, y.reason)`,
)

export function deploymentValues(repoId: string, d: PlannedDeployment, users: UserMap): Record<DeploymentParam, unknown> {
  const creator = personIdentity(d.creator)
  return {
    id: randomUUID(),
    repoId,
    githubId: d.githubId,
    sha: d.sha,
    ref: d.ref,
    task: d.task,
    environment: d.environment,
    originalEnvironment: d.originalEnvironment,
    productionEnvironment: d.productionEnvironment,
    transientEnvironment: d.transientEnvironment,
    description: d.description,
    creatorId: creator === null ? null : (users.get(creator)?.id ?? null),
    creatorGithubId: d.creator.githubId,
    creatorLogin: d.creator.login,
    creatorIsBot: d.creator.isBot,
    workflowRunId: d.workflowRunId,
    createdAt: sqlTimestamp(d.createdAt),
    updatedAt: sqlTimestamp(d.updatedAt),
  }
}

export function deploymentStatusValues(repoId: string, d: PlannedDeployment, s: PlannedDeploymentStatus): Record<DeploymentStatusParam, unknown> {
  return {
    id: randomUUID(),
    githubId: s.githubId,
    repoId,
    deploymentGithubId: d.githubId,
    state: s.state,
    environment: s.environment,
    environmentUrl: s.environmentUrl,
    logUrl: s.logUrl,
    description: s.description,
    creatorLogin: s.creatorLogin,
    createdAt: sqlTimestamp(s.createdAt),
  }
}

/** The bench connects the addon with its defaults, so the baselines judge by the default pattern. */
export const PRODUCTION_PATTERN = DEFAULT_PRODUCTION_ENVIRONMENTS

export async function writeDeploymentStatus(
  client: PoolClient,
  d: PlannedDeployment,
  s: PlannedDeploymentStatus,
  ctx: WriteContext,
): Promise<RecordCounts> {
  await execute(client, ENTITY_LOCK, { lockClass: LOCK_CLASS.deployment, githubId: d.githubId })
  const deployments = (await execute(client, UPSERT_DEPLOYMENT, deploymentValues(ctx.repo.id, d, ctx.users))).rowCount ?? 0
  const deploymentStatuses = (await execute(client, UPSERT_DEPLOYMENT_STATUS, deploymentStatusValues(ctx.repo.id, d, s))).rowCount ?? 0
  await execute(client, REFRESH_DEPLOYMENT, { githubId: d.githubId, productionPattern: PRODUCTION_PATTERN })
  return { ...NO_RECORDS, deployments, deploymentStatuses }
}
