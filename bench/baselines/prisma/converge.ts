// The addon's order-independence rules (docs/decisions.md, crates/core/src/store/converge.rs) as
// a Prisma team writes them: read the stored row inside the transaction, decide in TypeScript
// which column groups the payload wins, write only those. A group is replaced when the payload's
// key is greater than the stored one (compared like PostgreSQL compares the SQL version's ROW()s:
// text bytewise as COLLATE "C", NULLs mapped to the lowest value); groups some payloads omit have
// an as-of column that must be present in the payload. `earliest` columns keep the least
// non-null time, `least` columns the least non-null value (a number or id), `fill` columns are
// set once.

/** Arrays compare like PostgreSQL's: element by element, then the shorter first. */
export type KeyPart = boolean | number | bigint | string | number[] | string[]

export interface Group<R> {
  asOf?: keyof R
  key: (row: R) => KeyPart[]
  columns: (keyof R)[]
}

export interface Convergence<R> {
  groups: Group<R>[]
  earliest: (keyof R)[]
  fill: (keyof R)[]
  least?: (keyof R)[]
}

function comparePart(a: KeyPart, b: KeyPart): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = comparePart(a[i], b[i])
      if (c !== 0) return c
    }
    return a.length - b.length
  }
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b))
  // Numbers include ±Infinity (absent times), so no subtraction: -Infinity - -Infinity is NaN.
  const x = typeof a === 'bigint' ? a : Number(a as number | boolean)
  const y = typeof b === 'bigint' ? b : Number(b as number | boolean)
  return x < y ? -1 : x > y ? 1 : 0
}

function compareKeys(a: KeyPart[], b: KeyPart[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = comparePart(a[i], b[i])
    if (c !== 0) return c
  }
  return 0
}

/** Epoch ms of a stored or offered time, `-Infinity` for none (the SQL's COALESCE(…, '-infinity')). */
export function ms(value: Date | null | undefined): number {
  return value ? value.getTime() : -Infinity
}

/** The columns the incoming row changes on the stored one, or null when it changes nothing. */
export function convergeUpdate<R>(spec: Convergence<R>, stored: R, incoming: R): Partial<R> | null {
  const update: Partial<R> = {}
  let changed = false
  for (const group of spec.groups) {
    const present = group.asOf === undefined || incoming[group.asOf] != null
    const wins = present && ((group.asOf !== undefined && stored[group.asOf] == null) || compareKeys(group.key(incoming), group.key(stored)) > 0)
    if (!wins) continue
    changed = true
    for (const column of group.columns) update[column] = incoming[column]
  }
  for (const column of spec.earliest) {
    const offered = incoming[column] as Date | null
    const kept = stored[column] as Date | null
    if (offered != null && (kept == null || offered.getTime() < kept.getTime())) {
      update[column] = incoming[column]
      changed = true
    }
  }
  for (const column of spec.least ?? []) {
    const offered = incoming[column] as bigint | number | null
    const kept = stored[column] as bigint | number | null
    if (offered != null && (kept == null || offered < kept)) {
      update[column] = incoming[column]
      changed = true
    }
  }
  for (const column of spec.fill) {
    if (stored[column] == null && incoming[column] != null) {
      update[column] = incoming[column]
      changed = true
    }
  }
  return changed ? update : null
}

/** Takes the entity's advisory lock (../shared/locks.ts) for the rest of the transaction. Prisma
 * has no row-locking read, so this is the one raw statement of the Prisma baseline: without it
 * the read-decide-write above could lose a concurrent delivery's update. */
export async function lockEntity(tx: { $executeRaw: (sql: TemplateStringsArray, ...values: unknown[]) => Promise<number> }, lockClass: number, githubId: number): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${lockClass}::int4, hashint8(${BigInt(githubId)}::int8))`
}
