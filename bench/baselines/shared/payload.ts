// Typed views of the tracked payloads, read from `JSON.parse`'s result the way the addon's
// serde structs read them (crates/core/src/payload/*.rs): only the fields a processor stores
// are checked; a missing required field or a wrong type is INVALID_PAYLOAD naming its path;
// `null` and absent are the same for optional fields.

import { BaselineError } from './errors'

export type TrackedEvent = 'push' | 'pull_request' | 'issues' | 'pull_request_review' | 'deployment_status' | 'workflow_run'

/** The addon also tracks deployment, workflow_job and release; the baselines implement the
 * types the bench's workload mix sends. */
const TRACKED: readonly string[] = ['push', 'pull_request', 'issues', 'pull_request_review', 'deployment_status', 'workflow_run']

/** The kind of an `X-GitHub-Event` name, or null when no processor tracks it. */
export function trackedEvent(event: string): TrackedEvent | null {
  return TRACKED.includes(event) ? (event as TrackedEvent) : null
}

export interface ActorView {
  id: number
  login: string
  type: string | null
}

export interface CommitView {
  id: string
  message: string
  timestamp: string
  author: { name: string; email: string | null; username: string | null }
  /** Lengths of the added / removed / modified file lists. */
  added: number
  removed: number
  modified: number
}

export interface PullRequestView {
  id: number
  number: number
  title: string
  state: string
  draft: boolean | null
  user: ActorView | null
  createdAt: string
  updatedAt: string
  closedAt: string | null
  mergedAt: string | null
  merged: boolean | null
  additions: number | null
  deletions: number | null
  changedFiles: number | null
  headRef: string
  baseRef: string
  /** GitHub's merge commit (the test merge while open); null until computed. */
  mergeCommitSha: string | null
  headSha: string | null
}

export interface IssueView {
  id: number
  number: number
  title: string
  state: string | null
  stateReason: string | null
  user: ActorView | null
  createdAt: string
  updatedAt: string
  closedAt: string | null
  /** Label names in GitHub's order; null when the payload carries no `labels` (pinned). */
  labels: string[] | null
}

export interface ReviewView {
  id: number
  user: ActorView | null
  state: string
  commitId: string | null
  submittedAt: string | null
}

/** A deployment as a deployment_status delivery embeds it (crates/core/src/payload/deployment.rs). */
export interface DeploymentView {
  id: number
  sha: string
  ref: string
  task: string
  environment: string
  originalEnvironment: string | null
  productionEnvironment: boolean | null
  transientEnvironment: boolean | null
  description: string | null
  creator: ActorView | null
  createdAt: string
  updatedAt: string
}

export interface DeploymentStatusView {
  id: number
  state: string
  environment: string | null
  environmentUrl: string | null
  logUrl: string | null
  /** Older payloads name the log `target_url` only. */
  targetUrl: string | null
  description: string | null
  creator: ActorView | null
  createdAt: string
}

/** A workflow run attempt (crates/core/src/payload/workflow.rs). */
export interface WorkflowRunView {
  id: number
  runAttempt: number
  workflowId: number
  name: string | null
  path: string | null
  event: string
  headSha: string
  headBranch: string | null
  status: string
  conclusion: string | null
  runNumber: number
  actor: ActorView | null
  createdAt: string
  runStartedAt: string | null
  updatedAt: string
  /** The numbers of `pull_requests[]`. */
  pullRequestNumbers: number[]
}

interface Common {
  repositoryId: number
  senderId: number | null
}

export type TrackedView =
  | (Common & { event: 'push'; action: null; commits: CommitView[] })
  | (Common & { event: 'pull_request'; action: string; pullRequest: PullRequestView })
  | (Common & { event: 'issues'; action: string; issue: IssueView })
  | (Common & { event: 'pull_request_review'; action: string; review: ReviewView; pullRequest: PullRequestView })
  | (Common & {
      event: 'deployment_status'
      action: string
      status: DeploymentStatusView
      deployment: DeploymentView
      /** The id of the run that created the deployment, when a workflow did. */
      workflowRunId: number | null
    })
  | (Common & { event: 'workflow_run'; action: string; run: WorkflowRunView })

/** What every delivery may carry: read for untracked types and for failure rows. */
export interface EnvelopeView {
  action: string | null
  repositoryId: number | null
  senderId: number | null
}

type Obj = Record<string, unknown>

function fail(path: string, what: string): never {
  throw new BaselineError('INVALID_PAYLOAD', `${path}: ${what}`)
}

function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key
}

function object(value: unknown, path: string): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path || '.', 'expected an object')
  return value as Obj
}

function optObject(o: Obj, key: string, path: string): Obj | null {
  const v = o[key]
  return v === undefined || v === null ? null : object(v, at(path, key))
}

function str(o: Obj, key: string, path: string): string {
  const v = o[key]
  if (typeof v !== 'string') fail(at(path, key), v === undefined ? 'missing field' : 'expected a string')
  return v
}

