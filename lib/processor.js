'use strict'
// WebhookProcessor: a connected processor (a PostgreSQL pool and the user-mapping caches)
// around the native NativeProcessor, with argument validation and WebhookProcessingError on
// every method. Its own module so the workers (./worker.js, ./bullmq-worker.js, ./github/*)
// require it directly; the package entry (./index.js) only re-exports it.

const native = require('../index.js')
const { WebhookProcessingError, callNative } = require('./errors')
const { normalizeJob, normalizeOptions, normalizeGithubId, normalizeLink, isNonEmptyString, MAX_PAYLOAD_BYTES } = require('./validate')
const { normalizeRestPage } = require('./rest-page')
const { normalizeReprocessOptions } = require('./reprocess')
const { normalizeDoraOptions, shapeDoraMetrics } = require('./dora')

/** A connected processor: a PostgreSQL pool and the user-mapping caches. */
class WebhookProcessor {
  #native

  /** Use WebhookProcessor.connect(). */
  constructor(nativeProcessor) {
    if (!(nativeProcessor instanceof native.NativeProcessor)) {
      throw new WebhookProcessingError('CONFIG_ERROR', 'use WebhookProcessor.connect(options)')
    }
    this.#native = nativeProcessor
  }

  /** Opens the pool and checks the schema (SCHEMA_MISMATCH names what is missing). */
  static async connect(options) {
    const opts = normalizeOptions(options)
    return new WebhookProcessor(await callNative(() => native.NativeProcessor.connect(opts)))
  }

  /** Processes one delivery; see ProcessingResult. */
  async process(job) {
    const j = normalizeJob(job)
    const result = await callNative(() =>
      this.#native.process(j.deliveryId, j.event, j.payload, j.repoId, j.receivedAtMs),
    )
    // napi leaves absent optionals undefined; the contract says null.
    result.eventId ??= null
    result.action ??= null
    result.repoId ??= null
    result.reason ??= null
    for (const f of result.followUps) {
      f.before ??= null
      f.after ??= null
      f.forced ??= null
      f.deploymentId ??= null
    }
    return result
  }

