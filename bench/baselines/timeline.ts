// Random but reproducible histories of a few pull requests, reviews, issues and pushes, for the
// equivalence check: many deliveries per entity with updated_at drawn from a handful of
// instants (so equal timestamps happen), states that come and go (merged, closed, reopened,
// deleted), payloads without line counts or the draft flag, slim pull requests inside reviews,
// dismissals, bots, unmapped and deleted accounts, titles whose UTF-8 and UTF-16 orders differ,
// pushes sharing commits, deployments whose statuses arrive in any order (several deliveries per
// status, equal creation times, statuses before their deployment's newest copy, GitHub's flag
// or the environment pattern deciding production), and workflow runs requested → in_progress →
// completed with re-runs (equal update times, every status order). Processed in any order, each implementation must end with the same
// rows as the addon, and processed in the same order, report the same rows changed.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchJob } from './types'

const FIXTURES = join(__dirname, '../../__test__/fixtures')
const template = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'))

type Json = Record<string, any>

const ACCOUNTS: (Json | null)[] = [
  { id: 583231, login: 'octocat', type: 'User' },
  { id: 21031067, login: 'Codertocat', type: 'User' },
  { id: 480938, login: 'hubot', type: 'User' },
  { id: 49699333, login: 'dependabot[bot]', type: 'Bot' },
  null,
]
/** U+FB00 sorts after the surrogate pair of U+1F600 in UTF-16 but before it in UTF-8. */
const TITLES = ['Fix the build', 'Fix the build!', 'ﬀ ligatures', '😀 emoji', 'Zebra', 'alpha']

function random(seed: number): () => number {
  let s = seed
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
}

