// The endpoint's repository check: GitHub repository id → DevMetrics repositories.id. Known
// repositories are cached for a minute; unknown ones are not cached, so a repository registered
// in DevMetrics is accepted from its next delivery on.
import type { Pool } from 'pg'

const KNOWN_TTL_MS = 60_000
const MAX_ENTRIES = 10_000

export class RepositoryDirectory {
  private readonly known = new Map<string, { id: string; expires: number }>()

  constructor(private readonly pool: Pool) {}

  /** The repositories.id registered for this GitHub repository id, or null. */
  async lookup(githubId: number): Promise<string | null> {
    const key = String(githubId)
    const hit = this.known.get(key)
    if (hit && hit.expires > Date.now()) return hit.id
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM repositories WHERE "githubId" = $1', [key])
    const id = rows[0]?.id ?? null
    if (id) {
      if (this.known.size >= MAX_ENTRIES) this.known.clear()
      this.known.set(key, { id, expires: Date.now() + KNOWN_TTL_MS })
    } else {
      this.known.delete(key)
    }
    return id
  }
}
