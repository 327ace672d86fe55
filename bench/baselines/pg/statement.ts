// SQL statements with named parameters (`@name`), compiled once to PostgreSQL's `$n`. The pg
// baseline binds values by name; the pgbench ceiling renders the very same text with SQL
// expressions in place of the parameters, so both run the same SQL.

import { createHash } from 'node:crypto'

export interface Statement<N extends string> {
  /** A name for the prepared statement (derived from the text). */
  name: string
  /** The SQL with `$1 … $n`. */
  text: string
  /** Parameter names in `$n` order. */
  params: readonly N[]
}

/** Compiles `sql`, checking that its `@name` placeholders are exactly `names`. */
export function statement<N extends string>(names: readonly N[], sql: string): Statement<N> {
  const order: string[] = []
  const text = sql
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/@([A-Za-z][A-Za-z0-9]*)/g, (_, name: string) => {
      if (!order.includes(name)) order.push(name)
      return `$${order.indexOf(name) + 1}`
    })
  const missing = names.filter((n) => !order.includes(n))
  const extra = order.filter((n) => !(names as readonly string[]).includes(n))
  if (missing.length || extra.length) throw new Error(`statement parameters differ: missing ${missing}, unexpected ${extra}`)
  return { name: `bench_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text, params: order as N[] }
}

/** The values in `$n` order. */
export function bind<N extends string>(stmt: Statement<N>, values: Record<N, unknown>): unknown[] {
  return stmt.params.map((name) => values[name])
}

/** The statement with each `$n` replaced by an SQL expression (for pgbench scripts). */
export function render<N extends string>(stmt: Statement<N>, expressions: Record<N, string>): string {
  return stmt.text.replace(/\$(\d+)/g, (_, n: string) => `(${expressions[stmt.params[Number(n) - 1]]})`)
}
