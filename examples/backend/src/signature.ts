// X-Hub-Signature-256: HMAC-SHA256 of the raw request body under the webhook's secret,
// `sha256=<hex>`. Verified over the exact bytes received, in constant time, against each
// configured secret (more than one while rotating). Verifying a decoded string instead would
// check other bytes than GitHub signed whenever the body is not valid UTF-8 (the decoder
// replaces bad bytes with U+FFFD), so distinct bodies would share one signature.
import { createHmac, timingSafeEqual } from 'node:crypto'

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i

export function signatureValid(secrets: string[], body: Buffer, header: string | null): boolean {
  const match = header ? SIGNATURE.exec(header) : null
  if (!match || body.length === 0) return false
  const given = Buffer.from(match[1], 'hex')
  // Every secret is tried (no early exit), so the time does not tell which one matched.
  let valid = false
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(body).digest()
    if (timingSafeEqual(expected, given)) valid = true
  }
  return valid
}
