// The job mix as the ceiling models it: each bench job falls in one script kind (a pull_request
// event, a review, an issues event, a push of k commits, a deployment_status, a workflow_run, an
// untracked event), each kind gets a
// pgbench weight (its share of the jobs) and a representative delivery (the median payload size
// of its kind) whose bound values the script reuses. Big job lists are sampled for the parsing;
// jobs that write nothing in the baselines (bad values, unknown repositories) are left out.

import type { BenchJob } from '../types'
import { parseJson, readEnvelope, readTracked, trackedEvent } from '../shared/payload'
import { Plan, plan as planOf } from '../shared/plan'

export interface ScriptKind {
  /** Variable-safe name: pull_request, review, issues, push_3, ignored, … */
  name: string
  /** pgbench weight: how many of the jobs this kind stands for. */
  weight: number
  /** The representative delivery and its plan (null for untracked events). */
  job: BenchJob
  plan: Plan | null
  /** Distinct entities the kind's jobs touch (pull requests, issues, reviews; deployments for
   * deployment_status, runs for workflow_run), scaled to the whole job list: the range the
   * script draws GitHub ids from. */
  distinct: number
}

/**
 * The GitHub Actions events of the mix: each one kind, named after the event. `entity` is what
 * its deliveries share (a deployment's statuses, a run's deliveries), read from the payload so
 * the count does not depend on a baseline's plan of it.
 */
const ACTIONS_KINDS: { event: string; entity: (payload: Record<string, any>) => unknown }[] = [
  { event: 'deployment_status', entity: (p) => p.deployment?.id },
  { event: 'workflow_run', entity: (p) => p.workflow_run?.id },
]

/** Parsed jobs per event type at most (evenly spaced over the list). */
const SAMPLE = 2000
/** Push scripts at most: pushes are bucketed by commit count beyond that. */
const MAX_PUSH_SCRIPTS = 8

function sample<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)])
}

function median<T>(items: T[], size: (t: T) => number): T {
  return [...items].sort((a, b) => size(a) - size(b))[Math.floor(items.length / 2)]
}

interface Planned {
  job: BenchJob
  plan: Plan
}

/** GitHub ids of the repositories the database knows. */
export type KnownRepositories = ReadonlySet<number>

function planned(jobs: BenchJob[], repos: KnownRepositories): Planned[] {
  const out: Planned[] = []
  for (const job of jobs) {
    const event = trackedEvent(job.event)
    if (!event) continue
    try {
      const view = readTracked(event, parseJson(job.payload))
      if (repos.has(view.repositoryId)) out.push({ job, plan: planOf(view) })
    } catch {
      // A delivery the baselines reject writes no entity rows: not part of the modelled mix.
    }
  }
  return out
}

function entityId(p: Plan): number | null {
  switch (p.event) {
    case 'pull_request':
      return p.pullRequest.githubId
    case 'issues':
      return p.issue.githubId
    case 'pull_request_review':
      return p.review.githubId
    default:
      // push, and the GitHub Actions events (their kinds count entities from the payload).
      return null
  }
}

/** Kinds of one tracked event type from its jobs (all of them, `total` before sampling). */
function kindsOf(name: string, items: Planned[], total: number): ScriptKind[] {
  if (items.length === 0) return []
  const scale = total / items.length
  const distinct = new Set(items.map((i) => entityId(i.plan))).size
  const rep = median(items, (i) => i.job.payload.length)
  return [{ name, weight: Math.max(1, Math.round(total)), job: rep.job, plan: rep.plan, distinct: Math.max(1, Math.round(distinct * scale)) }]
}

/** Pushes by commit count; with many distinct counts, buckets of similar counts. */
function pushKinds(items: Planned[], total: number): ScriptKind[] {
  if (items.length === 0) return []
  const commits = (i: Planned) => (i.plan.event === 'push' ? i.plan.commits.length : 0)
  const sorted = [...items].sort((a, b) => commits(a) - commits(b))
  const counts = [...new Set(sorted.map(commits))]
  const buckets: Planned[][] =
    counts.length <= MAX_PUSH_SCRIPTS
      ? counts.map((k) => sorted.filter((i) => commits(i) === k))
      : Array.from({ length: MAX_PUSH_SCRIPTS }, (_, b) =>
          sorted.slice(Math.floor((b * sorted.length) / MAX_PUSH_SCRIPTS), Math.floor(((b + 1) * sorted.length) / MAX_PUSH_SCRIPTS)),
        ).filter((b) => b.length > 0)
  // Buckets whose median push has the same commit count become one script (its name is
  // its variables' prefix, so it must be unique), their weights added.
  const byName = new Map<string, ScriptKind>()
  for (const bucket of buckets) {
    const rep = median(bucket, commits)
    const name = `push_${commits(rep)}`
    const weight = Math.max(1, Math.round((bucket.length * total) / items.length))
    const seen = byName.get(name)
    if (seen) seen.weight += weight
    else byName.set(name, { name, weight, job: rep.job, plan: rep.plan, distinct: 0 })
  }
  return [...byName.values()]
}

