// pull_request → pull_requests with Prisma: lock the entity, read it, decide with the addon's
// rules (./converge.ts) which column groups this payload wins, and upsert only when something
// changes. Groups: main fields by (merged, updatedAt, state OPEN < CLOSED < MERGED, mergedAt,
// closedAt, title, refs, author, merge commit, head commit); line counts as of countsUpdatedAt and the draft flag as of
// draftUpdatedAt (absent never overwrites); firstReviewAt keeps the earliest; authorId fills.

import type { WriteContext } from '../shared/pipeline'
import { LOCK_CLASS } from '../shared/locks'
import { personIdentity, PlannedPullRequest, PrState } from '../shared/plan'
import { NO_RECORDS, RecordCounts } from '../shared/result'
import type { PrismaDb } from './client'
import { Convergence, convergeUpdate, lockEntity, ms } from './converge'

/** A pull_requests row as Prisma reads and writes it (id and repoId aside). */
export interface PullRequestData {
  repoId: string
  githubId: bigint
  number: number
  title: string
  state: PrState
  draft: boolean
  draftUpdatedAt: Date | null
  authorId: string | null
  authorGithubId: bigint | null
  authorLogin: string | null
  authorIsBot: boolean
  headRef: string | null
  baseRef: string | null
  additions: number
  deletions: number
  filesChanged: number
  countsUpdatedAt: Date | null
  mergedAt: Date | null
  closedAt: Date | null
  createdAt: Date
  updatedAt: Date
  firstReviewAt: Date | null
  cycleTimeSeconds: number | null
  mergeCommitSha: string | null
  headSha: string | null
}

const STATE_ORDER: Record<PrState, number> = { OPEN: 0, CLOSED: 1, MERGED: 2 }

const PULL_REQUEST: Convergence<PullRequestData> = {
  groups: [
    {
      key: (r) => [
        r.state === 'MERGED',
        ms(r.updatedAt),
        STATE_ORDER[r.state],
        ms(r.mergedAt),
        ms(r.closedAt),
        r.title,
        r.headRef ?? '',
        r.baseRef ?? '',
        r.authorLogin ?? '',
        r.authorGithubId ?? -1n,
        r.authorIsBot,
        r.mergeCommitSha ?? '',
        r.headSha ?? '',
      ],
      columns: [
        'title', 'state', 'authorGithubId', 'authorLogin', 'authorIsBot', 'headRef', 'baseRef', 'mergedAt', 'closedAt', 'createdAt', 'updatedAt',
        'cycleTimeSeconds', 'mergeCommitSha', 'headSha',
      ],
    },
    {
      asOf: 'countsUpdatedAt',
      key: (r) => [ms(r.countsUpdatedAt), r.additions, r.deletions, r.filesChanged],
      columns: ['additions', 'deletions', 'filesChanged', 'countsUpdatedAt'],
    },
    { asOf: 'draftUpdatedAt', key: (r) => [ms(r.draftUpdatedAt), r.draft], columns: ['draft', 'draftUpdatedAt'] },
  ],
  earliest: ['firstReviewAt'],
  fill: ['authorId'],
}

const date = (t: number | null) => (t === null ? null : new Date(t))

export function pullRequestData(pr: PlannedPullRequest, ctx: WriteContext): PullRequestData {
  const author = personIdentity(pr.author)
  const updatedAt = new Date(pr.updatedAt)
  return {
    repoId: ctx.repo.id,
    githubId: BigInt(pr.githubId),
    number: pr.number,
    title: pr.title,
    state: pr.state,
    draft: pr.draft ?? false,
    draftUpdatedAt: pr.draft === null ? null : updatedAt,
    authorId: author === null ? null : (ctx.users.get(author)?.id ?? null),
    authorGithubId: pr.author.githubId === null ? null : BigInt(pr.author.githubId),
    authorLogin: pr.author.login,
    authorIsBot: pr.author.isBot,
    headRef: pr.headRef,
    baseRef: pr.baseRef,
    additions: pr.counts?.additions ?? 0,
    deletions: pr.counts?.deletions ?? 0,
    filesChanged: pr.counts?.filesChanged ?? 0,
    countsUpdatedAt: pr.counts === null ? null : updatedAt,
    mergedAt: date(pr.mergedAt),
    closedAt: date(pr.closedAt),
    createdAt: new Date(pr.createdAt),
    updatedAt,
    firstReviewAt: date(pr.firstReviewAt),
    cycleTimeSeconds: pr.cycleTimeSeconds,
    mergeCommitSha: pr.mergeCommitSha,
    headSha: pr.headSha,
  }
}

/** Creates or updates the pull request; its row id, and 1 when it was inserted or changed. */
export async function upsertPullRequest(tx: PrismaDb, pr: PlannedPullRequest, ctx: WriteContext): Promise<{ id: string; changed: number }> {
  await lockEntity(tx, LOCK_CLASS.pullRequest, pr.githubId)
  const incoming = pullRequestData(pr, ctx)
  const stored: (PullRequestData & { id: string }) | null = await tx.pullRequest.findUnique({ where: { githubId: incoming.githubId } })
  const update = stored ? convergeUpdate(PULL_REQUEST, stored, incoming) : incoming
  if (!update) return { id: stored!.id, changed: 0 }
  const row = await tx.pullRequest.upsert({ where: { githubId: incoming.githubId }, create: incoming, update, select: { id: true } })
  return { id: row.id, changed: 1 }
}

export async function writePullRequest(tx: PrismaDb, pr: PlannedPullRequest, ctx: WriteContext): Promise<RecordCounts> {
  return { ...NO_RECORDS, pullRequests: (await upsertPullRequest(tx, pr, ctx)).changed }
}