function optStr(o: Obj, key: string, path: string): string | null {
  const v = o[key]
  if (v === undefined || v === null) return null
  if (typeof v !== 'string') fail(at(path, key), 'expected a string')
  return v
}

function int(o: Obj, key: string, path: string): number {
  const v = o[key]
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(at(path, key), v === undefined ? 'missing field' : 'expected an integer')
  return v
}

function optInt(o: Obj, key: string, path: string): number | null {
  const v = o[key]
  if (v === undefined || v === null) return null
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(at(path, key), 'expected an integer')
  return v
}

function optBool(o: Obj, key: string, path: string): boolean | null {
  const v = o[key]
  if (v === undefined || v === null) return null
  if (typeof v !== 'boolean') fail(at(path, key), 'expected a boolean')
  return v
}

/** A file list's length: only the count is stored. */
function fileCount(o: Obj, key: string, path: string): number {
  const v = o[key]
  if (v === undefined || v === null) return 0
  if (!Array.isArray(v)) fail(at(path, key), 'expected a list of file paths')
  return v.length
}

function actor(value: unknown, path: string): ActorView | null {
  if (value === undefined || value === null) return null
  const o = object(value, path)
  return { id: int(o, 'id', path), login: str(o, 'login', path), type: optStr(o, 'type', path) }
}

function repositoryId(root: Obj): number {
  const repo = object(root.repository, 'repository')
  return int(repo, 'id', 'repository')
}

/** A `head` / `base` side: the branch name, and its commit. */
function branch(o: Obj, key: string, path: string): { ref: string; sha: string | null } {
  const b = object(o[key], at(path, key))
  return { ref: str(b, 'ref', at(path, key)), sha: optStr(b, 'sha', at(path, key)) }
}

function heads(o: Obj, path: string): { headRef: string; headSha: string | null; baseRef: string } {
  const head = branch(o, 'head', path)
  return { headRef: head.ref, headSha: head.sha, baseRef: branch(o, 'base', path).ref }
}

function pullRequest(value: unknown, path: string): PullRequestView {
  const o = object(value, path)
  return {
    id: int(o, 'id', path),
    number: int(o, 'number', path),
    title: str(o, 'title', path),
    state: str(o, 'state', path),
    draft: optBool(o, 'draft', path),
    user: actor(o.user, at(path, 'user')),
    createdAt: str(o, 'created_at', path),
    updatedAt: str(o, 'updated_at', path),
    closedAt: optStr(o, 'closed_at', path),
    mergedAt: optStr(o, 'merged_at', path),
    merged: optBool(o, 'merged', path),
    additions: optInt(o, 'additions', path),
    deletions: optInt(o, 'deletions', path),
    changedFiles: optInt(o, 'changed_files', path),
    mergeCommitSha: optStr(o, 'merge_commit_sha', path),
    ...heads(o, path),
  }
}

function commit(value: unknown, path: string): CommitView {
  const o = object(value, path)
  const author = object(o.author, at(path, 'author'))
  const authorPath = at(path, 'author')
  return {
    id: str(o, 'id', path),
    message: str(o, 'message', path),
    timestamp: str(o, 'timestamp', path),
    author: {
      name: str(author, 'name', authorPath),
      email: optStr(author, 'email', authorPath),
      username: optStr(author, 'username', authorPath),
    },
    added: fileCount(o, 'added', path),
    removed: fileCount(o, 'removed', path),
    modified: fileCount(o, 'modified', path),
  }
}

function issue(value: unknown, path: string): IssueView {
  const o = object(value, path)
  return {
    id: int(o, 'id', path),
    number: int(o, 'number', path),
    title: str(o, 'title', path),
    state: optStr(o, 'state', path),
    stateReason: optStr(o, 'state_reason', path),
    user: actor(o.user, at(path, 'user')),
    createdAt: str(o, 'created_at', path),
    updatedAt: str(o, 'updated_at', path),
    closedAt: optStr(o, 'closed_at', path),
    labels: labels(o, path),
  }
}

function labels(o: Obj, path: string): string[] | null {
  const v = o.labels
  if (v === undefined || v === null) return null
  if (!Array.isArray(v)) fail(at(path, 'labels'), 'expected a sequence')
  return v.map((l, i) => {
    const itemPath = `${at(path, 'labels')}[${i}]`
    return str(object(l, itemPath), 'name', itemPath)
  })
}

function review(value: unknown, path: string): ReviewView {
  const o = object(value, path)
  return {
    id: int(o, 'id', path),
    user: actor(o.user, at(path, 'user')),
    state: str(o, 'state', path),
    commitId: optStr(o, 'commit_id', path),
    submittedAt: optStr(o, 'submitted_at', path),
  }
}

