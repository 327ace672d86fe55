// `npm run bench:github`: what GitHub API enrichment costs, against the contract server
// (__test__/github) standing in for GitHub, with the real addon, Bull and PostgreSQL:
//
// - requests per push: GraphQL and compare requests the github worker makes for a push of
//   100 commits, of 2048 commits (the most a payload lists: a fast-forward, a new branch, a
//   forced push) and for a truncated push of 2,100 commits (2048 listed); the goal for a
//   2048-commit push is ≤ 21, printed as its own line;
// - the webhook job's share: the whole webhook job's time, the part of it spent queuing the
//   follow-ups (the only enrichment work it does), and the GitHub requests made before the
//   webhook job finished (goal: none; the job only queues).
//
// Writes bench/github-results.json and prints a table. Takes well under a minute.
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Bull from 'bull'
import { createGitHubClient, createGitHubWorker, createWebhookWorker, webhookJobOptions, WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository } from '../__test__/helpers/db'
import { pushPayload } from '../__test__/helpers/pushes'
import { startGitHubServer } from '../__test__/github/server'
import type { WorldCommit } from '../__test__/github/world'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const TOKEN = 'bench-token'

interface Row {
  scenario: string
  listed: number
  commits: number
  graphql: number
  compare: number
  requests: number
  /** The whole webhook job (process(), metric jobs, follow-ups), from Bull's timestamps. */
  jobMs: number
  queueFollowUpsMs: number
  requestsDuringWebhookJob: number
}

async function main(): Promise<void> {
  const db = await createTestDatabase()
  const gh = await startGitHubServer({ tokens: [TOKEN] })
  const prefix = `bench-github:${randomUUID().slice(0, 8)}:`
  const processor = await WebhookProcessor.connect({ databaseUrl: db.url })
  const queues: Bull.Queue[] = []
  const q = (name: string) => {
    const queue = new Bull(name, REDIS_URL, { prefix: `${prefix}${name}` })
    queues.push(queue)
    return queue
  }
  const webhooks = q('webhooks')
  const github = q('github')
  const metrics = q('metrics')
  const rows: Row[] = []
  // Follow-ups are timed as the webhook worker queues them; the github worker starts only
  // after the webhook job finished, so requests made during the job are visible.
  let timing = { queueMs: 0 }
  const timedGithubQueue = {
    addBulk: async (jobs: { data: unknown; opts?: Bull.JobOptions }[]) => {
      const started = process.hrtime.bigint()
      const added = await github.addBulk(jobs)
      timing.queueMs = Number(process.hrtime.bigint() - started) / 1e6
      return added
    },
  } as unknown as Bull.Queue
  const webhookWorker = createWebhookWorker(webhooks, { processor, metricsQueue: metrics, githubQueue: timedGithubQueue })

  try {
    const scenarios = [
      { scenario: 'push of 100 commits', commits: 100, listed: 100 },
      { scenario: 'push of 2048 commits (complete)', commits: 2048, listed: 2048 },
      { scenario: 'push of 2048 commits, new branch', commits: 2048, listed: 2048, newBranch: true },
      { scenario: 'forced push of 2048 commits (complete)', commits: 2048, listed: 2048, forced: true },
      { scenario: 'truncated push of 2,100 commits', commits: 2100, listed: 2048 },
    ] as { scenario: string; commits: number; listed: number; newBranch?: boolean; forced?: boolean }[]
    for (const s of scenarios) {
      const world = gh.world.addRepository({ owner: 'bench', name: `repo-${rows.length}` })
      const fullName = `bench/${world.name}`
      await insertRepository(db.pool, world.id, { fullName })
      const [base] = gh.world.commitChain(world, 1, 'main', 'base')
      // A forced push rewrote the branch: it was at `old`, a commit the new range does not hold.
      world.branches.set('old-head', base.sha)
      const rewritten = gh.world.commitChain(world, 5, 'old-head', 'old')
      const before = s.newBranch ? '0'.repeat(40) : s.forced ? rewritten[rewritten.length - 1].sha : base.sha
      const range: WorldCommit[] = gh.world.commitChain(world, s.commits)
      const listed = range.slice(range.length - s.listed)
      const payload = pushPayload({
        repoGithubId: world.id,
        fullName,
        before,
        forced: s.forced ?? false,
        commits: listed.map((c) => ({ sha: c.sha, message: c.message, timestamp: c.author.date, name: c.author.name, email: c.author.email })),
      })
      timing = { queueMs: 0 }
      const from = gh.requests.length
      const started = process.hrtime.bigint()
      const job = await webhooks.add({ deliveryId: randomUUID(), event: 'push', payload, receivedAt: Date.now() }, webhookJobOptions)
      const result = await job.finished()
      const finished = await webhooks.getJob(job.id)
      const jobMs = finished?.processedOn && finished.finishedOn ? finished.finishedOn - finished.processedOn : Number(process.hrtime.bigint() - started) / 1e6
      const during = gh.requests.length - from
      if (result.status !== 'processed') throw new Error(`push not processed: ${JSON.stringify(result)}`)

      const client = createGitHubClient({ token: TOKEN, baseUrl: gh.url })
      // A Bull instance takes one handler: each scenario's worker gets its own on the same queue.
      const worker = createGitHubWorker(q('github'), { client, processor, metricsQueue: metrics })
      for (;;) {
        const c = await github.getJobCounts()
        if (c.waiting + c.delayed + c.active === 0) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      await worker.close()
      const made = gh.requests.slice(from)
      const { rows: left } = await db.pool.query('SELECT count(*)::int AS n FROM commits WHERE "repoId" = (SELECT id FROM repositories WHERE "githubId" = $1) AND "statsFetchedAt" IS NULL', [world.id])
      if (left[0].n !== 0) throw new Error(`${s.scenario}: ${left[0].n} commits still lack counts`)
      rows.push({
        scenario: s.scenario,
        listed: s.listed,
        commits: s.commits,
        graphql: made.filter((r) => r.path === '/graphql').length,
        compare: made.filter((r) => r.path.includes('/compare/')).length,
        requests: made.length,
        jobMs: Math.round(jobMs * 10) / 10,
        queueFollowUpsMs: Math.round(timing.queueMs * 10) / 10,
        requestsDuringWebhookJob: during,
      })
    }
    gh.assertNoViolations()
  } finally {
    await webhookWorker.close()
    await Promise.all(queues.map((queue) => queue.obliterate({ force: true }).catch(() => undefined).then(() => queue.close())))
    await processor.close()
    await gh.close()
    await db.drop()
  }

  writeFileSync(join(__dirname, 'github-results.json'), `${JSON.stringify({ generatedAt: new Date().toISOString(), rows }, null, 2)}\n`)
  console.log('| scenario | commits (listed) | GraphQL | compare | requests | webhook job ms | of which queuing follow-ups ms | GitHub requests during the webhook job |')
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const r of rows) {
    console.log(`| ${r.scenario} | ${r.commits} (${r.listed}) | ${r.graphql} | ${r.compare} | ${r.requests} | ${r.jobMs} | ${r.queueFollowUpsMs} | ${r.requestsDuringWebhookJob} |`)
  }
  const of = (name: string) => rows.find((r) => r.scenario === name)?.requests
  const perPush = Math.max(of('push of 2048 commits (complete)') ?? Infinity, of('push of 2048 commits, new branch') ?? Infinity)
  console.log(`\nrequests per 2048-commit push: ${perPush} (goal ≤ 21: ${perPush <= 21 ? 'met' : 'NOT met'}); forced: ${of('forced push of 2048 commits (complete)')}`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
