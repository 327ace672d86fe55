// What one delivery says about its entities, validated and normalised: the addon's processors'
// `plan` step (crates/core/src/processors/*.rs) in TypeScript. Pure, no I/O; both baselines
// write these plans, each with its own database layer.

import { BaselineError } from './errors'
import type { ActorView, DeploymentStatusView, DeploymentView, PullRequestView, TrackedView, WorkflowRunView } from './payload'
import { stripNul } from './text'
import { parseGithubTime, secondsBetween } from './time'
import { emailKey, githubIdKey, IdentityKey, loginKey } from './users'

/** A GitHub account as an entity row stores it; all empty for a `null` account. */
export interface Person {
  githubId: number | null
  login: string | null
  isBot: boolean
}

export interface PlannedCommit {
  sha: string
  message: string
  login: string | null
  name: string
  email: string
  isBot: boolean
  filesChanged: number
  /** Epoch ms (UTC). */
  committedAt: number
}

export type PrState = 'OPEN' | 'CLOSED' | 'MERGED'
export type IssueState = 'OPEN' | 'CLOSED'
export type ReviewState = 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED'

export interface LineCounts {
  additions: number
  deletions: number
  filesChanged: number
}

/** Times are epoch ms (UTC). */
export interface PlannedPullRequest {
  githubId: number
  number: number
  title: string
  state: PrState
  /** null when the payload omits the flag (some slim forms). */
  draft: boolean | null
  author: Person
  headRef: string
  baseRef: string
  mergeCommitSha: string | null
  headSha: string | null
  /** null when the payload omits them (synchronize, labeled, the slim form in reviews). */
  counts: LineCounts | null
  mergedAt: number | null
  closedAt: number | null
  createdAt: number
  updatedAt: number
  /** A review delivery's candidate for the earliest review. */
  firstReviewAt: number | null
  cycleTimeSeconds: number | null
}

export interface PlannedIssue {
  githubId: number
  number: number
  title: string
  state: IssueState
  stateReason: string | null
  author: Person
  closedAt: number | null
  createdAt: number
  updatedAt: number
  resolutionTimeSeconds: number | null
  /** deleted or transferred: the issue left the repository (terminal). */
  removed: boolean
  /** Label names in GitHub's order; null when the payload carries none (it says nothing), [] for
   * a removal that carries none. */
  labels: string[] | null
}

export interface PlannedReview {
  githubId: number
  reviewer: Person
  state: ReviewState
  commitId: string | null
  submittedAt: number | null
  turnaroundSeconds: number | null
}

/** A deployment as one payload describes it (its own fields; the state and the production
 * decision are derived from the stored statuses when written). Times are epoch ms (UTC). */
export interface PlannedDeployment {
  githubId: number
  sha: string
  ref: string
  task: string
  /** The payload's `environment` (stored as `deploymentEnvironment`). */
  environment: string
  originalEnvironment: string
  /** GitHub's flag as sent; null when the payload omits it. */
  productionEnvironment: boolean | null
  transientEnvironment: boolean | null
  description: string | null
  creator: Person
  workflowRunId: number | null
  createdAt: number
  updatedAt: number
}

export type DeploymentState = (typeof DEPLOYMENT_STATUS_STATES)[number]

export interface PlannedDeploymentStatus {
  githubId: number
  state: DeploymentState
  environment: string | null
  /** null when absent or empty. */
  environmentUrl: string | null
  /** `log_url`, else `target_url`; null when absent or empty. */
  logUrl: string | null
  description: string | null
  creatorLogin: string | null
  createdAt: number
}

export type RunStatus = (typeof RUN_STATUSES)[number]

/** One attempt of a workflow run: a row per (githubId, runAttempt). */
export interface PlannedWorkflowRun {
  githubId: number
  runAttempt: number
  workflowId: number
  /** '' when the payload has none. */
  name: string
  path: string | null
  event: string
  headSha: string
  headBranch: string | null
  status: RunStatus
  conclusion: string | null
  runNumber: number
  actor: Person
  createdAt: number
  runStartedAt: number | null
  updatedAt: number
  /** updatedAt when the status is `completed` (runs carry no completion time). */
  completedAt: number | null
  pullRequestNumbers: number[]
}

