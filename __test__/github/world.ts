// The scripted GitHub the contract server answers from: accounts, App installations,
// repositories with commits and branches, pull requests, reviews, issues and hook deliveries.
// Tests state only what they care about; the server completes each object from GitHub's
// response schemas when it sends it.

import { createHash } from 'node:crypto'

/** A person in a commit (git's author/committer). */
export interface GitPerson {
  name: string
  email: string
  /** ISO 8601. */
  date: string
  /** The GitHub account the email belongs to, if any (REST `author`/`committer`). */
  login?: string
  id?: number
}

/** A commit with the line counts only the API knows. */
export interface WorldCommit {
  sha: string
  parents: string[]
  message: string
  author: GitPerson
  committer: GitPerson
  additions: number
  deletions: number
  /** `changedFilesIfAvailable`; null: GitHub did not compute it. */
  changedFiles: number | null
}

/** One delivery of a hook (FACTS.md: items of GET …/hook/deliveries). */
export interface WorldDelivery {
  id: number
  guid: string
  delivered_at: string
  redelivery: boolean
  duration: number
  status: string
  status_code: number
  event: string
  action: string | null
  installation_id: number | null
  repository_id: number | null
}

/** Where deliveries are listed: the App's hook, a repository hook or an organization hook. */
export type HookTarget = 'app' | { repo: string; hookId: number } | { org: string; hookId: number }

export interface WorldRepository {
  id: number
  owner: string
  ownerId: number
  ownerType: 'User' | 'Organization'
  name: string
  defaultBranch: string
  private: boolean
  branches: Map<string, string>
  commits: Map<string, WorldCommit>
  /** Partial REST pull request objects (`number`, `state`, `updated_at`, …); completed when sent. */
  pulls: Record<string, unknown>[]
  /** Reviews by pull request number: partial REST review objects (`state` upper case). */
  reviews: Map<number, Record<string, unknown>[]>
  /** Partial REST issue objects; pull requests carry a `pull_request` key, as GitHub lists them. */
  issues: Record<string, unknown>[]
}

export interface WorldInstallation {
  id: number
  account: string
  accountId: number
  accountType: 'User' | 'Organization'
}

/** A 40-hex SHA derived from a label, so tests can name commits. */
export function shaOf(label: string): string {
  return createHash('sha1').update(label).digest('hex')
}

function hookKey(target: HookTarget): string {
  if (target === 'app') return 'app'
  return 'repo' in target ? `repo:${target.repo.toLowerCase()}#${target.hookId}` : `org:${target.org.toLowerCase()}#${target.hookId}`
}

export class World {
  readonly repositories = new Map<string, WorldRepository>()
  readonly installations = new Map<number, WorldInstallation>()
  readonly accounts = new Map<string, { login: string; id: number; type: 'User' | 'Organization' }>()
  /** Deliveries per hook, oldest first (the API lists them newest first). */
  readonly deliveries = new Map<string, WorldDelivery[]>()
  /** The status code a redelivery gets (200 unless a test says otherwise). */
  redeliveryStatusCode = 200
  /** Deliveries GitHub refuses to redeliver (422, no attempt recorded); null: none. */
  refusesRedelivery: ((delivery: WorldDelivery) => boolean) | null = null
  /** Called for every redelivery the server accepts, so a test can deliver it to its endpoint. */
  onRedeliver: ((delivery: WorldDelivery, target: HookTarget) => void) | null = null
  private nextId = 1000

  id(): number {
    return ++this.nextId
  }

  account(login: string, type: 'User' | 'Organization' = 'User') {
    const key = login.toLowerCase()
    let a = this.accounts.get(key)
    if (!a) {
      a = { login, id: this.id(), type }
      this.accounts.set(key, a)
    }
    return a
  }

  /** Adds a repository (its owner account is created as needed). */
  addRepository(spec: { owner: string; name: string; id?: number; ownerType?: 'User' | 'Organization'; defaultBranch?: string; private?: boolean }): WorldRepository {
    const owner = this.account(spec.owner, spec.ownerType ?? 'User')
    const repo: WorldRepository = {
      id: spec.id ?? this.id(),
      owner: owner.login,
      ownerId: owner.id,
      ownerType: owner.type,
      name: spec.name,
      defaultBranch: spec.defaultBranch ?? 'main',
      private: spec.private ?? false,
      branches: new Map(),
      commits: new Map(),
      pulls: [],
      reviews: new Map(),
      issues: [],
    }
    this.repositories.set(`${spec.owner}/${spec.name}`.toLowerCase(), repo)
    return repo
  }

  repository(owner: string, name: string): WorldRepository | undefined {
    return this.repositories.get(`${owner}/${name}`.toLowerCase())
  }

