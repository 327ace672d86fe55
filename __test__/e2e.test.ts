// End to end through the reference backend (examples/backend) started in this process on
// port 0: a signed HTTP delivery → the "webhooks" queue → the worker → the addon → rows in
// PostgreSQL → metric jobs on the "metrics" queue. Real PostgreSQL (a database of this file),
// real Redis and Bull (a key prefix of this file), the built addon.
import { createHmac, randomUUID } from 'node:crypto'
import { Client } from 'pg'
import { createTestDatabase, insertRepository, insertTeam, insertUser, TestDatabase } from './helpers/db'
import { eventually } from './helpers/eventually'
import { testPrefix } from './helpers/redis'
import { jsonLogger } from '../examples/backend/src/logger'
import { idSeparator, suiteDriver } from './support/driver'
import { backendEnv, deliver, fixture, pushWithFreshCommits, RunningBackend, settled, startBackend } from './support/backend'

const OCTOCAT = 583231
const HUBOT = 480938

let db: TestDatabase
let running: RunningBackend
let url: string
let repoId: string
let teamId: string
let octocatId: string
let hubotId: string
const redis = testPrefix()

beforeAll(async () => {
  db = await createTestDatabase()
  db.pool.on('error', () => undefined) // idle test connections are not terminated, but never crash on one
  teamId = await insertTeam(db.pool, 'Platform')
  repoId = await insertRepository(db.pool, undefined, { teamId })
  octocatId = await insertUser(db.pool, { email: 'mona@corp.example', githubId: OCTOCAT, githubLogin: 'octocat', teamIds: [teamId] })
  hubotId = await insertUser(db.pool, { email: 'hubot@corp.example', githubId: HUBOT })
  running = await startBackend(backendEnv(db.url, redis.prefix))
  url = running.url
})

afterAll(async () => {
  await running?.backend.close()
  await redis.cleanup()
  await db?.drop()
})

const webhooks = () => running.backend.queues.webhooks
const metrics = () => running.backend.queues.metrics

