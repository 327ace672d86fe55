'use strict'
// commitStats: line counts of a push's commits, which push payloads never carry.
// GitHub's GraphQL API answers up to 100 commits in one request, each an alias named after
// its sha (`c<sha>: object(oid:) { ... on Commit { oid additions deletions
// changedFilesIfAvailable } }`), so a 2048-commit push costs 21 requests. The answer's text
// goes to the addon (applyCommitStats), which writes the batch in one statement and marks
// commits GitHub cannot resolve. Commits whose counts are already known are skipped first,
// so a job resumed after a rate limit, or retried after a failure, asks again only for
// what is still missing.

const metricJobs = require('../../metric-jobs')
const { WebhookProcessingError } = require('../../errors')
const { redactCredentials } = require('../../redact')
const { octokitForRepoId } = require('../repository-target')

/** Commits per GraphQL request (GitHub's node limit per connection is 100; one alias is one node). */
const COMMITS_PER_REQUEST = 100

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i

/**
 * The query for `shas` (checked hex): one aliased `object(oid:)` per commit, oids bound as
 * variables. With `range`, a second root field `range: repository(…)` also asks the history
 * count of `$before` and `$after` (completePush's truncation check); the addon reads only
 * `data.repository`, so the answer's text goes to it unchanged. GitHub wants `first` or
 * `last` within 1–100 on every connection, so the count comes with one node.
 */
function commitStatsQuery(shas, { range = false } = {}) {
  const vars = [
    '$owner: String!',
    '$name: String!',
    ...(range ? ['$before: GitObjectID!', '$after: GitObjectID!'] : []),
    ...shas.map((_, i) => `$o${i}: GitObjectID!`),
  ].join(', ')
  const blocks = []
  if (shas.length > 0) {
    const fields = shas
      .map((sha, i) => `c${sha}: object(oid: $o${i}) { ... on Commit { oid additions deletions changedFilesIfAvailable } }`)
      .join('\n    ')
    blocks.push(`  repository(owner: $owner, name: $name) {\n    ${fields}\n  }`)
  }
  if (range) {
    const count = '... on Commit { history(first: 1) { totalCount } }'
    blocks.push(`  range: repository(owner: $owner, name: $name) {\n    before: object(oid: $before) { ${count} }\n    after: object(oid: $after) { ${count} }\n  }`)
  }
  return `query commitStats(${vars}) {\n${blocks.join('\n')}\n}`
}

function splitRepository(repository) {
  const [owner, name, ...rest] = String(repository).split('/')
  if (!owner || !name || rest.length) throw new WebhookProcessingError('INVALID_JOB', 'repository must be owner/name')
  return { owner, name }
}

/** Adds jobs to a queue; a failure is retryable (the rows are written, a retry queues the jobs again). */
async function addRetryably(queue, jobs, what) {
  try {
    await queue.addBulk(jobs)
  } catch (err) {
    throw new WebhookProcessingError('DATABASE_UNAVAILABLE', `${what} not queued: ${redactCredentials(String(err && err.message))}`, { cause: err })
  }
}

/** Queues metric jobs on the metrics queue, as the webhook worker does; a failure is retryable. */
async function queueMetricJobs(metricsQueue, jobs, deliveryId) {
  try {
    return await metricJobs.queueMetricJobs(metricsQueue, jobs, { deliveryId: deliveryId ?? null })
  } catch (err) {
    throw new WebhookProcessingError('DATABASE_UNAVAILABLE', `metric jobs not queued: ${redactCredentials(String(err && err.message))}`, { cause: err })
  }
}

/**
 * Asks GitHub for the counts of `batch` (and, with `range` `{ before, after }`, the history
 * counts of the range's ends) in one GraphQL request, and checks the answer. Resolves with
 * `{ body, answer }`: the text for the addon and the parsed answer. A NOT_FOUND on a commit's
 * alias is an answer (the addon marks the commit); so is any error under `range` (the range
 * is then of unknown size). `GITHUB_NOT_FOUND` when GitHub does not resolve the repository.
 */
async function requestCounts(octokit, { owner, name }, batch, range = null) {
  const variables = { owner, name, ...Object.fromEntries(batch.map((sha, j) => [`o${j}`, sha])) }
  if (range) Object.assign(variables, { before: range.before, after: range.after })
  const response = await octokit.request('POST /graphql', { query: commitStatsQuery(batch, { range: Boolean(range) }), variables })
  const body = typeof response.data === 'string' ? response.data : JSON.stringify(response.data)
  const answer = response.data || {}
  const errors = Array.isArray(answer.errors) ? answer.errors : []
  const data = answer.data
  if (data && (data.repository === null || (range && batch.length === 0 && data.range === null))) {
    throw new WebhookProcessingError('GITHUB_NOT_FOUND', `GitHub does not resolve the repository ${owner}/${name}`)
  }
  if (errors.some((e) => e && e.type === 'RATE_LIMITED')) {
    // Normally thrown by the client's throttling already; should an answer get here, it delays the job.
    throw Object.assign(new WebhookProcessingError('GITHUB_RATE_LIMITED', 'GraphQL rate limit'), { retryAfterMs: 60_000, rateLimit: 'primary' })
  }
  const underRange = (e) => range && Array.isArray(e.path) && e.path[0] === 'range'
  const unexpected = errors.filter((e) => !e || (e.type !== 'NOT_FOUND' && !underRange(e)))
  if (unexpected.length > 0) {
    throw new WebhookProcessingError('GITHUB_ERROR', `GraphQL errors: ${unexpected.map((e) => String((e && (e.type ?? e.message)) ?? e)).join(', ').slice(0, 200)}`)
  }
  return { body, answer }
}

