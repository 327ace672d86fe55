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

/** The query for `shas` (checked hex): one aliased `object(oid:)` per commit, oids bound as variables. */
function commitStatsQuery(shas) {
  const vars = shas.map((_, i) => `$o${i}: GitObjectID!`).join(', ')
  const fields = shas
    .map((sha, i) => `c${sha}: object(oid: $o${i}) { ... on Commit { oid additions deletions changedFilesIfAvailable } }`)
    .join('\n    ')
  return `query commitStats($owner: String!, $name: String!, ${vars}) {\n  repository(owner: $owner, name: $name) {\n    ${fields}\n  }\n}`
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
    const variables = Object.fromEntries(batch.map((sha, j) => [`o${j}`, sha]))
    done.requests++
    const response = await octokit.request('POST /graphql', { query: commitStatsQuery(batch), variables: { owner, name, ...variables } })
    const body = typeof response.data === 'string' ? response.data : JSON.stringify(response.data)
    const answer = response.data || {}
    const errors = Array.isArray(answer.errors) ? answer.errors : []
    if (answer.data && answer.data.repository === null) {
      throw new WebhookProcessingError('GITHUB_NOT_FOUND', `GitHub does not resolve the repository ${owner}/${name}`)
    }
    if (errors.some((e) => e && e.type === 'RATE_LIMITED')) {
      // Normally thrown by the client's throttling already; should an answer get here, it delays the job.
      throw Object.assign(new WebhookProcessingError('GITHUB_RATE_LIMITED', 'GraphQL rate limit'), { retryAfterMs: 60_000, rateLimit: 'primary' })
    }
    // NOT_FOUND on a commit's alias is an answer (the addon marks the commit); anything else is not.
    const unexpected = errors.filter((e) => !e || e.type !== 'NOT_FOUND')
    if (unexpected.length > 0) {
      throw new WebhookProcessingError('GITHUB_ERROR', `GraphQL errors: ${unexpected.map((e) => String((e && (e.type ?? e.message)) ?? e)).join(', ').slice(0, 200)}`)
    }
    const outcome = await processor.applyCommitStats(repoId, body)
    done.updated += outcome.updated
    done.missing += outcome.missing
    done.metricJobs += await queueMetricJobs(metricsQueue, outcome.metricJobs, deliveryId)
  }
  return done
}

module.exports = { run, commitStatsQuery, COMMITS_PER_REQUEST, queueMetricJobs, addRetryably }
