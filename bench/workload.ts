// The bench's workload: a seeded, deterministic stream of realistic GitHub deliveries over
// a set of repositories and people, and the seed rows (teams, users, repositories,
// memberships) every implementation's database starts from.
//
// Payloads are real ones from @octokit/webhooks-examples with ids, logins, numbers,
// titles and timestamps rewritten, so sizes and shapes are GitHub's (pull_request ≈ 23 KB,
// issues ≈ 12 KB, a push ≈ 7 KB + ≈ 0.6 KB per commit, workflow_run ≈ 20 KB,
// deployment_status ≈ 14 KB). The stream follows lifecycles (a pull request is opened,
// synchronized, edited, gets reviewers and reviews, then is merged or closed; issues open,
// close and reopen; CI runs on pushes and pull request heads, requested → in_progress →
// completed, a failed one sometimes re-run as the next attempt; merges to main deploy to
// staging, then often production, each status queued/in_progress → success, failure or
// error) with a clock that moves forward, so every implementation that honours GitHub's
// `updated_at` (a run's rank and time, a status's created_at) ends in the same rows whatever
// order its concurrent workers happen to finish in. Shares: SHARE below.
//
// Same seed, same jobs, byte for byte: each implementation runs in its own process and
// generates the stream itself.
import examples from '@octokit/webhooks-examples/api.github.com/index.json'
import { Client } from 'pg'
import type { BenchJob } from './baselines/types'

// ---------------------------------------------------------------- deterministic randomness

/** mulberry32: a tiny seeded PRNG, good enough to pick workload shapes. */
export class Random {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]
  }
  hex(length: number): string {
    let s = ''
    while (s.length < length) s += ((this.next() * 0x100000000) >>> 0).toString(16).padStart(8, '0')
    return s.slice(0, length)
  }
  /** A version-4-shaped UUID (ids in the seed rows, delivery GUIDs). */
  uuid(): string {
    const h = this.hex(32)
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
  }
}

// ---------------------------------------------------------------- people, teams, repositories

export interface Person {
  githubId: number
  login: string
  name: string
  /** The address their commits carry. */
  commitEmail: string
  /** linked: a DevMetrics user with githubId/githubLogin; unlinked: nobody; bot: a GitHub App. */
  kind: 'linked' | 'unlinked' | 'bot'
  /** UTC offset of their commit timestamps, in minutes. */
  utcOffsetMinutes: number
}
export interface SeedUser {
  id: string
  email: string
  name: string
  githubId: number
  githubLogin: string
}
export interface SeedRepository {
  id: string
  githubId: number
  owner: string
  name: string
  fullName: string
  teamId: string | null
  /** Indexes into SeedData.people of who works here (humans and bots). */
  contributors: number[]
}
export interface SeedData {
  seed: number
  teams: { id: string; name: string }[]
  people: Person[]
  users: SeedUser[]
  memberships: { teamId: string; userId: string }[]
  repositories: SeedRepository[]
}

const FIRST = ['ana', 'ben', 'chloe', 'dev', 'elif', 'farid', 'grace', 'hiro', 'ines', 'jon', 'kira', 'liam', 'mei', 'nora', 'omar', 'priya', 'quinn', 'rosa', 'sven', 'tara']
const LAST = ['kowalski', 'nguyen', 'okafor', 'silva', 'tanaka', 'meyer', 'haddad', 'lindqvist', 'rossi', 'patel']
const TEAMS = ['Platform', 'Payments', 'Mobile', 'Data']
const REPOS = ['api-gateway', 'billing', 'ios-app', 'android-app', 'web-dashboard', 'ingest', 'warehouse', 'auth', 'notifications', 'search', 'design-system', 'infra', 'mobile-sdk', 'reports', 'pricing', 'etl', 'cli', 'docs', 'playground', 'legacy-monolith']
const OFFSETS = [-480, -420, -300, -240, 0, 0, 60, 60, 120, 330, 540]
const BOTS: Person[] = [
  { githubId: 49699333, login: 'dependabot[bot]', name: 'dependabot[bot]', commitEmail: '49699333+dependabot[bot]@users.noreply.github.com', kind: 'bot', utcOffsetMinutes: 0 },
  { githubId: 29139614, login: 'renovate[bot]', name: 'renovate[bot]', commitEmail: '29139614+renovate[bot]@users.noreply.github.com', kind: 'bot', utcOffsetMinutes: 0 },
]

/**
 * The people and rows of a run: `repositories` repositories in 4 teams (the last two with
 * no team), `people` GitHub accounts of whom 2 are bots and one human in six is not linked to a
 * DevMetrics user. Some users' stored login differs in case from GitHub's, as happens when
 * people type it in.
 */
export function createSeed(seed = 42, opts: { repositories?: number; people?: number } = {}): SeedData {
  const rnd = new Random(seed)
  const repoCount = Math.min(opts.repositories ?? 20, REPOS.length)
  const humanCount = Math.max(4, (opts.people ?? 60) - BOTS.length)
  const teams = TEAMS.map((name) => ({ id: rnd.uuid(), name }))
  const people: Person[] = []
  const users: SeedUser[] = []
  const memberships: { teamId: string; userId: string }[] = []
  for (let i = 0; i < humanCount; i++) {
    const first = FIRST[i % FIRST.length]
    const last = LAST[Math.floor(i / FIRST.length) % LAST.length]
    const login = `${first}-${last}${i >= FIRST.length * LAST.length ? i : ''}`
    const githubId = 1_000_000 + i * 7919
    const linked = i % 6 !== 5
    const person: Person = {
      githubId,
      login,
      name: `${first[0].toUpperCase()}${first.slice(1)} ${last[0].toUpperCase()}${last.slice(1)}`,
      // Half commit with the work address the user row has, half with GitHub's noreply one.
      commitEmail: i % 2 === 0 ? `${login}@devmetrics.example` : `${githubId}+${login}@users.noreply.github.com`,
      kind: linked ? 'linked' : 'unlinked',
      utcOffsetMinutes: rnd.pick(OFFSETS),
    }
    people.push(person)
    if (!linked) continue
    const user: SeedUser = {
      id: rnd.uuid(),
      email: `${login}@devmetrics.example`,
      name: person.name,
      githubId,
      githubLogin: i % 8 === 3 ? login.toUpperCase() : login,
    }
    users.push(user)
    const team = teams[i % teams.length]
    memberships.push({ teamId: team.id, userId: user.id })
    if (i % 5 === 0) memberships.push({ teamId: teams[(i + 1) % teams.length].id, userId: user.id })
  }
  const botIndexes = BOTS.map((b) => people.push(b) - 1)
  const repositories: SeedRepository[] = []
  for (let r = 0; r < repoCount; r++) {
    const owner = 'devmetrics-inc'
    const name = REPOS[r]
    const contributors = new Set<number>()
    const size = rnd.int(8, 15)
    while (contributors.size < size) contributors.add(rnd.int(0, humanCount - 1))
    repositories.push({
      id: rnd.uuid(),
      githubId: 600_000_000 + r * 1013,
      owner,
      name,
      fullName: `${owner}/${name}`,
      teamId: r >= repoCount - 2 ? null : teams[r % teams.length].id,
      contributors: [...contributors, ...botIndexes],
    })
  }
  return { seed, teams, people, users, memberships, repositories }
}