/** Total jobs of the webhooks queue in any state. */
async function jobTotal(): Promise<number> {
  const counts = await webhooks().getJobCounts()
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

async function eventRows(deliveryId: string) {
  const { rows } = await db.pool.query('SELECT type, action, processed, attempts, "lastError", "repoId" FROM events WHERE "deliveryId" = $1', [
    deliveryId,
  ])
  return rows
}

/** Delivers, expects 202 queued, waits for the job, returns the job. */
async function deliverAndSettle(event: string, payload: unknown, deliveryId?: string) {
  const res = await deliver(url, event, payload, { deliveryId })
  expect(res).toMatchObject({ status: 202, body: { status: 'queued', deliveryId: res.deliveryId, jobId: expect.any(String) } })
  await settled(webhooks(), [res.body.jobId])
  return { res, job: (await webhooks().getJob(res.body.jobId))! }
}

describe('every tracked event type, end to end', () => {
  const cases: [string, string, string, () => [table: string, githubIdOrSha: string], () => string | null, string][] = [
    ['push', 'push', 'push-event.json', () => ['commits', 'a10867b14bb761a232cd80139fbd4c0d33264240'], () => octocatId, '2024-03-04'],
    ['pull_request opened', 'pull_request', 'pull-request-opened.json', () => ['pull_requests', '1754321001'], () => octocatId, '2024-03-04'],
    ['pull_request merged', 'pull_request', 'pull-request-merged.json', () => ['pull_requests', '1754321001'], () => octocatId, '2024-03-05'],
    ['issues opened', 'issues', 'issue-opened.json', () => ['issues', '2154321002'], () => octocatId, '2024-03-04'],
    ['issues closed', 'issues', 'issue-closed.json', () => ['issues', '2154321002'], () => octocatId, '2024-03-06'],
    ['pull_request_review submitted', 'pull_request_review', 'pull-request-review.json', () => ['pull_request_reviews', '1923456789'], () => hubotId, '2024-03-05'],
    ['deployment created', 'deployment', 'deployment-created.json', () => ['deployments', '145988746'], () => octocatId, '2024-03-04'],
    ['deployment_status success', 'deployment_status', 'deployment-status-success.json', () => ['deployment_statuses', '209916254'], () => octocatId, '2024-03-05'],
    ['workflow_run completed', 'workflow_run', 'workflow-run-completed.json', () => ['workflow_runs', '289782451'], () => octocatId, '2024-03-06'],
    // A job names no person: the repository's team only.
    ['workflow_job completed', 'workflow_job', 'workflow-job-completed.json', () => ['workflow_jobs', '289782451'], () => null, '2024-03-06'],
    ['release published', 'release', 'release-published.json', () => ['releases', '17372790'], () => octocatId, '2024-03-07'],
  ]

  test.each(cases)('%s: signed request → queue → worker → rows → metric jobs', async (_label, event, file, row, developer, date) => {
    const { res, job } = await deliverAndSettle(event, fixture(file))
    expect(await job.getState()).toBe('completed')
    expect(job.returnvalue).toMatchObject({ status: 'processed' })
    expect(job.data).toMatchObject({ deliveryId: res.deliveryId, event, repoId, payload: expect.any(String), receivedAt: expect.any(String) })
    expect(job.opts).toMatchObject({ attempts: 4, removeOnFail: 500 })

    expect(await eventRows(res.deliveryId)).toEqual([
      expect.objectContaining({ type: event, processed: true, attempts: 1, lastError: null, repoId }),
    ])
    const [table, key] = row()
    const column = table === 'commits' ? 'sha' : '"githubId"'
    const { rows } = await db.pool.query(`SELECT "repoId" FROM ${table} WHERE ${column} = $1`, [key])
    expect(rows).toEqual([{ repoId }])

    // Metric job ids coalesce per minute (developer:<user>:<date>:<minute>; `.` for `:` on BullMQ), so look for the prefixes.
    const s = idSeparator()
    const ids = (await metrics().getJobs(['waiting', 'active', 'delayed'])).map((j) => String(j.id))
    const user = developer()
    const expected = [expect.stringMatching(`^team${s}${teamId}${s}${date}${s}`)]
    if (user) expected.push(expect.stringMatching(`^developer${s}${user}${s}${date}${s}`))
    expect(ids).toEqual(expect.arrayContaining(expected))
    const metricJob = (await metrics().getJobs(['waiting'])).find((j) => String(j.id).startsWith(`team${s}${teamId}${s}${date}${s}`))
    expect(metricJob?.data).toMatchObject({ kind: 'team', id: teamId, date })
    expect(metricJob?.opts.removeOnComplete).toBe(true)
  })

  test('a redelivery (same X-GitHub-Delivery) is queued again and answers duplicate without new rows', async () => {
    const { payload, shas } = pushWithFreshCommits(2)
    const first = await deliverAndSettle('push', payload)
    const again = await deliverAndSettle('push', payload, first.res.deliveryId)
    expect(first.job.returnvalue).toMatchObject({ status: 'processed', records: { commits: 2 } })
    expect(again.job.returnvalue).toMatchObject({ status: 'duplicate', records: { commits: 0 } })
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM commits WHERE sha = ANY($1)', [shas])
    expect(rows[0].n).toBe(2)
    expect(await eventRows(first.res.deliveryId)).toHaveLength(1)
  })

  test('an event type no processor tracks is queued, answered ignored and stored processed', async () => {
    const push = fixture('push-event.json')
    const star = { action: 'created', starred_at: '2024-03-04T10:00:00Z', repository: push.repository, sender: push.sender }
    const { res, job } = await deliverAndSettle('star', star)
    expect(job.returnvalue).toMatchObject({ status: 'ignored' })
    expect(await eventRows(res.deliveryId)).toEqual([expect.objectContaining({ type: 'star', action: 'created', processed: true })])
  })
})

describe('what the endpoint refuses or does not queue', () => {
  test('a bad signature is 401 and queues nothing', async () => {
    const before = await jobTotal()
    const payload = fixture('push-event.json')
    const body = JSON.stringify(payload)
    const variants: Parameters<typeof deliver>[3][] = [
      { secret: 'not-the-secret' },
      { headers: { 'x-hub-signature-256': null } },
      { headers: { 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) } },
      { headers: { 'x-hub-signature-256': 'garbage' } },
    ]
    for (const variant of variants) {
      const res = await deliver(url, 'push', body, variant)
      expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: { error: 'invalid or missing X-Hub-Signature-256' } })
      expect(await eventRows(res.deliveryId)).toEqual([])
    }
    // Signed, then tampered with: the signature is over the exact bytes.
    const { sign } = await import('@octokit/webhooks-methods')
    const signature = await sign('e2e-webhook-secret', body)
    const tampered = await deliver(url, 'push', body.replace('"refs/heads/main"', '"refs/heads/evil"'), {
      headers: { 'x-hub-signature-256': signature },
    })
    expect(tampered.status).toBe(401)
    // The legacy SHA-1 header alone is not accepted.
    const sha1 = await deliver(url, 'push', body, {
      headers: { 'x-hub-signature-256': null, 'x-hub-signature': await sign({ secret: 'e2e-webhook-secret', algorithm: 'sha1' }, body) },
    })
    expect(sha1.status).toBe(401)
    expect(await jobTotal()).toBe(before)
  })

  test('the signature is checked over the raw bytes: a body that is not UTF-8 is refused, never queued as altered text', async () => {
    const before = await jobTotal()
    const text = JSON.stringify(fixture('push-event.json'))
    const at = text.indexOf('refs/heads/')
    const raw = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xff, 0xfe]), Buffer.from(text.slice(at))])
    const post = (signature: string) =>
      fetch(`${url}/api/webhooks/github`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-github-delivery': randomUUID(),
          'x-hub-signature-256': signature,
        },
        body: raw,
      })
    const hmac = (bytes: Buffer | string) => `sha256=${createHmac('sha256', 'e2e-webhook-secret').update(bytes).digest('hex')}`
    // Signed over the bytes sent: authentic, but not text the job can carry.
    const signedRaw = await post(hmac(raw))
    expect({ status: signedRaw.status, body: await signedRaw.json() }).toMatchObject({ status: 400, body: { error: 'the body is not valid UTF-8' } })
    // Signed over the decoded text (U+FFFD for the bad bytes): other bytes than were sent.
    const signedDecoded = await post(hmac(raw.toString('utf8')))
    expect(signedDecoded.status).toBe(401)
    expect(await jobTotal()).toBe(before)
  })

  test('missing X-GitHub-Delivery or X-GitHub-Event is 400 and queues nothing', async () => {
    const before = await jobTotal()
    const payload = fixture('push-event.json')
    const noDelivery = await deliver(url, 'push', payload, { headers: { 'x-github-delivery': null } })
    expect(noDelivery).toMatchObject({ status: 400, body: { error: 'missing header: X-GitHub-Delivery' } })
    const noEvent = await deliver(url, 'push', payload, { headers: { 'x-github-event': null } })
    expect(noEvent).toMatchObject({ status: 400, body: { error: 'missing header: X-GitHub-Event' } })
    const neither = await deliver(url, 'push', payload, { headers: { 'x-github-event': '', 'x-github-delivery': null } })
    expect(neither).toMatchObject({ status: 400, body: { error: 'missing header: X-GitHub-Delivery, X-GitHub-Event' } })
    expect(await jobTotal()).toBe(before)
  })

  test('a signed body that is not JSON is 400, a form-encoded one 415, ping 200; none queued', async () => {
    const before = await jobTotal()
    expect(await deliver(url, 'push', '{"ref": ')).toMatchObject({ status: 400, body: { error: 'the body is not valid JSON' } })
    expect(await deliver(url, 'push', '[1,2]')).toMatchObject({ status: 400, body: { error: 'the body is not a JSON object' } })
    const form = await deliver(url, 'push', 'payload=%7B%7D', { headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    expect(form.status).toBe(415)
    const ping = await deliver(url, 'ping', { zen: 'Keep it logically awesome.', hook_id: 1, repository: fixture('push-event.json').repository })
    expect(ping).toMatchObject({ status: 200, body: { status: 'pong', zen: 'Keep it logically awesome.' } })
    expect(await jobTotal()).toBe(before)
  })

  test('a repository not registered in DevMetrics is answered 202 ignored and not queued', async () => {
    const before = await jobTotal()
    const payload = fixture('push-event.json')
    payload.repository.id = 999_000_111
    const res = await deliver(url, 'push', payload)
    expect(res).toMatchObject({ status: 202, body: { status: 'ignored', reason: 'repository not registered', repositoryId: 999_000_111 } })
    const orgLevel = await deliver(url, 'organization', { action: 'member_added', organization: { id: 1 } })
    expect(orgLevel).toMatchObject({ status: 202, body: { status: 'ignored', reason: 'no repository in the payload' } })
    expect(await jobTotal()).toBe(before)

    // Registered later: the next delivery is accepted (unknown repositories are not cached).
    await insertRepository(db.pool, 999_000_111, { fullName: 'octo/late' })
    const late = pushWithFreshCommits(1).payload
    late.repository.id = 999_000_111
    const { job } = await deliverAndSettle('push', late)
    expect(job.returnvalue).toMatchObject({ status: 'processed', records: { commits: 1 } })
  })
})

