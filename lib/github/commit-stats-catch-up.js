'use strict'
// Line counts still unknown, asked for again. A commitStats job leaves a commit's counts
// unknown when GitHub never answered for it (a batch that failed however small it was made),
// when the job was discarded (GITHUB_NOT_FOUND, GITHUB_AUTH: the App lost access, fixed since)
// or when it failed after all its attempts; nothing else asks again. This step finds the commits
// whose counts are still unknown (`statsFetchedAt` NULL) some time after they were written and
// queues commitStats jobs for them on the `github` queue, with ids stamped with the day, so a
// step run every few minutes (the reconcile job runs it) queues each set at most once a day.
// A run takes at most `limit` commits: those never asked for first, then those asked for
// longest ago (`statsAskedAt`, set once their jobs are queued), so commits GitHub never
// answers cannot hold every run's places while the rest wait.
// Commits GitHub cannot resolve are marked (`statsMissing`, statsFetchedAt set) and never
// asked for again.

const { WebhookProcessingError } = require('../errors')
const state = require('./sync-state')
const { commitStatsJobs } = require('./job-options')
const { bullShapedQueue } = require('./queue-shape')

/** How old a commit without counts must be before the catch-up asks for it: its own job had its chance. */
const DEFAULT_OLDER_THAN_MS = 3600_000
/** Commits queued by one run at most. */
const DEFAULT_LIMIT = 10_000

/**
 * Queues commitStats jobs for the commits whose line counts are still unknown, written more
 * than `olderThanMs` ago (default 1 hour), at most `limit` (default 10,000), of one repository
 * (`repoId`) or all. `queue`: the github queue (Bull or BullMQ). `options`: `{ pool |
 * databaseUrl, repoId?, olderThanMs?, limit?, dryRun? }`. Resolves `{ commits, jobs,
 * repositories }`.
 */
async function queueUnknownCommitStats(queue, options = {}) {
  if (!queue || typeof queue.addBulk !== 'function') throw new WebhookProcessingError('CONFIG_ERROR', 'queueUnknownCommitStats needs the github queue')
  const olderThanMs = options.olderThanMs ?? DEFAULT_OLDER_THAN_MS
  const limit = options.limit ?? DEFAULT_LIMIT
  if (!Number.isInteger(olderThanMs) || olderThanMs < 0) throw new WebhookProcessingError('CONFIG_ERROR', 'olderThanMs must be a non-negative integer')
  if (!Number.isInteger(limit) || limit < 1) throw new WebhookProcessingError('CONFIG_ERROR', 'limit must be a positive integer')
  const db = state.openDatabase(options)
  try {
    const { rows } = await db.pool.query(
      `SELECT c."repoId", r."fullName", c.sha
         FROM commits c JOIN repositories r ON r.id = c."repoId"
        WHERE c."statsFetchedAt" IS NULL
          AND c."createdAt" <= timezone('UTC', now()) - make_interval(secs => $1::float8 / 1000)
          AND ($2::text IS NULL OR c."repoId" = $2)
        ORDER BY c."statsAskedAt" ASC NULLS FIRST, c."createdAt", c."repoId", c.sha
        LIMIT $3`,
      [olderThanMs, options.repoId ?? null, limit],
    )
    const byRepo = new Map()
    for (const r of rows) {
      const entry = byRepo.get(r.repoId) ?? { repoId: r.repoId, repository: r.fullName, shas: [] }
      entry.shas.push(r.sha)
      byRepo.set(r.repoId, entry)
    }
    const day = new Date().toISOString().slice(0, 10)
    const jobs = [...byRepo.values()].flatMap((e) => commitStatsJobs(e, e.shas, `:catchup:${day}`))
    if (jobs.length > 0 && !options.dryRun) {
      await bullShapedQueue(queue).addBulk(jobs)
      // Marked once queued: the next run asks for the others first. A mark lost here only
      // means these come first again (their jobs of the day keep their ids).
      await db.pool.query(
        `UPDATE commits c SET "statsAskedAt" = timezone('UTC', now())
           FROM UNNEST($1::text[], $2::text[]) AS q("repoId", sha)
          WHERE c."repoId" = q."repoId" AND c.sha = q.sha`,
        [rows.map((r) => r.repoId), rows.map((r) => r.sha)],
      )
    }
    return { commits: rows.length, jobs: jobs.length, repositories: byRepo.size }
  } finally {
    await db.close()
  }
}

module.exports = { queueUnknownCommitStats, DEFAULT_OLDER_THAN_MS }
