// Types of lib/github/errors.js.
import type { GitHubError } from './client'

/** A rate-limit answer and how long to wait, or null for any other error. */
export declare function rateLimitOf(err: unknown, now?: number): { kind: 'primary' | 'secondary'; retryAfterMs: number } | null

/** Whatever an octokit call threw, as a WebhookProcessingError with a GITHUB_* code (passes one through unchanged). */
export declare function toGitHubError(err: unknown, now?: number): GitHubError
