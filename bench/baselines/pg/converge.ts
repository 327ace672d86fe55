// Convergent upserts in SQL: the addon's `store/converge.rs` builder, ported. A row's columns
// are split into groups, each ordered by a key over the payloads that carry it; the upsert
// replaces a group only when the payload's key is greater than the stored one, so any order of
// deliveries ends in the same row. Groups some payloads omit carry an as-of column (NULL in a
// payload means "absent"). Commutative columns (earliest time, author id found late) merge
// outside the groups. PostgreSQL decides everything in one `INSERT … ON CONFLICT DO UPDATE …
// WHERE`, against the latest committed row under its row lock; the WHERE only passes when
// something changes, so the affected-row count is "inserted or changed".

import { statement } from './statement'

export interface FieldGroup {
  /** As-of column for groups some payloads omit; the key must start with it. */
  asOf?: string
  /** The order, most significant first: never-NULL SQL over `{side}` (EXCLUDED or t). */
  key: string[]
  /** Quoted columns the group replaces. */
  columns: string[]
}

/** `earliest`: the least non-NULL time; `fill`: set once, then kept; `least`: the least non-NULL
 * value of a column only some payloads carry (the addon's Merge::Least). */
export type Merge = { earliest: string } | { fill: string } | { least: string }

export interface ConvergentUpsert {
  /** `<table> AS t (<columns>)`. */
  target: string
  /** The VALUES list (named parameters). */
  values: string
  /** The conflict target. */
  conflict: string
  groups: FieldGroup[]
  merges: Merge[]
}

function wins(group: FieldGroup): string {
  const side = (name: string) => group.key.map((k) => k.replace(/\{side\}/g, name)).join(', ')
  const newer = `ROW(${side('EXCLUDED')}) > ROW(${side('t')})`
  return group.asOf ? `(EXCLUDED.${group.asOf} IS NOT NULL AND (t.${group.asOf} IS NULL OR ${newer}))` : newer
}

export function convergentUpsertSql(spec: ConvergentUpsert): string {
  const sets: string[] = []
  const any: string[] = []
  for (const group of spec.groups) {
    const w = wins(group)
    for (const col of group.columns) sets.push(`${col} = CASE WHEN ${w} THEN EXCLUDED.${col} ELSE t.${col} END`)
    any.push(w)
  }
  for (const m of spec.merges) {
    if ('earliest' in m) {
      sets.push(`${m.earliest} = LEAST(t.${m.earliest}, EXCLUDED.${m.earliest})`)
      any.push(`EXCLUDED.${m.earliest} < COALESCE(t.${m.earliest}, 'infinity')`)
    } else if ('least' in m) {
      sets.push(`${m.least} = LEAST(t.${m.least}, EXCLUDED.${m.least})`)
      any.push(`(EXCLUDED.${m.least} IS NOT NULL AND (t.${m.least} IS NULL OR EXCLUDED.${m.least} < t.${m.least}))`)
    } else {
      sets.push(`${m.fill} = COALESCE(t.${m.fill}, EXCLUDED.${m.fill})`)
      any.push(`(t.${m.fill} IS NULL AND EXCLUDED.${m.fill} IS NOT NULL)`)
    }
  }
  return `INSERT INTO ${spec.target} VALUES (${spec.values}) ON CONFLICT (${spec.conflict}) DO UPDATE SET ${sets.join(', ')} WHERE ${any.join(' OR ')}`
}

/**
 * Serialises writers of one entity for the rest of the transaction (see ../shared/locks.ts).
 * The addon takes it inside the upsert (a CTE); a JavaScript team writes it as its own
 * statement, one more round trip.
 */
export const ENTITY_LOCK = statement(['lockClass', 'githubId'] as const, 'SELECT pg_advisory_xact_lock(@lockClass, hashint8(@githubId))')
