// Errors the baselines raise, with the addon's codes (docs/errors.md) so the equivalence check
// can compare outcomes delivery by delivery.

export type BaselineErrorCode = 'INVALID_JOB' | 'INVALID_PAYLOAD' | 'PAYLOAD_TOO_LARGE' | 'UNKNOWN_REPOSITORY'

export class BaselineError extends Error {
  constructor(
    readonly code: BaselineErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'BaselineError'
  }
}

/** The addon's code for any error a baseline throws: ours, a PostgreSQL SQLSTATE classified by
 * class as the addon does (crates/core/src/error.rs), or Prisma's P-code. */
export function errorCode(error: unknown): string {
  if (error instanceof BaselineError) return error.code
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return 'INTERNAL'
  // Already one of the addon's codes (its WebhookProcessingError, for the check's comparisons).
  if (/^[A-Z_]+$/.test(code)) return code
  if (code.startsWith('23') || code === 'P2002' || code === 'P2003') return 'CONSTRAINT_VIOLATION'
  if (code.startsWith('22')) return 'INVALID_PAYLOAD'
  if (code.startsWith('08') || code.startsWith('53') || code.startsWith('57P')) return 'DATABASE_UNAVAILABLE'
  return 'DATABASE_ERROR'
}
