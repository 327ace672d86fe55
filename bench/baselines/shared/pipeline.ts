// One delivery from envelope to committed rows, in the order of checks DESIGN.md fixes and the
// addon follows (crates/core/src/processor.rs): envelope → size → parse → event type → repository →
// plan → user mapping → one transaction (claim the event, write the entities). Shared by the
// pg and Prisma baselines, which differ only in their `DeliveryStore` (the database layer).

import type { BenchJob } from '../types'
import { BaselineError, errorCode } from './errors'
import { activitiesOf, deriveMetricJobs } from './metrics'
import { parseJson, readEnvelope, readTracked, trackedEvent, TrackedView } from './payload'
import { Plan, plan as planOf, planIdentities } from './plan'
import { BaselineImplementation, BaselineResult, NO_RECORDS, RecordCounts } from './result'
import { stripJsonNulEscapes } from './text'
import { IdentityKey, UserCache, UserMap } from './users'

export interface RepoInfo {
  id: string
  githubId: number
  teamId: string | null
}

/** The columns of an events row that come from the delivery. */
export interface EventRecord {
  repoId: string
  deliveryId: string
  type: string
  action: string | null
  senderGithubId: number | null
  /** The delivery's text with `\u0000` escapes removed (JSONB rejects NUL). */
  payloadText: string
  /** The same, parsed (for clients that serialise JSON themselves). */
  payload(): unknown
  /** Epoch ms. */
  receivedAt: number
}

/** What an entity write needs besides the plan. */
export interface WriteContext {
  repo: RepoInfo
  users: UserMap
  /** Epoch ms: dismissals and removals carry no time of their own. */
  receivedAt: number
}

/** A baseline's database layer. */
export interface DeliveryStore {
  findRepository(githubId: number): Promise<RepoInfo | null>
  loadUsers(keys: IdentityKey[]): Promise<UserMap>
  /** Stores an untracked event as processed (a redelivery counts an attempt); returns its id. */
  recordIgnored(ev: EventRecord, now: number): Promise<string>
  /** Leaves a visible failure: processed = false, attempts + 1, lastError. */
  recordFailure(ev: EventRecord, message: string, now: number): Promise<void>
  /** One transaction: claims the event (null when already processed) and writes the plan's rows. */
  write(ev: EventRecord, plan: Plan, ctx: WriteContext, now: number): Promise<{ eventId: string; records: RecordCounts } | null>
  close(): Promise<void>
}

const EVENT_NAME = /^[a-z0-9_]+$/
/** GitHub never sends more; the addon refuses more (PAYLOAD_TOO_LARGE). */
const MAX_PAYLOAD_BYTES = 25 * 1024 * 1024
const REPO_TTL_MS = 15 * 60_000

/** Repositories by GitHub id, cached like the addon's; unknown ones are not cached. */
class RepositoryCache {
  private readonly entries = new Map<number, { repo: RepoInfo; expires: number }>()
  constructor(private readonly store: DeliveryStore) {}

  async find(githubId: number): Promise<RepoInfo | null> {
    const hit = this.entries.get(githubId)
    if (hit && hit.expires > Date.now()) return hit.repo
    const repo = await this.store.findRepository(githubId)
    if (repo) this.entries.set(githubId, { repo, expires: Date.now() + REPO_TTL_MS })
    return repo
  }
}

function eventRecord(job: BenchJob, repo: RepoInfo, action: string | null, senderGithubId: number | null, parsed: unknown, receivedAt: number): EventRecord {
  const payloadText = stripJsonNulEscapes(job.payload)
  return {
    repoId: repo.id,
    deliveryId: job.deliveryId,
    type: job.event,
    action,
    senderGithubId,
    payloadText,
    payload: () => (payloadText === job.payload ? parsed : JSON.parse(payloadText)),
    receivedAt,
  }
}

export class DeliveryPipeline implements BaselineImplementation {
  private readonly repos: RepositoryCache
  private readonly users: UserCache

  constructor(
    readonly name: string,
    private readonly store: DeliveryStore,
  ) {
    this.repos = new RepositoryCache(store)
    this.users = new UserCache((keys) => store.loadUsers(keys))
  }

