'use strict'
// State of the GitHub API jobs that must survive restarts, in PostgreSQL (migration
// 20261130113000_github_sync): the backfill cursor per repository and kind (pages fully
// written, so a crash resumes after them without repeating a page) and the reconcile cursor
// per hook (deliveries up to `deliveredThrough` are decided). Any pg-compatible pool
// (`query(text, values)`) works; SQL with bound parameters only.

const { randomUUID } = require('node:crypto')
const { WebhookProcessingError } = require('../errors')

/**
 * A pool from `{ pool }` or `{ databaseUrl }` (pg, loaded lazily), else from DATABASE_URL (a
 * job run by the github worker, whose context carries neither); `close` ends only a pool
 * made here.
 */
function openDatabase(options) {
  if (options && options.pool && typeof options.pool.query === 'function') {
    return { pool: options.pool, close: async () => undefined }
  }
  const url = (options && options.databaseUrl) || process.env.DATABASE_URL
  if (typeof url !== 'string' || url.trim() === '') {
    throw new WebhookProcessingError('CONFIG_ERROR', 'a database pool or databaseUrl (or DATABASE_URL) is required')
  }
  let pg
  try {
    pg = require('pg')
  } catch {
    throw new WebhookProcessingError('CONFIG_ERROR', "databaseUrl needs the 'pg' package installed (or pass a pool)")
  }
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  pool.on('error', () => undefined)
  return { pool, close: () => pool.end() }
}

// TIMESTAMP(3) columns hold UTC (Prisma's convention): times are bound as ISO text and
// read back as timestamptz, whatever the process's time zone.
// A backfill cursor's "createdAt" is when its current run started (set again by a restart):
// the catch-up pass reads what changed since then.
const BACKFILL_COLUMNS = `"repoId", kind, since AT TIME ZONE 'UTC' AS since, "pagesDone", "itemsDone",
  "finishedAt" AT TIME ZONE 'UTC' AS "finishedAt", "createdAt" AT TIME ZONE 'UTC' AS "runStartedAt"`
const utc = (param) => `(${param}::timestamptz AT TIME ZONE 'UTC')`

/** The backfill cursor of one repository and kind, or null. */
async function loadBackfillCursor(pool, repoId, kind) {
  const { rows } = await pool.query(
    `SELECT ${BACKFILL_COLUMNS} FROM github_backfill_cursors WHERE "repoId" = $1 AND kind = $2`,
    [repoId, kind],
  )
  return rows[0] ?? null
}

/** Starts (or restarts) a kind's backfill at page 0 for `since`; its run starts now (`runStartedAt`). */
async function startBackfillCursor(pool, repoId, kind, since) {
  const { rows } = await pool.query(
    `INSERT INTO github_backfill_cursors (id, "repoId", kind, since, "pagesDone", "itemsDone", "finishedAt", "updatedAt")
     VALUES ($1, $2, $3, ${utc('$4')}, 0, 0, NULL, timezone('UTC', now()))
     ON CONFLICT ("repoId", kind) DO UPDATE
       SET since = EXCLUDED.since, "pagesDone" = 0, "itemsDone" = 0, "finishedAt" = NULL,
           "createdAt" = timezone('UTC', now()), "updatedAt" = timezone('UTC', now())
     RETURNING ${BACKFILL_COLUMNS}`,
    [randomUUID(), repoId, kind, since.toISOString()],
  )
  return rows[0]
}

/** Records a page as fully written (only forward: a stale writer cannot move it back). */
async function advanceBackfillCursor(pool, repoId, kind, page, items, finished) {
  await pool.query(
    `UPDATE github_backfill_cursors
        SET "pagesDone" = $3, "itemsDone" = "itemsDone" + $4,
            "finishedAt" = CASE WHEN $5 THEN timezone('UTC', now()) ELSE NULL END, "updatedAt" = timezone('UTC', now())
      WHERE "repoId" = $1 AND kind = $2 AND "pagesDone" < $3`,
    [repoId, kind, page, items, finished],
  )
}

/** Marks a kind finished now (its catch-up read what changed until now). */
async function finishBackfillCursor(pool, repoId, kind) {
  await pool.query(
    `UPDATE github_backfill_cursors SET "finishedAt" = timezone('UTC', now()), "updatedAt" = timezone('UTC', now())
      WHERE "repoId" = $1 AND kind = $2`,
    [repoId, kind],
  )
}

/** The reconcile cursor of one hook (`deliveredThrough` as a Date, or null). */
async function loadReconcileCursor(pool, hook) {
  const { rows } = await pool.query(
    `SELECT "deliveredThrough" AT TIME ZONE 'UTC' AS "deliveredThrough", "lastRunAt" AT TIME ZONE 'UTC' AS "lastRunAt"
       FROM github_reconcile_cursors WHERE hook = $1`,
    [hook],
  )
  return rows[0] ?? null
}

/** Stores a hook's cursor after a run (not called by a dry run). */
async function saveReconcileCursor(pool, hook, deliveredThrough) {
  await pool.query(
    `INSERT INTO github_reconcile_cursors (id, hook, "deliveredThrough", "lastRunAt", "updatedAt")
     VALUES ($1, $2, ${utc('$3')}, timezone('UTC', now()), timezone('UTC', now()))
     ON CONFLICT (hook) DO UPDATE
       SET "deliveredThrough" = EXCLUDED."deliveredThrough", "lastRunAt" = timezone('UTC', now()), "updatedAt" = timezone('UTC', now())`,
    [randomUUID(), hook, deliveredThrough ? deliveredThrough.toISOString() : null],
  )
}

module.exports = {
  openDatabase,
  loadBackfillCursor,
  startBackfillCursor,
  advanceBackfillCursor,
  finishBackfillCursor,
  loadReconcileCursor,
  saveReconcileCursor,
}
