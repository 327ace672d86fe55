'use strict'
// commitStats: line counts of a push's commits, which push payloads never carry.
// GitHub's GraphQL API answers up to 100 commits in one request, each an alias named after
// its sha (`c<sha>: object(oid:) { ... on Commit { oid additions deletions
// changedFilesIfAvailable } }`), so a 2048-commit push costs 21 requests. The answer's text
// goes to the addon (applyCommitStats), which writes the batch in one statement and marks
// commits GitHub cannot resolve. Commits whose counts are already known are skipped first,
// so a job resumed after a rate limit, or retried after a failure, asks again only for
// what is still missing.

const { metricJobOptions } = require('../../worker')
const { WebhookProcessingError } = require('../../errors')
const { redactCredentials } = require('../../redact')

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

/** Queues metric jobs on the metrics queue, as the webhook worker does. */
async function queueMetricJobs(metricsQueue, metricJobs, deliveryId) {
  if (!metricsQueue || metricJobs.length === 0) return 0
  const jobs = metricJobs.map((m) => ({
    data: { kind: m.kind, id: m.id, date: m.date, deliveryId: deliveryId ?? null },
    opts: { ...metricJobOptions, jobId: m.jobId },
  }))
  await addRetryably(metricsQueue, jobs, 'metric jobs')
  return metricJobs.length
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

/**
 * Fetches and writes the counts of `job.data.shas` still unknown. Resolves with
 * `{ requests, updated, missing, metricJobs }`.
 */
async function run(job, { processor, client, metricsQueue }) {
  const { repoId, repository, shas, deliveryId } = job.data
  const { owner, name } = splitRepository(repository)
  if (!Array.isArray(shas) || !shas.every((s) => typeof s === 'string' && SHA.test(s))) {
    throw new WebhookProcessingError('INVALID_JOB', 'shas must be an array of commit SHAs')
  }
  const todo = await processor.commitsLackingStats(repoId, shas)
  const done = { requests: 0, updated: 0, missing: 0, skipped: shas.length - todo.length, metricJobs: 0 }
  if (todo.length === 0) return done
  const octokit = await client.forOwner(owner)
  for (let i = 0; i < todo.length; i += COMMITS_PER_REQUEST) {
    const batch = todo.slice(i, i + COMMITS_PER_REQUEST)
    done.requests++
    const { body } = await requestCounts(octokit, { owner, name }, batch)
    await writeCounts(body, { repoId, deliveryId, processor, metricsQueue }, done)
  }
  return done
}

module.exports = { run, commitStatsQuery, requestCounts, writeCounts, splitRepository, COMMITS_PER_REQUEST, queueMetricJobs, addRetryably }
