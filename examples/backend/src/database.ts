// Start-up database chores for development: create the database if missing, apply the
// package's bundled Prisma migrations, and register the sample repository the fixtures use.
import { randomUUID } from 'node:crypto'
import { Client } from 'pg'
import { migrate } from '@devmetrics/webhook-processor'

/** GitHub id of the repository in the bundled fixtures and @octokit/webhooks-examples. */
export const SAMPLE_REPOSITORY = { githubId: 186853002, fullName: 'Codertocat/Hello-World' }
/** The fixtures' main actor (octocat: GitHub id 583231). */
export const SAMPLE_USER = { email: 'mona@example.com', githubId: 583231, githubLogin: 'octocat' }

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Creates the database named in the URL if it does not exist (through the server's `postgres` database). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1))
  const admin = new URL(url)
  admin.pathname = '/postgres'
  return withClient(admin.toString(), async (c) => {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (rowCount) return false
    await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
    return true
  })
}

export async function migrateDatabase(url: string): Promise<{ created: boolean }> {
  const created = await ensureDatabase(url)
  await migrate(url)
  return { created }
}

/**
 * Registers the sample repository in a team, and octocat as a user of that team, unless they
 * exist; what DevMetrics does when someone connects a repository and signs up.
 */
export async function seedSample(url: string): Promise<{ repositoryId: string; userId: string; teamId: string }> {
  return withClient(url, async (c) => {
    await c.query('BEGIN')
    try {
      const repo = await c.query<{ id: string; teamId: string | null }>('SELECT id, "teamId" FROM repositories WHERE "githubId" = $1', [
        SAMPLE_REPOSITORY.githubId,
      ])
      let teamId = repo.rows[0]?.teamId ?? null
      if (!teamId) {
        teamId = randomUUID()
        await c.query('INSERT INTO teams (id, name) VALUES ($1, $2)', [teamId, 'Sample team'])
      }
      let repositoryId = repo.rows[0]?.id
      if (!repositoryId) {
        repositoryId = randomUUID()
        await c.query('INSERT INTO repositories (id, "githubId", "fullName", "teamId") VALUES ($1, $2, $3, $4)', [
          repositoryId,
          SAMPLE_REPOSITORY.githubId,
          SAMPLE_REPOSITORY.fullName,
          teamId,
        ])
      } else if (!repo.rows[0].teamId) {
        await c.query('UPDATE repositories SET "teamId" = $1 WHERE id = $2', [teamId, repositoryId])
      }
      await c.query(
        `INSERT INTO users (id, email, name, "githubId", "githubLogin") VALUES ($1, $2, 'Mona Lisa', $3, $4) ON CONFLICT DO NOTHING`,
        [randomUUID(), SAMPLE_USER.email, SAMPLE_USER.githubId, SAMPLE_USER.githubLogin],
      )
      const user = await c.query<{ id: string }>(
        `UPDATE users u
            SET "githubId" = COALESCE(u."githubId", CASE WHEN NOT EXISTS (SELECT 1 FROM users o WHERE o."githubId" = $2) THEN $2::bigint END),
                "githubLogin" = COALESCE(u."githubLogin", CASE WHEN NOT EXISTS (SELECT 1 FROM users o WHERE o."githubLogin" = $3) THEN $3 END)
          WHERE u.email = $1 RETURNING id`,
        [SAMPLE_USER.email, SAMPLE_USER.githubId, SAMPLE_USER.githubLogin],
      )
      const userId = user.rows[0].id
      await c.query('INSERT INTO team_members ("teamId", "userId") VALUES ($1, $2) ON CONFLICT DO NOTHING', [teamId, userId])
      await c.query('COMMIT')
      return { repositoryId, userId, teamId }
    } catch (err) {
      await c.query('ROLLBACK')
      throw err
    }
  })
}
