// Seeded mutations of real payloads for the hostile-input suite: the damage GitHub never
// sends but a broken proxy, a hand-made replay or an attacker might. Deterministic for a
// seed, so a failure names the seed and the mutation that reproduce it.
import { exampleGroups } from './examples'

/** mulberry32: a small seeded PRNG, enough to pick mutations reproducibly. */
export function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Mutant {
  label: string
  event: string
  payload: string | Buffer | Record<string, unknown>
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const TRACKED = ['push', 'pull_request', 'issues', 'pull_request_review', 'deployment', 'deployment_status', 'workflow_run', 'workflow_job', 'release']

/** Keys the processors read: most structural mutations aim at these. */
const READ_KEYS = new Set([
  'id', 'number', 'state', 'action', 'ref', 'commits', 'timestamp', 'author', 'email', 'username', 'repository',
  'sender', 'login', 'type', 'user', 'pull_request', 'issue', 'review', 'title', 'merged', 'merged_at', 'closed_at',
  'created_at', 'updated_at', 'submitted_at', 'additions', 'deletions', 'changed_files', 'added', 'modified',
])

const HOSTILE: Json[] = [
  null, true, 0, -1, 2 ** 53, -(2 ** 31) - 1, 1.5, '', ' ', 'soon', '2024-02-30T10:00:00Z', 'HEAD', 'gone', '\u0000',
  'ünïcödé 🦀 \u202e', [], [null], {}, { id: null },
]

const INVALID_UTF8 = [[0xff], [0xc3], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]

/** [path, parent, key] of every node whose key the processors read. */
function readNodes(root: Json): [Json[] | { [k: string]: Json }, string | number][] {
  const out: [Json[] | { [k: string]: Json }, string | number][] = []
  const walk = (v: Json) => {
    if (Array.isArray(v)) v.forEach((c, i) => (walk(c), typeof c === 'object' && c !== null && out.push([v, i])))
    else if (v && typeof v === 'object') {
      for (const [k, c] of Object.entries(v)) {
        if (READ_KEYS.has(k)) out.push([v, k])
        walk(c)
      }
    }
  }
  walk(root)
  return out
}

const nest = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)

/**
 * `count` mutants of the tracked examples of @octokit/webhooks-examples, in the three forms
 * a job's payload takes (text, bytes, object), from `seed`.
 */
export function mutants(count: number, seed: number): Mutant[] {
  const rand = random(seed)
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]
  const seeds = exampleGroups
    .filter((g) => TRACKED.includes(g.name))
    .flatMap((g) => g.examples.map((e, i) => ({ event: g.name, name: `${g.name}#${i}`, value: e as Json })))
  const out: Mutant[] = []
  for (let n = 0; n < count; n++) {
    const s = pick(seeds)
    const value = structuredClone(s.value)
    const nodes = readNodes(value)
    const [parent, key] = pick(nodes)
    const kind = pick(['truncate', 'flip', 'utf8', 'hostile', 'null', 'remove', 'huge-string', 'huge-array', 'deep', 'nul'])
    const form = pick(['string', 'buffer', 'object'] as const)
    const label = `#${n} ${s.name} ${kind} at ${String(key)} as ${form}`
    const set = (v: Json) => ((parent as Record<string | number, Json>)[key] = v)
    const text = () => JSON.stringify(value)
    switch (kind) {
      case 'truncate': {
        const t = text()
        out.push({ label, event: s.event, payload: t.slice(0, Math.floor(rand() * t.length)) })
        continue
      }
      case 'flip': {
        const b = Buffer.from(text())
        b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256)
        out.push({ label, event: s.event, payload: b })
        continue
      }
      case 'utf8': {
        const b = Buffer.from(text())
        const at = Math.floor(rand() * b.length)
        out.push({ label, event: s.event, payload: Buffer.concat([b.subarray(0, at), Buffer.from(pick(INVALID_UTF8)), b.subarray(at)]) })
        continue
      }
      case 'deep': {
        // Raw text: nesting the parser refuses (over 1024 levels) or just accepts (1023).
        set('\u0001DEEP\u0001')
        const depth = pick([1023, 1025, 200_000])
        const t = text().replace('"\\u0001DEEP\\u0001"', nest(depth))
        out.push({ label: `${label} (${depth} levels)`, event: s.event, payload: form === 'buffer' ? Buffer.from(t) : t })
        continue
      }
      case 'hostile':
        set(pick(HOSTILE))
        break
      case 'null':
        set(null)
        break
      case 'remove':
        if (Array.isArray(parent)) parent.splice(key as number, 1)
        else delete parent[key as string]
        break
      case 'huge-string':
        set('é'.repeat(512 * 1024)) // 1 MiB of UTF-8
        break
      case 'huge-array':
        set(Array.from({ length: 100_000 }, () => 0))
        break
      case 'nul':
        set(`a\u0000b${String((parent as Record<string | number, Json>)[key])}`)
        break
    }
    const payload = form === 'object' ? (value as Record<string, unknown>) : form === 'buffer' ? Buffer.from(text()) : text()
    out.push({ label, event: s.event, payload })
  }
  return out
}