test('a permanently bad payload fails once, lands in the failed set with its code, and is visible in stats', async () => {
  const { payload, shas } = pushWithFreshCommits(2)
  payload.commits[1].timestamp = 'yesterday'
  const { res, job } = await deliverAndSettle('push', payload)
  expect(await job.getState()).toBe('failed')
  expect(job.attemptsMade).toBe(1)
  expect(job.failedReason).toMatch(/timestamp/)
  const { logs } = await webhooks().getJobLogs(String(job.id))
  expect(logs).toEqual([expect.stringMatching(/^INVALID_PAYLOAD \(retryable: false\): /)])
  expect(await eventRows(res.deliveryId)).toEqual([
    expect.objectContaining({ processed: false, attempts: 1, lastError: expect.stringMatching(/^INVALID_PAYLOAD: /) }),
  ])
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM commits WHERE sha = ANY($1)', [shas])
  expect(rows[0].n).toBe(0)
  expect(running.logger.lines).toEqual(
    expect.arrayContaining([expect.objectContaining({ level: 'error', alert: true, jobId: job.id, code: 'INVALID_PAYLOAD' })]),
  )

  const stats = await (await fetch(`${url}/api/webhooks/stats`)).json()
  expect(stats.failures).toMatchObject({ failedJobs: 1, byCode: { INVALID_PAYLOAD: 1 }, unprocessedEvents: { INVALID_PAYLOAD: 1 } })
})

