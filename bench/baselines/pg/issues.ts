// issues → issues, for the pg baseline: the entity lock, then one convergent upsert. The fields
// form one group ordered by (removed, updatedAt, state OPEN < CLOSED, closedAt, stateReason,
// title, author): removal (deleted, transferred) is terminal, then GitHub's updated_at, then a
// fixed tie-break. Labels, from payloads that carry them (a removal always does), by (removal,
// their payload's updated_at, the list): their own as-of column. deletedAt keeps the earliest removal; authorId is filled once known.

import { randomUUID } from 'node:crypto'
import type { PoolClient } from 'pg'
import type { WriteContext } from '../shared/pipeline'
import { personIdentity, PlannedIssue } from '../shared/plan'
import { NO_RECORDS, RecordCounts } from '../shared/result'
import { sqlTimestamp, sqlTimestampOrNull } from '../shared/time'
import { UserMap } from '../shared/users'
import { LOCK_CLASS } from '../shared/locks'
import { convergentUpsertSql, ENTITY_LOCK } from './converge'
import { execute } from './pool'
import { statement } from './statement'

export const UPSERT_ISSUE = statement(
  [
    'id', 'repoId', 'githubId', 'number', 'title', 'state', 'stateReason', 'authorId', 'authorGithubId', 'authorLogin',
    'authorIsBot', 'closedAt', 'createdAt', 'updatedAt', 'resolutionTimeSeconds', 'deletedAt', 'labels', 'labelsUpdatedAt',
  ] as const,
  convergentUpsertSql({
    target: `issues AS t
      (id, "repoId", "githubId", number, title, state, "stateReason", "authorId", "authorGithubId", "authorLogin",
       "authorIsBot", "closedAt", "createdAt", "updatedAt", "resolutionTimeSeconds", "deletedAt", labels, "labelsUpdatedAt")`,
    values: `@id, @repoId, @githubId, @number, @title, @state::"IssueState", @stateReason,
      COALESCE(@authorId, (SELECT u.id FROM users u WHERE u."githubId" = @authorGithubId)),
      @authorGithubId, @authorLogin, @authorIsBot, @closedAt, @createdAt, @updatedAt, @resolutionTimeSeconds, @deletedAt,
      @labels::text[], @labelsUpdatedAt`,
    conflict: '"githubId"',
    groups: [
      {
        key: [
          '{side}."deletedAt" IS NOT NULL',
          '{side}."updatedAt"',
          '{side}.state',
          `COALESCE({side}."closedAt", '-infinity')`,
          `COALESCE({side}."stateReason", '') COLLATE "C"`,
          '{side}.title COLLATE "C"',
          `COALESCE({side}."authorLogin", '') COLLATE "C"`,
          'COALESCE({side}."authorGithubId", -1)',
          '{side}."authorIsBot"',
        ],
        columns: [
          'title', 'state', '"stateReason"', '"authorGithubId"', '"authorLogin"', '"authorIsBot"', '"closedAt"',
          '"createdAt"', '"updatedAt"', '"resolutionTimeSeconds"',
        ],
      },
      {
        asOf: '"labelsUpdatedAt"',
        key: ['{side}."deletedAt" IS NOT NULL', '{side}."labelsUpdatedAt"', '{side}.labels'],
        columns: ['labels', '"labelsUpdatedAt"'],
      },
    ],
    merges: [{ earliest: '"deletedAt"' }, { fill: '"authorId"' }],
  }),
)
export type IssueParam = (typeof UPSERT_ISSUE.params)[number]

export function issueValues(repoId: string, issue: PlannedIssue, users: UserMap, receivedAt: number): Record<IssueParam, unknown> {
  const author = personIdentity(issue.author)
  return {
    id: randomUUID(),
    repoId,
    githubId: issue.githubId,
    number: issue.number,
    title: issue.title,
    state: issue.state,
    stateReason: issue.stateReason,
    authorId: author === null ? null : (users.get(author)?.id ?? null),
    authorGithubId: issue.author.githubId,
    authorLogin: issue.author.login,
    authorIsBot: issue.author.isBot,
    closedAt: sqlTimestampOrNull(issue.closedAt),
    createdAt: sqlTimestamp(issue.createdAt),
    updatedAt: sqlTimestamp(issue.updatedAt),
    resolutionTimeSeconds: issue.resolutionTimeSeconds,
    // Payloads carry no deletion time: the delivery's received time stands in.
    deletedAt: issue.removed ? sqlTimestamp(receivedAt) : null,
    // A payload without labels stores none and says nothing (no as-of time).
    labels: issue.labels ?? [],
    labelsUpdatedAt: issue.labels === null ? null : sqlTimestamp(issue.updatedAt),
  }
}

export async function writeIssue(client: PoolClient, issue: PlannedIssue, ctx: WriteContext): Promise<RecordCounts> {
  await execute(client, ENTITY_LOCK, { lockClass: LOCK_CLASS.issue, githubId: issue.githubId })
  const values = issueValues(ctx.repo.id, issue, ctx.users, ctx.receivedAt)
  const { rowCount } = await execute(client, UPSERT_ISSUE, values)
  return { ...NO_RECORDS, issues: rowCount ?? 0 }
}
