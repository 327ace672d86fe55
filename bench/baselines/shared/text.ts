// Text hygiene for PostgreSQL, as the addon does it (crates/core/src/text.rs): TEXT and JSONB
// reject NUL (SQLSTATE 22P05) and GitHub text can contain it, so it is stripped, never fatal.

/** Removes NUL characters from a stored string. */
export function stripNul(s: string): string {
  return s.includes('\0') ? s.replace(/\0/g, '') : s
}

/**
 * Removes every `\u0000` escape from raw JSON text so PostgreSQL accepts it as JSONB. Each
 * backslash is consumed with the character it escapes, so an escaped backslash followed by
 * `u0000` (`\\u0000`) stays literal text, exactly like the addon.
 */
export function stripJsonNulEscapes(json: string): string {
  if (!json.includes('\\u0000')) return json
  return json.replace(/\\(u0000|[\s\S])/g, (escape, what: string) => (what === 'u0000' ? '' : escape))
}
