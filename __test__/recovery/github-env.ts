// A contract GitHub server, a client on it and a migrated database with a processor, for the
// recovery tests (reconcile, backfill, register).
import { startGitHubServer, GitHubServer } from '../github/server'
import { createGitHubClient } from '../../lib/github/client'
import { WebhookProcessor } from '../../lib'
import { createTestDatabase, TestDatabase } from '../helpers/db'

export const TOKEN = 'ghp_recoverytesttoken000000000000000000'

export interface RecoveryEnv {
  server: GitHubServer
  client: ReturnType<typeof createGitHubClient>
  db: TestDatabase
  processor: WebhookProcessor
  close(): Promise<void>
}

export async function recoveryEnv(): Promise<RecoveryEnv> {
  const server = await startGitHubServer({ tokens: [TOKEN] })
  const client = createGitHubClient({ token: TOKEN, baseUrl: server.url, retries: 0, timeoutMs: 10_000 })
  const db = await createTestDatabase()
  const processor = await WebhookProcessor.connect({ databaseUrl: db.url, maxConnections: 4 })
  return {
    server,
    client,
    db,
    processor,
    async close() {
      await processor.close()
      await db.drop()
      await server.close()
    },
  }
}

/** Requests the server answered for `method` and a path matching `path`. */
export function requestsTo(server: GitHubServer, method: string, path: RegExp) {
  return server.requests.filter((r) => r.method === method && path.test(r.path))
}
