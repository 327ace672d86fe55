// pgbench scripts that run, per event kind, the very statements the pg baseline sends (the same
// `Statement` objects from ../pg, rendered with SQL expressions in place of `$n`), in the same
// transactions, with the representative delivery's bound values:
//
//   pull_request         BEGIN; claim event; entity lock; pull request upsert; COMMIT
//   pull_request_review  BEGIN; claim event; entity lock; pull request upsert; review upsert; COMMIT
//   issues               BEGIN; claim event; entity lock; issue upsert; COMMIT
//   push of k commits    BEGIN; claim event; one UNNEST insert of k commits; COMMIT   (k = 0: no insert)
//   deployment_status    BEGIN; claim event; entity lock; deployment upsert; status upsert; refresh of the
//                        deployment's derived fields; COMMIT
//   workflow_run         BEGIN; claim event; run attempt upsert; COMMIT
//   untracked event      the ignored-event insert (autocommit)
//
// What varies per transaction, so that rows differ: the event and row ids and the deliveryId
// (gen_random_uuid()), the entity's GitHub id and number (drawn with \set/random() from as many
// distinct entities as the job mix touches, so upserts hit existing rows about as often), its
// updated_at (random, so the freshness guard sometimes wins and sometimes not), and the commit
// SHAs (random, generated in SQL with generate_series since pgbench variables cannot hold
// arrays). Deployment statuses: the deployment is drawn from the distinct deployments the kind's
// jobs touch, the status is a new one each time (GitHub sends each status once), its created_at
// random; so a deployment gathers statuses as the run goes on (weight / distinct on average,
// the refresh reading all of them). Workflow runs: the run is drawn from the distinct runs, one
// in ten transactions is its second attempt (a re-run), updated_at is random (the rank and
// freshness guard sometimes win); a completed representative's completedAt moves with it. Everything else is the representative's value: text values (the JSON payload, titles,
// logins, the commit arrays as array literals) are pgbench variables sent as bound parameters
// like the pg baseline's, loaded once per client from a helper table with \gset (a payload can
// exceed what a -D command-line argument may hold, and a literal in the script would be scanned
// for `:variables`); numbers and booleans are literals. The pg baseline's repository and user
// lookups are not in the scripts: warm caches answer them without a round trip.

import { ENTITY_LOCK } from '../pg/converge'
import { deploymentStatusValues, deploymentValues, PRODUCTION_PATTERN, REFRESH_DEPLOYMENT, UPSERT_DEPLOYMENT, UPSERT_DEPLOYMENT_STATUS } from '../pg/deployments'
import { CLAIM_EVENT, eventValues, RECORD_IGNORED } from '../pg/events'
import { issueValues, UPSERT_ISSUE } from '../pg/issues'
import { pullRequestValues, UPSERT_PULL_REQUEST } from '../pg/pull-request'
import { commitValues, INSERT_COMMITS } from '../pg/push'
import { reviewValues, UPSERT_REVIEW } from '../pg/review'
import { UPSERT_WORKFLOW_RUN, workflowRunValues } from '../pg/workflow-runs'
import { render, Statement } from '../pg/statement'
import { LOCK_CLASS } from '../shared/locks'
import type { EventRecord, RepoInfo } from '../shared/pipeline'
import type { EnvelopeView } from '../shared/payload'
import { stripJsonNulEscapes } from '../shared/text'
import type { UserMap } from '../shared/users'
import type { ScriptKind } from './workload'

export interface Script {
  name: string
  weight: number
  /** The pgbench script. */
  text: string
  /** Text variables the script loads from the helper table, by name. */
  variables: Map<string, string>
}

export interface ScriptContext {
  repo: RepoInfo
  users: UserMap
  envelope: EnvelopeView
  /** Distinct pull requests that pull_request and review jobs share. */
  pullRequests: number
  /** The helper table holding the text variables. */
  table: string
}