test('health, stats, Prometheus metrics and the queue UI', async () => {
  await deliverAndSettle('push', pushWithFreshCommits(1).payload)
  expect(running.logger.lines).toContainEqual(expect.objectContaining({ message: 'backend started', queueDriver: suiteDriver.current }))

  const health = await fetch(`${url}/api/webhooks/health`)
  expect(health.status).toBe(200)
  expect(await health.json()).toMatchObject({
    status: 'ok',
    role: 'all',
    checks: { redis: 'up', database: 'up' },
    worker: { status: 'running', concurrency: 4, active: expect.any(Number), counters: { completed: expect.any(Number) } },
  })

  const stats = await (await fetch(`${url}/api/webhooks/stats`)).json()
  expect(stats).toMatchObject({
    queues: { webhooks: { completed: expect.any(Number), failed: expect.any(Number) }, metrics: { waiting: expect.any(Number) } },
    queueDepth: expect.any(Number),
    eventsPerMinute: { lastMinute: expect.any(Number), last15Minutes: expect.any(Number) },
    latency: {
      endToEndMs: { count: expect.any(Number), p50: expect.any(Number), p95: expect.any(Number) },
      processingMicros: { count: expect.any(Number), p50: expect.any(Number) },
    },
    worker: { status: 'running', processor: { processed: expect.any(Number) } },
  })
  expect(stats.eventsPerMinute.lastMinute).toBeGreaterThan(0)
  // The deployment data delivered above is counted by type beside the seed's events.
  for (const type of ['push', 'deployment', 'deployment_status', 'workflow_run', 'workflow_job', 'release']) {
    expect(stats.eventsPerMinute.byType[type]).toBeGreaterThan(0)
  }
  // Every events row processed by this worker (ignored types included) has an end-to-end latency.
  expect(stats.latency.endToEndMs.count).toBe(stats.worker.processor.processed + stats.worker.processor.ignored)
  expect(stats.queues.metrics.waiting).toBeGreaterThan(0)

  const prom = await (await fetch(`${url}/metrics`)).text()
  expect(prom).toMatch(/^webhook_deliveries_total\{outcome="queued",event="push"\} \d+$/m)
  expect(prom).toMatch(/^webhook_deliveries_total\{outcome="bad_signature",event="unknown"\} \d+$/m)
  expect(prom).toMatch(/^webhook_jobs_completed_total\{event="push",status="processed"\} \d+$/m)
  expect(prom).toMatch(/^webhook_job_failures_total\{event="push",code="INVALID_PAYLOAD",final="true"\} 1$/m)
  expect(prom).toMatch(/^webhook_job_processing_seconds_count\{event="push"\} \d+$/m)
  expect(prom).toMatch(/^webhook_delivery_latency_seconds_count\{event="push"\} \d+$/m)
  expect(prom).toMatch(/^bull_queue_jobs\{queue="webhooks",state="completed"\} \d+$/m)
  expect(prom).toMatch(/^bull_queue_jobs\{queue="metrics",state="waiting"\} [1-9]\d*$/m)
  expect(prom).toMatch(/^webhook_worker_active_jobs \d+$/m)

  const ui = await fetch(`${url}/admin/queues`)
  expect(ui.status).toBe(200)
  expect(await ui.text()).toMatch(/<html/i)
  const board = await (await fetch(`${url}/admin/queues/api/queues`)).json()
  const byName = Object.fromEntries(board.queues.map((q: { name: string; counts: Record<string, number> }) => [q.name, q.counts]))
  expect(Object.keys(byName).sort()).toEqual(['metrics', 'webhooks'])
  expect(byName.webhooks.failed).toBe(1)
})

