// Backfill and live deliveries converge (issue 16): the same pull request histories applied
// as webhooks only, as a backfill only (REST list items through applyRestPage), and as both
// interleaved in random orders end in the same rows. Backfill-only rows lack only what REST
// lists omit (line counts) and what only a delivery knows (a dismissal's received time);
// with the webhooks too, nothing differs. Three databases, one per way, same ids.
import fc from 'fast-check'
import { WebhookProcessor } from '../lib'
import { createTestDatabase, insertRepository, insertUser, TestDatabase } from './helpers/db'
import { Account, deliveries, PullRequestHistory, restItems, ReviewHistory, Snapshot } from './support/rest-shapes'

const REPO_GITHUB_ID = 90_000_001
const T0 = Date.parse('2026-10-01T09:00:00Z')
const MAPPED: Account = { id: 7001, login: 'mona', type: 'User' }
const OTHER: Account = { id: 7002, login: 'hubot', type: 'User' }
const BOT: Account = { id: 7003, login: 'ci[bot]', type: 'Bot' }

interface Way {
  db: TestDatabase
  processor: WebhookProcessor
  repoId: string
  /** users.id of MAPPED in this database. */
  userId: string
}

const ways: Record<'webhooks' | 'backfill' | 'both', Way> = {} as never

beforeAll(async () => {
  for (const name of ['webhooks', 'backfill', 'both'] as const) {
    const db = await createTestDatabase()
    const repoId = await insertRepository(db.pool, REPO_GITHUB_ID, { fullName: 'acme/widgets' })
    const userId = await insertUser(db.pool, { email: 'mona@acme.example', githubId: MAPPED.id, githubLogin: MAPPED.login })
    const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 2 })
    ways[name] = { db, processor, repoId, userId }
  }
})

afterAll(async () => {
  for (const w of Object.values(ways)) {
    await w.processor?.close()
    await w.db?.drop()
  }
})

let nextId = 1

/** A pull request history: snapshots with strictly increasing updated_at; MERGED is terminal. */
const history: fc.Arbitrary<PullRequestHistory> = fc
  .record({
    author: fc.constantFrom(MAPPED, OTHER),
    steps: fc.array(
      fc.record({
        gap: fc.integer({ min: 1, max: 5_000 }),
        title: fc.constantFrom('Fix it', 'Fix it properly', 'WIP'),
        state: fc.constantFrom<Snapshot['state']>('open', 'open', 'closed', 'merged'),
        draft: fc.boolean(),
        counts: fc.record({ additions: fc.nat(500), deletions: fc.nat(500), changed_files: fc.nat(30) }),
        slimDelivery: fc.boolean(),
      }),
      { minLength: 1, maxLength: 5 },
    ),
    reviews: fc.array(
      fc.record({
        reviewer: fc.constantFrom<Account | null>(MAPPED, OTHER, BOT, null),
        state: fc.constantFrom<ReviewHistory['state']>('APPROVED', 'CHANGES_REQUESTED', 'COMMENTED'),
        at: fc.integer({ min: 1, max: 20_000 }),
        snapshot: fc.nat(),
        dismissed: fc.option(fc.integer({ min: 1, max: 5_000 }), { nil: null }),
      }),
      { maxLength: 3 },
    ),
  })
  .map(({ author, steps, reviews }) => {
    const id = 800_000 + nextId++
    const createdAt = T0 + id * 1000
    let t = createdAt
    let merged = false
    const snapshots: Snapshot[] = steps.map((s, i) => {
      t += s.gap * 1000
      // The first delivery is `opened`: open, and a full form.
      const state = i === 0 ? 'open' : merged ? 'merged' : s.state
      merged ||= state === 'merged'
      return { updatedAt: t, title: s.title, state, draft: s.draft, counts: s.counts, slimDelivery: i === 0 ? false : s.slimDelivery }
    })
    return {
      id,
      number: id - 800_000,
      author,
      createdAt,
      snapshots,
      reviews: reviews.map((r, k) => {
        const submittedAt = createdAt + r.at * 1000
        return {
          id: id * 10 + k,
          reviewer: r.reviewer,
          state: r.state,
          submittedAt,
          snapshot: r.snapshot % snapshots.length,
          dismissedAt: r.dismissed === null ? null : submittedAt + r.dismissed * 1000,
        }
      }),
    }
  })