  /** The DevMetrics user id linked to a GitHub account id, or null; cached. */
  async getUserIdByGithubId(githubId) {
    const id = normalizeGithubId(githubId)
    return callNative(() => this.#native.getUserIdByGithubId(id))
  }

  /**
   * Links a DevMetrics user to a GitHub account (id, login, and/or a commit email to
   * back-fill by), invalidates every processor's caches, and attributes earlier rows.
   */
  async linkGithubUser(userId, github) {
    const link = normalizeLink(userId, github)
    return callNative(() => this.#native.linkGithubUser(link.userId, link.github))
  }

  /**
   * Writes GitHub's GraphQL answer of commit line counts (aliases `c<sha>`, see
   * docs/github-api.md) for a repository (DevMetrics id) in one statement. INVALID_PAYLOAD
   * for an answer it cannot trust (nothing written), UNKNOWN_REPOSITORY, INVALID_JOB for
   * arguments of the wrong type.
   */
  async applyCommitStats(repoId, responseText) {
    const args = normalizeApiCall('applyCommitStats', repoId, responseText)
    return callNative(() => this.#native.applyCommitStats(args.repoId, args.text))
  }

  /**
   * Inserts the commits of one compare page (the comparison object or its `commits` array,
   * as JSON text) that the repository lacks, mapped like a push's. Idempotent.
   */
  async completePush(repoId, compareText) {
    const args = normalizeApiCall('completePush', repoId, compareText)
    return callNative(() => this.#native.completePush(args.repoId, args.text))
  }

  /**
   * The deploymentChanges job's start for a deployment (GitHub id, a positive integer or its
   * decimal text): its previous successful production deployment now (`baseSha`, null when
   * none came before), whether the stored changes are complete for it, and whether rows
   * computed against another base were deleted now. Null when the repository has no such
   * deployment. See docs/dora.md.
   */
  async deploymentChangesStart(repoId, deploymentId) {
    const args = normalizeDeploymentCall('deploymentChangesStart', repoId, deploymentId)
    const start = await callNative(() => this.#native.deploymentChangesStart(args.repoId, args.deploymentId))
    if (!start) return null
    start.baseSha ??= null
    start.baseGithubId ??= null
    return start
  }

  /**
   * Writes one compare page of `baseSha...deployment` (JSON text): the commits the table
   * lacks, as completePush does, and the deployment's deployment_changes rows; nothing when
   * the deployment's base changed meanwhile (`current: false`).
   */
  async applyDeploymentChanges(repoId, deploymentId, baseSha, compareText) {
    const args = normalizeDeploymentCall('applyDeploymentChanges', repoId, deploymentId)
    if (!isNonEmptyString(baseSha)) throw new WebhookProcessingError('INVALID_JOB', 'applyDeploymentChanges: baseSha must be a commit SHA')
    const { text } = normalizeApiCall('applyDeploymentChanges', repoId, compareText)
    return callNative(() => this.#native.applyDeploymentChanges(args.repoId, args.deploymentId, baseSha, text))
  }

  /**
   * Marks a deployment's changes complete for `baseSha` (null: it had no previous one) and
   * whether it is a rollback; resolves `{ marked, stale }`, `stale` naming the deployments
   * whose changes must be computed again (the later ones, and this one when a predecessor
   * stored while its job ran has become its previous deployment).
   */
  async finishDeploymentChanges(repoId, deploymentId, baseSha, rollback) {
    const args = normalizeDeploymentCall('finishDeploymentChanges', repoId, deploymentId)
    if (baseSha !== null && !isNonEmptyString(baseSha)) throw new WebhookProcessingError('INVALID_JOB', 'finishDeploymentChanges: baseSha must be a commit SHA or null')
    if (typeof rollback !== 'boolean') throw new WebhookProcessingError('INVALID_JOB', 'finishDeploymentChanges: rollback must be a boolean')
    const done = await callNative(() => this.#native.finishDeploymentChanges(args.repoId, args.deploymentId, baseSha ?? undefined, rollback))
    for (const s of done.stale) s.baseSha ??= null
    return done
  }

  /** GitHub ids of the repository's successful production deployments whose changes are not complete, oldest first. */
  async deploymentsLackingChanges(repoId) {
    if (!isNonEmptyString(repoId)) throw new WebhookProcessingError('INVALID_JOB', 'deploymentsLackingChanges: repoId must be a non-empty string')
    return callNative(() => this.#native.deploymentsLackingChanges(repoId))
  }

  /** The GitHub App installation id stored on the repository's row (`repositories.installationId`); null when none is stored or the repository is unknown. */
  async repositoryInstallation(repoId) {
    if (!isNonEmptyString(repoId)) throw new WebhookProcessingError('INVALID_JOB', 'repositoryInstallation: repoId must be a non-empty string')
    return callNative(() => this.#native.repositoryInstallation(repoId))
  }

  /** Of `shas`, those of the repository whose line counts are still unknown, sorted. */
  async commitsLackingStats(repoId, shas) {
    if (!isNonEmptyString(repoId)) throw new WebhookProcessingError('INVALID_JOB', 'commitsLackingStats: repoId must be a non-empty string')
    if (!Array.isArray(shas) || !shas.every((s) => typeof s === 'string')) {
      throw new WebhookProcessingError('INVALID_JOB', 'commitsLackingStats: shas must be an array of strings')
    }
    return callNative(() => this.#native.commitsLackingStats(repoId, shas))
  }

  /**
   * Applies one page of a GitHub REST list through the webhooks' write paths (backfill):
   * kind 'pulls' | 'reviews' | 'issues' | 'commits'; a reviews page needs its pull request.
   * Writes no events row. Resolves { items, skipped, records, metricJobs, unmappedUsers }.
   */
  async applyRestPage(repoId, kind, page, pullRequest) {
    const args = normalizeRestPage(repoId, kind, page, pullRequest)
    return callNative(() => this.#native.applyRestPage(args.repoId, args.kind, args.page, args.pullRequest))
  }

  /**
   * Applies the stored payloads of processed events to the entity tables again, in
   * resumable batches (docs/reprocess.md). Resolves { events, byType, skipped, durationMs,
   * runId, resumed, complete, totalEvents }; bad options are CONFIG_ERROR.
   */
  async reprocessEvents(options) {
    const { native: opts, onProgress } = normalizeReprocessOptions(options)
    const result = await callNative(() => this.#native.reprocessEvents(opts, onProgress))
    return {
      events: result.events,
      byType: result.byType,
      skipped: result.skipped,
      durationMs: result.durationMs,
      runId: result.runId,
      resumed: result.resumed,
      complete: result.complete,
      totalEvents: result.totalEvents,
    }
  }

  /**
   * The five DORA metrics over the successful production deployments whose first success is
   * in [since, until) (docs/dora.md), each with the GitHub ids of the deployments behind it.
   * Bad options are CONFIG_ERROR.
   */
  async doraMetrics(options) {
    const opts = normalizeDoraOptions(options)
    return shapeDoraMetrics(await callNative(() => this.#native.doraMetrics(opts)))
  }

  /** Counts by status and error code, cache hits and misses per tier, latency percentiles. */
  stats() {
    return this.#native.stats()
  }

  /** Waits for in-flight calls and closes the pool; later calls reject PROCESSOR_CLOSED. */
  async close() {
    return callNative(() => this.#native.close())
  }
}

/** A repository id and a deployment's GitHub id (a positive safe integer, or its decimal text). */
function normalizeDeploymentCall(method, repoId, deploymentId) {
  if (!isNonEmptyString(repoId)) throw new WebhookProcessingError('INVALID_JOB', `${method}: repoId must be a non-empty string`)
  const id = typeof deploymentId === 'string' && /^[1-9][0-9]{0,15}$/.test(deploymentId) ? Number(deploymentId) : deploymentId
  if (!Number.isSafeInteger(id) || id < 1) throw new WebhookProcessingError('INVALID_JOB', `${method}: deploymentId must be a deployment's GitHub id`)
  return { repoId, deploymentId: id }
}


/** Checks the arguments of a method that takes a GitHub API answer as text. */
function normalizeApiCall(method, repoId, text) {
  if (!isNonEmptyString(repoId)) throw new WebhookProcessingError('INVALID_JOB', `${method}: repoId must be a non-empty string`)
  let body = text
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) body = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')
  if (typeof body !== 'string') throw new WebhookProcessingError('INVALID_JOB', `${method}: the response must be JSON text (string or Buffer)`)
  if (Buffer.byteLength(body) > MAX_PAYLOAD_BYTES) {
    throw new WebhookProcessingError('PAYLOAD_TOO_LARGE', `${method}: the response is over ${MAX_PAYLOAD_BYTES} bytes`)
  }
  return { repoId, text: body }
}

module.exports = { WebhookProcessor, normalizeApiCall }