/** Inserts the seed rows into a migrated database, in one transaction. */
export async function seedDatabase(databaseUrl: string, seed: SeedData): Promise<void> {
  const client = new Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query('BEGIN')
    await client.query('INSERT INTO teams (id, name) SELECT * FROM UNNEST($1::text[], $2::text[])', [
      seed.teams.map((t) => t.id),
      seed.teams.map((t) => t.name),
    ])
    await client.query(
      'INSERT INTO users (id, email, name, "githubId", "githubLogin") SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[])',
      [seed.users.map((u) => u.id), seed.users.map((u) => u.email), seed.users.map((u) => u.name), seed.users.map((u) => u.githubId), seed.users.map((u) => u.githubLogin)],
    )
    await client.query('INSERT INTO team_members ("teamId", "userId") SELECT * FROM UNNEST($1::text[], $2::text[])', [
      seed.memberships.map((m) => m.teamId),
      seed.memberships.map((m) => m.userId),
    ])
    await client.query(
      'INSERT INTO repositories (id, "githubId", "fullName", "teamId") SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[])',
      [seed.repositories.map((r) => r.id), seed.repositories.map((r) => r.githubId), seed.repositories.map((r) => r.fullName), seed.repositories.map((r) => r.teamId)],
    )
    await client.query('COMMIT')
  } finally {
    await client.end()
  }
}

// ---------------------------------------------------------------- payload templates

type Json = Record<string, any>
interface ExampleGroup {
  name: string
  examples: Json[]
}
const groups = examples as unknown as ExampleGroup[]
function example(event: string, index: number, expectAction?: string): Json {
  const found = groups.find((g) => g.name === event)?.examples[index]
  if (!found || (expectAction && found.action !== expectAction)) {
    throw new Error(`@octokit/webhooks-examples changed: ${event}[${index}] is not ${expectAction ?? 'there'}`)
  }
  return found
}

/** The example payloads each generated delivery starts from. */
const TEMPLATES = {
  prOpened: example('pull_request', 0, 'opened'),
  prClosed: example('pull_request', 3, 'closed'),
  prReviewRequested: example('pull_request', 21, 'review_requested'),
  prSynchronize: example('pull_request', 22, 'synchronize'),
  review: example('pull_request_review', 0, 'submitted'),
  issueOpened: example('issues', 15, 'opened'),
  issueReopened: example('issues', 20, 'reopened'),
  push: example('push', 4),
  // GitHub Actions shapes: a run of a workflow file (16–19 KB with its two repositories), and a
  // deployment status of an Actions environment, which embeds the deployment, the run and the
  // check run that deploys (13 KB).
  workflowRun: example('workflow_run', 1, 'completed'),
  deploymentStatus: example('deployment_status', 1, 'created'),
}
type TemplateName = keyof typeof TEMPLATES

/**
 * Templates rewritten for one repository (URLs, names, ids), kept as JSON text: parsing
 * the text again is the cheapest deep copy for the per-delivery edits.
 */
class TemplateCache {
  private readonly cache = new Map<string, string>()
  get(name: TemplateName, repo: SeedRepository): Json {
    const key = `${name}:${repo.githubId}`
    let text = this.cache.get(key)
    if (!text) {
      // The example's own repository (Codertocat/Hello-World, or octo-org/octo-repo for runs).
      const example = TEMPLATES[name].repository as { full_name: string; name: string }
      text = JSON.stringify(TEMPLATES[name])
        .split(example.full_name)
        .join(repo.fullName)
        .split(example.name)
        .join(repo.name)
      const t = JSON.parse(text)
      const rewrite = (r: Json) => {
        r.id = repo.githubId
        r.node_id = Buffer.from(`010:Repository${repo.githubId}`).toString('base64')
        r.owner = { ...r.owner, login: repo.owner, id: 90_000_001, type: 'Organization', name: repo.owner }
      }
      rewrite(t.repository)
      // A run names its repository twice more (same repository: no forks here).
      for (const inner of [t.workflow_run?.repository, t.workflow_run?.head_repository]) if (inner) rewrite(inner)
      text = JSON.stringify(t)
      this.cache.set(key, text)
    }
    return JSON.parse(text)
  }
}

/** A GitHub user object as webhooks embed it. */
function actor(p: Person): Json {
  const base = `https://api.github.com/users/${p.login}`
  return {
    login: p.login,
    id: p.githubId,
    node_id: Buffer.from(`04:User${p.githubId}`).toString('base64'),
    avatar_url: `https://avatars.githubusercontent.com/u/${p.githubId}?v=4`,
    gravatar_id: '',
    url: base,
    html_url: `https://github.com/${p.login}`,
    followers_url: `${base}/followers`,
    following_url: `${base}/following{/other_user}`,
    gists_url: `${base}/gists{/gist_id}`,
    starred_url: `${base}/starred{/owner}{/repo}`,
    subscriptions_url: `${base}/subscriptions`,
    organizations_url: `${base}/orgs`,
    repos_url: `${base}/repos`,
    events_url: `${base}/events{/privacy}`,
    received_events_url: `${base}/received_events`,
    type: p.kind === 'bot' ? 'Bot' : 'User',
    site_admin: false,
  }
}

