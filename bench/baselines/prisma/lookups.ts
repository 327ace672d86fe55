// Repository and user lookups of the Prisma baseline (the user-mapping service of the plan;
// cached by the shared pipeline).

import type { RepoInfo } from '../shared/pipeline'
import { IdentityKey, indexUsers, splitKeys, UserMap } from '../shared/users'
import type { PrismaDb } from './client'

export async function findRepository(prisma: PrismaDb, githubId: number): Promise<RepoInfo | null> {
  const repo = await prisma.repository.findUnique({ where: { githubId: BigInt(githubId) }, select: { id: true, teamId: true } })
  return repo ? { id: repo.id, githubId, teamId: repo.teamId } : null
}

interface UserWithTeams {
  id: string
  githubId: bigint | null
  githubLogin: string | null
  email: string
  teams: { teamId: string }[]
}

/** One findMany for all identities of an event; logins and emails match case-insensitively. */
export async function loadUsers(prisma: PrismaDb, keys: IdentityKey[]): Promise<UserMap> {
  const { githubIds, logins, emails } = splitKeys(keys)
  const users: UserWithTeams[] = await prisma.user.findMany({
    where: {
      OR: [
        { githubId: { in: githubIds.map(BigInt) } },
        { githubLogin: { in: logins, mode: 'insensitive' } },
        { email: { in: emails, mode: 'insensitive' } },
      ],
    },
    select: { id: true, githubId: true, githubLogin: true, email: true, teams: { select: { teamId: true }, orderBy: { teamId: 'asc' } } },
  })
  return indexUsers(
    users.map((u) => ({
      id: u.id,
      githubId: u.githubId === null ? null : Number(u.githubId),
      login: u.githubLogin?.toLowerCase() ?? null,
      email: u.email.toLowerCase(),
      teamIds: u.teams.map((t) => t.teamId),
    })),
  )
}