export type Plan =
  | { event: 'push'; commits: PlannedCommit[] }
  | { event: 'pull_request'; pullRequest: PlannedPullRequest }
  | { event: 'issues'; issue: PlannedIssue }
  | { event: 'pull_request_review'; pullRequest: PlannedPullRequest; review: PlannedReview }
  | { event: 'deployment_status'; deployment: PlannedDeployment; status: PlannedDeploymentStatus }
  | { event: 'workflow_run'; run: PlannedWorkflowRun }

/** The states GitHub gives a deployment status (the addon's STATUS_STATES). */
export const DEPLOYMENT_STATUS_STATES = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success'] as const
/** Run and job statuses, `requested`/`queued`/`waiting`/`pending` < `in_progress` < `completed`. */
export const RUN_STATUSES = ['requested', 'queued', 'waiting', 'pending', 'in_progress', 'completed'] as const

/** The addon's default `productionEnvironments` (PostgreSQL regular expression, matched
 * case-insensitively): prod, production or live, alone or followed by a separator and more. */
export const DEFAULT_PRODUCTION_ENVIRONMENTS = '^(prod|production|live)([-_ ./].*)?$'

const INT4_MAX = 2 ** 31 - 1
const REMOVAL_ACTIONS = ['deleted', 'transferred']
const REVIEW_STATES = new Map<string, ReviewState>([
  ['approved', 'APPROVED'],
  ['changes_requested', 'CHANGES_REQUESTED'],
  ['commented', 'COMMENTED'],
  ['dismissed', 'DISMISSED'],
])

function invalid(path: string, what: string): never {
  throw new BaselineError('INVALID_PAYLOAD', `${path} ${what}`)
}

function time(path: string, value: string): number {
  return parseGithubTime(value) ?? invalid(path, 'is not an RFC 3339 time')
}

function optTime(path: string, value: string | null): number | null {
  return value === null ? null : time(path, value)
}

/** Issue and pull request numbers: positive and within INTEGER. */
function number(path: string, value: number): number {
  return value > 0 && value <= INT4_MAX ? value : invalid(path, 'is not a valid number')
}

/** Line and file counts: never negative; clamped to INTEGER. */
function count(path: string, value: number): number {
  return value < 0 ? invalid(path, 'is negative') : Math.min(value, INT4_MAX)
}

export function isBotLogin(login: string): boolean {
  return login.endsWith('[bot]')
}

function person(actor: ActorView | null): Person {
  if (!actor) return { githubId: null, login: null, isBot: false }
  return { githubId: actor.id, login: stripNul(actor.login), isBot: actor.type === 'Bot' || isBotLogin(actor.login) }
}

/** GitHub object ids: positive (the addon's `fields::github_id`). */
function githubId(path: string, value: number): number {
  return value > 0 ? value : invalid(path, 'is not a valid id')
}

/** One of the known values of an enumerated field, compared exactly. */
function oneOf<T extends string>(path: string, value: string, known: readonly T[]): T {
  return known.includes(value as T) ? (value as T) : invalid(path, `is not a known value: ${JSON.stringify(value)}`)
}

const nonEmpty = (s: string | null): string | null => (s === null || s === '' ? null : s)
const optText = (s: string | null): string | null => (s === null ? null : stripNul(s))

function planDeployment(d: DeploymentView, workflowRunId: number | null): PlannedDeployment {
  const at = (field: string) => `deployment.${field}`
  return {
    githubId: githubId(at('id'), d.id),
    sha: stripNul(d.sha),
    ref: stripNul(d.ref),
    task: stripNul(d.task),
    environment: stripNul(d.environment),
    originalEnvironment: stripNul(d.originalEnvironment ?? d.environment),
    productionEnvironment: d.productionEnvironment,
    transientEnvironment: d.transientEnvironment,
    description: optText(d.description),
    creator: person(d.creator),
    workflowRunId: workflowRunId === null ? null : githubId('workflow_run.id', workflowRunId),
    createdAt: time(at('created_at'), d.createdAt),
    updatedAt: time(at('updated_at'), d.updatedAt),
  }
}

function planDeploymentStatus(s: DeploymentStatusView): PlannedDeploymentStatus {
  const at = (field: string) => `deployment_status.${field}`
  return {
    githubId: githubId(at('id'), s.id),
    state: oneOf(at('state'), s.state, DEPLOYMENT_STATUS_STATES),
    environment: optText(s.environment),
    // Empty URLs are absent (checked before NUL stripping, as the addon does); an empty
    // log_url does not fall back to target_url.
    environmentUrl: optText(nonEmpty(s.environmentUrl)),
    logUrl: optText(nonEmpty(s.logUrl ?? s.targetUrl)),
    description: optText(s.description),
    creatorLogin: s.creator === null ? null : stripNul(s.creator.login),
    createdAt: time(at('created_at'), s.createdAt),
  }
}

