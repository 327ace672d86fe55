// Recovery and history through GitHub's API, for the reference backend (docs/recovery.md):
// the GitHub client from the environment, the `github` queue as the register command and
// the scheduler see it, the reconcile schedule (off unless GITHUB_RECONCILE_EVERY is set),
// (its counters are the github worker's, on /metrics and /api/webhooks/stats). main.ts calls `startReconcileSchedule` once the
// `github` queue exists; the github worker runs the jobs (lib/github/jobs/).
import {
  createGitHubClient,
  githubOptionsFromEnv,
  scheduleReconcile,
  unscheduleReconcile,
  DEFAULT_RECONCILE_EVERY_MS,
  parseSince,
} from '@devmetrics/webhook-processor'
import type { NativeQueue } from './queue-driver'
import type { Queues } from './queues'

export const GITHUB_QUEUE = 'github'

type Env = Record<string, string | undefined>

/** The GitHub client from GITHUB_APP_ID / GITHUB_APP_PRIVATE_KEY(_PATH) / GITHUB_TOKEN / GITHUB_API_URL / GITHUB_HOOKS; null when none is set. */
export function githubFromEnv(env: Env = process.env) {
  const options = githubOptionsFromEnv(env)
  return options ? { client: createGitHubClient(options), hooks: options.hooks ?? [] } : null
}

/** The `github` queue (same name, prefix and driver as the worker's), for producers such as the register command. */
export function openGithubQueue(queues: Queues) {
  return queues.openGitHubQueue(GITHUB_QUEUE)
}

/**
 * The reconcile interval from GITHUB_RECONCILE_EVERY: unset or `off` = no schedule; `on` =
 * every 10 minutes; a duration such as `10m` or `1h`.
 */
export function reconcileEveryMs(env: Env = process.env): number | null {
  const raw = (env.GITHUB_RECONCILE_EVERY ?? '').trim()
  if (raw === '' || /^(off|false|0)$/i.test(raw)) return null
  if (/^(on|true)$/i.test(raw)) return DEFAULT_RECONCILE_EVERY_MS
  const now = Date.now()
  const ms = /^\d+[mhdw]$/.test(raw) ? now - parseSince(raw, now).getTime() : 0
  if (ms < 60_000) throw new Error(`GITHUB_RECONCILE_EVERY must be off, on, or a duration of at least 1m such as 10m, not ${JSON.stringify(raw)}`)
  return ms
}

/** Schedules (or removes) the repeatable reconcile job as configured; says so once. */
export async function startReconcileSchedule(
  githubQueue: NativeQueue,
  env: Env = process.env,
  log: (message: string) => void = () => undefined,
): Promise<number | null> {
  const every = reconcileEveryMs(env)
  if (every === null) {
    await unscheduleReconcile(githubQueue)
    log('reconcile: off (set GITHUB_RECONCILE_EVERY=10m to redeliver failed deliveries automatically)')
    return null
  }
  if (!githubOptionsFromEnv(env)) {
    log('reconcile: GITHUB_RECONCILE_EVERY is set but no GitHub API access is configured; not scheduled')
    return null
  }
  await scheduleReconcile(githubQueue, { everyMs: every })
  log(`reconcile: every ${Math.round(every / 60_000)} min`)
  return every
}