/** The script kinds of a job list. */
export function scriptKinds(jobs: BenchJob[], repos: KnownRepositories): ScriptKind[] {
  const byEvent = new Map<string, BenchJob[]>()
  for (const job of jobs) {
    const list = byEvent.get(job.event)
    if (list) list.push(job)
    else byEvent.set(job.event, [job])
  }
  const kinds: ScriptKind[] = []
  const take = (event: string) => byEvent.get(event) ?? []
  const tracked = (event: string) => {
    const all = take(event)
    const parsed = planned(sample(all, SAMPLE), repos)
    // Scale the sampled kinds back to the share of valid jobs in the whole list.
    return { parsed, total: all.length === 0 ? 0 : (parsed.length / Math.min(all.length, SAMPLE)) * all.length }
  }
  const pr = tracked('pull_request')
  kinds.push(...kindsOf('pull_request', pr.parsed, pr.total))
  const review = tracked('pull_request_review')
  kinds.push(...kindsOf('review', review.parsed, review.total))
  const issues = tracked('issues')
  kinds.push(...kindsOf('issues', issues.parsed, issues.total))
  const push = tracked('push')
  kinds.push(...pushKinds(push.parsed, push.total))
  for (const a of ACTIONS_KINDS) {
    const kind = actionsKind(a.event, take(a.event), repos, a.entity)
    if (kind) kinds.push(kind)
  }
  // Untracked events are stored only when their repository is known.
  const untracked = jobs.filter((j) => !trackedEvent(j.event) && !ACTIONS_KINDS.some((a) => a.event === j.event))
  const stored = sample(untracked, SAMPLE).filter((j) => {
    try {
      const id = readEnvelope(parseJson(j.payload)).repositoryId
      return id !== null && repos.has(id)
    } catch {
      return false
    }
  })
  if (stored.length > 0) {
    const rep = median(stored, (j) => j.payload.length)
    const weight = Math.round((stored.length * untracked.length) / Math.min(untracked.length, SAMPLE))
    kinds.push({ name: 'ignored', weight, job: rep, plan: null, distinct: 0 })
  }
  return kinds
}

/**
 * One kind for a GitHub Actions event: its jobs on known repositories, weighted by their share,
 * the median-size one as representative. Its plan is the baselines' (null while they do not
 * track the event: the naive ceiling then runs the ignored-event insert, as the pg baseline does).
 */
function actionsKind(event: string, all: BenchJob[], repos: KnownRepositories, entity: (payload: Record<string, any>) => unknown): ScriptKind | null {
  if (all.length === 0) return null
  const sampled = sample(all, SAMPLE)
  const known = sampled
    .map((job) => {
      try {
        const payload = parseJson(job.payload) as Record<string, any>
        const id = readEnvelope(payload).repositoryId
        return id !== null && repos.has(id) ? { job, id: entity(payload) } : null
      } catch {
        return null
      }
    })
    .filter((k): k is { job: BenchJob; id: unknown } => k !== null && k.id !== undefined)
  if (known.length === 0) return null
  const scale = all.length / sampled.length
  const rep = median(known, (k) => k.job.payload.length).job
  const plan = trackedEvent(event) ? (planned([rep], repos)[0]?.plan ?? null) : null
  return {
    name: event,
    weight: Math.max(1, Math.round(known.length * scale)),
    job: rep,
    plan,
    distinct: Math.max(1, Math.round(new Set(known.map((k) => k.id)).size * scale)),
  }
}

/** Distinct pull requests the pull_request and review jobs touch together (they share rows). */
export function distinctPullRequests(jobs: BenchJob[], repos: KnownRepositories): number {
  const prJobs = jobs.filter((j) => j.event === 'pull_request' || j.event === 'pull_request_review')
  const parsed = planned(sample(prJobs, SAMPLE), repos)
  if (parsed.length === 0) return 1
  const ids = new Set(parsed.map((p) => (p.plan.event === 'pull_request' || p.plan.event === 'pull_request_review' ? p.plan.pullRequest.githubId : 0)))
  return Math.max(1, Math.round((ids.size * prJobs.length) / parsed.length))
}
