// Configuration from the environment (and `--role=` on the command line). Every value has a
// development default so `npm start` runs on a local PostgreSQL and Redis as they come.

import { githubOptionsFromEnv, GitHubClientOptions, parseSince } from '@devmetrics/webhook-processor'

export type Role = 'all' | 'api' | 'worker'

export interface BackendConfig {
  /** all: endpoint + worker in one process (default); api: endpoint only; worker: worker only. */
  role: Role
  host: string
  /** HTTP port; 0 picks a free one (tests). */
  port: number
  /** PostgreSQL of DevMetrics; created and migrated at start when `migrate` is on. */
  databaseUrl: string
  /** Redis of the Bull queues (DB 1, as the original task has it). */
  redisUrl: string
  /** Redis of the addon's shared user-mapping cache; null disables that tier. */
  cacheRedisUrl: string | null
  /** Prefix of the addon's cache keys and invalidation channel (default: names the database). */
  cacheKeyPrefix: string
  /** Bull key prefix. On Redis Cluster use a hash tag, for example `{devmetrics}`. */
  queuePrefix: string
  /** The queue library: `bull` (default) or `bullmq` (QUEUE_DRIVER). Producers and workers of one deployment must agree. */
  queueDriver: 'bull' | 'bullmq'
  /** REDIS_CLUSTER: the queues' Redis is a Cluster; REDIS_URL then lists startup nodes, comma-separated. */
  redisCluster: boolean
  /** Secret(s) of the GitHub webhook; the first signs nothing, any one verifies (rotation). */
  webhookSecrets: string[]
  /** Jobs this process's worker runs at once; its database pool gets as many connections. */
  concurrency: number
  /** Database pool of the worker's processor; defaults to `concurrency`. */
  dbPoolSize: number
  /** Apply the bundled Prisma migrations at start (creating the database if missing). */
  migrate: boolean
  /** Register the sample repository (and a user and team) that the bundled fixtures use. */
  seedSample: boolean
  /** Basic auth of the queue UI at /admin/queues; without it the UI is off in production. */
  queueUi: { enabled: boolean; user: string | null; password: string | null }
  logLevel: 'debug' | 'info' | 'warn' | 'error'
  /** How long SIGTERM waits for active jobs before exiting anyway (they are then recovered as stalled). */
  shutdownTimeoutMs: number
  /** Tuning and tests only: Bull's stalled-job check interval (default 30 s from webhookQueueSettings). */
  stalledIntervalMs: number | null
  /** Tuning and tests only: base delay of the retry backoff (default 2 s: 2 s, 4 s, 8 s). */
  retryBaseDelayMs: number | null
  /**
   * Tuning and tests only: how long a job's lock lasts without renewal (default 30 s; renewed
   * every half of it). A killed worker's jobs are taken again once their locks expired.
   */
  lockDurationMs: number | null
  /**
   * METRICS_CONSUMER: this process (unless role=api) consumes the `metrics` queue with the example
   * consumer (src/metrics-consumer.ts). Default on outside production; in production DevMetrics'
   * metrics service consumes the queue, so leave it off there.
   */
  metricsConsumer: boolean
  /** GitHub's API (GITHUB_TOKEN, or GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY[_PATH], GITHUB_API_URL); null: off. See src/github.ts. */
  github: GitHubClientOptions | null
  /**
   * AUTO_REGISTER_REPOSITORIES (default: on when the backend runs as a GitHub App): the worker
   * registers the repositories an installation adds and any unknown repository of a delivery
   * naming an installation, and the endpoint queues such deliveries instead of ignoring them.
   */
  autoRegisterRepositories: boolean
  /** GITHUB_OWNER_TEAMS=`owner=Team name,other=Other team`: the team of a repository registered automatically, by owner. */
  ownerTeams: Record<string, string>
  /**
   * AUTO_BACKFILL=`90d` (a duration, or an ISO date; default off): a repository auto-registration
   * registers gets a backfill job of its history since then on the `github` queue (needs the
   * GitHub API configured). See docs/repositories.md.
   */
  autoBackfill: string | null
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/devmetrics'
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/1'
export const DEVELOPMENT_SECRET = 'devmetrics-development-secret'

type Env = Record<string, string | undefined>

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, not ${JSON.stringify(raw)}`)
  return value
}

function optionalInt(env: Env, name: string): number | null {
  return env[name] ? int(env, name, 0, 1) : null
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new Error(`${name} must be true or false, not ${JSON.stringify(raw)}`)
}

function roleOf(argv: string[], env: Env): Role {
  const flag = argv.find((a) => a.startsWith('--role='))?.slice('--role='.length)
  const role = flag ?? env.ROLE ?? 'all'
  if (role !== 'all' && role !== 'api' && role !== 'worker') throw new Error(`role must be all, api or worker, not ${role}`)
  return role
}

function queueDriverOf(env: Env): 'bull' | 'bullmq' {
  const driver = env.QUEUE_DRIVER || 'bull'
  if (driver !== 'bull' && driver !== 'bullmq') throw new Error(`QUEUE_DRIVER must be bull or bullmq, not ${JSON.stringify(driver)}`)
  return driver
}

/**
 * The user-mapping cache maps GitHub identities to users.id of one database; the addon's keys
 * do not say which. So the default prefix names the database: two databases on one Redis (a
 * recreated development database, staging beside development) never read each other's ids,
 * which would fail as CONSTRAINT_VIOLATION on the author foreign keys. Every process of one
 * deployment (and anything calling linkGithubUser) must use the same prefix.
 */
export function defaultCachePrefix(databaseUrl: string): string {
  try {
    const u = new URL(databaseUrl)
    return `devmetrics:${u.hostname}:${u.port || '5432'}:${decodeURIComponent(u.pathname.slice(1))}:`
  } catch {
    return 'devmetrics:'
  }
}

/** Reads the configuration; throws with the variable's name on a bad value. */
export function loadConfig(env: Env = process.env, argv: string[] = process.argv.slice(2)): BackendConfig {
  const production = env.NODE_ENV === 'production'
  const role = roleOf(argv, env)
  const secrets = (env.GITHUB_WEBHOOK_SECRET ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (secrets.length === 0) {
    if (production && role !== 'worker') throw new Error('GITHUB_WEBHOOK_SECRET is required in production')
    secrets.push(DEVELOPMENT_SECRET)
  }
  const concurrency = int(env, 'WORKER_CONCURRENCY', 5, 1)
  const redisUrl = env.REDIS_URL || DEFAULT_REDIS_URL
  const uiUser = env.QUEUE_UI_USER || null
  const uiPassword = env.QUEUE_UI_PASSWORD || null
  return {
    role,
    host: env.HOST || '127.0.0.1',
    port: int(env, 'PORT', role === 'worker' ? 3001 : 3000),
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    redisUrl,
    cacheRedisUrl: env.CACHE_REDIS_URL === 'off' ? null : env.CACHE_REDIS_URL || redisUrl,
    cacheKeyPrefix: env.CACHE_KEY_PREFIX || defaultCachePrefix(env.DATABASE_URL || DEFAULT_DATABASE_URL),
    queuePrefix: env.QUEUE_PREFIX || 'bull',
    queueDriver: queueDriverOf(env),
    redisCluster: bool(env, 'REDIS_CLUSTER', false),
    webhookSecrets: secrets,
    concurrency,
    dbPoolSize: int(env, 'DB_POOL_SIZE', concurrency, 1),
    migrate: bool(env, 'MIGRATE', !production),
    seedSample: bool(env, 'SEED_SAMPLE', !production && role !== 'worker'),
    queueUi: {
      enabled: bool(env, 'QUEUE_UI', !production || Boolean(uiPassword)),
      user: uiUser ?? (uiPassword ? 'admin' : null),
      password: uiPassword,
    },
    logLevel: (['debug', 'info', 'warn', 'error'] as const).find((l) => l === env.LOG_LEVEL) ?? 'info',
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 25_000, 1),
    stalledIntervalMs: optionalInt(env, 'STALLED_INTERVAL_MS'),
    retryBaseDelayMs: optionalInt(env, 'RETRY_BASE_DELAY_MS'),
    lockDurationMs: optionalInt(env, 'LOCK_DURATION_MS'),
    metricsConsumer: bool(env, 'METRICS_CONSUMER', !production) && role !== 'api',
    github: githubOptionsFromEnv(env),
    autoRegisterRepositories: bool(env, 'AUTO_REGISTER_REPOSITORIES', Boolean(env.GITHUB_APP_ID)),
    ownerTeams: ownerTeams(env.GITHUB_OWNER_TEAMS),
    autoBackfill: autoBackfill(env.AUTO_BACKFILL),
  }
}

function autoBackfill(raw: string | undefined): string | null {
  if (raw === undefined || raw.trim() === '' || /^(0|false|no|off)$/i.test(raw.trim())) return null
  try {
    parseSince(raw.trim())
  } catch {
    throw new Error(`AUTO_BACKFILL must be a duration such as 90d or an ISO date (or off), not ${JSON.stringify(raw)}`)
  }
  return raw.trim()
}

function ownerTeams(raw: string | undefined): Record<string, string> {
  const teams: Record<string, string> = {}
  for (const pair of (raw ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf('=')
    const owner = pair.slice(0, at).trim()
    const team = pair.slice(at + 1).trim()
    if (at < 1 || !owner || !team) throw new Error(`GITHUB_OWNER_TEAMS must be owner=Team name pairs separated by commas, not ${JSON.stringify(pair)}`)
    teams[owner] = team
  }
  return teams
}

/** The URL with its password replaced, for logs. */
export function redact(url: string | null): string | null {
  if (!url) return url
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '<unparseable url>'
  }
}