/** A fresh id or deliveryId per transaction. */
const UUID = 'gen_random_uuid()::text'
const NOW = 'localtimestamp(3)'
/** A random updated_at within a year, in whole seconds like GitHub's (so equal times happen). */
const UPDATED_AT = `'2024-01-01'::timestamp + (:upd)::int * interval '1 second'`
/** GitHub id and number bases of the ceiling's own rows, far from real ones. */
const BASE = {
  pullRequest: 900_000_000_000,
  issue: 910_000_000_000,
  review: 920_000_000_000,
  deployment: 930_000_000_000,
  deploymentStatus: 940_000_000_000,
  workflowRun: 950_000_000_000,
  number: 1_000_000,
}
/** A status created within a year, in whole seconds. */
const STATUS_CREATED_AT = `'2024-01-01'::timestamp + (:scr)::int * interval '1 second'`

/** Text values become variables (bound parameters); numbers, booleans and NULL are literals. */
class Values {
  readonly variables = new Map<string, string>()
  constructor(private readonly prefix: string) {}

  expression(value: unknown): string {
    if (value === null || value === undefined) return 'NULL'
    if (typeof value === 'number' || typeof value === 'boolean') return String(value)
    const text = Array.isArray(value) ? arrayLiteral(value) : String(value)
    const name = `${this.prefix}_${this.variables.size + 1}`
    this.variables.set(name, text)
    return `:${name}`
  }

  /** Expressions for a statement's values, with per-transaction overrides. */
  bind<N extends string>(stmt: Statement<N>, values: Record<N, unknown>, overrides: Partial<Record<N, string>>): string {
    const exprs = {} as Record<N, string>
    for (const name of stmt.params) exprs[name] = overrides[name] ?? this.expression(values[name])
    return `${render(stmt, exprs)};`
  }
}