  /** Installs the App for an account (all its repositories); returns the installation. */
  install(login: string, spec: { id?: number; type?: 'User' | 'Organization' } = {}): WorldInstallation {
    const account = this.account(login, spec.type ?? 'User')
    const inst = { id: spec.id ?? this.id(), account: account.login, accountId: account.id, accountType: account.type }
    this.installations.set(inst.id, inst)
    return inst
  }

  installationFor(login: string): WorldInstallation | undefined {
    return [...this.installations.values()].find((i) => i.account.toLowerCase() === login.toLowerCase())
  }

  /** Adds a commit; `branch` moves that branch to it. */
  addCommit(repo: WorldRepository, c: Partial<WorldCommit> & { sha: string }, branch?: string): WorldCommit {
    const date = c.committer?.date ?? c.author?.date ?? new Date(Date.UTC(2026, 0, 1) + repo.commits.size * 60_000).toISOString()
    const author = c.author ?? { name: 'Dev One', email: 'dev1@example.test', date }
    const commit: WorldCommit = {
      sha: c.sha,
      parents: c.parents ?? [],
      message: c.message ?? `commit ${c.sha.slice(0, 7)}`,
      author,
      committer: c.committer ?? author,
      additions: c.additions ?? 0,
      deletions: c.deletions ?? 0,
      changedFiles: c.changedFiles === undefined ? 1 : c.changedFiles,
    }
    repo.commits.set(commit.sha, commit)
    if (branch) repo.branches.set(branch, commit.sha)
    return commit
  }

  /**
   * Appends `n` commits in a line to `branch` (from its head), with line counts derived from
   * their position (`additions = i + 1`, `deletions = i % 7`, `changedFiles = 1 + i % 5`).
   */
  commitChain(repo: WorldRepository, n: number, branch = repo.defaultBranch, label = 'c'): WorldCommit[] {
    const out: WorldCommit[] = []
    let parent = repo.branches.get(branch)
    const start = repo.commits.size
    for (let i = 0; i < n; i++) {
      const k = start + i
      const date = new Date(Date.UTC(2026, 0, 1) + k * 60_000).toISOString()
      const c = this.addCommit(
        repo,
        {
          sha: shaOf(`${repo.owner}/${repo.name}:${label}:${k}`),
          parents: parent ? [parent] : [],
          message: `${label} ${k}`,
          author: { name: `Dev ${k % 3}`, email: `dev${k % 3}@example.test`, date },
          additions: k + 1,
          deletions: k % 7,
          changedFiles: 1 + (k % 5),
        },
        branch,
      )
      out.push(c)
      parent = c.sha
    }
    return out
  }

  /** Resolves a branch name or a full SHA. */
  resolveRef(repo: WorldRepository, ref: string): WorldCommit | undefined {
    const sha = repo.branches.get(ref) ?? ref
    return repo.commits.get(sha)
  }

  /** Every ancestor of `sha`, itself included. */
  ancestors(repo: WorldRepository, sha: string): Set<string> {
    const seen = new Set<string>()
    const stack = [sha]
    while (stack.length > 0) {
      const s = stack.pop() as string
      if (seen.has(s)) continue
      const c = repo.commits.get(s)
      if (!c) continue
      seen.add(s)
      stack.push(...c.parents)
    }
    return seen
  }

  /** Adds a delivery to a hook; id, guid and time are invented when not given. */
  addDelivery(target: HookTarget, d: Partial<WorldDelivery> & { event: string }): WorldDelivery {
    const list = this.deliveries.get(hookKey(target)) ?? []
    this.deliveries.set(hookKey(target), list)
    const statusCode = d.status_code ?? 200
    const delivery: WorldDelivery = {
      id: d.id ?? this.id(),
      guid: d.guid ?? `${shaOf(`guid:${this.nextId}`).slice(0, 8)}-0000-4000-8000-${shaOf(`g${this.nextId}`).slice(0, 12)}`,
      delivered_at: d.delivered_at ?? new Date().toISOString(),
      redelivery: d.redelivery ?? false,
      duration: d.duration ?? 0.05,
      status: d.status ?? (statusCode >= 200 && statusCode < 300 ? 'OK' : statusCode === 0 ? 'timed out' : 'Invalid HTTP Response: ' + statusCode),
      status_code: statusCode,
      event: d.event,
      action: d.action ?? null,
      installation_id: d.installation_id ?? null,
      repository_id: d.repository_id ?? null,
    }
    list.push(delivery)
    return delivery
  }

  /** Declares a hook with no deliveries yet (a hook GitHub does not know answers 404). */
  addHook(target: HookTarget): void {
    if (!this.deliveries.has(hookKey(target))) this.deliveries.set(hookKey(target), [])
  }

  /** The hook's deliveries, oldest first; undefined for a hook that does not exist. The App's hook always exists. */
  deliveriesOf(target: HookTarget): WorldDelivery[] | undefined {
    return this.deliveries.get(hookKey(target)) ?? (target === 'app' ? [] : undefined)
  }
}
