// pull_request_review → the embedded (slim) pull request, then pull_request_reviews, for the pg
// baseline. Reviews have no updated_at: a review's fields are fixed at first sight, except that
// a dismissal is terminal and takes over; dismissedAt keeps the earliest dismissal received,
// reviewerId is filled once known. Writers of one review already hold its pull request's lock.

import { randomUUID } from 'node:crypto'
import type { PoolClient } from 'pg'
import type { WriteContext } from '../shared/pipeline'
import { personIdentity, PlannedPullRequest, PlannedReview } from '../shared/plan'
import { RecordCounts } from '../shared/result'
import { sqlTimestamp, sqlTimestampOrNull } from '../shared/time'
import { UserMap } from '../shared/users'
import { convergentUpsertSql } from './converge'
import { upsertPullRequest } from './pull-request'
import { execute } from './pool'
import { statement } from './statement'

export const UPSERT_REVIEW = statement(
  [
    'id', 'githubId', 'repoId', 'pullRequestGithubId', 'reviewerId', 'reviewerGithubId', 'reviewerLogin', 'reviewerIsBot',
    'state', 'commitId', 'submittedAt', 'dismissedAt', 'turnaroundSeconds',
  ] as const,
  convergentUpsertSql({
    target: `pull_request_reviews AS t
      (id, "githubId", "repoId", "pullRequestId", "reviewerId", "reviewerGithubId", "reviewerLogin", "reviewerIsBot",
       state, "commitId", "submittedAt", "dismissedAt", "turnaroundSeconds")`,
    values: `@id, @githubId, @repoId, (SELECT p.id FROM pull_requests p WHERE p."githubId" = @pullRequestGithubId),
      COALESCE(@reviewerId, (SELECT u.id FROM users u WHERE u."githubId" = @reviewerGithubId)),
      @reviewerGithubId, @reviewerLogin, @reviewerIsBot, @state::"ReviewState", @commitId, @submittedAt, @dismissedAt,
      @turnaroundSeconds`,
    conflict: '"githubId"',
    groups: [
      {
        key: [`{side}.state = 'DISMISSED'`],
        columns: ['"reviewerGithubId"', '"reviewerLogin"', '"reviewerIsBot"', 'state', '"commitId"', '"submittedAt"', '"turnaroundSeconds"'],
      },
    ],
    merges: [{ earliest: '"dismissedAt"' }, { fill: '"reviewerId"' }],
  }),
)
export type ReviewParam = (typeof UPSERT_REVIEW.params)[number]

export function reviewValues(
  repoId: string,
  pr: PlannedPullRequest,
  review: PlannedReview,
  users: UserMap,
  receivedAt: number,
): Record<ReviewParam, unknown> {
  const reviewer = personIdentity(review.reviewer)
  return {
    id: randomUUID(),
    githubId: review.githubId,
    repoId,
    pullRequestGithubId: pr.githubId,
    reviewerId: reviewer === null ? null : (users.get(reviewer)?.id ?? null),
    reviewerGithubId: review.reviewer.githubId,
    reviewerLogin: review.reviewer.login,
    reviewerIsBot: review.reviewer.isBot,
    state: review.state,
    commitId: review.commitId,
    submittedAt: sqlTimestampOrNull(review.submittedAt),
    // GitHub's review object has no dismissed_at: the dismissal's received time stands in.
    dismissedAt: review.state === 'DISMISSED' ? sqlTimestamp(receivedAt) : null,
    turnaroundSeconds: review.turnaroundSeconds,
  }
}

export async function writeReview(client: PoolClient, pr: PlannedPullRequest, review: PlannedReview, ctx: WriteContext): Promise<RecordCounts> {
  const pullRequests = await upsertPullRequest(client, pr, ctx)
  const values = reviewValues(ctx.repo.id, pr, review, ctx.users, ctx.receivedAt)
  const { rowCount } = await execute(client, UPSERT_REVIEW, values)
  return { commits: 0, issues: 0, pullRequests, reviews: rowCount ?? 0, deployments: 0, deploymentStatuses: 0, workflowRuns: 0, workflowJobs: 0, releases: 0 }
}
