// issues → issues with Prisma: lock, read, decide with the addon's rules (./converge.ts), upsert
// when something changes. One group ordered by (removed, updatedAt, state OPEN < CLOSED,
// closedAt, stateReason, title, author): removal is terminal; labels by (removal, their
// payload's updatedAt), from payloads that carry them (a removal always does); deletedAt keeps the earliest
// removal; authorId fills.

import type { WriteContext } from '../shared/pipeline'
import { LOCK_CLASS } from '../shared/locks'
import { IssueState, personIdentity, PlannedIssue } from '../shared/plan'
import { NO_RECORDS, RecordCounts } from '../shared/result'
import type { PrismaDb } from './client'
import { Convergence, convergeUpdate, lockEntity, ms } from './converge'

interface IssueData {
  repoId: string
  githubId: bigint
  number: number
  title: string
  state: IssueState
  stateReason: string | null
  authorId: string | null
  authorGithubId: bigint | null
  authorLogin: string | null
  authorIsBot: boolean
  closedAt: Date | null
  createdAt: Date
  updatedAt: Date
  resolutionTimeSeconds: number | null
  deletedAt: Date | null
  labels: string[]
  labelsUpdatedAt: Date | null
}

const ISSUE: Convergence<IssueData> = {
  groups: [
    {
      key: (r) => [
        r.deletedAt !== null,
        ms(r.updatedAt),
        r.state === 'CLOSED' ? 1 : 0,
        ms(r.closedAt),
        r.stateReason ?? '',
        r.title,
        r.authorLogin ?? '',
        r.authorGithubId ?? -1n,
        r.authorIsBot,
      ],
      columns: ['title', 'state', 'stateReason', 'authorGithubId', 'authorLogin', 'authorIsBot', 'closedAt', 'createdAt', 'updatedAt', 'resolutionTimeSeconds'],
    },
    {
      // Labels, from payloads that carry them (a removal always does): removal first, then
      // their payload's updated_at (their own as-of column).
      asOf: 'labelsUpdatedAt',
      key: (r) => [r.deletedAt !== null, ms(r.labelsUpdatedAt), r.labels],
      columns: ['labels', 'labelsUpdatedAt'],
    },
  ],
  earliest: ['deletedAt'],
  fill: ['authorId'],
}

export async function writeIssue(tx: PrismaDb, issue: PlannedIssue, ctx: WriteContext): Promise<RecordCounts> {
  await lockEntity(tx, LOCK_CLASS.issue, issue.githubId)
  const author = personIdentity(issue.author)
  const incoming: IssueData = {
    repoId: ctx.repo.id,
    githubId: BigInt(issue.githubId),
    number: issue.number,
    title: issue.title,
    state: issue.state,
    stateReason: issue.stateReason,
    authorId: author === null ? null : (ctx.users.get(author)?.id ?? null),
    authorGithubId: issue.author.githubId === null ? null : BigInt(issue.author.githubId),
    authorLogin: issue.author.login,
    authorIsBot: issue.author.isBot,
    closedAt: issue.closedAt === null ? null : new Date(issue.closedAt),
    createdAt: new Date(issue.createdAt),
    updatedAt: new Date(issue.updatedAt),
    resolutionTimeSeconds: issue.resolutionTimeSeconds,
    // Payloads carry no deletion time: the delivery's received time stands in.
    deletedAt: issue.removed ? new Date(ctx.receivedAt) : null,
    labels: issue.labels ?? [],
    labelsUpdatedAt: issue.labels === null ? null : new Date(issue.updatedAt),
  }
  const stored: IssueData | null = await tx.issue.findUnique({ where: { githubId: incoming.githubId } })
  const update = stored ? convergeUpdate(ISSUE, stored, incoming) : incoming
  if (!update) return NO_RECORDS
  await tx.issue.upsert({ where: { githubId: incoming.githubId }, create: incoming, update, select: { id: true } })
  return { ...NO_RECORDS, issues: 1 }
}
