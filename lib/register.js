'use strict'
// Registering a repository: deliveries of an unregistered repository are refused
// (UNKNOWN_REPOSITORY, or 202 `ignored` at the endpoint), so registering is the first step of
// tracking one. Before this, a newcomer had to find a raw SQL INSERT in a troubleshooting
// table. The GitHub id is what deliveries carry (`repository.id`): it is looked up through the
// API when a client is configured and none is given. Registering again is harmless: the row
// is matched on the GitHub id, its name follows renames, a team given replaces the old one.

const { randomUUID } = require('node:crypto')
const { WebhookProcessingError } = require('./errors')
const { openDatabase } = require('./github/sync-state')
const { parseRepository } = require('./github/jobs/backfill')
const { bullShapedQueue } = require('./github/queue-shape')
const { backfillJobOptions } = require('./github/job-options')

const invalid = (message) => new WebhookProcessingError('INVALID_JOB', message)

/**
 * Registers (or updates) a repository. `repository`: `{ fullName: 'owner/name', githubId?,
 * teamName?, installationId? }` (the GitHub App installation whose token its API calls use) (a team of that name is created if missing). `options`: `{ pool | databaseUrl,
 * client? }`. Resolves `{ id, githubId, fullName, teamId, created }`.
 */
async function registerRepository(repository, options = {}) {
  if (!repository || typeof repository !== 'object') throw invalid('repository must be { fullName, githubId?, teamName? }')
  let { fullName } = parseRepository(repository.fullName)
  let githubId = repository.githubId
  if (githubId !== undefined && githubId !== null) {
    if (!/^[1-9][0-9]{0,18}$/.test(String(githubId))) throw invalid('githubId must be a positive integer')
    githubId = String(githubId)
  }
  const installationId = repository.installationId ?? null
  if (installationId !== null && !Number.isSafeInteger(installationId)) throw invalid('installationId must be an integer when given')
  const teamName = repository.teamName
  if (teamName !== undefined && teamName !== null && (typeof teamName !== 'string' || teamName.trim() === '')) {
    throw invalid('teamName must be a non-empty string when given')
  }
  if (githubId === undefined || githubId === null) {
    if (!options.client) {
      throw new WebhookProcessingError('CONFIG_ERROR', `no GitHub id for ${fullName}: pass githubId, or configure GitHub API access (GITHUB_TOKEN or a GitHub App) to look it up`)
    }
    const { owner, repo } = parseRepository(fullName)
    const octokit = await options.client.forOwner(owner, repo)
    const { data } = await octokit.request('GET /repos/{owner}/{repo}', { owner, repo })
    githubId = String(data.id)
    fullName = data.full_name || fullName
  }
  const db = openDatabase(options)
  if (typeof db.pool.connect !== 'function') {
    await db.close()
    throw new WebhookProcessingError('CONFIG_ERROR', 'registerRepository needs a pool with connect() (a pg Pool): it registers in one transaction')
  }
  try {
    let teamId = null
    if (teamName) {
      const found = await db.pool.query('SELECT id FROM teams WHERE name = $1 ORDER BY "createdAt" LIMIT 1', [teamName.trim()])
      teamId = found.rows[0]?.id ?? null
      if (!teamId) {
        teamId = randomUUID()
        await db.pool.query(`INSERT INTO teams (id, name, "updatedAt") VALUES ($1, $2, timezone('UTC', now()))`, [teamId, teamName.trim()])
      }
    }
    // One transaction under the repository's advisory lock, the one every follow delivery
    // takes before it writes a fact (crates/core/src/follow): without it, this refresh could
    // start while a rename's transaction held the row and, once that committed, write the row
    // from a snapshot without the rename (the fact stored, the row not showing it).
    const client = await db.pool.connect()
    let row
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1, ($2::bigint % 2147483647)::int4)', [REPOSITORY_LOCK, githubId])
      row = await registerRow(client, githubId, fullName, teamId, installationId)
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      client.release()
    }
    return { id: row.id, githubId: Number(row.githubId), fullName: row.fullName, teamId: row.teamId, created: row.created }
  } finally {
    await db.close()
  }
}