function planWorkflowRun(r: WorkflowRunView): PlannedWorkflowRun {
  const at = (field: string) => `workflow_run.${field}`
  const pullRequestNumbers = r.pullRequestNumbers.map((n, i) => number(at(`pull_requests[${i}].number`), n))
  const status = oneOf(at('status'), r.status, RUN_STATUSES)
  const updatedAt = time(at('updated_at'), r.updatedAt)
  return {
    githubId: githubId(at('id'), r.id),
    runAttempt: number(at('run_attempt'), r.runAttempt),
    workflowId: githubId(at('workflow_id'), r.workflowId),
    name: stripNul(r.name ?? ''),
    path: optText(r.path),
    event: stripNul(r.event),
    headSha: stripNul(r.headSha),
    headBranch: optText(r.headBranch),
    status,
    conclusion: optText(r.conclusion),
    runNumber: number(at('run_number'), r.runNumber),
    actor: person(r.actor),
    createdAt: time(at('created_at'), r.createdAt),
    runStartedAt: optTime(at('run_started_at'), r.runStartedAt),
    updatedAt,
    completedAt: status === 'completed' ? updatedAt : null,
    pullRequestNumbers,
  }
}

function sameAccount(a: Person, b: Person): boolean {
  return a.githubId !== null && a.githubId === b.githubId
}

function planPullRequest(pr: PullRequestView): PlannedPullRequest {
  const at = (field: string) => `pull_request.${field}`
  const mergedAt = optTime(at('merged_at'), pr.mergedAt)
  // The slim form has no `merged`: a merge time says the same.
  const merged = pr.merged === true || mergedAt !== null
  let state: PrState
  if (merged) state = 'MERGED'
  else if (pr.state === 'open') state = 'OPEN'
  else if (pr.state === 'closed') state = 'CLOSED'
  else invalid(at('state'), `is not a pull request state: ${JSON.stringify(pr.state)}`)
  // Counts are one group: a payload with only some of them does not say.
  const counts =
    pr.additions !== null && pr.deletions !== null && pr.changedFiles !== null
      ? {
          additions: count(at('additions'), pr.additions),
          deletions: count(at('deletions'), pr.deletions),
          filesChanged: count(at('changed_files'), pr.changedFiles),
        }
      : null
  const createdAt = time(at('created_at'), pr.createdAt)
  return {
    githubId: pr.id,
    number: number(at('number'), pr.number),
    title: stripNul(pr.title),
    state,
    draft: pr.draft,
    author: person(pr.user),
    headRef: stripNul(pr.headRef),
    baseRef: stripNul(pr.baseRef),
    mergeCommitSha: pr.mergeCommitSha === null ? null : stripNul(pr.mergeCommitSha),
    headSha: pr.headSha === null ? null : stripNul(pr.headSha),
    counts,
    mergedAt,
    closedAt: optTime(at('closed_at'), pr.closedAt),
    createdAt,
    updatedAt: time(at('updated_at'), pr.updatedAt),
    firstReviewAt: null,
    cycleTimeSeconds: state === 'MERGED' && mergedAt !== null ? secondsBetween(createdAt, mergedAt) : null,
  }
}

const SHA = /^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/

