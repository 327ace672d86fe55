// A private PostgreSQL database per test file: created, migrated with the addon's own
// migrate(), seeded through small helpers, and dropped at the end.
import { randomUUID } from 'node:crypto'
import { Client, Pool } from 'pg'
import { migrate } from '../../lib'

/** Server that tests create their databases on (trust auth, user postgres by default). */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface TestDatabase {
  name: string
  url: string
  /** A pg pool on the test database, for seeding and reading rows. */
  pool: Pool
  drop(): Promise<void>
}

function urlFor(name: string): string {
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Creates an empty database; `migrated: false` leaves it without our schema. */
export async function createTestDatabase(opts: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `wp_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
  await admin((c) => c.query(`CREATE DATABASE ${name}`))
  const url = urlFor(name)
  if (opts.migrated !== false) await migrate(url)
  const pool = new Pool({ connectionString: url, max: 4 })
  let dropping = false
  // pool.end() resolves once its clients are told to end, not once their server sessions
  // are gone; DROP … WITH (FORCE) may then terminate one, and the pool reports that on
  // its 'error' event. Expected while dropping; anything else stays an error.
  pool.on('error', (err) => {
    if (!dropping) throw err
  })
  return {
    name,
    url,
    pool,
    async drop() {
      dropping = true
      await pool.end()
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    },
  }
}

/** The GitHub id of the repository in every @octokit/webhooks-examples payload. */
export const EXAMPLES_REPO_GITHUB_ID = 186853002

export async function insertTeam(pool: Pool, name = 'Team'): Promise<string> {
  const id = randomUUID()
  await pool.query('INSERT INTO teams (id, name) VALUES ($1, $2)', [id, name])
  return id
}

export async function insertRepository(
  pool: Pool,
  githubId = EXAMPLES_REPO_GITHUB_ID,
  opts: { teamId?: string; fullName?: string } = {},
): Promise<string> {
  const id = randomUUID()
  await pool.query('INSERT INTO repositories (id, "githubId", "fullName", "teamId") VALUES ($1, $2, $3, $4)', [
    id,
    githubId,
    opts.fullName ?? 'Codertocat/Hello-World',
    opts.teamId ?? null,
  ])
  return id
}

export async function insertUser(
  pool: Pool,
  opts: { email: string; githubId?: number; githubLogin?: string; teamIds?: string[] },
): Promise<string> {
  const id = randomUUID()
  await pool.query('INSERT INTO users (id, email, "githubId", "githubLogin") VALUES ($1, $2, $3, $4)', [
    id,
    opts.email,
    opts.githubId ?? null,
    opts.githubLogin ?? null,
  ])
  for (const teamId of opts.teamIds ?? []) {
    await pool.query('INSERT INTO team_members ("teamId", "userId") VALUES ($1, $2)', [teamId, id])
  }
  return id
}

/** Row counts of the entity tables and events, to assert that a rejection wrote nothing. */
export async function tableCounts(pool: Pool): Promise<Record<string, number>> {
  const tables = ['events', 'commits', 'pull_requests', 'issues', 'pull_request_reviews']
  const counts: Record<string, number> = {}
  for (const t of tables) {
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${t}`)
    counts[t] = rows[0].n
  }
  return counts
}
