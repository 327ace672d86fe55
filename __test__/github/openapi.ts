// GitHub's REST contract, from its official OpenAPI description (@octokit/openapi,
// api.github.com): finds the operation a request names, checks its parameters and body with
// ajv, checks the answers the test server sends, and builds answer objects that satisfy the
// response schemas (fillFromSchema), so the scripted world only states what a test cares about.
// OpenAPI 3.0's `nullable` is rewritten to JSON Schema (`type: [t, 'null']` or `anyOf`) first.

import Ajv, { type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'

type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any

/** An OpenAPI operation with its route. */
export interface Operation {
  method: string
  template: string
  operationId: string
  op: Json
  regex: RegExp
  paramNames: string[]
}

function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema)
  if (!node || typeof node !== 'object') return node
  const out: Json = {}
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === 'example' || k === 'examples' ? v : toJsonSchema(v)
  }
  if (out.nullable === true) {
    delete out.nullable
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null']
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null]
    } else {
      return { anyOf: [out, { type: 'null' }] }
    }
  } else if (out.nullable === false) {
    delete out.nullable
  }
  return out
}

function refsTo(node: Json, prefix: string): Json {
  if (Array.isArray(node)) return node.map((n) => refsTo(n, prefix))
  if (!node || typeof node !== 'object') return node
  const out: Json = {}
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${prefix}${v}` : refsTo(v, prefix)
  }
  return out
}

/** The loaded description: operations, validators and the schema filler. */
export class OpenApiContract {
  readonly spec: Json
  readonly components: Json
  readonly operations: Operation[] = []
  private readonly ajv: Ajv
  private readonly coercing: Ajv
  private readonly cache = new Map<string, ValidateFunction>()

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const raw = require('@octokit/openapi/generated/api.github.com.json')
    this.spec = raw
    this.components = toJsonSchema(raw.components)
    const opts = { strict: false, validateSchema: false, allErrors: true, logger: false as const }
    this.ajv = new Ajv(opts)
    addFormats(this.ajv)
    this.ajv.addSchema({ components: this.components }, 'gh')
    this.coercing = new Ajv({ ...opts, coerceTypes: true, useDefaults: false })
    addFormats(this.coercing)
    this.coercing.addSchema({ components: this.components }, 'gh')
    for (const [template, item] of Object.entries<Json>(raw.paths)) {
      for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
        const op = item[method]
        if (!op) continue
        const paramNames: string[] = []
        const params = this.parametersOf({ op } as Operation)
        const source = template
          .split('/')
          .map((seg) =>
            seg.replace(/\{([^}]+)\}|[^{]+/g, (m, name) => {
              if (!name) return m.replace(/[.*+?^$()|[\]\\]/g, '\\$&')
              paramNames.push(name)
              const p = params.find((x: Json) => x.name === name && x.in === 'path')
              return p && p['x-multi-segment'] ? '(.+)' : '([^/]+)'
            }),
          )
          .join('/')
        this.operations.push({ method: method.toUpperCase(), template, operationId: op.operationId, op, regex: new RegExp(`^${source}$`), paramNames })
      }
    }
    // Literal segments win over parameters, as GitHub's router does (/repos/{o}/{r}/pulls before /repos/{o}/{r}/{x}).
    const literal = (t: string) => t.split('/').filter((s) => s && !s.includes('{')).length
    this.operations.sort((a, b) => literal(b.template) - literal(a.template) || a.paramNames.length - b.paramNames.length)
  }

  /** Resolves `#/components/...` against the (normalized) description. */
  resolve(node: Json): Json {
    let n = node
    for (let i = 0; n && n.$ref && i < 20; i++) {
      const parts = String(n.$ref).replace(/^gh#\/|^#\//, '').split('/').slice(1)
      n = parts.reduce((acc: Json, p) => acc && acc[p.replace(/~1/g, '/').replace(/~0/g, '~')], this.components)
    }
    return n
  }

  parametersOf(operation: Pick<Operation, 'op'>): Json[] {
    return (operation.op.parameters || []).map((p: Json) => {
      if (!p.$ref) return p
      const name = String(p.$ref).split('/').pop() as string
      return this.spec.components.parameters[name]
    })
  }

  /** The operation for a method and path, and its decoded path parameters; null: GitHub's 404. */
  match(method: string, path: string): { operation: Operation; params: Record<string, string> } | null {
    for (const operation of this.operations) {
      if (operation.method !== method) continue
      const m = operation.regex.exec(path)
      if (!m) continue
      const params: Record<string, string> = {}
      operation.paramNames.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1])
      })
      return { operation, params }
    }
    return null
  }

  private compile(key: string, schema: Json, coercing = false): ValidateFunction {
    const k = `${coercing ? 'c:' : ''}${key}`
    let v = this.cache.get(k)
    if (!v) {
      v = (coercing ? this.coercing : this.ajv).compile(refsTo(toJsonSchema(schema), 'gh'))
      this.cache.set(k, v)
    }
    return v
  }

  /**
   * Checks path and query parameters (coerced to their declared types: the returned object holds
   * the typed values) and the JSON body. Returns the problems GitHub would answer 422 for.
   */
  checkRequest(
    operation: Operation,
    pathParams: Record<string, string>,
    query: Record<string, string>,
    body: Json,
    { strictQuery = true } = {},
  ): { problems: string[]; path: Record<string, Json>; query: Record<string, Json> } {
    const problems: string[] = []
    const params = this.parametersOf(operation)
    const typed: Record<'path' | 'query', Record<string, Json>> = { path: { ...pathParams }, query: { ...query } }
    for (const where of ['path', 'query'] as const) {
      const declared = params.filter((p) => p.in === where)
      const schema = {
        type: 'object',
        properties: Object.fromEntries(declared.map((p) => [p.name, p.schema || {}])),
        required: declared.filter((p) => p.required).map((p) => p.name),
        additionalProperties: where === 'path' || !strictQuery ? true : false,
      }
      const v = this.compile(`${operation.operationId}:${where}`, schema, true)
      if (!v(typed[where])) {
        for (const e of v.errors || []) problems.push(`${where} ${e.instancePath || ''} ${e.message}${e.params && (e.params as Json).additionalProperty ? `: ${(e.params as Json).additionalProperty}` : ''}`.trim())
      }
    }
    const rb = operation.op.requestBody
    const bodySchema = rb && rb.content && rb.content['application/json'] && rb.content['application/json'].schema
    if (body !== undefined && bodySchema) {
      const v = this.compile(`${operation.operationId}:body`, bodySchema)
      if (!v(body)) for (const e of v.errors || []) problems.push(`body ${e.instancePath || ''} ${e.message}`.trim())
    } else if (body === undefined && rb && rb.required) {
      problems.push('body is required')
    } else if (body !== undefined && !rb) {
      // GitHub ignores a body it does not read; so do we.
    }
    return { problems, path: typed.path, query: typed.query }
  }

  /** The JSON schema of an operation's answer with this status, or null (no JSON body). */
  responseSchema(operation: Operation, status: number): Json | null {
    const r = this.resolve(this.spec.paths[operation.template][operation.method.toLowerCase()].responses[String(status)])
    const content = r && (r.content || (r.$ref ? this.resolve(r).content : undefined))
    return content && content['application/json'] ? content['application/json'].schema : null
  }

  /** Problems of an answer the server is about to send ([] when GitHub's contract allows it). */
  checkResponse(operation: Operation, status: number, body: Json): string[] {
    const r = this.spec.paths[operation.template][operation.method.toLowerCase()].responses
    if (!r[String(status)]) return status >= 400 ? [] : [`status ${status} is not a documented answer of ${operation.operationId}`]
    const schema = this.responseSchema(operation, status)
    if (!schema) return []
    const v = this.compile(`${operation.operationId}:${status}`, schema)
    return v(body) ? [] : (v.errors || []).slice(0, 10).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`)
  }

  /** Completes `partial` into a value valid against `schema` (a component name or a schema). */
  fill(schema: Json, partial?: Json): Json {
    const s = typeof schema === 'string' ? { $ref: `#/components/schemas/${schema}` } : schema
    return this.fillNode(toJsonSchema(s), partial, 0)
  }

  private fillNode(node: Json, partial: Json, depth: number): Json {
    const s = this.resolve(node)
    if (!s || depth > 40) return partial === undefined ? null : partial
    if (s.allOf) {
      return s.allOf.reduce((acc: Json, branch: Json) => {
        const filled = this.fillNode(branch, acc, depth + 1)
        return filled && typeof filled === 'object' && !Array.isArray(filled) ? { ...acc, ...filled } : filled
      }, partial === undefined ? {} : partial)
    }
    const alts = s.anyOf || s.oneOf
    if (alts) {
      const isNull = (b: Json) => { const r = this.resolve(b); return r && (r.type === 'null' || (Array.isArray(r.type) && r.type.length === 1 && r.type[0] === 'null')) }
      if (partial === null || (partial === undefined && alts.some(isNull))) return null
      const want = Array.isArray(partial) ? 'array' : typeof partial === 'number' ? (Number.isInteger(partial) ? 'integer' : 'number') : typeof partial
      const pick = alts.find((b: Json) => {
        if (isNull(b)) return false
        const r = this.resolve(b)
        const t = r && r.type
        if (partial === undefined || !t) return true
        const types = Array.isArray(t) ? t : [t]
        return types.includes(want) || (want === 'integer' && types.includes('number'))
      }) || alts.find((b: Json) => !isNull(b))
      return this.fillNode(pick, partial, depth + 1)
    }
    const types: string[] = Array.isArray(s.type) ? s.type : s.type ? [s.type] : s.properties ? ['object'] : []
    if (partial === undefined) {
      if (types.includes('null')) return null
      if (s.enum) return s.enum[0]
      if (s.default !== undefined) return s.default
    }
    if (types.includes('object') || s.properties) {
      if (partial !== undefined && (partial === null || typeof partial !== 'object' || Array.isArray(partial))) return partial
      const out: Json = { ...(partial || {}) }
      const props = s.properties || {}
      for (const name of s.required || []) {
        if (out[name] === undefined) out[name] = this.fillNode(props[name] || {}, undefined, depth + 1)
      }
      for (const [name, value] of Object.entries(out)) {
        if (props[name] && value !== undefined && partial && (partial as Json)[name] !== undefined) {
          out[name] = this.fillNode(props[name], value, depth + 1)
        }
      }
      return out
    }
    if (partial !== undefined) {
      if (Array.isArray(partial) && s.items) return partial.map((el) => this.fillNode(s.items, el, depth + 1))
      return partial
    }
    if (types.includes('array')) return []
    if (types.includes('string')) {
      switch (s.format) {
        case 'date-time':
          return '2026-01-01T00:00:00Z'
        case 'uri':
        case 'url':
          return 'https://api.github.test/'
        case 'email':
          return 'someone@example.test'
        case 'uri-template':
          return 'https://api.github.test/{x}'
        default:
          return s.minLength ? 'x'.repeat(s.minLength) : 'x'
      }
    }
    if (types.includes('integer') || types.includes('number')) return typeof s.minimum === 'number' ? s.minimum : 1
    if (types.includes('boolean')) return false
    return null
  }
}

let shared: OpenApiContract | null = null

/** The description, loaded once per test file (about half a second). */
export function openApiContract(): OpenApiContract {
  shared ??= new OpenApiContract()
  return shared
}
