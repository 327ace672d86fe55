// workflow_run → workflow_runs, for the pg baseline (the addon's store/workflows.rs): one row
// per (githubId, runAttempt), a re-run being a new attempt. One convergent upsert: the run
// never goes back, its fields are replaced only by a payload whose (status rank, updatedAt,
// then a fixed order on content) is greater, the rank being requested/queued/waiting/pending <
// in_progress < completed; completedAt keeps the earliest `completed` payload's updatedAt,
// actorId is filled once known. The conflict target is the table's only unique index, so no
// entity lock is needed: PostgreSQL serialises the writers of one row.

import { randomUUID } from 'node:crypto'
import type { PoolClient } from 'pg'
import type { WriteContext } from '../shared/pipeline'
import { personIdentity, PlannedWorkflowRun } from '../shared/plan'
import { NO_RECORDS, RecordCounts } from '../shared/result'
import { sqlTimestamp, sqlTimestampOrNull } from '../shared/time'
import { UserMap } from '../shared/users'
import { convergentUpsertSql } from './converge'
import { execute } from './pool'
import { statement } from './statement'

export const UPSERT_WORKFLOW_RUN = statement(
  [
    'id', 'repoId', 'githubId', 'runAttempt', 'workflowId', 'name', 'path', 'event', 'headSha', 'headBranch', 'status',
    'conclusion', 'runNumber', 'actorId', 'actorGithubId', 'actorLogin', 'actorIsBot', 'createdAt', 'runStartedAt',
    'updatedAt', 'completedAt', 'pullRequestNumbers',
  ] as const,
  convergentUpsertSql({
    target: `workflow_runs AS t
      (id, "repoId", "githubId", "runAttempt", "workflowId", name, path, event, "headSha", "headBranch", status,
       conclusion, "runNumber", "actorId", "actorGithubId", "actorLogin", "actorIsBot", "createdAt", "runStartedAt",
       "updatedAt", "completedAt", "pullRequestNumbers")`,
    values: `@id, @repoId, @githubId, @runAttempt, @workflowId, @name, @path, @event, @headSha, @headBranch, @status,
      @conclusion, @runNumber, COALESCE(@actorId, (SELECT u.id FROM users u WHERE u."githubId" = @actorGithubId)),
      @actorGithubId, @actorLogin, @actorIsBot, @createdAt, @runStartedAt, @updatedAt, @completedAt,
      @pullRequestNumbers::int4[]`,
    conflict: '"githubId", "runAttempt"',
    groups: [
      {
        key: [
          `CASE {side}.status WHEN 'completed' THEN 2 WHEN 'in_progress' THEN 1 ELSE 0 END`,
          '{side}."updatedAt"',
          '{side}.status COLLATE "C"',
          `COALESCE({side}.conclusion, '') COLLATE "C"`,
          `COALESCE({side}."runStartedAt", '-infinity')`,
          '{side}.name COLLATE "C"',
          `COALESCE({side}.path, '') COLLATE "C"`,
          '{side}.event COLLATE "C"',
          '{side}."headSha" COLLATE "C"',
          `COALESCE({side}."headBranch", '') COLLATE "C"`,
          '{side}."runNumber"',
          '{side}."workflowId"',
          `COALESCE({side}."actorLogin", '') COLLATE "C"`,
          'COALESCE({side}."actorGithubId", -1)',
          '{side}."actorIsBot"',
          '{side}."createdAt"',
          `COALESCE({side}."pullRequestNumbers", '{}')`,
        ],
        columns: [
          '"workflowId"', 'name', 'path', 'event', '"headSha"', '"headBranch"', 'status', 'conclusion', '"runNumber"',
          '"actorGithubId"', '"actorLogin"', '"actorIsBot"', '"createdAt"', '"runStartedAt"', '"updatedAt"',
          '"pullRequestNumbers"',
        ],
      },
    ],
    merges: [{ earliest: '"completedAt"' }, { fill: '"actorId"' }],
  }),
)
export type WorkflowRunParam = (typeof UPSERT_WORKFLOW_RUN.params)[number]

export function workflowRunValues(repoId: string, r: PlannedWorkflowRun, users: UserMap): Record<WorkflowRunParam, unknown> {
  const actor = personIdentity(r.actor)
  return {
    id: randomUUID(),
    repoId,
    githubId: r.githubId,
    runAttempt: r.runAttempt,
    workflowId: r.workflowId,
    name: r.name,
    path: r.path,
    event: r.event,
    headSha: r.headSha,
    headBranch: r.headBranch,
    status: r.status,
    conclusion: r.conclusion,
    runNumber: r.runNumber,
    actorId: actor === null ? null : (users.get(actor)?.id ?? null),
    actorGithubId: r.actor.githubId,
    actorLogin: r.actor.login,
    actorIsBot: r.actor.isBot,
    createdAt: sqlTimestamp(r.createdAt),
    runStartedAt: sqlTimestampOrNull(r.runStartedAt),
    updatedAt: sqlTimestamp(r.updatedAt),
    completedAt: sqlTimestampOrNull(r.completedAt),
    pullRequestNumbers: r.pullRequestNumbers,
  }
}

export async function writeWorkflowRun(client: PoolClient, r: PlannedWorkflowRun, ctx: WriteContext): Promise<RecordCounts> {
  const { rowCount } = await execute(client, UPSERT_WORKFLOW_RUN, workflowRunValues(ctx.repo.id, r, ctx.users))
  return { ...NO_RECORDS, workflowRuns: rowCount ?? 0 }
}
