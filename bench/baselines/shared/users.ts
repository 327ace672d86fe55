// GitHub identities to DevMetrics users, with the in-process cache a JavaScript team would put
// in front of its lookup: a Map with a TTL (15 minutes; unknown users at most 60 seconds, as
// the addon) and a size bound. What the cache misses is loaded in one batched query per event
// by the baseline's own loader.

/** `g:<github id>`, `l:<lowercased login>`, `e:<lowercased email>` (logins and emails match case-insensitively). */
export type IdentityKey = string

export const githubIdKey = (id: number): IdentityKey => `g:${id}`
export const loginKey = (login: string): IdentityKey => `l:${login.toLowerCase()}`
export const emailKey = (email: string): IdentityKey => `e:${email.toLowerCase()}`

/** A mapped user and its teams (for team metric jobs). */
export interface MappedUser {
  id: string
  teamIds: string[]
}

export type UserMap = Map<IdentityKey, MappedUser>

/** Loads the users the keys name, uncached; one query. */
export type UserLoader = (keys: IdentityKey[]) => Promise<UserMap>

/** A user row as both loaders read it; login and email lowercased. */
export interface UserRow {
  id: string
  githubId: number | null
  login: string | null
  email: string
  teamIds: string[]
}

/** The keys of one lookup, by kind, for the loader's query. */
export function splitKeys(keys: IdentityKey[]): { githubIds: number[]; logins: string[]; emails: string[] } {
  const out = { githubIds: [] as number[], logins: [] as string[], emails: [] as string[] }
  for (const key of keys) {
    const value = key.slice(2)
    if (key.startsWith('g:')) out.githubIds.push(Number(value))
    else if (key.startsWith('l:')) out.logins.push(value)
    else out.emails.push(value)
  }
  return out
}

/** Indexes loaded users by every identity they answer to (an email never overrides another user's). */
export function indexUsers(rows: UserRow[]): UserMap {
  const map: UserMap = new Map()
  for (const row of rows) {
    const user = { id: row.id, teamIds: row.teamIds }
    if (row.githubId !== null) map.set(githubIdKey(row.githubId), user)
    if (row.login !== null) map.set(`l:${row.login}`, user)
    const email = `e:${row.email}`
    if (!map.has(email)) map.set(email, user)
  }
  return map
}

/** The first key that maps, in the order given (commit authors: login, then email). */
export function firstUser(users: UserMap, keys: IdentityKey[]): MappedUser | null {
  for (const key of keys) {
    const user = users.get(key)
    if (user) return user
  }
  return null
}

interface Entry {
  user: MappedUser | null
  expires: number
}

export class UserCache {
  private readonly entries = new Map<IdentityKey, Entry>()

  constructor(
    private readonly load: UserLoader,
    private readonly ttlMs = 15 * 60_000,
    private readonly negativeTtlMs = 60_000,
    private readonly maxEntries = 100_000,
  ) {}

  /** Maps every key; cache misses go to the loader in one call. */
  async resolve(keys: IdentityKey[]): Promise<UserMap> {
    const now = Date.now()
    const found: UserMap = new Map()
    const missing: IdentityKey[] = []
    for (const key of keys) {
      const entry = this.entries.get(key)
      if (entry && entry.expires > now) {
        if (entry.user) found.set(key, entry.user)
      } else {
        missing.push(key)
      }
    }
    if (missing.length === 0) return found
    const loaded = await this.load(missing)
    for (const key of missing) {
      const user = loaded.get(key) ?? null
      this.remember(key, user, now)
      if (user) found.set(key, user)
    }
    return found
  }

  private remember(key: IdentityKey, user: MappedUser | null, now: number): void {
    // Map iteration order is insertion order: dropping the first entry drops the oldest.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as IdentityKey)
    this.entries.delete(key)
    this.entries.set(key, { user, expires: now + (user ? this.ttlMs : Math.min(this.ttlMs, this.negativeTtlMs)) })
  }
}