test('the processor connections terminated mid-run: every job completes and every event is stored exactly once', async () => {
  // A terminated connection fails the statement on it; the processor takes another
  // connection and tries the event again (a try that had committed reads as a duplicate),
  // and what still fails is retried by Bull with DATABASE_UNAVAILABLE. Either way nothing
  // is lost or stored twice.
  const killer = new Client({ connectionString: db.url, application_name: 'e2e-terminator' })
  await killer.connect()
  const terminate = () =>
    killer.query(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'devmetrics-webhook-processor'`,
    )
  const sent: { deliveryId: string; jobId: string; shas: string[] }[] = []
  let terminated = 0
  try {
    // Deliver while terminating the addon's connections every 100 ms, until at least ten
    // connections were terminated (bounded: at most 400 deliveries).
    let lastKill = 0
    while (sent.length < 400) {
      if (Date.now() - lastKill >= 100) {
        terminated += (await terminate()).rows[0].n
        lastKill = Date.now()
      }
      const { payload, shas } = pushWithFreshCommits(3)
      const res = await deliver(url, 'push', payload)
      expect(res.status).toBe(202)
      sent.push({ deliveryId: res.deliveryId, jobId: res.body.jobId, shas })
      if (sent.length >= 40 && terminated >= 10) break
    }
  } finally {
    await killer.end()
  }
  expect(terminated).toBeGreaterThanOrEqual(10)

  const states = await settled(webhooks(), sent.map((s) => s.jobId))
  expect(Object.values(states).every((s) => s === 'completed')).toBe(true)
  const events = await db.pool.query('SELECT "deliveryId", processed FROM events WHERE "deliveryId" = ANY($1)', [sent.map((s) => s.deliveryId)])
  expect(events.rows).toHaveLength(sent.length)
  expect(events.rows.every((r) => r.processed)).toBe(true)
  const shas = sent.flatMap((s) => s.shas)
  const commits = await db.pool.query('SELECT count(*)::int AS n, count(DISTINCT sha)::int AS distinct FROM commits WHERE sha = ANY($1)', [shas])
  expect(commits.rows[0]).toEqual({ n: shas.length, distinct: shas.length })
})

test('many concurrent deliveries (and redeliveries) for one pull request converge on the newest state', async () => {
  const PR = { id: 1754329999, number: 4242 }
  const at = (minute: number) => `2024-04-01T10:${String(minute).padStart(2, '0')}:00Z`
  const version = (action: string, minute: number, edit: (pr: any) => void = () => {}) => {
    const payload = fixture('pull-request-opened.json')
    payload.action = action
    Object.assign(payload.pull_request, { ...PR, created_at: at(0), updated_at: at(minute) })
    payload.number = PR.number
    edit(payload.pull_request)
    return payload
  }
  const withoutCounts = (pr: any) => {
    delete pr.additions
    delete pr.deletions
    delete pr.changed_files
  }
  const versions = [
    version('opened', 0, (pr) => Object.assign(pr, { title: 'v1', additions: 10, deletions: 1, changed_files: 1 })),
    version('edited', 5, (pr) => Object.assign(pr, { title: 'v2', additions: 10, deletions: 1, changed_files: 1 })),
    version('synchronize', 10, (pr) => Object.assign(pr, { title: 'v2', additions: 20, deletions: 2, changed_files: 2 })),
    version('labeled', 15, (pr) => {
      pr.title = 'v3'
      withoutCounts(pr)
    }),
    version('review_requested', 20, (pr) => {
      pr.title = 'v3'
      withoutCounts(pr)
    }),
    version('closed', 30, (pr) =>
      Object.assign(pr, { title: 'v4', state: 'closed', merged: true, merged_at: at(30), closed_at: at(30), additions: 25, deletions: 3, changed_files: 4 }),
    ),
  ]
  const deliveryIds = versions.map(() => randomUUID())
  // Every delivery three times (GitHub redeliveries keep the delivery id), all at once, shuffled.
  const requests = versions.flatMap((payload, i) => [0, 1, 2].map(() => ({ payload, deliveryId: deliveryIds[i] })))
  requests.sort(() => Math.random() - 0.5)
  const responses = await Promise.all(requests.map((r) => deliver(url, 'pull_request', r.payload, { deliveryId: r.deliveryId })))
  expect(responses.map((r) => r.status)).toEqual(requests.map(() => 202))
  const states = await settled(webhooks(), responses.map((r) => r.body.jobId))
  expect(Object.values(states).every((s) => s === 'completed')).toBe(true)

  const jobs = await Promise.all(responses.map(async (r) => (await webhooks().getJob(r.body.jobId))!))
  const statuses = jobs.map((j) => j.returnvalue.status)
  expect(statuses.filter((s) => s === 'processed')).toHaveLength(versions.length)
  expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(versions.length * 2)

  const { rows } = await db.pool.query('SELECT * FROM pull_requests WHERE "githubId" = $1', [PR.id])
  expect(rows).toHaveLength(1)
  expect(rows[0]).toMatchObject({
    repoId,
    number: PR.number,
    title: 'v4',
    state: 'MERGED',
    additions: 25,
    deletions: 3,
    filesChanged: 4,
    mergedAt: new Date(at(30)),
    updatedAt: new Date(at(30)),
    cycleTimeSeconds: 30 * 60,
    authorId: octocatId,
  })
  const events = await db.pool.query('SELECT count(*)::int AS n FROM events WHERE "deliveryId" = ANY($1) AND processed', [deliveryIds])
  expect(events.rows[0].n).toBe(versions.length)
})

test('close() stops HTTP, finishes the worker and closes the queues', async () => {
  const extra = await startBackend(backendEnv(db.url, redis.prefix), 'all')
  const { payload } = pushWithFreshCommits(1)
  const res = await deliver(extra.url, 'push', payload)
  expect(res.status).toBe(202)
  await extra.backend.close()
  expect(extra.backend.worker!.health().status).toBe('closing')
  await expect(fetch(`${extra.url}/api/webhooks/health`)).rejects.toThrow()
  // Whichever backend took the job, it completes once.
  await settled(webhooks(), [res.body.jobId])
  await eventually(
    () => eventRows(res.deliveryId),
    (rows) => rows.length === 1 && rows[0].processed,
  )
})

test("the backend's log lines never carry a URL's password", () => {
  const lines: string[] = []
  const logger = jsonLogger('debug', (line) => lines.push(line))
  logger.error('webhook not queued: Redis unavailable', { error: 'connect to redis://:s3cret@cache:6379/1 refused' })
  logger.info('backend started', { database: 'postgres://app:s3cret@db:5432/devmetrics' })
  expect(lines).toHaveLength(2)
  expect(lines.join('')).not.toContain('s3cret')
  expect(JSON.parse(lines[1])).toMatchObject({ database: 'postgres://***@db:5432/devmetrics' })
})
