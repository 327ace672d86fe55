// Prisma Client for the Prisma baseline, generated from the repository's prisma/schema.prisma
// into its (gitignored) output folder, generated/prisma, exactly as __test__/prisma-client.test.ts
// does: Prisma 7's `prisma-client` generator emits TypeScript, so it is required by path at run
// time (through a .ts require hook) rather than imported, which keeps `tsc --noEmit` passing on
// a clean clone where it has not been generated yet. Its types therefore do not exist for tsc,
// and the client is typed `any` here.

import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

const ROOT = resolve(__dirname, '../../..')
const SCHEMA = join(ROOT, 'prisma/schema.prisma')
const CLIENT = join(ROOT, 'generated/prisma/client.ts')

/** The generated client's PrismaClient or transaction client (types exist only after generation). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PrismaDb = any

/** Generates the client if it is missing or older than the schema; returns the client's path. */
export function ensurePrismaClient(): string {
  if (existsSync(CLIENT) && statSync(CLIENT).mtimeMs >= statSync(SCHEMA).mtimeMs) return CLIENT
  execFileSync(process.execPath, [join(ROOT, 'node_modules/prisma/build/index.js'), 'generate', '--schema', SCHEMA], {
    cwd: ROOT,
    // The CLI cannot download its schema engine here; generate does not need it (docs: FACTS.md).
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return CLIENT
}

/** The generated PrismaClient class (generating it first if needed). */
export function loadPrismaClient(): new (options: { adapter: unknown }) => PrismaDb {
  const path = ensurePrismaClient()
  // The client is TypeScript: without a runner that compiles .ts, install our small hook.
  if (!require.extensions['.ts']) require('../../register.js')
  return require(path).PrismaClient
}

/** Whether an error from Prisma is worth another try of the whole transaction: a concurrent
 * insert of the same row (P2002), a write conflict or deadlock (P2034). */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'P2002' || code === 'P2034' || /deadlock detected/.test(String((error as Error)?.message))
}
