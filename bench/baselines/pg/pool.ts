// The pg baseline's connection pool and its transaction helper.

import { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg'
import { bind, Statement } from './statement'

/** A pool whose sessions run in UTC, so Prisma's TIMESTAMP(3) defaults hold UTC like our values. */
export function createPool(databaseUrl: string, connections: number): Pool {
  const pool = new Pool({ connectionString: databaseUrl, max: connections, options: '-c TimeZone=UTC', application_name: 'bench-pg-baseline' })
  // An idle client's error (the server closed it) must not crash the bench; the next query reconnects.
  pool.on('error', () => undefined)
  return pool
}

/** SQLSTATEs worth another try of the whole transaction: a concurrent insert of the same entity,
 * a deadlock, a serialization failure. The addon retries the first inside the call too. */
const RETRYABLE = new Set(['23505', '40P01', '40001'])
const TRIES = 3

/** Runs `fn` in one transaction (BEGIN … COMMIT), retrying it on the errors above. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    } catch (e) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError))
      const code = (e as { code?: string }).code
      if (attempt >= TRIES || !code || !RETRYABLE.has(code)) throw e
    } finally {
      client.release(broken)
    }
  }
}

/** Runs a statement as a named prepared statement: parsed and planned once per connection, as
 * the addon's driver does, instead of node-pg's default of parsing every call. */
export function execute<N extends string, R extends QueryResultRow = QueryResultRow>(
  db: Pool | PoolClient,
  stmt: Statement<N>,
  values: Record<N, unknown>,
): Promise<QueryResult<R>> {
  return db.query<R>({ name: stmt.name, text: stmt.text, values: bind(stmt, values) })
}
