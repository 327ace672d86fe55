// Typed views of the four tracked payloads, read from `JSON.parse`'s result the way the addon's
// serde structs read them (crates/core/src/payload/*.rs): only the fields a processor stores
// are checked; a missing required field or a wrong type is INVALID_PAYLOAD naming its path;
// `null` and absent are the same for optional fields.

import { BaselineError } from './errors'

export type TrackedEvent = 'push' | 'pull_request' | 'issues' | 'pull_request_review'

const TRACKED: readonly string[] = ['push', 'pull_request', 'issues', 'pull_request_review']

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
}

export interface ReviewView {
  id: number
  user: ActorView | null
  state: string
  commitId: string | null
  submittedAt: string | null
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

function branch(o: Obj, key: string, path: string): string {
  const b = object(o[key], at(path, key))
  return str(b, 'ref', at(path, key))
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
    headRef: branch(o, 'head', path),
    baseRef: branch(o, 'base', path),
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
  }
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
