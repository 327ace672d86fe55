// A pull request's history as GitHub would show it twice: as the webhook deliveries sent
// while it happened, and as the REST list items a backfill reads afterwards (the final
// state). Both are derived from one description, so a test can apply either, or both in any
// order, and compare the rows (recovery-convergence.test.ts).

export interface Account {
  id: number
  login: string
  type: 'User' | 'Bot'
}

/** One moment of a pull request (GitHub's `updated_at` increases strictly between them). */
export interface Snapshot {
  updatedAt: number
  title: string
  state: 'open' | 'closed' | 'merged'
  draft: boolean
  counts: { additions: number; deletions: number; changed_files: number }
  /** The delivery of this moment omits the line counts (labeled, synchronize …). */
  slimDelivery: boolean
}

export interface ReviewHistory {
  id: number
  reviewer: Account | null
  state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED'
  submittedAt: number
  /** The snapshot the review delivery embeds (slim form). */
  snapshot: number
  /** Dismissed later (its dismissal delivery is received at this time). */
  dismissedAt: number | null
}

export interface PullRequestHistory {
  id: number
  number: number
  author: Account
  createdAt: number
  snapshots: Snapshot[]
  reviews: ReviewHistory[]
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')

/** The time a snapshot closed or merged (first snapshot reaching its state). */
function stateTimes(h: PullRequestHistory, upTo: number): { mergedAt: number | null; closedAt: number | null } {
  let mergedAt: number | null = null
  let closedAt: number | null = null
  for (let i = 0; i <= upTo; i++) {
    const s = h.snapshots[i]
    if (s.state === 'merged' && mergedAt === null) mergedAt = s.updatedAt
    if (s.state !== 'open' && closedAt === null) closedAt = s.updatedAt
    if (s.state === 'open') closedAt = null
  }
  return { mergedAt, closedAt }
}

function user(a: Account | null) {
  return a && { id: a.id, login: a.login, type: a.type, node_id: `U_${a.id}`, site_admin: false }
}

/** The pull request object of snapshot `i`: `full` (webhook full form), `slim` (in a review), `rest` (list item). */
export function pullRequestObject(h: PullRequestHistory, i: number, form: 'full' | 'slim' | 'rest'): Record<string, unknown> {
  const s = h.snapshots[i]
  const { mergedAt, closedAt } = stateTimes(h, i)
  const pr: Record<string, unknown> = {
    id: h.id,
    number: h.number,
    node_id: `PR_${h.id}`,
    title: s.title,
    state: s.state === 'open' ? 'open' : 'closed',
    draft: s.draft,
    user: user(h.author),
    created_at: iso(h.createdAt),
    updated_at: iso(s.updatedAt),
    closed_at: closedAt === null ? null : iso(closedAt),
    merged_at: mergedAt === null ? null : iso(mergedAt),
    head: { ref: `feature-${h.number}`, sha: 'a'.repeat(40) },
    base: { ref: 'main', sha: 'b'.repeat(40) },
  }
  if (form === 'full') {
    pr.merged = s.state === 'merged'
    if (!s.slimDelivery) Object.assign(pr, s.counts)
  }
  return pr
}

export interface Delivery {
  event: 'pull_request' | 'pull_request_review'
  deliveryId: string
  payload: Record<string, unknown>
  receivedAt: number
}

const REPOSITORY = { id: 0, full_name: 'acme/widgets' }

/** Every delivery the history produced. */
export function deliveries(h: PullRequestHistory, repositoryGithubId: number, tag: string): Delivery[] {
  const repository = { ...REPOSITORY, id: repositoryGithubId }
  const out: Delivery[] = []
  h.snapshots.forEach((s, i) => {
    const action = i === 0 ? 'opened' : s.slimDelivery ? 'labeled' : s.state === 'open' ? 'edited' : 'closed'
    out.push({
      event: 'pull_request',
      deliveryId: `${tag}-pr-${h.id}-${i}`,
      receivedAt: s.updatedAt + 1000,
      payload: { action, number: h.number, pull_request: pullRequestObject(h, i, 'full'), repository, sender: user(h.author) },
    })
  })
  for (const r of h.reviews) {
    const review = (state: string) => ({
      id: r.id,
      user: user(r.reviewer),
      state,
      commit_id: 'c'.repeat(40),
      submitted_at: iso(r.submittedAt),
      body: null,
    })
    out.push({
      event: 'pull_request_review',
      deliveryId: `${tag}-review-${r.id}`,
      receivedAt: r.submittedAt + 1000,
      payload: { action: 'submitted', review: review(r.state.toLowerCase()), pull_request: pullRequestObject(h, r.snapshot, 'slim'), repository },
    })
    if (r.dismissedAt !== null) {
      out.push({
        event: 'pull_request_review',
        deliveryId: `${tag}-dismissal-${r.id}`,
        receivedAt: r.dismissedAt,
        payload: { action: 'dismissed', review: review('dismissed'), pull_request: pullRequestObject(h, r.snapshot, 'slim'), repository },
      })
    }
  }
  return out
}

/** The REST items a backfill reads after the history: the pull request and its reviews. */
export function restItems(h: PullRequestHistory): { pull: Record<string, unknown>; reviews: Record<string, unknown>[] } {
  const pull = pullRequestObject(h, h.snapshots.length - 1, 'rest')
  const reviews = h.reviews.map((r) => ({
    id: r.id,
    node_id: `PRR_${r.id}`,
    user: user(r.reviewer),
    body: '',
    state: r.dismissedAt !== null ? 'DISMISSED' : r.state,
    commit_id: 'c'.repeat(40),
    submitted_at: iso(r.submittedAt),
    author_association: 'MEMBER',
  }))
  return { pull, reviews }
}