/** GitHub's `2026-01-05T09:12:33Z`. */
function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}
/** A commit timestamp as push payloads carry it: local time with the author's offset. */
function isoWithOffset(ms: number, offsetMinutes: number): string {
  if (offsetMinutes === 0) return isoSeconds(ms)
  const local = isoSeconds(ms + offsetMinutes * 60_000).slice(0, -1)
  const sign = offsetMinutes < 0 ? '-' : '+'
  const abs = Math.abs(offsetMinutes)
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`
}

// ---------------------------------------------------------------- the delivery stream

const VERBS = ['Fix', 'Add', 'Remove', 'Refactor', 'Update', 'Document', 'Speed up', 'Handle', 'Test', 'Rename']
const NOUNS = ['retry logic', 'rate limiter', 'login flow', 'invoice export', 'cache warm-up', 'CSV parser', 'dark mode', 'flaky test', 'N+1 query', 'webhook signature check', 'pagination', 'timezone handling', 'feature flag', 'error messages']
const FILES = ['src/index.ts', 'src/api/routes.ts', 'src/db/queries.sql', 'src/lib/cache.rs', 'README.md', 'package.json', 'src/ui/Button.tsx', 'test/api.test.ts', 'docs/setup.md', '.github/workflows/ci.yml', 'Cargo.toml', 'src/worker.py', 'migrations/0042_add_index.sql', 'src/components/Chart.vue']
/** Text GitHub really sends now and then: unicode, quotes, backslashes, and once in a while a NUL. */
const ODD_TEXT = ['naïve café ☕ — “quoted”', 'path C:\\Users\\dev\\tmp', 'emoji 🚀🔥 and 中文', 'tab\tand "quotes"', 'NUL\u0000byte from a broken tool']

interface OpenPullRequest {
  id: number
  number: number
  title: string
  author: Person
  createdAt: number
  updatedAt: number
  headRef: string
  headSha: string
  additions: number
  deletions: number
  changedFiles: number
  commits: number
  draft: boolean
  reviewers: Person[]
}
interface TrackedIssue {
  id: number
  number: number
  title: string
  author: Person
  createdAt: number
  closedAt: number | null
}
interface RepoState {
  nextNumber: number
  open: OpenPullRequest[]
  openIssues: TrackedIssue[]
  closedIssues: TrackedIssue[]
  /** Commits pushed lately: merges push some of them again (distinct: false). */
  recentCommits: Json[]
  /** The head of main: what deployments ship. */
  mainSha: string
  /** Run numbers so far, per workflow of the repository. */
  runNumbers: number[]
}

/** The repository's GitHub Actions workflows: CI on every push and pull request, Deploy on main. */
const WORKFLOWS = [
  { name: 'CI', path: '.github/workflows/ci.yml' },
  { name: 'Lint', path: '.github/workflows/lint.yml' },
  { name: 'Deploy', path: '.github/workflows/deploy.yml' },
] as const
type WorkflowIndex = 0 | 1 | 2

/** A workflow run attempt whose deliveries are still to come (or done, for a re-run later). */
interface TrackedRun {
  r: number
  id: number
  attempt: number
  workflow: WorkflowIndex
  runNumber: number
  event: string
  headSha: string
  headBranch: string
  pullRequests: OpenPullRequest[]
  actor: Person
  triggeringActor: Person
  createdAt: number
  startedAt: number
  /** The next delivery's status. */
  next: 'queued' | 'in_progress' | 'completed'
  conclusion: string | null
}

/** A deployment whose statuses are still to come. */
interface TrackedDeployment {
  r: number
  id: number
  sha: string
  environment: 'staging' | 'production'
  /** GitHub's production_environment flag, or absent (older deploy tooling): the addon's pattern decides. */
  productionFlag: boolean | null
  run: TrackedRun
  createdAt: number
  /** The states still to send, in order. */
  states: string[]
}

/** The actor of GitHub Actions deployments and their statuses (not a DevMetrics user). */
const GITHUB_ACTIONS: Person = { githubId: 41898282, login: 'github-actions[bot]', name: 'github-actions[bot]', commitEmail: '41898282+github-actions[bot]@users.noreply.github.com', kind: 'bot', utcOffsetMinutes: 0 }

/**
 * Shares of the stream. The four original event types keep their proportions (push 34 :
 * pull_request 30 : review 16 : issues 20) in what the two Actions events leave. Why 22% and
 * 8%: in a repository on GitHub Actions every push to main or to a pull request's head starts
 * CI, and every run attempt sends three workflow_run deliveries (requested, in_progress,
 * completed), so workflow_run alone outnumbers push (GitHub lists workflow_run, with
 * workflow_job and check_run, among its most frequent deliveries); each merge to main deploys
 * to staging, most then to production, with two or three deployment_status deliveries each.
 * Taken at that rate the two would be over half of the mix and the bench would mostly measure
 * them; at 22% and 8% together they weigh about what pushes do (push becomes 23%), the
 * original four still decide most of the result, and the per-type table shows each one's cost.
 */
const SHARE = { workflowRun: 0.22, deploymentStatus: 0.08 }
/** Lifecycles in flight at most (beyond that a trigger starts none: that push had no CI). */
const MAX_RUNS_IN_FLIGHT = 40
const MAX_DEPLOYMENTS_IN_FLIGHT = 12

export interface WorkloadOptions {
  /** Seed of the stream (default: the seed data's). */
  seed?: number
  /** Stream positions that are replaced by the 2048-commit push (largePush). */
  largePushAt?: number[]
}

/** Counts of a workload by event type, for the report. */
export type WorkloadMix = Record<string, number>

/**
 * The deterministic delivery stream. `next()` returns deliveries in the order GitHub would
 * send them; the same seed data and options give the same jobs byte for byte.
 */
export class Workload {
  private readonly rnd: Random
  private readonly templates = new TemplateCache()
  private readonly repos: RepoState[]
  private readonly largeAt: Set<number>
  private clock = Date.UTC(2026, 0, 5, 9, 0, 0)
  private index = 0
  private nextPrId = 2_100_000_000
  private nextIssueId = 3_100_000_000
  private nextReviewId = 4_100_000_000
  private nextRunId = 5_100_000_000
  private nextDeploymentId = 6_100_000_000
  private nextDeploymentStatusId = 7_100_000_000
  private largeCount = 0
  private readonly runs: TrackedRun[] = []
  /** Completed attempts that failed: a person may re-run one (same id, run_attempt + 1). */
  private readonly failedRuns: TrackedRun[] = []
  private readonly deployments: TrackedDeployment[] = []

  constructor(
    private readonly seed: SeedData,
    opts: WorkloadOptions = {},
  ) {
    this.rnd = new Random((opts.seed ?? seed.seed) * 7 + 1)
    this.largeAt = new Set(opts.largePushAt ?? [])
    this.repos = seed.repositories.map(() => ({ nextNumber: 1, open: [], openIssues: [], closedIssues: [], recentCommits: [], mainSha: this.rnd.hex(40), runNumbers: WORKFLOWS.map(() => 0) }))
  }

  /** The next delivery. */
  next(): BenchJob {
    const position = this.index++
    this.clock += this.rnd.int(2, 40) * 1000
    const deliveryId = this.rnd.uuid()
    if (this.largeAt.has(position)) {
      return { ...largePush(this.seed, 1_000_000 + this.largeCount++), deliveryId }
    }
    const r = this.rnd.int(0, this.repos.length - 1)
    const roll = this.rnd.next()
    let built: { event: string; payload: Json }
    if (roll < SHARE.workflowRun) built = this.workflowRun(r)
    else if (roll < SHARE.workflowRun + SHARE.deploymentStatus) built = this.deploymentStatus(r)
    else {
      // The original four in their original proportions over what is left.
      const rest = (roll - SHARE.workflowRun - SHARE.deploymentStatus) / (1 - SHARE.workflowRun - SHARE.deploymentStatus)
      if (rest < 0.34) built = this.push(r)
      else if (rest < 0.64) built = this.pullRequest(r)
      else if (rest < 0.8) built = this.review(r)
      else built = this.issue(r)
    }
    return { deliveryId, event: built.event, payload: JSON.stringify(built.payload) }
  }

  /** The next `count` deliveries. */
  take(count: number): BenchJob[] {
    const jobs: BenchJob[] = []
    for (let i = 0; i < count; i++) jobs.push(this.next())
    return jobs
  }

  private contributor(r: number, humansOnly = false): Person {
    const people = this.seed.repositories[r].contributors.map((i) => this.seed.people[i])
    const pool = humansOnly || this.rnd.chance(0.9) ? people.filter((p) => p.kind !== 'bot') : people
    return this.rnd.pick(pool)
  }

  private title(): string {
    const t = `${this.rnd.pick(VERBS)} ${this.rnd.pick(NOUNS)}`
    return this.rnd.chance(0.03) ? `${t} (${this.rnd.pick(ODD_TEXT)})` : t
  }

  /** See the exported largePush(). */
  largePush(): BenchJob {
    const repo = this.seed.repositories[0]
    const p = this.templates.get('push', repo)
    const commits: Json[] = []
    for (let i = 0; i < 2048; i++) {
      commits.push(this.commit(repo, this.contributor(0), this.clock + i * 30_000))
    }
    const pusher = this.contributor(0)
    p.ref = 'refs/heads/import/monorepo'
    p.before = this.rnd.hex(40)
    p.after = commits[commits.length - 1].id
    p.created = true
    p.deleted = false
    p.forced = false
    p.base_ref = null
    p.commits = commits
    p.head_commit = commits[commits.length - 1]
    p.pusher = { name: pusher.login, email: pusher.commitEmail }
    p.sender = actor(pusher)
    return { deliveryId: this.rnd.uuid(), event: 'push', payload: JSON.stringify(p) }
  }

  // ---- push

  private commit(repo: SeedRepository, author: Person, at: number): Json {
    const sha = this.rnd.hex(40)
    const files = () => {
      const n = this.rnd.int(0, 3)
      const out: string[] = []
      for (let i = 0; i < n; i++) out.push(this.rnd.pick(FILES))
      return out
    }
    // One commit author in seven has no GitHub username (an email GitHub could not match).
    const withUsername = author.kind === 'bot' || this.rnd.chance(6 / 7)
    const who = { name: author.name, email: author.commitEmail, ...(withUsername ? { username: author.login } : {}) }
    const body = this.rnd.chance(0.4) ? `\n\n${this.title()}.\n\nCo-authored-by: ${author.name} <${author.commitEmail}>` : ''
    return {
      id: sha,
      tree_id: this.rnd.hex(40),
      distinct: true,
      message: `${this.title()}${body}`,
      timestamp: isoWithOffset(at, author.utcOffsetMinutes),
      url: `https://github.com/${repo.fullName}/commit/${sha}`,
      author: who,
      committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' },
      added: files(),
      removed: this.rnd.chance(0.2) ? files() : [],
      modified: files().concat(this.rnd.pick(FILES)),
    }
  }

  private push(r: number): { event: string; payload: Json } {
    const repo = this.seed.repositories[r]
    const state = this.repos[r]
    const p = this.templates.get('push', repo)
    const pusher = this.contributor(r)
    const pr = state.open.length > 0 && this.rnd.chance(0.5) ? this.rnd.pick(state.open) : null
    const branch = pr ? pr.headRef : 'main'
    const before = this.rnd.hex(40)
    let commits: Json[] = []
    if (this.rnd.chance(0.03)) {
      // A tag push: no commits, no head commit.
      p.ref = `refs/tags/v1.${this.rnd.int(0, 40)}.${this.rnd.int(0, 9)}`
      p.after = this.rnd.hex(40)
    } else {
      const n = 1 + Math.floor(19 * this.rnd.next() ** 3)
      for (let i = 0; i < n; i++) commits.push(this.commit(repo, i === 0 ? pusher : this.contributor(r), this.clock - (n - i) * 60_000))
      if (!pr && state.recentCommits.length > 0 && this.rnd.chance(0.15)) {
        // A merge to main carries commits pushed before on a branch again.
        const again = state.recentCommits.slice(-this.rnd.int(1, 3)).map((c) => ({ ...c, distinct: false }))
        commits = [...again, ...commits]
      }
      state.recentCommits.push(...commits.filter((c) => c.distinct).slice(-5))
      if (state.recentCommits.length > 40) state.recentCommits.splice(0, state.recentCommits.length - 40)
      p.ref = `refs/heads/${branch}`
      p.after = commits[commits.length - 1].id
      if (pr) {
        pr.headSha = p.after
        pr.commits += commits.length
        this.startRun(r, 0, 'pull_request', pusher, [pr])
      } else {
        // A push to main: CI, and now and then a deployment of it (a merge done outside a pull request).
        state.mainSha = p.after
        this.startRun(r, 0, 'push', pusher, [])
        if (this.rnd.chance(0.3)) this.startDeployment(r, 'staging', pusher)
      }
    }
    p.before = before
    p.created = false
    p.deleted = false
    p.forced = this.rnd.chance(0.02)
    p.base_ref = null
    p.compare = `https://github.com/${repo.fullName}/compare/${before.slice(0, 12)}...${String(p.after).slice(0, 12)}`
    p.commits = commits
    p.head_commit = commits.length > 0 ? commits[commits.length - 1] : null
    p.pusher = { name: pusher.login, email: pusher.commitEmail }
    p.sender = actor(pusher)
    p.repository.pushed_at = Math.floor(this.clock / 1000)
    return { event: 'push', payload: p }
  }

  // ---- pull requests

  private openPullRequest(r: number): OpenPullRequest {
    const state = this.repos[r]
    const author = this.contributor(r)
    const pr: OpenPullRequest = {
      id: this.nextPrId++,
      number: state.nextNumber++,
      title: author.kind === 'bot' ? `Bump ${this.rnd.pick(['lodash', 'serde', 'tokio', 'react', 'express'])} from 1.${this.rnd.int(0, 9)} to 1.${this.rnd.int(10, 20)}` : this.title(),
      author,
      createdAt: this.clock,
      updatedAt: this.clock,
      headRef: author.kind === 'bot' ? `dependabot/npm/bump-${this.rnd.hex(6)}` : `${author.login}/${this.rnd.hex(6)}`,
      headSha: this.rnd.hex(40),
      additions: this.rnd.int(1, 400),
      deletions: this.rnd.int(0, 200),
      changedFiles: this.rnd.int(1, 25),
      commits: this.rnd.int(1, 6),
      draft: this.rnd.chance(0.15),
      reviewers: [],
    }
    state.open.push(pr)
    return pr
  }

  /** Fills a full pull_request object (or the slim one reviews embed) from the lifecycle state. */
  private fillPullRequest(obj: Json, repo: SeedRepository, pr: OpenPullRequest, opts: { full: boolean; mergedAt?: number | null; closedAt?: number | null }) {
    const base = `https://api.github.com/repos/${repo.fullName}`
    obj.url = `${base}/pulls/${pr.number}`
    obj.html_url = `https://github.com/${repo.fullName}/pull/${pr.number}`
    obj.diff_url = `${obj.html_url}.diff`
    obj.patch_url = `${obj.html_url}.patch`
    obj.issue_url = `${base}/issues/${pr.number}`
    obj.commits_url = `${obj.url}/commits`
    obj.review_comments_url = `${obj.url}/comments`
    obj.comments_url = `${base}/issues/${pr.number}/comments`
    obj.statuses_url = `${base}/statuses/${pr.headSha}`
    obj.id = pr.id
    obj.node_id = Buffer.from(`011:PullRequest${pr.id}`).toString('base64')
    obj.number = pr.number
    obj.title = pr.title
    obj.user = actor(pr.author)
    obj.body = `${pr.title}.\n\nCloses nothing in particular; generated by the DevMetrics bench.`
    obj.created_at = isoSeconds(pr.createdAt)
    obj.updated_at = isoSeconds(pr.updatedAt)
    obj.closed_at = opts.closedAt ? isoSeconds(opts.closedAt) : null
    obj.merged_at = opts.mergedAt ? isoSeconds(opts.mergedAt) : null
    obj.merge_commit_sha = opts.mergedAt ? this.rnd.hex(40) : null
    obj.state = opts.closedAt ? 'closed' : 'open'
    obj.requested_reviewers = pr.reviewers.map(actor)
    obj.head = { ...obj.head, label: `${repo.owner}:${pr.headRef}`, ref: pr.headRef, sha: pr.headSha, user: actor(pr.author) }
    obj.base = { ...obj.base, label: `${repo.owner}:main`, ref: 'main' }
    if (opts.full) {
      obj.draft = pr.draft
      obj.merged = !!opts.mergedAt
      obj.mergeable = opts.closedAt ? null : true
      obj.merged_by = opts.mergedAt ? actor(pr.reviewers[0] ?? pr.author) : null
      obj.commits = pr.commits
      obj.additions = pr.additions
      obj.deletions = pr.deletions
      obj.changed_files = pr.changedFiles
    }
  }

  private pullRequest(r: number): { event: string; payload: Json } {
    const repo = this.seed.repositories[r]
    const state = this.repos[r]
    if (state.open.length === 0 || (state.open.length < 6 && this.rnd.chance(0.25))) {
      const pr = this.openPullRequest(r)
      const p = this.templates.get('prOpened', repo)
      this.fillPullRequest(p.pull_request, repo, pr, { full: true })
      p.number = pr.number
      p.sender = actor(pr.author)
      this.startRun(r, 0, 'pull_request', pr.author, [pr])
      this.startRun(r, 1, 'pull_request', pr.author, [pr])
      return { event: 'pull_request', payload: p }
    }
    const pr = this.rnd.pick(state.open)
    pr.updatedAt = this.clock
    const roll = this.rnd.next()
    let p: Json
    if (roll < 0.35) {
      p = this.templates.get('prSynchronize', repo)
      p.before = pr.headSha
      pr.headSha = this.rnd.hex(40)
      pr.commits += 1
      pr.additions += this.rnd.int(0, 80)
      pr.deletions += this.rnd.int(0, 40)
      pr.changedFiles += this.rnd.int(0, 2)
      p.after = pr.headSha
      this.fillPullRequest(p.pull_request, repo, pr, { full: true })
      p.sender = actor(pr.author)
      this.startRun(r, 0, 'pull_request', pr.author, [pr])
    } else if (roll < 0.45) {
      p = this.templates.get('prOpened', repo)
      p.action = 'edited'
      p.changes = { title: { from: pr.title } }
      pr.title = this.title()
      if (pr.draft && this.rnd.chance(0.5)) pr.draft = false
      this.fillPullRequest(p.pull_request, repo, pr, { full: true })
      p.sender = actor(pr.author)
    } else if (roll < 0.65) {
      p = this.templates.get('prReviewRequested', repo)
      const reviewer = this.contributor(r, true)
      if (!pr.reviewers.some((x) => x.githubId === reviewer.githubId)) pr.reviewers.push(reviewer)
      this.fillPullRequest(p.pull_request, repo, pr, { full: true })
      // GitHub may leave the line counts out of review_requested.
      delete p.pull_request.additions
      delete p.pull_request.deletions
      delete p.pull_request.changed_files
      p.requested_reviewer = actor(reviewer)
      p.sender = actor(pr.author)
    } else {
      p = this.templates.get('prClosed', repo)
      const merged = this.rnd.chance(0.75)
      this.fillPullRequest(p.pull_request, repo, pr, { full: true, closedAt: this.clock, mergedAt: merged ? this.clock : null })
      const merger = merged ? (pr.reviewers[0] ?? pr.author) : pr.author
      p.sender = actor(merger)
      state.open.splice(state.open.indexOf(pr), 1)
      if (merged) {
        // The merge commit is main's new head: CI runs on it and it deploys to staging.
        state.mainSha = p.pull_request.merge_commit_sha
        this.startRun(r, 0, 'push', merger, [])
        this.startDeployment(r, 'staging', merger)
      }
    }
    p.number = pr.number
    return { event: 'pull_request', payload: p }
  }

  private review(r: number): { event: string; payload: Json } {
    const repo = this.seed.repositories[r]
    const state = this.repos[r]
    if (state.open.length === 0) return this.pullRequest(r)
    const pr = this.rnd.pick(state.open)
    pr.updatedAt = this.clock
    const reviewer = pr.reviewers.length > 0 && this.rnd.chance(0.7) ? this.rnd.pick(pr.reviewers) : this.contributor(r, true)
    const p = this.templates.get('review', repo)
    const id = this.nextReviewId++
    const roll = this.rnd.next()
    p.review = {
      ...p.review,
      id,
      node_id: Buffer.from(`017:PullRequestReview${id}`).toString('base64'),
      user: actor(reviewer),
      body: this.rnd.chance(0.5) ? null : `Looks ${this.rnd.pick(['good', 'mostly fine', 'risky'])}; see ${this.rnd.pick(FILES)}.`,
      commit_id: pr.headSha,
      submitted_at: isoSeconds(this.clock),
      state: roll < 0.5 ? 'approved' : roll < 0.8 ? 'commented' : 'changes_requested',
      html_url: `https://github.com/${repo.fullName}/pull/${pr.number}#pullrequestreview-${id}`,
      pull_request_url: `https://api.github.com/repos/${repo.fullName}/pulls/${pr.number}`,
      author_association: 'MEMBER',
    }
    this.fillPullRequest(p.pull_request, repo, pr, { full: false })
    p.sender = actor(reviewer)
    return { event: 'pull_request_review', payload: p }
  }

  // ---- GitHub Actions: workflow runs

  /** A new run of workflow `w` on the pull request's head (or main's): its deliveries come later. */
  private startRun(r: number, w: WorkflowIndex, event: string, who: Person, pullRequests: OpenPullRequest[], force = false): TrackedRun | null {
    if (!force && this.runs.length >= MAX_RUNS_IN_FLIGHT) return null
    const state = this.repos[r]
    const pr = pullRequests[0]
    const run: TrackedRun = {
      r,
      id: this.nextRunId++,
      attempt: 1,
      workflow: w,
      runNumber: ++state.runNumbers[w],
      event,
      headSha: pr ? pr.headSha : state.mainSha,
      headBranch: pr ? pr.headRef : 'main',
      pullRequests,
      actor: who,
      triggeringActor: who,
      createdAt: this.clock,
      startedAt: this.clock,
      next: 'queued',
      conclusion: null,
    }
    this.runs.push(run)
    return run
  }

  /**
   * The next delivery of a run in flight: requested (status queued) → in_progress →
   * completed with its conclusion. Now and then a failed run is re-run: the same id with
   * run_attempt + 1, from requested again. With nothing in flight, a scheduled CI run of main.
   */
  private workflowRun(r: number): { event: string; payload: Json } {
    if (this.failedRuns.length > 0 && this.rnd.chance(0.1)) {
      const again = this.failedRuns.splice(this.rnd.int(0, this.failedRuns.length - 1), 1)[0]
      again.attempt++
      again.next = 'queued'
      again.conclusion = null
      again.startedAt = this.clock
      again.triggeringActor = this.contributor(again.r, true)
      this.runs.push(again)
    }
    if (this.runs.length === 0) this.startRun(r, 0, 'schedule', this.contributor(r, true), [])
    const run = this.runs[this.rnd.int(0, this.runs.length - 1)]
    const status = run.next
    if (status === 'queued') run.next = 'in_progress'
    else if (status === 'in_progress') run.next = 'completed'
    else {
      this.runs.splice(this.runs.indexOf(run), 1)
      const roll = this.rnd.next()
      // A Deploy run ends as its deployment did (success until a status said otherwise).
      run.conclusion = run.workflow === 2 ? (run.conclusion ?? 'success') : roll < 0.8 ? 'success' : roll < 0.95 ? 'failure' : 'cancelled'
      if (run.conclusion === 'failure' && this.failedRuns.length < 20 && this.rnd.chance(0.5)) this.failedRuns.push(run)
    }
    const repo = this.seed.repositories[run.r]
    const p = this.templates.get('workflowRun', repo)
    p.action = status === 'queued' ? 'requested' : status
    this.fillRun(p.workflow_run, repo, run, status)
    const workflow = WORKFLOWS[run.workflow]
    Object.assign(p.workflow, {
      id: this.workflowId(run),
      node_id: Buffer.from(`08:Workflow${this.workflowId(run)}`).toString('base64'),
      name: workflow.name,
      path: workflow.path,
      url: `https://api.github.com/repos/${repo.fullName}/actions/workflows/${this.workflowId(run)}`,
      html_url: `https://github.com/${repo.fullName}/blob/main/${workflow.path}`,
      badge_url: `https://github.com/${repo.fullName}/workflows/${workflow.name}/badge.svg`,
    })
    p.sender = actor(run.triggeringActor)
    return { event: 'workflow_run', payload: p }
  }

  private workflowId(run: TrackedRun): number {
    return 7_000_000 + run.r * 10 + run.workflow
  }

  /** A workflow_run object (the run's own delivery, or the copy a deployment status embeds). */
  private fillRun(w: Json, repo: SeedRepository, run: TrackedRun, status: string) {
    const base = `https://api.github.com/repos/${repo.fullName}/actions/runs/${run.id}`
    for (const [k, v] of Object.entries(w)) if (typeof v === 'string' && v.includes('/runs/')) w[k] = v.replace(/\/runs\/\d+/, `/runs/${run.id}`)
    const workflow = WORKFLOWS[run.workflow]
    const pr = run.pullRequests[0]
    Object.assign(w, {
      id: run.id,
      node_id: Buffer.from(`011:WorkflowRun${run.id}`).toString('base64'),
      name: workflow.name,
      path: workflow.path,
      display_title: pr ? pr.title : `${workflow.name} on main`,
      event: run.event,
      head_branch: run.headBranch,
      head_sha: run.headSha,
      run_number: run.runNumber,
      run_attempt: run.attempt,
      previous_attempt_url: run.attempt > 1 ? `${base}/attempts/${run.attempt - 1}` : null,
      status,
      conclusion: status === 'completed' ? run.conclusion : null,
      workflow_id: this.workflowId(run),
      workflow_url: `https://api.github.com/repos/${repo.fullName}/actions/workflows/${this.workflowId(run)}`,
      html_url: `https://github.com/${repo.fullName}/actions/runs/${run.id}`,
      url: base,
      created_at: isoSeconds(run.createdAt),
      run_started_at: isoSeconds(run.startedAt),
      updated_at: isoSeconds(this.clock),
      actor: actor(run.actor),
      triggering_actor: actor(run.triggeringActor),
      pull_requests: run.pullRequests.map((x) => ({
        url: `https://api.github.com/repos/${repo.fullName}/pulls/${x.number}`,
        id: x.id,
        number: x.number,
        head: { ref: x.headRef, sha: run.headSha, repo: { id: repo.githubId, url: `https://api.github.com/repos/${repo.fullName}`, name: repo.name } },
        base: { ref: 'main', sha: this.repos[run.r].mainSha, repo: { id: repo.githubId, url: `https://api.github.com/repos/${repo.fullName}`, name: repo.name } },
      })),
    })
    if (w.head_commit) {
      w.head_commit = {
        ...w.head_commit,
        id: run.headSha,
        tree_id: run.headSha.split('').reverse().join(''),
        message: w.display_title,
        timestamp: isoSeconds(run.createdAt),
        author: { name: run.actor.name, email: run.actor.commitEmail },
      }
    }
  }

  // ---- GitHub Actions: deployments

  /** A deployment of main's head to `environment`, by a Deploy run: its statuses come later. */
  private startDeployment(r: number, environment: 'staging' | 'production', who: Person, sha = this.repos[r].mainSha) {
    if (this.deployments.length >= MAX_DEPLOYMENTS_IN_FLIGHT) return
    const run = this.startRun(r, 2, 'push', who, [], true)!
    run.headSha = sha
    const roll = this.rnd.next()
    const final = roll < 0.85 ? 'success' : roll < 0.95 ? 'failure' : 'error'
    this.deployments.push({
      r,
      id: this.nextDeploymentId++,
      sha,
      environment,
      productionFlag: this.rnd.chance(0.3) ? null : environment === 'production',
      run,
      createdAt: this.clock,
      states: [...(this.rnd.chance(0.8) ? ['queued'] : []), 'in_progress', final],
    })
  }

  /**
   * The next status of a deployment in flight (queued → in_progress → success, failure or
   * error), embedding the deployment as it is now and the Deploy run. A staging deployment
   * that succeeded is often promoted to production. With nothing in flight, main's head is
   * deployed to staging.
   */
  private deploymentStatus(r: number): { event: string; payload: Json } {
    if (this.deployments.length === 0) this.startDeployment(r, 'staging', this.contributor(r, true))
    const dep = this.deployments[this.rnd.int(0, this.deployments.length - 1)]
    const state = dep.states.shift()!
    if (dep.states.length === 0) {
      this.deployments.splice(this.deployments.indexOf(dep), 1)
      if (state === 'success' && dep.environment === 'staging' && this.rnd.chance(0.6)) this.startDeployment(dep.r, 'production', dep.run.actor, dep.sha)
    }
    const repo = this.seed.repositories[dep.r]
    const p = this.templates.get('deploymentStatus', repo)
    const statusId = this.nextDeploymentStatusId++
    const base = `https://api.github.com/repos/${repo.fullName}/deployments/${dep.id}`
    const runUrl = `https://github.com/${repo.fullName}/actions/runs/${dep.run.id}`
    const bot = actor(GITHUB_ACTIONS)
    Object.assign(p.deployment_status, {
      url: `${base}/statuses/${statusId}`,
      id: statusId,
      node_id: Buffer.from(`016:DeploymentStatus${statusId}`).toString('base64'),
      state,
      creator: bot,
      description: state === 'success' ? `Deployed ${dep.sha.slice(0, 7)}` : state === 'failure' || state === 'error' ? 'Deployment failed' : '',
      environment: dep.environment,
      target_url: runUrl,
      log_url: runUrl,
      environment_url: state === 'success' ? `https://${dep.environment}.${repo.name}.devmetrics.example` : '',
      created_at: isoSeconds(this.clock),
      updated_at: isoSeconds(this.clock),
      deployment_url: base,
    })
    Object.assign(p.deployment, {
      url: base,
      id: dep.id,
      node_id: Buffer.from(`010:Deployment${dep.id}`).toString('base64'),
      task: 'deploy',
      original_environment: dep.environment,
      environment: dep.environment,
      description: null,
      created_at: isoSeconds(dep.createdAt),
      // GitHub moves a deployment's updated_at to its latest status.
      updated_at: isoSeconds(this.clock),
      statuses_url: `${base}/statuses`,
      creator: bot,
      sha: dep.sha,
      ref: 'main',
      transient_environment: false,
      production_environment: dep.productionFlag,
    })
    if (dep.productionFlag === null) delete p.deployment.production_environment
    const runStatus = dep.states.length === 0 ? 'completed' : 'in_progress'
    if (runStatus === 'completed') dep.run.conclusion = state === 'success' ? 'success' : 'failure'
    this.fillRun(p.workflow_run, repo, dep.run, runStatus)
    Object.assign(p.check_run, {
      id: 8_100_000_000 + (dep.id - 6_100_000_000),
      name: 'deploy',
      node_id: Buffer.from(`08:CheckRun${dep.id}`).toString('base64'),
      head_sha: dep.sha,
      url: `https://api.github.com/repos/${repo.fullName}/check-runs/${dep.id}`,
      html_url: runUrl,
      details_url: runUrl,
      status: runStatus,
      conclusion: runStatus === 'completed' ? dep.run.conclusion : null,
      started_at: isoSeconds(dep.createdAt),
      completed_at: runStatus === 'completed' ? isoSeconds(this.clock) : null,
    })
    p.sender = actor(dep.run.triggeringActor)
    return { event: 'deployment_status', payload: p }
  }

  // ---- issues

  private issue(r: number): { event: string; payload: Json } {
    const repo = this.seed.repositories[r]
    const state = this.repos[r]
    const roll = this.rnd.next()
    let issue: TrackedIssue
    let action: string
    let sender: Person
    let reason: string | null = null
    if (state.openIssues.length === 0 || roll < 0.5) {
      const author = this.contributor(r, true)
      issue = { id: this.nextIssueId++, number: state.nextNumber++, title: this.title(), author, createdAt: this.clock, closedAt: null }
      state.openIssues.push(issue)
      action = 'opened'
      sender = author
    } else if (roll < 0.85 || state.closedIssues.length === 0) {
      issue = this.rnd.pick(state.openIssues)
      state.openIssues.splice(state.openIssues.indexOf(issue), 1)
      state.closedIssues.push(issue)
      issue.closedAt = this.clock
      action = 'closed'
      reason = this.rnd.chance(0.8) ? 'completed' : 'not_planned'
      sender = this.contributor(r, true)
    } else {
      issue = this.rnd.pick(state.closedIssues)
      state.closedIssues.splice(state.closedIssues.indexOf(issue), 1)
      state.openIssues.push(issue)
      issue.closedAt = null
      action = 'reopened'
      reason = 'reopened'
      sender = this.contributor(r, true)
    }
    const p = this.templates.get(action === 'opened' ? 'issueOpened' : 'issueReopened', repo)
    const base = `https://api.github.com/repos/${repo.fullName}/issues/${issue.number}`
    p.action = action
    Object.assign(p.issue, {
      url: base,
      labels_url: `${base}/labels{/name}`,
      comments_url: `${base}/comments`,
      events_url: `${base}/events`,
      html_url: `https://github.com/${repo.fullName}/issues/${issue.number}`,
      id: issue.id,
      node_id: Buffer.from(`05:Issue${issue.id}`).toString('base64'),
      number: issue.number,
      title: issue.title,
      user: actor(issue.author),
      state: issue.closedAt ? 'closed' : 'open',
      state_reason: reason,
      created_at: isoSeconds(issue.createdAt),
      updated_at: isoSeconds(this.clock),
      closed_at: issue.closedAt ? isoSeconds(issue.closedAt) : null,
      body: `Steps to reproduce: ${this.title()}.`,
    })
    p.sender = actor(sender)
    return { event: 'issues', payload: p }
  }
}

