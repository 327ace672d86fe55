// Repository and user lookups of the pg baseline (cached by the shared pipeline).

import type { Pool } from 'pg'
import type { RepoInfo } from '../shared/pipeline'
import { IdentityKey, indexUsers, splitKeys, UserMap, UserRow } from '../shared/users'

export async function findRepository(pool: Pool, githubId: number): Promise<RepoInfo | null> {
  const { rows } = await pool.query<{ id: string; teamId: string | null }>(
    'SELECT id, "teamId" FROM repositories WHERE "githubId" = $1',
    [githubId],
  )
  return rows[0] ? { id: rows[0].id, githubId, teamId: rows[0].teamId } : null
}

/** One query for all identities of an event; logins and emails match case-insensitively. */
export async function loadUsers(pool: Pool, keys: IdentityKey[]): Promise<UserMap> {
  const { githubIds, logins, emails } = splitKeys(keys)
  const { rows } = await pool.query<UserRow>(
    `SELECT u.id, u."githubId"::float8 AS "githubId", lower(u."githubLogin") AS login, lower(u.email) AS email,
            COALESCE(array_agg(tm."teamId" ORDER BY tm."teamId") FILTER (WHERE tm."teamId" IS NOT NULL), '{}') AS "teamIds"
     FROM users u LEFT JOIN team_members tm ON tm."userId" = u.id
     WHERE u."githubId" = ANY($1::int8[]) OR lower(u."githubLogin") = ANY($2::text[]) OR lower(u.email) = ANY($3::text[])
     GROUP BY u.id`,
    [githubIds, logins, emails],
  )
  return indexUsers(rows)
}
