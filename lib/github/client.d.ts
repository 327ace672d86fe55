// Types of lib/github/client.js and lib/github/config.js (re-exported by lib/index.d.ts).
import type { Octokit as OctokitCore } from '@octokit/core'
import type { PaginateInterface } from '@octokit/plugin-paginate-rest'
import type { restEndpointMethods } from '@octokit/plugin-rest-endpoint-methods'

type Api = ReturnType<typeof restEndpointMethods>

/** The octokit the client hands out: core + REST methods (`octokit.rest.*`) + `paginate`; `graphql` as in core. */
export type GitHubOctokit = OctokitCore & Api & { paginate: PaginateInterface }

/** A hook whose deliveries reconcile reads with a token (`GITHUB_HOOKS`). */
export type GitHubHook =
  | { kind: 'repo'; owner: string; repo: string; hookId: number }
  | { kind: 'org'; org: string; hookId: number }

/**
 * How to reach GitHub. Give either `token`, or `appId` with `privateKey` or `privateKeyPath`;
 * anything else is CONFIG_ERROR at `createGitHubClient`, before any request.
 */
export interface GitHubClientOptions {
  /** A GitHub App's numeric id (JWTs are signed for it). */
  appId?: number | string
  /** The App's private key: PEM text, PKCS#1 or PKCS#8, real newlines or `\n` escapes. Never logged. */
  privateKey?: string
  /** A file holding the App's private key (instead of `privateKey`). */
  privateKeyPath?: string
  /** A token (personal access token, or a token an outer system manages). Never logged. */
  token?: string
  /** REST base URL: `https://api.github.com` (default), `https://HOST/api/v3` for GitHub Enterprise Server, a test server. GraphQL follows (`/api/graphql` on GHES). */
  baseUrl?: string
  /** Hooks to reconcile with a token (`GITHUB_HOOKS`); the client itself does not read them. */
  hooks?: GitHubHook[]
  /** One HTTP attempt's limit; an unanswered attempt is aborted and retried like a 5xx. Default 10000; 0 = none. */
  timeoutMs?: number
  /** Retries of a 5xx, network error or timeout before GITHUB_UNAVAILABLE. Default 3. */
  retries?: number
  /** Backoff unit: the n-th retry waits n² × this. Default 1000 (1 s, 4 s, 9 s). */
  retryBaseMs?: number
  /**
   * The longest rate-limit wait spent inline (the request is then made again). A longer wait
   * throws GITHUB_RATE_LIMITED with `retryAfterMs`, for the queue to delay the job. Default 5000.
   */
  maxInlineWaitMs?: number
  /** How many rate-limit waits one request may spend inline. Default 2. */
  maxInlineRetries?: number
  /**
   * Spacing of writes and GraphQL requests (plugin-throttling's write group; GitHub asks for
   * 1 s between mutative requests). Default 1000; tests may lower it.
   */
  writeSpacingMs?: number
  /** User-Agent header. Default `devmetrics-webhook-processor`. */
  userAgent?: string
  /** octokit's logger (`debug`, `info`, `warn`, `error`). Default: silent. */
  log?: { debug(...a: unknown[]): void; info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void }
  /** octokit request options passed through (e.g. `{ fetch }`). */
  request?: Record<string, unknown>
}

/** Last seen budget of one rate-limit resource (`core`, `graphql`, …). */
export interface GitHubRateLimitSeen {
  limit: number
  remaining: number
  used: number | null
  /** ISO time the budget resets. */
  resetAt: string
  /** ISO time of the answer that told. */
  seenAt: string
}

/** Counters since the client was created (for /api/webhooks/stats and /metrics). */
export interface GitHubClientStats {
  /** HTTP attempts made (retries included, installation token requests included). */
  requests: number
  /** Attempts by answer: `network` = no answer (refused, reset, timeout). */
  byStatus: { '2xx': number; '3xx': number; '4xx': number; '5xx': number; network: number }
  /** Attempts aborted by `timeoutMs`. */
  timeouts: number
  /** Attempts that were retries (of a 5xx, network error, timeout or a rate limit waited out). */
  retried: number
  /** Rate-limit answers received, by kind. */
  rateLimited: { primary: number; secondary: number }
  /** GITHUB_RATE_LIMITED errors thrown (waits too long to spend inline). */
  rateLimitedThrown: number
  /** Last seen `x-ratelimit-*` headers per resource. */
  rateLimit: Partial<Record<'core' | 'graphql' | string, GitHubRateLimitSeen>>
}

/** A GitHub client: authenticated octokits per repository owner, and counters. */
export interface GitHubClient {
  /** `'app'` (GitHub App) or `'token'`. */
  readonly mode: 'app' | 'token'
  /** The REST base URL in use. */
  readonly baseUrl: string
  /**
   * An octokit authenticated for the repositories of `owner`. App: the installation for that
   * account (found by `GET /repos/{owner}/{repo}/installation` when `repo` is given, else
   * `/users/{owner}/installation` then `/orgs/{owner}/installation`), its token fetched once and
   * cached with the octokit per owner; GITHUB_NOT_FOUND when the App is not installed there
   * (not cached: asked again next time). Token: the token's octokit.
   */
  forOwner(owner: string, repo?: string): Promise<GitHubOctokit>
  /** The octokit of a known installation (e.g. a webhook's `installation.id`); token: the token's octokit. */
  forInstallation(installationId: number): Promise<GitHubOctokit>
  /** An octokit authenticated as the App itself (JWT), e.g. for `/app/hook/deliveries`. CONFIG_ERROR with a token. */
  asApp(): GitHubOctokit
  /** A snapshot of the counters. */
  stats(): GitHubClientStats
}

/** Creates a GitHub client; CONFIG_ERROR at once for a bad combination of options. */
export declare function createGitHubClient(options: GitHubClientOptions): GitHubClient

/**
 * Client options from `GITHUB_APP_ID`, `GITHUB_APP_PRIVATE_KEY` / `GITHUB_APP_PRIVATE_KEY_PATH`,
 * `GITHUB_TOKEN`, `GITHUB_API_URL` and `GITHUB_HOOKS`; null when neither an App nor a token is
 * configured (API features off). CONFIG_ERROR for a half or contradictory configuration.
 */
export declare function githubOptionsFromEnv(env?: Record<string, string | undefined>): GitHubClientOptions | null

/** What the client's octokits throw: a WebhookProcessingError with a GITHUB_* code (docs/errors.md). */
export interface GitHubError extends Error {
  name: 'WebhookProcessingError'
  code: 'GITHUB_RATE_LIMITED' | 'GITHUB_UNAVAILABLE' | 'GITHUB_NOT_FOUND' | 'GITHUB_AUTH' | 'GITHUB_ERROR'
  retryable: boolean
  /** The HTTP status GitHub answered; 0 when it did not (network error, timeout). */
  status: number
  /** GITHUB_RATE_LIMITED: how long to wait before trying again (delay the job by this). */
  retryAfterMs?: number
  /** GITHUB_RATE_LIMITED: which limit. */
  rateLimit?: 'primary' | 'secondary'
  /** octokit's error (its `authorization` header already redacted). */
  cause?: unknown
}
