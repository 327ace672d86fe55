// push → commits with Prisma: one createMany with skipDuplicates (ON CONFLICT DO NOTHING) per
// push, as the plan asks ("Use Prisma's createMany() for bulk inserts"); Prisma itself splits
// statements that would exceed PostgreSQL's parameter limit.

import type { WriteContext } from '../shared/pipeline'
import { commitIdentities, PlannedCommit } from '../shared/plan'
import { NO_RECORDS, RecordCounts } from '../shared/result'
import { firstUser } from '../shared/users'
import type { PrismaDb } from './client'

export async function writePush(tx: PrismaDb, commits: PlannedCommit[], ctx: WriteContext): Promise<RecordCounts> {
  if (commits.length === 0) return NO_RECORDS
  const { count } = await tx.commit.createMany({
    data: commits.map((c) => ({
      repoId: ctx.repo.id,
      sha: c.sha,
      message: c.message,
      authorId: firstUser(ctx.users, commitIdentities(c))?.id ?? null,
      authorLogin: c.login,
      authorName: c.name,
      authorEmail: c.email,
      authorIsBot: c.isBot,
      filesChanged: c.filesChanged,
      committedAt: new Date(c.committedAt),
    })),
    skipDuplicates: true,
  })
  return { ...NO_RECORDS, commits: count }
}