/** The advisory lock space of repositories in crates/core/src/follow ("FOLR"). */
const REPOSITORY_LOCK = 0x464f4c52

async function registerRow(client, githubId, fullName, teamId, installationId) {
  const { rows } = await client.query(
    `INSERT INTO repositories (id, "githubId", "fullName", "teamId", "updatedAt")
     VALUES ($1, $2::bigint, $3, $4, timezone('UTC', now()))
     ON CONFLICT ("githubId") DO UPDATE
       SET "fullName" = EXCLUDED."fullName",
           "teamId" = COALESCE(EXCLUDED."teamId", repositories."teamId"),
           "updatedAt" = EXCLUDED."updatedAt"
     RETURNING id, "githubId"::text AS "githubId", "fullName", "teamId", (xmax = 0) AS created`,
    [randomUUID(), githubId, fullName, teamId],
  )
  const row = rows[0]
  // Registering by hand is the word on membership (as an installation event is): recorded as
  // a fact, then the repository's row is folded from all its facts, so a rename or removal
  // GitHub announced before the registration is applied now (docs/repositories.md).
  await client.query(
    `INSERT INTO repository_changes (id, "repoGithubId", "deliveryId", event, "installationId", "fullName", owner, tracked, "receivedAt")
     VALUES ($1, $2::bigint, $3, 'register', $5, $4, split_part($4, '/', 1), true, timezone('UTC', now()))
     ON CONFLICT ("deliveryId", "repoGithubId") DO NOTHING`,
    [randomUUID(), githubId, `register:${randomUUID()}`, fullName, installationId],
  )
  await client.query('SELECT devmetrics_refresh_repository($1::bigint)', [githubId])
  return row
}

/**
 * Registers every repository the GitHub App's installations can see (`GET /app/installations`,
 * then `GET /installation/repositories` with each installation's token), each under its
 * installation: for an App installed before the backend followed its installation events.
 * `options`: `{ client (an App's, from createGitHubClient), pool | databaseUrl, ownerTeams? }`
 * (`ownerTeams`: owner login → team name, as the processor option). Resolves the registered
 * repositories, as registerRepository does.
 */
async function registerInstalledRepositories(options = {}) {
  const { client } = options
  if (!client || client.mode !== 'app') throw new WebhookProcessingError('CONFIG_ERROR', '--all-installed needs a GitHub App (GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY)')
  const teams = Object.fromEntries(Object.entries(options.ownerTeams ?? {}).map(([o, t]) => [o.toLowerCase(), t]))
  const app = client.asApp()
  const registered = []
  for (const installation of await app.paginate('GET /app/installations', { per_page: 100 })) {
    const octokit = await client.forInstallation(installation.id)
    for (const repo of await octokit.paginate('GET /installation/repositories', { per_page: 100 })) {
      registered.push(
        await registerRepository(
          { fullName: repo.full_name, githubId: repo.id, installationId: installation.id, teamName: teams[repo.owner.login.toLowerCase()] },
          options,
        ),
      )
    }
  }
  return registered
}

/**
 * Queues the backfill of a registered repository on the `github` queue (Bull or BullMQ): job
 * data `{ kind: 'backfill', repository, repoId, since }`, with a job id per repository and day
 * so a repeated registration the same day does not queue it twice (on BullMQ, `.` for `:`).
 */
async function queueBackfill(queue, registered, since = '90d', jobOptions = {}) {
  if (!queue || typeof queue.add !== 'function') throw new WebhookProcessingError('CONFIG_ERROR', 'queueBackfill needs the github queue')
  const day = new Date().toISOString().slice(0, 10)
  return bullShapedQueue(queue).add(
    { kind: 'backfill', repository: registered.fullName, repoId: registered.id, since },
    { ...backfillJobOptions, ...jobOptions, jobId: `backfill:${registered.id}:${day}` },
  )
}

module.exports = { registerRepository, registerInstalledRepositories, queueBackfill }