type Step = { kind: 'delivery'; index: number } | { kind: 'pulls' } | { kind: 'reviews' }

async function applyWebhooks(way: Way, h: PullRequestHistory, order: number[]): Promise<void> {
  const ds = deliveries(h, REPO_GITHUB_ID, 'd')
  for (const i of order) {
    const d = ds[i]
    await way.processor.process({ deliveryId: d.deliveryId, event: d.event, payload: JSON.stringify(d.payload), receivedAt: d.receivedAt })
  }
}

async function applyBackfill(way: Way, h: PullRequestHistory, step: 'pulls' | 'reviews'): Promise<void> {
  const { pull, reviews } = restItems(h)
  if (step === 'pulls') await way.processor.applyRestPage(way.repoId, 'pulls', [pull])
  else await way.processor.applyRestPage(way.repoId, 'reviews', reviews, pull)
}

/** The rows of one pull request and its reviews, without row ids and the repository's id; the mapped user's id (one per database) as `mapped`. */
async function rowsOf(way: Way, h: PullRequestHistory) {
  const pr = await way.db.pool.query('SELECT * FROM pull_requests WHERE "githubId" = $1', [h.id])
  const reviews = await way.db.pool.query('SELECT * FROM pull_request_reviews WHERE "githubId" = ANY($1::bigint[]) ORDER BY "githubId"', [
    h.reviews.map((r) => r.id),
  ])
  const user = (id: unknown) => (id === null ? null : id === way.userId ? 'mapped' : id)
  type Row = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  const strip = ({ id: _id, repoId: _repo, pullRequestId: _pr, ...rest }: Row): Row => ({
    ...rest,
    ...('authorId' in rest ? { authorId: user(rest.authorId) } : {}),
    ...('reviewerId' in rest ? { reviewerId: user(rest.reviewerId) } : {}),
  })
  // A review's createdAt is when its row was written (pull requests' is GitHub's).
  return { pr: pr.rows.map(strip), reviews: reviews.rows.map(({ createdAt: _written, ...r }) => strip(r)) }
}

/** What REST lists cannot know: the line counts, a dismissal's received time. */
function withoutDeliveryOnlyFields(rows: Awaited<ReturnType<typeof rowsOf>>) {
  return {
    pr: rows.pr.map(({ additions: _a, deletions: _d, filesChanged: _f, countsUpdatedAt: _c, ...rest }) => rest),
    reviews: rows.reviews.map(({ dismissedAt: _d, ...rest }) => rest),
  }
}

test('webhooks only, backfill only, and both interleaved in random orders give identical rows', async () => {
  await fc.assert(
    fc.asyncProperty(
      history.chain((h) => {
        const n = deliveries(h, REPO_GITHUB_ID, 'd').length
        const steps: Step[] = [...Array.from({ length: n }, (_, index) => ({ kind: 'delivery' as const, index })), { kind: 'pulls' }, { kind: 'reviews' }]
        return fc.tuple(fc.constant(h), fc.shuffledSubarray(steps, { minLength: steps.length, maxLength: steps.length }), fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }))
      }),
      async ([h, interleaved, webhookOrder]) => {
        await applyWebhooks(ways.webhooks, h, webhookOrder)
        // Backfill only: the pull request page and its reviews page, in either order.
        for (const step of interleaved.filter((s) => s.kind !== 'delivery') as Array<{ kind: 'pulls' | 'reviews' }>) {
          await applyBackfill(ways.backfill, h, step.kind)
        }
        for (const step of interleaved) {
          if (step.kind === 'delivery') await applyWebhooks(ways.both, h, [step.index])
          else await applyBackfill(ways.both, h, step.kind)
        }
        const webhooks = await rowsOf(ways.webhooks, h)
        const backfill = await rowsOf(ways.backfill, h)
        const both = await rowsOf(ways.both, h)
        expect(webhooks.pr).toHaveLength(1)
        expect(webhooks.reviews).toHaveLength(h.reviews.length)
        expect(both).toEqual(webhooks)
        expect(withoutDeliveryOnlyFields(backfill)).toEqual(withoutDeliveryOnlyFields(webhooks))
        // What the list endpoint omits is absent (not zero) after a backfill alone.
        expect(backfill.pr[0].countsUpdatedAt).toBeNull()
      },
    ),
    { numRuns: Number(process.env.FUZZ_CASES ?? 40) },
  )
})