/** Hands one answer's text to the addon and queues the metric jobs it derives; adds to `done`. */
async function writeCounts(body, { repoId, deliveryId, processor, metricsQueue }, done) {
  const outcome = await processor.applyCommitStats(repoId, body)
  done.updated += outcome.updated
  done.missing += outcome.missing
  done.metricJobs += await queueMetricJobs(metricsQueue, outcome.metricJobs, deliveryId)
}

/** Failures a smaller request may not meet: a 5xx or timeout (after the client's retries), an unexpected GraphQL error. */
function splittable(err) {
  return Boolean(err) && (err.code === 'GITHUB_UNAVAILABLE' || err.code === 'GITHUB_ERROR')
}

/**
 * Fetches and writes the counts of `job.data.shas`. The first attempt asks only for counts
 * still unknown. A retry asks again for every commit of the job that no earlier attempt
 * settled (counts written and their metric jobs queued: `job.data.settled`), known or not:
 * an attempt that wrote counts and then failed to queue their metric jobs left them known,
 * and only writing them again re-derives those jobs (as a duplicate delivery re-derives its
 * own).
 *
 * A batch GitHub fails (5xx, timeout, an unexpected GraphQL error) is split in halves, down to
 * single commits, so one commit GitHub can never answer costs only its own counts: those are
 * left unknown (`unresolved`; the commit-stats catch-up asks again later) and the job
 * completes. When both halves of a first split fail and nothing has succeeded, GitHub is
 * failing whatever is asked: the job fails and the queue retries it later (on its last
 * attempt it splits all the way, to save what can be saved). Resolves with
 * `{ requests, updated, missing, skipped, metricJobs, unresolved }`.
 */
async function run(job, { processor, client, metricsQueue }) {
  const { repoId, repository, shas, deliveryId } = job.data
  const { owner, name } = splitRepository(repository)
  if (!Array.isArray(shas) || !shas.every((s) => typeof s === 'string' && SHA.test(s))) {
    throw new WebhookProcessingError('INVALID_JOB', 'shas must be an array of commit SHAs')
  }
  const settled = new Set(Array.isArray(job.data.settled) ? job.data.settled : [])
  const attemptsMade = Number.isInteger(job.attemptsMade) ? job.attemptsMade : 0
  const lastAttempt = attemptsMade + 1 >= (job.opts && Number.isInteger(job.opts.attempts) ? job.opts.attempts : 1)
  const todo = attemptsMade > 0 ? [...new Set(shas.map((s) => s.toLowerCase()))].filter((s) => !settled.has(s)).sort() : await processor.commitsLackingStats(repoId, shas)
  const done = { requests: 0, updated: 0, missing: 0, skipped: shas.length - todo.length, metricJobs: 0, unresolved: 0 }
  if (todo.length === 0) return done
  const octokit = await octokitForRepoId(client, processor, repoId, owner)
  const ctx = { repoId, deliveryId, processor, metricsQueue }
  const track = todo.length > COMMITS_PER_REQUEST && typeof job.update === 'function'
  let succeeded = 0

  const attempt = async (batch) => {
    done.requests++
    try {
      return { body: (await requestCounts(octokit, { owner, name }, batch)).body }
    } catch (err) {
      if (!splittable(err)) throw err
      return { error: err }
    }
  }
  const write = async (batch, body) => {
    await writeCounts(body, ctx, done)
    succeeded++
    if (track) {
      for (const s of batch) settled.add(s)
      await job.update({ ...job.data, settled: [...settled] })
    }
  }
  const split = async (batch, error) => {
    if (batch.length === 1) {
      // Nothing answered yet: not this commit's fault alone (the queue retries the job).
      if (!lastAttempt && succeeded === 0) throw error
      done.unresolved++
      return
    }
    const mid = Math.ceil(batch.length / 2)
    const halves = [batch.slice(0, mid), batch.slice(mid)]
    const outcomes = []
    for (const half of halves) {
      const outcome = await attempt(half)
      if (outcome.body !== undefined) await write(half, outcome.body)
      outcomes.push(outcome)
    }
    if (!lastAttempt && succeeded === 0 && outcomes.every((o) => o.error)) throw outcomes[1].error
    for (let i = 0; i < halves.length; i++) if (outcomes[i].error) await split(halves[i], outcomes[i].error)
  }

  for (let i = 0; i < todo.length; i += COMMITS_PER_REQUEST) {
    const batch = todo.slice(i, i + COMMITS_PER_REQUEST)
    const outcome = await attempt(batch)
    if (outcome.body !== undefined) await write(batch, outcome.body)
    else await split(batch, outcome.error)
  }
  return done
}

module.exports = { run, commitStatsQuery, requestCounts, writeCounts, splitRepository, COMMITS_PER_REQUEST, queueMetricJobs, addRetryably }