function deployment(value: unknown, path: string): DeploymentView {
  const o = object(value, path)
  return {
    id: int(o, 'id', path),
    sha: str(o, 'sha', path),
    ref: str(o, 'ref', path),
    task: str(o, 'task', path),
    environment: str(o, 'environment', path),
    originalEnvironment: optStr(o, 'original_environment', path),
    productionEnvironment: optBool(o, 'production_environment', path),
    transientEnvironment: optBool(o, 'transient_environment', path),
    description: optStr(o, 'description', path),
    creator: actor(o.creator, at(path, 'creator')),
    createdAt: str(o, 'created_at', path),
    updatedAt: str(o, 'updated_at', path),
  }
}

function deploymentStatus(value: unknown, path: string): DeploymentStatusView {
  const o = object(value, path)
  return {
    id: int(o, 'id', path),
    state: str(o, 'state', path),
    environment: optStr(o, 'environment', path),
    environmentUrl: optStr(o, 'environment_url', path),
    logUrl: optStr(o, 'log_url', path),
    targetUrl: optStr(o, 'target_url', path),
    description: optStr(o, 'description', path),
    creator: actor(o.creator, at(path, 'creator')),
    createdAt: str(o, 'created_at', path),
  }
}

function workflowRun(value: unknown, path: string): WorkflowRunView {
  const o = object(value, path)
  // serde's `#[serde(default)] Vec`: absent is empty, null is not a sequence.
  const prs = o.pull_requests === undefined ? [] : o.pull_requests
  if (!Array.isArray(prs)) fail(at(path, 'pull_requests'), 'expected a sequence')
  return {
    id: int(o, 'id', path),
    runAttempt: int(o, 'run_attempt', path),
    workflowId: int(o, 'workflow_id', path),
    name: optStr(o, 'name', path),
    path: optStr(o, 'path', path),
    event: str(o, 'event', path),
    headSha: str(o, 'head_sha', path),
    headBranch: optStr(o, 'head_branch', path),
    status: str(o, 'status', path),
    conclusion: optStr(o, 'conclusion', path),
    runNumber: int(o, 'run_number', path),
    actor: actor(o.actor, at(path, 'actor')),
    createdAt: str(o, 'created_at', path),
    runStartedAt: optStr(o, 'run_started_at', path),
    updatedAt: str(o, 'updated_at', path),
    pullRequestNumbers: prs.map((p, i) => {
      const itemPath = `${at(path, 'pull_requests')}[${i}]`
      return int(object(p, itemPath), 'number', itemPath)
    }),
  }
}

/** Reads a tracked event's parsed payload; INVALID_PAYLOAD naming the path when it does not fit. */
export function readTracked(event: TrackedEvent, parsed: unknown): TrackedView {
  const root = object(parsed, '')
  const common = { repositoryId: repositoryId(root), senderId: actor(root.sender, 'sender')?.id ?? null }
  switch (event) {
    case 'push': {
      str(root, 'ref', '')
      optBool(root, 'deleted', '')
      const list = root.commits === undefined ? [] : root.commits
      if (!Array.isArray(list)) fail('commits', 'expected a sequence')
      return { ...common, event, action: null, commits: list.map((c, i) => commit(c, `commits[${i}]`)) }
    }
    case 'pull_request':
      return { ...common, event, action: str(root, 'action', ''), pullRequest: pullRequest(root.pull_request, 'pull_request') }
    case 'issues':
      return { ...common, event, action: str(root, 'action', ''), issue: issue(root.issue, 'issue') }
    case 'pull_request_review':
      return {
        ...common,
        event,
        action: str(root, 'action', ''),
        review: review(root.review, 'review'),
        pullRequest: pullRequest(root.pull_request, 'pull_request'),
      }
    case 'deployment_status': {
      // A status without its deployment cannot be stored: `deployment` is required.
      const run = optObject(root, 'workflow_run', '')
      return {
        ...common,
        event,
        action: str(root, 'action', ''),
        status: deploymentStatus(root.deployment_status, 'deployment_status'),
        deployment: deployment(root.deployment, 'deployment'),
        workflowRunId: run ? int(run, 'id', 'workflow_run') : null,
      }
    }
    case 'workflow_run':
      return { ...common, event, action: str(root, 'action', ''), run: workflowRun(root.workflow_run, 'workflow_run') }
  }
}

/** Reads the envelope (action, repository, sender) of any payload. */
export function readEnvelope(parsed: unknown): EnvelopeView {
  const root = object(parsed, '')
  const repo = optObject(root, 'repository', '')
  return {
    action: optStr(root, 'action', ''),
    repositoryId: repo ? int(repo, 'id', 'repository') : null,
    senderId: actor(root.sender, 'sender')?.id ?? null,
  }
}

/** `JSON.parse`, with invalid JSON as INVALID_PAYLOAD. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new BaselineError('INVALID_PAYLOAD', `not valid JSON: ${(e as Error).message}`)
  }
}