  async process(job: BenchJob): Promise<void> {
    await this.processJob(job)
  }

  close(): Promise<void> {
    return this.store.close()
  }

  async processJob(job: BenchJob): Promise<BaselineResult> {
    if (typeof job.deliveryId !== 'string' || job.deliveryId === '') throw new BaselineError('INVALID_JOB', 'deliveryId must be a non-empty string')
    if (typeof job.event !== 'string' || !EVENT_NAME.test(job.event)) throw new BaselineError('INVALID_JOB', 'event must be a GitHub event name')
    if (typeof job.payload !== 'string') throw new BaselineError('INVALID_JOB', 'payload must be a string')
    // A UTF-16 length beyond a third of the limit may be over it in UTF-8: only then count bytes.
    if (job.payload.length > MAX_PAYLOAD_BYTES / 3 && Buffer.byteLength(job.payload) > MAX_PAYLOAD_BYTES) {
      throw new BaselineError('PAYLOAD_TOO_LARGE', 'payload is over 25 MiB')
    }
    const now = Date.now()
    const parsed = parseJson(job.payload)
    const event = trackedEvent(job.event)
    if (!event) return this.ignore(job, parsed, now)

    let view: TrackedView
    try {
      view = readTracked(event, parsed)
    } catch (e) {
      await this.recordUnparsable(job, parsed, e, now)
      throw e
    }
    const repo = await this.repos.find(view.repositoryId)
    if (!repo) throw new BaselineError('UNKNOWN_REPOSITORY', `no repository with GitHub id ${view.repositoryId}`)
    const ev = eventRecord(job, repo, view.action, view.senderId, parsed, now)
    try {
      const plan = planOf(view)
      const users = await this.users.resolve(planIdentities(plan))
      const written = await this.store.write(ev, plan, { repo, users, receivedAt: now }, now)
      const { activities, unmapped } = activitiesOf(plan, users)
      return {
        ...this.result(job, written ? 'processed' : 'duplicate', repo, view.action),
        eventId: written?.eventId ?? null,
        records: written?.records ?? NO_RECORDS,
        // A duplicate re-derives its jobs too (from this payload: a redelivery carries the same one).
        metricJobs: deriveMetricJobs(activities, repo.teamId, Math.floor(now / 60_000)),
        unmappedUsers: unmapped,
      }
    } catch (e) {
      await this.recordFailure(ev, e, now)
      throw e
    }
  }

  private result(job: BenchJob, status: BaselineResult['status'], repo: RepoInfo | null, action: string | null): BaselineResult {
    return {
      status,
      eventId: null,
      deliveryId: job.deliveryId,
      event: job.event,
      action,
      repoId: repo?.id ?? null,
      records: NO_RECORDS,
      metricJobs: [],
      unmappedUsers: [],
    }
  }

  /** A type no processor tracks: stored as processed when its repository is known. */
  private async ignore(job: BenchJob, parsed: unknown, now: number): Promise<BaselineResult> {
    const envelope = readEnvelope(parsed)
    const repo = envelope.repositoryId === null ? null : await this.repos.find(envelope.repositoryId)
    const result = this.result(job, 'ignored', repo, envelope.action)
    if (repo) {
      const ev = eventRecord(job, repo, envelope.action, envelope.senderId, parsed, now)
      result.eventId = await this.store.recordIgnored(ev, now)
    }
    return result
  }

  /** A tracked payload that did not fit its type: a failure row if it names a known repository. */
  private async recordUnparsable(job: BenchJob, parsed: unknown, error: unknown, now: number): Promise<void> {
    let envelope
    try {
      envelope = readEnvelope(parsed)
    } catch {
      return
    }
    const repo = envelope.repositoryId === null ? null : await this.repos.find(envelope.repositoryId).catch(() => null)
    if (repo) await this.recordFailure(eventRecord(job, repo, envelope.action, envelope.senderId, parsed, now), error, now)
  }

  private async recordFailure(ev: EventRecord, error: unknown, now: number): Promise<void> {
    const message = `${errorCode(error)}: ${(error as Error)?.message ?? String(error)}`
    await this.store.recordFailure(ev, message.replace(/\0/g, ''), now).catch(() => undefined)
  }
}
