'use strict'
// What issue 16 adds to the package's exports, in one place so lib/index.js changes by a
// line: registering a repository, the backfill and reconcile jobs of the `github` queue,
// and the reconcile schedule.

const { registerRepository, registerInstalledRepositories, queueBackfill } = require('./register')
const backfill = require('./github/jobs/backfill')
const reconcile = require('./github/jobs/reconcile')
const { scheduleReconcile, unscheduleReconcile, DEFAULT_RECONCILE_EVERY_MS } = require('./github/schedule')
const { parseSince } = require('./github/duration')
const { queueUnknownCommitStats } = require('./github/commit-stats-catch-up')

module.exports = {
  registerRepository,
  registerInstalledRepositories,
  queueBackfill,
  runBackfill: backfill.backfill,
  runReconcile: reconcile.reconcile,
  scheduleReconcile,
  unscheduleReconcile,
  DEFAULT_RECONCILE_EVERY_MS,
  parseSince,
  queueUnknownCommitStats,
}
