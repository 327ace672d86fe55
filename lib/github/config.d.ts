// Types of lib/github/config.js.
import type { GitHubHook } from './client'
export { githubOptionsFromEnv } from './client'

/** PEM text (PKCS#1 or PKCS#8; `\n` escapes, CRLF or newlines flattened to spaces) as a checked RSA key; CONFIG_ERROR naming `source`. */
export declare function normalizePrivateKey(text: string, source?: string): string

/** Reads and checks a private key file; CONFIG_ERROR names the path, never the content. */
export declare function readPrivateKeyFile(path: string, source?: string): string

/** `GITHUB_HOOKS` text (`owner/repo#id`, `org#id`, comma-separated) as hooks; CONFIG_ERROR for a bad entry. */
export declare function parseHooks(text: string | undefined | null, source?: string): GitHubHook[]