// ---------------------------------------------------------------- the large case

/**
 * A 2048-commit push (GitHub's maximum per payload), about 1.3 MB, to the first
 * repository. `variant` makes its delivery id and commit SHAs distinct, so repeated timing
 * calls each insert 2048 new commits.
 */
export function largePush(seed: SeedData, variant: number): BenchJob {
  return new Workload(seed, { seed: seed.seed * 1000 + variant }).largePush()
}

/** Event type counts and total bytes of jobs, for the report. */
export function describeJobs(jobs: Iterable<BenchJob>): { mix: WorkloadMix; bytes: number; events: number } {
  const mix: WorkloadMix = {}
  let bytes = 0
  let events = 0
  for (const j of jobs) {
    const key = eventKey(j)
    mix[key] = (mix[key] ?? 0) + 1
    bytes += Buffer.byteLength(j.payload)
    events++
  }
  return { mix, bytes, events }
}

/** Event type and action of a job, e.g. `pull_request.closed`, for per-type breakdowns. */
export function eventKey(job: BenchJob): string {
  if (job.event === 'push') return job.payload.length > 1_000_000 ? 'push (2048 commits)' : 'push'
  const action = /^\{"action":"([a-z_]+)"/.exec(job.payload)?.[1]
  return action ? `${job.event}.${action}` : job.event
}

/** The first `count` jobs of a workload, generated one at a time (nothing kept). */
export function* stream(workload: Workload, count: number): Generator<BenchJob> {
  for (let i = 0; i < count; i++) yield workload.next()
}
