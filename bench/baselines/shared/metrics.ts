// Metric triggers, as the addon derives them (crates/core/src/metrics.rs and the processors'
// `activities`): one developer job per mapped user per UTC activity date, one team job per team
// of those users and of the repository, deduplicated; plus the unmapped logins to report.
// The baselines compute them for every event because the worker needs them: it is part of
// the work being measured, even though the bench discards the result.

import { commitIdentities, Person, Plan, personIdentity } from './plan'
import { utcDate } from './time'
import { firstUser, MappedUser, UserMap } from './users'

export interface MetricJob {
  kind: 'developer' | 'team'
  id: string
  date: string
  jobId: string
}

interface Activity {
  user: MappedUser | null
  at: number
}

/** Activities of a plan after mapping, and the logins (or commit emails) that did not map. */
export function activitiesOf(plan: Plan, users: UserMap): { activities: Activity[]; unmapped: string[] } {
  const activities: Activity[] = []
  const unmapped = new Set<string>()
  const userOf = (p: Person) => {
    const key = personIdentity(p)
    return key === null ? null : (users.get(key) ?? null)
  }
  // A person a stored row names: reported when unmapped, unless a bot (bots are never linked).
  const named = (p: Person) => {
    if (!p.isBot && !userOf(p) && p.login) unmapped.add(p.login)
  }
  const acted = (p: Person, at: number) => {
    activities.push({ user: userOf(p), at })
    named(p)
  }
  switch (plan.event) {
    case 'push':
      for (const c of plan.commits) {
        const user = firstUser(users, commitIdentities(c))
        const label = c.login ?? c.email
        if (!user && !c.isBot && label) unmapped.add(label)
        activities.push({ user, at: c.committedAt })
      }
      break
    case 'pull_request':
      acted(plan.pullRequest.author, plan.pullRequest.updatedAt)
      break
    case 'issues':
      acted(plan.issue.author, plan.issue.updatedAt)
      break
    case 'pull_request_review':
      if (plan.review.submittedAt !== null) acted(plan.review.reviewer, plan.review.submittedAt)
      else named(plan.review.reviewer)
      named(plan.pullRequest.author)
      break
    case 'deployment_status':
      // The deployment's creator, at the status's time.
      acted(plan.deployment.creator, plan.status.createdAt)
      break
    case 'workflow_run':
      acted(plan.run.actor, plan.run.updatedAt)
      break
  }
  return { activities, unmapped: [...unmapped].sort() }
}

/** The deduplicated jobs, ordered like the addon's (kind, id, date); ids coalesce within `epochMinute`. */
export function deriveMetricJobs(activities: Activity[], repoTeamId: string | null, epochMinute: number): MetricJob[] {
  const keys = new Map<string, Omit<MetricJob, 'jobId'>>()
  const add = (kind: MetricJob['kind'], id: string, date: string) => keys.set(`${kind}\u0001${id}\u0001${date}`, { kind, id, date })
  for (const a of activities) {
    const date = utcDate(a.at)
    if (repoTeamId !== null) add('team', repoTeamId, date)
    if (a.user) {
      add('developer', a.user.id, date)
      for (const team of a.user.teamIds) add('team', team, date)
    }
  }
  return [...keys.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, k]) => ({ ...k, jobId: `${k.kind}:${k.id}:${k.date}:${epochMinute}` }))
}
