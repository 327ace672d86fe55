// pull_request → pull_requests, for the pg baseline: the entity lock, then one convergent
// upsert (./converge.ts) with the addon's groups and order (docs/decisions.md):
// - main fields by (merged, updatedAt, state OPEN < CLOSED < MERGED, mergedAt, closedAt, title,
//   refs, author, merge commit, head commit): MERGED is terminal, then GitHub's updated_at, then a fixed tie-break;
// - line counts as of `countsUpdatedAt`, the draft flag as of `draftUpdatedAt`, only from
//   payloads that carry them (absent never overwrites);
// - firstReviewAt keeps the earliest candidate; authorId is filled once known.

import { randomUUID } from 'node:crypto'
import type { PoolClient } from 'pg'
import type { WriteContext } from '../shared/pipeline'
import { personIdentity, PlannedPullRequest } from '../shared/plan'
import { NO_RECORDS, RecordCounts } from '../shared/result'
import { sqlTimestamp, sqlTimestampOrNull } from '../shared/time'
import { UserMap } from '../shared/users'
import { LOCK_CLASS } from '../shared/locks'
import { convergentUpsertSql, ENTITY_LOCK } from './converge'
import { execute } from './pool'
import { statement } from './statement'

export const UPSERT_PULL_REQUEST = statement(
  [
    'id', 'repoId', 'githubId', 'number', 'title', 'state', 'draft', 'draftUpdatedAt', 'authorId', 'authorGithubId',
    'authorLogin', 'authorIsBot', 'headRef', 'baseRef', 'additions', 'deletions', 'filesChanged', 'countsUpdatedAt',
    'mergedAt', 'closedAt', 'createdAt', 'updatedAt', 'firstReviewAt', 'cycleTimeSeconds', 'mergeCommitSha', 'headSha',
  ] as const,
  convergentUpsertSql({
    target: `pull_requests AS t
      (id, "repoId", "githubId", number, title, state, draft, "draftUpdatedAt", "authorId", "authorGithubId",
       "authorLogin", "authorIsBot", "headRef", "baseRef", additions, deletions, "filesChanged", "countsUpdatedAt",
       "mergedAt", "closedAt", "createdAt", "updatedAt", "firstReviewAt", "cycleTimeSeconds", "mergeCommitSha", "headSha")`,
    // A user linked after this event's lookup still attributes the row (the addon's fallback).
    values: `@id, @repoId, @githubId, @number, @title, @state::"PRState", @draft, @draftUpdatedAt,
      COALESCE(@authorId, (SELECT u.id FROM users u WHERE u."githubId" = @authorGithubId)),
      @authorGithubId, @authorLogin, @authorIsBot, @headRef, @baseRef, @additions, @deletions, @filesChanged,
      @countsUpdatedAt, @mergedAt, @closedAt, @createdAt, @updatedAt, @firstReviewAt, @cycleTimeSeconds, @mergeCommitSha,
      @headSha`,
    conflict: '"githubId"',
    groups: [
      {
        key: [
          `{side}.state = 'MERGED'`,
          '{side}."updatedAt"',
          '{side}.state',
          `COALESCE({side}."mergedAt", '-infinity')`,
          `COALESCE({side}."closedAt", '-infinity')`,
          '{side}.title COLLATE "C"',
          `COALESCE({side}."headRef", '') COLLATE "C"`,
          `COALESCE({side}."baseRef", '') COLLATE "C"`,
          `COALESCE({side}."authorLogin", '') COLLATE "C"`,
          'COALESCE({side}."authorGithubId", -1)',
          '{side}."authorIsBot"',
          `COALESCE({side}."mergeCommitSha", '') COLLATE "C"`,
          `COALESCE({side}."headSha", '') COLLATE "C"`,
        ],
        columns: [
          'title', 'state', '"authorGithubId"', '"authorLogin"', '"authorIsBot"', '"headRef"', '"baseRef"',
          '"mergedAt"', '"closedAt"', '"createdAt"', '"updatedAt"', '"cycleTimeSeconds"', '"mergeCommitSha"', '"headSha"',
        ],
      },
      {
        asOf: '"countsUpdatedAt"',
        key: ['{side}."countsUpdatedAt"', '{side}.additions', '{side}.deletions', '{side}."filesChanged"'],
        columns: ['additions', 'deletions', '"filesChanged"', '"countsUpdatedAt"'],
      },
      { asOf: '"draftUpdatedAt"', key: ['{side}."draftUpdatedAt"', '{side}.draft'], columns: ['draft', '"draftUpdatedAt"'] },
    ],
    merges: [{ earliest: '"firstReviewAt"' }, { fill: '"authorId"' }],
  }),
)
export type PullRequestParam = (typeof UPSERT_PULL_REQUEST.params)[number]

/** The row one payload offers, author mapped. */
export function pullRequestValues(repoId: string, pr: PlannedPullRequest, users: UserMap): Record<PullRequestParam, unknown> {
  const author = personIdentity(pr.author)
  return {
    id: randomUUID(),
    repoId,
    githubId: pr.githubId,
    number: pr.number,
    title: pr.title,
    state: pr.state,
    draft: pr.draft ?? false,
    draftUpdatedAt: pr.draft === null ? null : sqlTimestamp(pr.updatedAt),
    authorId: author === null ? null : (users.get(author)?.id ?? null),
    authorGithubId: pr.author.githubId,
    authorLogin: pr.author.login,
    authorIsBot: pr.author.isBot,
    headRef: pr.headRef,
    baseRef: pr.baseRef,
    additions: pr.counts?.additions ?? 0,
    deletions: pr.counts?.deletions ?? 0,
    filesChanged: pr.counts?.filesChanged ?? 0,
    countsUpdatedAt: pr.counts === null ? null : sqlTimestamp(pr.updatedAt),
    mergedAt: sqlTimestampOrNull(pr.mergedAt),
    closedAt: sqlTimestampOrNull(pr.closedAt),
    createdAt: sqlTimestamp(pr.createdAt),
    updatedAt: sqlTimestamp(pr.updatedAt),
    firstReviewAt: sqlTimestampOrNull(pr.firstReviewAt),
    cycleTimeSeconds: pr.cycleTimeSeconds,
    mergeCommitSha: pr.mergeCommitSha,
    headSha: pr.headSha,
  }
}

/** Locks the pull request, then inserts it or folds the payload in; 1 when inserted or changed. */
export async function upsertPullRequest(client: PoolClient, pr: PlannedPullRequest, ctx: WriteContext): Promise<number> {
  await execute(client, ENTITY_LOCK, { lockClass: LOCK_CLASS.pullRequest, githubId: pr.githubId })
  const values = pullRequestValues(ctx.repo.id, pr, ctx.users)
  return (await execute(client, UPSERT_PULL_REQUEST, values)).rowCount ?? 0
}

export async function writePullRequest(client: PoolClient, pr: PlannedPullRequest, ctx: WriteContext): Promise<RecordCounts> {
  return { ...NO_RECORDS, pullRequests: await upsertPullRequest(client, pr, ctx) }
}