/** A PostgreSQL array literal, as node-pg sends a JavaScript array. */
function arrayLiteral(items: unknown[]): string {
  const quote = (v: unknown) => (v === null ? 'NULL' : `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)
  return `{${items.map(quote).join(',')}}`
}

/** The timestamps a representative row carries as of its updated_at move with it. */
function asOf<T>(value: T | null, expression: string): string | undefined {
  return value === null ? undefined : expression
}

export function buildScript(kind: ScriptKind, ctx: ScriptContext): Script {
  const values = new Values(kind.name)
  const now = Date.now()
  const payloadText = stripJsonNulEscapes(kind.job.payload)
  const ev: EventRecord = {
    repoId: ctx.repo.id,
    deliveryId: kind.job.deliveryId,
    type: kind.job.event,
    action: ctx.envelope.action,
    senderGithubId: ctx.envelope.senderId,
    payloadText,
    payload: () => JSON.parse(payloadText),
    receivedAt: now,
  }
  const eventOverrides = { id: UUID, deliveryId: UUID, now: NOW, receivedAt: NOW }
  const sets: string[] = []
  const body: string[] = []
  const plan = kind.plan
  const pullRequestSets = [
    `\\set r random(1, ${ctx.pullRequests})`,
    `\\set prid ${BASE.pullRequest} + :r`,
    `\\set prnum ${BASE.number} + :r`,
    '\\set upd random(0, 31535999)',
  ]

  if (plan === null) {
    body.push(values.bind(RECORD_IGNORED, eventValues(ev, now), eventOverrides))
  } else {
    body.push('BEGIN;', values.bind(CLAIM_EVENT, eventValues(ev, now), eventOverrides))
    const lockPullRequest = () => values.bind(ENTITY_LOCK, { lockClass: LOCK_CLASS.pullRequest, githubId: 0 }, { githubId: ':prid' })
    const upsertPullRequest = (v: ReturnType<typeof pullRequestValues>) =>
      values.bind(UPSERT_PULL_REQUEST, v, {
        id: UUID,
        githubId: ':prid',
        number: ':prnum',
        updatedAt: UPDATED_AT,
        draftUpdatedAt: asOf(v.draftUpdatedAt, UPDATED_AT),
        countsUpdatedAt: asOf(v.countsUpdatedAt, UPDATED_AT),
      })
    switch (plan.event) {
      case 'pull_request':
        sets.push(...pullRequestSets)
        body.push(lockPullRequest(), upsertPullRequest(pullRequestValues(ctx.repo.id, plan.pullRequest, ctx.users)))
        break
      case 'pull_request_review': {
        sets.push(...pullRequestSets, `\\set rvid ${BASE.review} + random(1, ${kind.distinct})`)
        const review = reviewValues(ctx.repo.id, plan.pullRequest, plan.review, ctx.users, now)
        body.push(
          lockPullRequest(),
          upsertPullRequest(pullRequestValues(ctx.repo.id, plan.pullRequest, ctx.users)),
          values.bind(UPSERT_REVIEW, review, { id: UUID, githubId: ':rvid', pullRequestGithubId: ':prid', dismissedAt: asOf(review.dismissedAt, NOW) }),
        )
        break
      }
      case 'issues': {
        sets.push(
          `\\set i random(1, ${kind.distinct})`,
          `\\set isid ${BASE.issue} + :i`,
          `\\set isnum ${BASE.number} + :i`,
          '\\set upd random(0, 31535999)',
        )
        const issue = issueValues(ctx.repo.id, plan.issue, ctx.users, now)
        body.push(
          values.bind(ENTITY_LOCK, { lockClass: LOCK_CLASS.issue, githubId: 0 }, { githubId: ':isid' }),
          values.bind(UPSERT_ISSUE, issue, { id: UUID, githubId: ':isid', number: ':isnum', updatedAt: UPDATED_AT, deletedAt: asOf(issue.deletedAt, NOW) }),
        )
        break
      }
      case 'push': {
        const k = plan.commits.length
        if (k > 0) {
          const series = `FROM generate_series(1, ${k})`
          body.push(
            values.bind(INSERT_COMMITS, commitValues(ctx.repo.id, plan.commits, ctx.users), {
              ids: `ARRAY(SELECT ${UUID} ${series})`,
              shas: `ARRAY(SELECT md5(random()::text) || left(md5(random()::text), 8) ${series})`,
            }),
          )
        }
        break
      }
      case 'deployment_status': {
        sets.push(
          `\\set dpid ${BASE.deployment} + random(1, ${kind.distinct})`,
          `\\set stid ${BASE.deploymentStatus} + random(1, 999999999999)`,
          '\\set upd random(0, 31535999)',
          '\\set scr random(0, 31535999)',
        )
        const deployment = deploymentValues(ctx.repo.id, plan.deployment, ctx.users)
        const status = deploymentStatusValues(ctx.repo.id, plan.deployment, plan.status)
        body.push(
          values.bind(ENTITY_LOCK, { lockClass: LOCK_CLASS.deployment, githubId: 0 }, { githubId: ':dpid' }),
          values.bind(UPSERT_DEPLOYMENT, deployment, { id: UUID, githubId: ':dpid', updatedAt: UPDATED_AT }),
          values.bind(UPSERT_DEPLOYMENT_STATUS, status, { id: UUID, githubId: ':stid', deploymentGithubId: ':dpid', createdAt: STATUS_CREATED_AT }),
          values.bind(REFRESH_DEPLOYMENT, { githubId: 0, productionPattern: PRODUCTION_PATTERN }, { githubId: ':dpid' }),
        )
        break
      }
      case 'workflow_run': {
        sets.push(
          `\\set wrid ${BASE.workflowRun} + random(1, ${kind.distinct})`,
          '\\set att case when random(1, 10) = 10 then 2 else 1 end',
          '\\set upd random(0, 31535999)',
        )
        const run = workflowRunValues(ctx.repo.id, plan.run, ctx.users)
        body.push(
          values.bind(UPSERT_WORKFLOW_RUN, run, {
            id: UUID,
            githubId: ':wrid',
            runAttempt: ':att',
            updatedAt: UPDATED_AT,
            completedAt: asOf(run.completedAt, UPDATED_AT),
          }),
        )
        break
      }
    }
    body.push('COMMIT;')
  }

  // Load the text variables once per client (pgbench keeps a client's variables between runs).
  const flag = `l_${kind.name}`
  const columns = [...values.variables.keys()].map((name) => `max(value) FILTER (WHERE name = '${name}') AS ${name}`)
  const load = [`\\if :${flag} = 0`, `SELECT ${columns.join(', ')} FROM ${ctx.table} \\gset`, `\\set ${flag} 1`, '\\endif']
  return { name: kind.name, weight: kind.weight, text: [...load, ...sets, ...body].join('\n') + '\n', variables: values.variables }
}
