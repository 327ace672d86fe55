// Errors the baselines raise, with the addon's codes (docs/errors.md) so the equivalence check
// can compare outcomes delivery by delivery.

export type BaselineErrorCode = 'INVALID_JOB' | 'INVALID_PAYLOAD' | 'UNKNOWN_REPOSITORY'

export class BaselineError extends Error {
  constructor(
    readonly code: BaselineErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'BaselineError'
  }
}

/** The code of any error a baseline throws: ours, or PostgreSQL's SQLSTATE (`23505`, …). */
export function errorCode(error: unknown): string {
  if (error instanceof BaselineError) return error.code
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'INTERNAL'
}
