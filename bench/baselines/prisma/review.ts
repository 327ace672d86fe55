// pull_request_review → the embedded (slim) pull request, then pull_request_reviews, with
// Prisma. Reviews have no updated_at: the first payload seen is kept, except that a dismissal is
// terminal and takes over; dismissedAt keeps the earliest dismissal, reviewerId fills. Writers
// of one review hold its pull request's lock (taken by the pull request's upsert).

import type { WriteContext } from '../shared/pipeline'
import { personIdentity, PlannedPullRequest, PlannedReview, ReviewState } from '../shared/plan'
import { RecordCounts } from '../shared/result'
import type { PrismaDb } from './client'
import { Convergence, convergeUpdate } from './converge'
import { upsertPullRequest } from './pull-request'

interface ReviewData {
  githubId: bigint
  repoId: string
  pullRequestId: string
  reviewerId: string | null
  reviewerGithubId: bigint | null
  reviewerLogin: string | null
  reviewerIsBot: boolean
  state: ReviewState
  commitId: string | null
  submittedAt: Date | null
  dismissedAt: Date | null
  turnaroundSeconds: number | null
}

const REVIEW: Convergence<ReviewData> = {
  groups: [
    {
      key: (r) => [r.state === 'DISMISSED'],
      columns: ['reviewerGithubId', 'reviewerLogin', 'reviewerIsBot', 'state', 'commitId', 'submittedAt', 'turnaroundSeconds'],
    },
  ],
  earliest: ['dismissedAt'],
  fill: ['reviewerId'],
}

export async function writeReview(tx: PrismaDb, pr: PlannedPullRequest, review: PlannedReview, ctx: WriteContext): Promise<RecordCounts> {
  const pullRequest = await upsertPullRequest(tx, pr, ctx)
  const reviewer = personIdentity(review.reviewer)
  const incoming: ReviewData = {
    githubId: BigInt(review.githubId),
    repoId: ctx.repo.id,
    pullRequestId: pullRequest.id,
    reviewerId: reviewer === null ? null : (ctx.users.get(reviewer)?.id ?? null),
    reviewerGithubId: review.reviewer.githubId === null ? null : BigInt(review.reviewer.githubId),
    reviewerLogin: review.reviewer.login,
    reviewerIsBot: review.reviewer.isBot,
    state: review.state,
    commitId: review.commitId,
    submittedAt: review.submittedAt === null ? null : new Date(review.submittedAt),
    // GitHub's review object has no dismissed_at: the dismissal's received time stands in.
    dismissedAt: review.state === 'DISMISSED' ? new Date(ctx.receivedAt) : null,
    turnaroundSeconds: review.turnaroundSeconds,
  }
  const stored: ReviewData | null = await tx.pullRequestReview.findUnique({ where: { githubId: incoming.githubId } })
  const update = stored ? convergeUpdate(REVIEW, stored, incoming) : incoming
  if (update) await tx.pullRequestReview.upsert({ where: { githubId: incoming.githubId }, create: incoming, update, select: { id: true } })
  return { commits: 0, issues: 0, pullRequests: pullRequest.changed, reviews: update ? 1 : 0, deployments: 0, deploymentStatuses: 0, workflowRuns: 0, workflowJobs: 0, releases: 0 }
}
