// Push payloads shaped like GitHub's (the fields the processor reads and the usual ones
// around them), for tests that need many commits or chosen SHAs: the fixture has three.
import { createHash } from 'node:crypto'

/** A 40-hex commit SHA derived from `seed` and `n`, distinct per (seed, n). */
export function shaOf(seed: string, n: number): string {
  return createHash('sha1').update(`${seed}:${n}`).digest('hex')
}

export interface PushCommitSpec {
  sha: string
  message?: string
  /** RFC 3339 author date. Default 2024-03-04T15:15:02+01:00. */
  timestamp?: string
  name?: string
  email?: string
  /** GitHub login of the author, when GitHub matched one. */
  username?: string
}

/** A push of `commits` to `fullName` (GitHub id `repoGithubId`) from `before` to the last commit; `forced` default false. */
export function pushPayload(opts: { repoGithubId: number; fullName: string; commits: PushCommitSpec[]; before?: string; forced?: boolean }): string {
  const commits = opts.commits.map((c) => {
    const author = { name: c.name ?? 'Some One', email: c.email ?? 'someone@example.com', ...(c.username ? { username: c.username } : {}) }
    return {
      id: c.sha,
      tree_id: createHash('sha1').update(`tree:${c.sha}`).digest('hex'),
      distinct: true,
      message: c.message ?? `Change ${c.sha.slice(0, 7)}`,
      timestamp: c.timestamp ?? '2024-03-04T15:15:02+01:00',
      url: `https://github.com/${opts.fullName}/commit/${c.sha}`,
      author,
      committer: author,
      added: [],
      removed: [],
      modified: ['README.md'],
    }
  })
  const head = commits[commits.length - 1] ?? null
  return JSON.stringify({
    ref: 'refs/heads/main',
    before: opts.before ?? '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
    after: head ? head.id : '0'.repeat(40),
    created: false,
    deleted: false,
    forced: opts.forced ?? false,
    base_ref: null,
    compare: `https://github.com/${opts.fullName}/compare/x...y`,
    commits,
    head_commit: head,
    repository: { id: opts.repoGithubId, name: opts.fullName.split('/')[1], full_name: opts.fullName, private: false },
    pusher: { name: 'octocat', email: 'octocat@github.com' },
    sender: { login: 'octocat', id: 583231, type: 'User' },
  })
}