/** Validates and normalises a tracked payload; INVALID_PAYLOAD when a value is unusable. */
export function plan(view: TrackedView): Plan {
  switch (view.event) {
    case 'push': {
      const commits = view.commits.map((c, i): PlannedCommit => {
        if (!SHA.test(c.id)) invalid(`commits[${i}].id`, 'is not a commit SHA')
        const committedAt = parseGithubTime(c.timestamp) ?? invalid(`commits[${i}].timestamp`, 'is not an RFC 3339 time')
        const login = c.author.username ? stripNul(c.author.username) : null
        const email = stripNul(c.author.email ?? '')
        return {
          sha: c.id,
          message: stripNul(c.message),
          login,
          name: stripNul(c.author.name),
          email,
          isBot: (login !== null && isBotLogin(login)) || email.includes('[bot]@'),
          filesChanged: Math.min(c.added + c.removed + c.modified, INT4_MAX),
          committedAt,
        }
      })
      // Sorted by sha (a fixed lock order between concurrent pushes), the first of a repeated sha kept.
      commits.sort((a, b) => (a.sha < b.sha ? -1 : a.sha > b.sha ? 1 : 0))
      return { event: 'push', commits: commits.filter((c, i) => i === 0 || commits[i - 1].sha !== c.sha) }
    }
    case 'pull_request':
      return { event: 'pull_request', pullRequest: planPullRequest(view.pullRequest) }
    case 'issues': {
      const i = view.issue
      const closedAt = optTime('issue.closed_at', i.closedAt)
      let state: IssueState
      if (i.state === 'open') state = 'OPEN'
      else if (i.state === 'closed') state = 'CLOSED'
      else if (i.state === null) state = closedAt !== null ? 'CLOSED' : 'OPEN'
      else invalid('issue.state', `is not an issue state: ${JSON.stringify(i.state)}`)
      const createdAt = time('issue.created_at', i.createdAt)
      const removed = REMOVAL_ACTIONS.includes(view.action)
      return {
        event: 'issues',
        issue: {
          githubId: i.id,
          number: number('issue.number', i.number),
          title: stripNul(i.title),
          state,
          stateReason: i.stateReason === null ? null : stripNul(i.stateReason),
          author: person(i.user),
          closedAt,
          createdAt,
          updatedAt: time('issue.updated_at', i.updatedAt),
          resolutionTimeSeconds: state === 'CLOSED' && closedAt !== null ? secondsBetween(createdAt, closedAt) : null,
          removed,
          // A removal always says what the labels are: none when it lists none.
          labels: i.labels !== null ? i.labels.map(stripNul) : removed ? [] : null,
        },
      }
    }
    case 'pull_request_review': {
      const pullRequest = planPullRequest(view.pullRequest)
      const r = view.review
      const state = REVIEW_STATES.get(r.state.toLowerCase()) ?? invalid('review.state', `is not a review state: ${JSON.stringify(r.state)}`)
      const submittedAt = optTime('review.submitted_at', r.submittedAt)
      const reviewer = person(r.user)
      // firstReviewAt ignores reviews by the pull request's author and by bots.
      if (!reviewer.isBot && !sameAccount(reviewer, pullRequest.author)) pullRequest.firstReviewAt = submittedAt
      return {
        event: 'pull_request_review',
        pullRequest,
        review: {
          githubId: r.id,
          reviewer,
          state,
          commitId: r.commitId === null ? null : stripNul(r.commitId),
          submittedAt,
          turnaroundSeconds: submittedAt === null ? null : secondsBetween(pullRequest.createdAt, submittedAt),
        },
      }
    }
    case 'deployment_status':
      return { event: 'deployment_status', deployment: planDeployment(view.deployment, view.workflowRunId), status: planDeploymentStatus(view.status) }
    case 'workflow_run':
      return { event: 'workflow_run', run: planWorkflowRun(view.run) }
  }
}

/** How a commit author maps: login first, then email (both case-insensitive). */
export function commitIdentities(c: PlannedCommit): IdentityKey[] {
  const keys: IdentityKey[] = []
  if (c.login !== null) keys.push(loginKey(c.login))
  if (c.email !== '') keys.push(emailKey(c.email))
  return keys
}

/** PR, issue and review actors map by GitHub account id, which survives renames. */
export function personIdentity(p: Person): IdentityKey | null {
  return p.githubId === null ? null : githubIdKey(p.githubId)
}

/** Everyone a plan needs mapped, for one batched lookup. */
export function planIdentities(p: Plan): IdentityKey[] {
  const keys = new Set<IdentityKey>()
  const add = (k: IdentityKey | null) => k !== null && keys.add(k)
  switch (p.event) {
    case 'push':
      p.commits.forEach((c) => commitIdentities(c).forEach(add))
      break
    case 'pull_request':
      add(personIdentity(p.pullRequest.author))
      break
    case 'issues':
      add(personIdentity(p.issue.author))
      break
    case 'pull_request_review':
      add(personIdentity(p.review.reviewer))
      add(personIdentity(p.pullRequest.author))
      break
    case 'deployment_status':
      add(personIdentity(p.deployment.creator))
      break
    case 'workflow_run':
      add(personIdentity(p.run.actor))
      break
  }
  return [...keys]
}