export function timelineDeliveries(seed = 1): BenchJob[] {
  const rand = random(seed)
  const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)]
  const at = (base: number, hours: number) => new Date(base + hours * 3_600_000).toISOString().replace('.000', '')
  const jobs: BenchJob[] = []
  const add = (event: string, payload: Json) => jobs.push({ deliveryId: `tl-${seed}-${jobs.length}`, event, payload: JSON.stringify(payload) })

  const prTemplate = template('pull-request-opened.json')
  const reviewTemplate = template('pull-request-review.json')
  for (let p = 0; p < 8; p++) {
    const base = Date.UTC(2024, 2, 1 + p)
    const author = pick(ACCOUNTS)
    const pullRequest = (hours: number): Json => {
      const pr = structuredClone(prTemplate.pull_request)
      const merged = rand() < 0.25
      const closed = merged || rand() < 0.3
      Object.assign(pr, {
        id: 5_000_000 + seed * 1000 + p,
        number: 500 + seed * 100 + p,
        title: pick(TITLES),
        // An author never changes; authorId keeps the first mapping it sees.
        user: author,
        created_at: at(base, 0),
        updated_at: at(base, hours),
        state: closed ? 'closed' : 'open',
        merged,
        merged_at: merged ? at(base, hours) : null,
        closed_at: closed ? at(base, hours) : null,
        draft: rand() < 0.3,
        additions: Math.floor(rand() * 50),
        deletions: Math.floor(rand() * 50),
        changed_files: Math.floor(rand() * 5),
      })
      return pr
    }
    for (let d = 0; d < 7; d++) {
      const pr = pullRequest(Math.floor(rand() * 4))
      const action = pick(['opened', 'edited', 'synchronize', 'labeled', 'closed', 'reopened', 'converted_to_draft'])
      // Some actions leave out the line counts; some payloads the draft flag.
      if (action === 'synchronize' || action === 'labeled') for (const f of ['additions', 'deletions', 'changed_files']) delete pr[f]
      if (rand() < 0.2) delete pr.draft
      add('pull_request', { ...prTemplate, action, pull_request: pr })
    }
    for (let r = 0; r < 3; r++) {
      // A review's own fields are fixed at first sight (it has no updated_at): its deliveries
      // agree on them, as GitHub's do; only a dismissal changes the state.
      const reviewer = pick(ACCOUNTS)
      const submitted = rand() < 0.85 ? at(base, 1 + Math.floor(rand() * 3)) : null
      const state = pick(['approved', 'commented', 'changes_requested'])
      const commitId = pick(['a'.repeat(40), 'b'.repeat(40)])
      for (const action of ['submitted', 'edited', 'dismissed'].slice(0, 1 + Math.floor(rand() * 3))) {
        // The slim form: no counts, no merged, sometimes no draft.
        const slim = pullRequest(Math.floor(rand() * 4))
        for (const f of ['additions', 'deletions', 'changed_files', 'merged']) delete slim[f]
        if (rand() < 0.5) delete slim.draft
        const review = {
          ...reviewTemplate.review,
          id: 6_000_000 + seed * 1000 + p * 10 + r,
          user: reviewer,
          state: action === 'dismissed' ? 'dismissed' : state,
          submitted_at: submitted,
          commit_id: commitId,
        }
        add('pull_request_review', { ...reviewTemplate, action, review, pull_request: slim })
      }
    }
  }

  const issueTemplate = template('issue-opened.json')
  for (let i = 0; i < 6; i++) {
    const base = Date.UTC(2024, 3, 1 + i)
    const author = pick(ACCOUNTS)
    for (let d = 0; d < 6; d++) {
      const hours = Math.floor(rand() * 4)
      const closed = rand() < 0.4
      const action = pick(['opened', 'edited', 'closed', 'reopened', 'labeled', 'pinned', 'deleted', 'transferred', 'opened', 'edited'])
      const issue: Json = {
        ...issueTemplate.issue,
        id: 7_000_000 + seed * 1000 + i,
        number: 700 + seed * 100 + i,
        title: pick(TITLES),
        user: author,
        state: closed ? 'closed' : 'open',
        state_reason: closed ? pick(['completed', 'not_planned', null]) : pick([null, 'reopened']),
        created_at: at(base, 0),
        updated_at: at(base, hours),
        closed_at: closed ? at(base, hours) : null,
      }
      // Labels come and go; U+FB00 and U+1F600 order differently in UTF-8 and UTF-16.
      issue.labels = pick([[], [{ name: 'bug' }], [{ name: 'bug' }, { name: 'incident' }], [{ name: 'ﬀ' }], [{ name: '😀' }], [{ name: 'bug' }]])
      // Some published payloads (pinned) carry no state (it follows closed_at), nor labels.
      if (action === 'pinned') {
        delete issue.state
        delete issue.labels
      }
      if (rand() < 0.15) issue.labels = null
      add('issues', { ...issueTemplate, action, issue })
    }
  }

  const pushTemplate = template('push-event.json')
  const commits = Array.from({ length: 10 }, (_, c) => ({
    ...pushTemplate.commits[c % pushTemplate.commits.length],
    id: (0xc0ffee000 + seed * 1000 + c).toString(16).padStart(40, '0'),
    message: `commit ${c}`,
  }))
  for (let push = 0; push < 5; push++) {
    const start = Math.floor(rand() * 8)
    add('push', { ...pushTemplate, commits: commits.slice(start, start + 1 + Math.floor(rand() * 4)) })
  }

  const statusTemplate = template('deployment-status-success.json')
  // The creator of a deployment never changes: creatorId keeps the first mapping it sees.
  const creators = ACCOUNTS.filter((a) => a === null || a.id !== 480938)
  for (let d = 0; d < 4; d++) {
    const base = Date.UTC(2024, 4, 1 + d)
    const deploymentId = 8_000_000 + seed * 1000 + d
    const creator = pick(creators)
    const runId = rand() < 0.5 ? 9_000_000 + seed * 1000 + d : null
    // Each embedded copy is the deployment as of its status: updated_at moves, and (rarely in
    // practice, often here) its environment, description and flag differ between copies.
    const deployment = (): Json => {
      const environment = pick(['production', 'staging', 'Production-EU', 'live', 'prod/api', 'preview', 'production'])
      return {
        ...statusTemplate.deployment,
        id: deploymentId,
        sha: pick(['a'.repeat(40), 'f'.repeat(40)]),
        environment,
        original_environment: rand() < 0.3 ? undefined : environment,
        production_environment: pick([undefined, null, true, false, undefined]),
        transient_environment: pick([undefined, false, true]),
        description: pick([null, 'Deploy', pick(TITLES)]),
        creator,
        created_at: at(base, 0),
        updated_at: at(base, Math.floor(rand() * 4)),
      }
    }
    const statuses = Array.from({ length: 2 + Math.floor(rand() * 4) }, (_, k) => ({
      ...statusTemplate.deployment_status,
      id: 8_500_000 + seed * 1000 + d * 10 + k,
      state: pick(['queued', 'in_progress', 'success', 'failure', 'error', 'inactive', 'pending', 'success']),
      environment: pick([null, undefined, 'production', 'staging', 'live-eu', 'qa']),
      environment_url: pick(['', null, 'https://app.example']),
      log_url: pick([undefined, '', 'https://ci.example/1']),
      target_url: pick(['', 'https://ci.example/old']),
      description: pick(['', 'Deployed', null]),
      creator: pick([null, ACCOUNTS[0], ACCOUNTS[3]]),
      // Few instants: equal times fall back to the id.
      created_at: at(base, Math.floor(rand() * 3)),
    }))
    for (const status of statuses) {
      for (let copy = 0; copy < 1 + Math.floor(rand() * 2); copy++) {
        const payload: Json = { ...statusTemplate, deployment_status: status, deployment: deployment() }
        if (runId !== null && rand() < 0.7) payload.workflow_run = { id: runId }
        add('deployment_status', payload)
      }
    }
  }

  const runTemplate = template('workflow-run-completed.json')
  for (let r = 0; r < 3; r++) {
    const base = Date.UTC(2024, 5, 1 + r)
    const runId = 9_500_000 + seed * 1000 + r
    const numbers = pick([[], [{ number: 500 + seed * 100 }], [{ number: 2 }, { number: 1 }]])
    for (let attempt = 1; attempt <= 1 + Math.floor(rand() * 2); attempt++) {
      // Each attempt has its actor (a re-run may be someone else's).
      const actor = pick(ACCOUNTS)
      const started = at(base, attempt)
      const deliveries: [string, string, string | null, number][] = [
        ['requested', pick(['requested', 'queued', 'pending']), null, 0],
        ['in_progress', 'in_progress', null, Math.floor(rand() * 2)],
        ['completed', 'completed', pick(['success', 'failure', 'cancelled']), 1 + Math.floor(rand() * 2)],
      ]
      // Sometimes a second completed delivery with the same time (a redelivered copy) or none.
      if (rand() < 0.3) deliveries.push(['completed', 'completed', 'success', deliveries[2][3]])
      for (const [action, status, conclusion, hours] of deliveries.filter(() => rand() < 0.9)) {
        add('workflow_run', {
          ...runTemplate,
          action,
          workflow_run: {
            ...runTemplate.workflow_run,
            id: runId,
            run_attempt: attempt,
            run_number: 40 + r,
            name: rand() < 0.2 ? null : 'CI',
            head_branch: rand() < 0.1 ? null : 'main',
            status,
            conclusion,
            actor,
            pull_requests: numbers,
            created_at: at(base, 0),
            run_started_at: status === 'requested' && rand() < 0.5 ? null : started,
            updated_at: at(base, attempt + hours),
          },
        })
      }
    }
  }
  return jobs
}
