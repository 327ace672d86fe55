/**
 * # The GitHub contract test server
 *
 * A local stand-in for api.github.com that holds the client to GitHub's own contracts, so
 * tests run offline and still fail where the real GitHub would refuse:
 *
 * - every REST request is matched to an operation of GitHub's official OpenAPI description
 *   (`@octokit/openapi`); an unknown route answers 404, a bad path/query parameter or JSON body
 *   422 (unparsable JSON 400), an unknown query parameter 422 too (`strictQuery`, default on:
 *   GitHub ignores them, but here they are a client bug);
 * - every GraphQL query is validated against GitHub's official schema (`@octokit/graphql-schema`)
 *   and GitHub's node limit (`first` or `last`, 1–100, on every connection), and executed
 *   against the scripted world (`repository { object(oid:) { ... on Commit } }`, aliases,
 *   `Commit.history(first|last) { totalCount nodes edges pageInfo }` counted from the commit
 *   graph, `rateLimit`);
 * - every REST answer it sends is checked against the operation's response schema: a violation
 *   is recorded in `violations` (tests call `assertNoViolations()`) and answered 500;
 * - every request must authenticate: a token from `tokens`, an installation token this server
 *   issued, or (for `/app/*` and installation lookups) an RS256 JWT signed by the App's key.
 *
 * Usage:
 * ```ts
 * const gh = await startGitHubServer({ appId: 42, publicKey })   // or { tokens: ['t0k'] }
 * const repo = gh.world.addRepository({ owner: 'acme', name: 'api' })
 * gh.world.commitChain(repo, 300)
 * const client = createGitHubClient({ token: 't0k', baseUrl: gh.url })
 * gh.throttleNext({ kind: 'secondary', retryAfterSeconds: 1 })
 * gh.failNext(2, 502); gh.hangNext(1)
 * expect(gh.requests.filter((r) => r.path === '/graphql')).toHaveLength(1)
 * gh.assertNoViolations(); await gh.close()
 * ```
 *
 * Routes answered from the world: GET /repos/{o}/{r}, /repos/{o}/{r}/compare/{basehead}
 * (paged with `per_page`/`page` and Link headers, oldest commit first, 250 a page unpaged),
 * /repos/{o}/{r}/commits[/{ref}], /repos/{o}/{r}/pulls[/{n}] (line counts on the single one
 * only, as GitHub), /repos/{o}/{r}/pulls/{n}/reviews, GET /app, GET /rate_limit,
 * /repos/{o}/{r}/issues, /repos/{o}/{r}/deployments[/{id}/statuses] (newest first),
 * /repos/{o}/{r}/actions/runs (newest first, wrapped in `workflow_runs`); installation lookups (/repos/{o}/{r}/installation,
 * /users/{u}/installation, /orgs/{o}/installation), POST /app/installations/{id}/access_tokens,
 * GET /app/installations and GET /installation/repositories (the installation's account's
 * repositories: every installation is on all repositories);
 * hook deliveries (App, repository and organization hooks; cursor-paged, newest first) and
 * redelivery (POST …/deliveries/{id}/attempts, which appends the redelivery with the same guid
 * and calls `world.onRedeliver`); POST /graphql. Any other operation GitHub has answers 501
 * (not scripted), which a test notices.
 */

import * as http from 'node:http'
import * as crypto from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { openApiContract, type Operation, type OpenApiContract } from './openapi'
import { runGraphql } from './graphql'
import { World, type HookTarget, type WorldCommit, type WorldRepository } from './world'

type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any

/** How a request authenticated. */
export type AuthKind = 'none' | 'token' | 'installation' | 'jwt' | 'invalid'

/** One request as the server saw it. */
export interface LoggedRequest {
  method: string
  path: string
  query: Record<string, string>
  body: unknown
  auth: AuthKind
  /** The installation of an installation token. */
  installationId?: number
  /** The OpenAPI operation (or 'graphql'); undefined: unknown route. */
  operationId?: string
  /** The status answered; undefined while hanging. */
  status?: number
}

export interface ThrottleSpec {
  kind: 'primary' | 'secondary'
  /** 403 (default) or 429. */
  status?: 403 | 429
  /** Secondary: the `retry-after` header (default 1). */
  retryAfterSeconds?: number
  /** Primary: `x-ratelimit-reset` this many seconds from now (default 1). */
  resetInSeconds?: number
  /** Only requests whose path matches (default: any). */
  path?: string | RegExp
  /**
   * A primary limit on /graphql: `'errors'` (default) answers as GitHub's GraphQL API does, HTTP
   * 200 with `errors: [{ type: 'RATE_LIMITED' }]` and the rate headers; `'http'` answers `status`.
   */
  graphqlAnswer?: 'errors' | 'http'
}

export interface GitHubServerOptions {
  /** Plain tokens (PAT style) the server accepts. */
  tokens?: string[]
  /** The GitHub App: its id and public key (PEM), for JWTs. */
  appId?: number
  publicKey?: crypto.KeyObject | string
  /** Refuse unknown query parameters with 422. Default true. */
  strictQuery?: boolean
  /** Lifetime of issued installation tokens. Default 1 hour. */
  installationTokenTtlSeconds?: number
}

type Fault =
  | { type: 'throttle'; spec: ThrottleSpec }
  | { type: 'fail'; status: number; path?: string | RegExp }
  | { type: 'hang'; path?: string | RegExp }

const DOCS = 'https://docs.github.com/rest'

function matches(filter: string | RegExp | undefined, path: string): boolean {
  if (filter === undefined) return true
  return typeof filter === 'string' ? path === filter || path.startsWith(filter) : filter.test(path)
}

class HttpAnswer {
  constructor(readonly status: number, readonly body: unknown, readonly headers: Record<string, string> = {}) {}
}

const notFound = () => new HttpAnswer(404, { message: 'Not Found', documentation_url: DOCS, status: '404' })

export class GitHubServer {
  readonly world = new World()
  /** Every request, in arrival order. */
  readonly requests: LoggedRequest[] = []
  /** Answers the server sent that GitHub's contract does not allow (should stay empty). */
  readonly violations: string[] = []
  /** GraphQL queries GitHub's schema refused. */
  readonly rejectedGraphql: string[] = []
  /** Installation tokens issued: token → installation id and expiry. */
  readonly installationTokens = new Map<string, { installationId: number; expiresAt: number }>()
  url = ''
  private readonly server: http.Server
  private readonly contract: OpenApiContract
  private readonly faults: Fault[] = []
  private readonly persistentFaults: { when: (request: LoggedRequest) => boolean; status: number }[] = []
  private readonly sockets = new Set<import('node:net').Socket>()
  private readonly tokens: Set<string>
  private readonly publicKey?: crypto.KeyObject

  constructor(private readonly options: GitHubServerOptions = {}) {
    this.contract = openApiContract()
    this.tokens = new Set(options.tokens ?? [])
    if (options.publicKey) {
      this.publicKey = typeof options.publicKey === 'string' ? crypto.createPublicKey(options.publicKey) : options.publicKey
    }
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.violations.push(`server error: ${(err as Error).stack}`)
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ message: 'test server error' }))
      })
    })
    this.server.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /** The next matching request gets a rate-limit answer of this kind. */
  throttleNext(spec: ThrottleSpec): void {
    this.faults.push({ type: 'throttle', spec })
  }

  /** The next `n` matching requests answer `status` (default 502). */
  failNext(n: number, status = 502, path?: string | RegExp): void {
    for (let i = 0; i < n; i++) this.faults.push({ type: 'fail', status, path })
  }

  /**
   * Every request `when` matches answers `status` (default 502) until `stop()` is called: a
   * request GitHub can never answer (a GraphQL query naming one commit, …).
   */
  failWhile(when: (request: LoggedRequest) => boolean, status = 502): { stop(): void } {
    const fault = { when, status }
    this.persistentFaults.push(fault)
    return { stop: () => void this.persistentFaults.splice(this.persistentFaults.indexOf(fault), 1) }
  }

  /** The next `n` matching requests are never answered (the client must time out). */
  hangNext(n: number, path?: string | RegExp): void {
    for (let i = 0; i < n; i++) this.faults.push({ type: 'hang', path })
  }

  /** Faults not yet consumed. */
  pendingFaults(): number {
    return this.faults.length
  }

  /** Fails the test if the server sent anything GitHub's contract does not allow. */
  assertNoViolations(): void {
    if (this.violations.length > 0) throw new Error(`contract server violations:\n${this.violations.join('\n')}`)
  }

  /** Completes a partial object into one valid against a GitHub schema (`'commit'`, `'pull-request-simple'`, …). */
  fill(schema: string, partial?: unknown): Json {
    return this.contract.fill(schema, partial)
  }

  /** Revokes every installation token issued so far (they answer 401 from now on). */
  revokeInstallationTokens(): void {
    this.installationTokens.clear()
  }

  /** Adds a token the server accepts (PAT style). */
  addToken(token: string): void {
    this.tokens.add(token)
  }

  private takeFault(path: string): Fault | undefined {
    const i = this.faults.findIndex((f) => matches(f.type === 'throttle' ? f.spec.path : f.path, path))
    return i < 0 ? undefined : this.faults.splice(i, 1)[0]
  }

  private authenticate(header: string | undefined): { kind: AuthKind; installationId?: number; problem?: string } {
    if (!header) return { kind: 'none' }
    const m = /^(token|bearer)\s+(\S+)$/i.exec(header.trim())
    if (!m) return { kind: 'invalid', problem: 'Bad credentials' }
    const credential = m[2]
    if (this.tokens.has(credential)) return { kind: 'token' }
    const inst = this.installationTokens.get(credential)
    if (inst) {
      if (inst.expiresAt <= Date.now()) return { kind: 'invalid', problem: 'Bad credentials' }
      return { kind: 'installation', installationId: inst.installationId }
    }
    const parts = credential.split('.')
    if (parts.length === 3) return this.checkJwt(parts)
    return { kind: 'invalid', problem: 'Bad credentials' }
  }

  private checkJwt([h, p, s]: string[]): { kind: AuthKind; problem?: string } {
    const bad = (problem: string) => ({ kind: 'invalid' as AuthKind, problem })
    if (!this.publicKey || this.options.appId === undefined) return bad('A JSON web token could not be decoded')
    let header: Json
    let payload: Json
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'))
      payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'))
    } catch {
      return bad('A JSON web token could not be decoded')
    }
    if (header.alg !== 'RS256') return bad(`'${header.alg}' is not a supported algorithm; use RS256`)
    const ok = crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), this.publicKey, Buffer.from(s, 'base64url'))
    if (!ok) return bad('A JSON web token could not be decoded')
    const now = Math.floor(Date.now() / 1000)
    if (String(payload.iss) !== String(this.options.appId)) return bad("'Issuer' claim ('iss') must be an Integer")
    if (typeof payload.exp !== 'number' || payload.exp <= now) return bad("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
    if (typeof payload.iat !== 'number' || payload.iat > now + 60 || payload.exp - payload.iat > 600) return bad("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
    return { kind: 'jwt' }
  }

  private async readBody(req: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }

  private rateHeaders(resource: string): Record<string, string> {
    return {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': String(Math.max(0, 5000 - this.requests.length)),
      'x-ratelimit-used': String(Math.min(5000, this.requests.length)),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-resource': resource,
    }
  }

  private send(res: http.ServerResponse, log: LoggedRequest, answer: HttpAnswer, resource: string) {
    log.status = answer.status
    const headers: Record<string, string> = { ...this.rateHeaders(resource), ...answer.headers }
    if (answer.body === undefined) {
      res.writeHead(answer.status, headers)
      res.end()
      return
    }
    headers['content-type'] = 'application/json; charset=utf-8'
    res.writeHead(answer.status, headers)
    res.end(JSON.stringify(answer.body))
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const method = (req.method ?? 'GET').toUpperCase()
    let path = url.pathname
    const ghes = path.startsWith('/api/')
    if (path.startsWith('/api/v3/')) path = path.slice('/api/v3'.length) // GHES layout
    if (path === '/api/graphql') path = '/graphql'
    const query = Object.fromEntries(url.searchParams.entries())
    const text = await this.readBody(req)
    const auth = this.authenticate(req.headers.authorization)
    const log: LoggedRequest = { method, path, query, body: undefined, auth: auth.kind, installationId: auth.installationId }
    this.requests.push(log)
    let body: unknown
    if (text !== '') {
      try {
        body = JSON.parse(text)
      } catch {
        return this.send(res, log, new HttpAnswer(400, { message: 'Problems parsing JSON', documentation_url: DOCS, status: '400' }), 'core')
      }
    }
    log.body = body
    const isGraphql = path === '/graphql' && method === 'POST'
    const resource = isGraphql ? 'graphql' : 'core'

    const persistent = this.persistentFaults.find((f) => f.when(log))
    if (persistent) {
      return this.send(res, log, new HttpAnswer(persistent.status, { message: 'Server Error', documentation_url: DOCS, status: String(persistent.status) }), resource)
    }
    const fault = this.takeFault(path)
    if (fault?.type === 'hang') return // never answered; the socket closes when the client gives up or the server closes
    if (fault?.type === 'fail') {
      return this.send(res, log, new HttpAnswer(fault.status, { message: 'Server Error', documentation_url: DOCS, status: String(fault.status) }), resource)
    }
    if (fault?.type === 'throttle') {
      const answer = this.throttleAnswer(fault.spec, auth.installationId)
      if (isGraphql && fault.spec.kind === 'primary' && (fault.spec.graphqlAnswer ?? 'errors') === 'errors') {
        const message = (answer.body as { message: string }).message
        return this.send(res, log, new HttpAnswer(200, { errors: [{ type: 'RATE_LIMITED', message }] }, answer.headers), resource)
      }
      return this.send(res, log, answer, resource)
    }

    if (isGraphql) {
      log.operationId = 'graphql'
      if (auth.kind !== 'token' && auth.kind !== 'installation') return this.send(res, log, this.unauthorized(auth), 'graphql')
      const { result, valid } = await runGraphql(this.world, (body ?? {}) as Json)
      if (!valid) this.rejectedGraphql.push(String((body as Json)?.query))
      return this.send(res, log, new HttpAnswer(200, result), 'graphql')
    }

    const found = this.contract.match(method, path)
    if (!found) return this.send(res, log, notFound(), 'core')
    const { operation } = found
    log.operationId = operation.operationId
    const checked = this.contract.checkRequest(operation, found.params, query, body, { strictQuery: this.options.strictQuery ?? true })
    if (checked.problems.length > 0) {
      return this.send(res, log, new HttpAnswer(422, { message: 'Validation Failed', errors: checked.problems.map((p) => ({ code: 'invalid', message: p })), documentation_url: DOCS, status: '422' }), 'core')
    }
    // The App itself (JWT): /app/* (its hook and installation tokens) and the installation lookups.
    const needsJwt = /^\/app(\/|$)/.test(path) || /\/installation$/.test(path)
    if (needsJwt ? auth.kind !== 'jwt' : auth.kind !== 'token' && auth.kind !== 'installation') {
      return this.send(res, log, this.unauthorized(auth, needsJwt), 'core')
    }
    let answer: HttpAnswer
    try {
      answer = this.route(operation, checked.path, checked.query, body, auth, `http://${req.headers.host}${ghes ? '/api/v3' : ''}${path}`)
    } catch (err) {
      if (err instanceof HttpAnswer) answer = err
      else throw err
    }
    if (answer.status < 400) {
      const problems = this.contract.checkResponse(operation, answer.status, answer.body)
      if (problems.length > 0) {
        this.violations.push(`${method} ${path} (${operation.operationId}) ${answer.status}: ${problems.join('; ')}`)
        answer = new HttpAnswer(500, { message: 'contract test server sent an invalid answer', documentation_url: DOCS })
      }
    }
    return this.send(res, log, answer, 'core')
  }

  private unauthorized(auth: { kind: AuthKind; problem?: string }, needsJwt = false): HttpAnswer {
    const message =
      auth.kind === 'none'
        ? 'Requires authentication'
        : auth.problem ?? (needsJwt ? 'A JSON web token could not be decoded' : 'Bad credentials')
    return new HttpAnswer(401, { message, documentation_url: DOCS, status: '401' })
  }

  private throttleAnswer(spec: ThrottleSpec, installationId?: number): HttpAnswer {
    const status = spec.status ?? 403
    const now = Math.floor(Date.now() / 1000)
    if (spec.kind === 'secondary') {
      return new HttpAnswer(
        status,
        {
          message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.',
          documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
          status: String(status),
        },
        { 'retry-after': String(spec.retryAfterSeconds ?? 1) },
      )
    }
    return new HttpAnswer(
      status,
      {
        message: `API rate limit exceeded for installation ID ${installationId ?? 0}. If you reach out to GitHub Support for help, please include the request ID.`,
        documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits',
        status: String(status),
      },
      {
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-used': '5000',
        'x-ratelimit-reset': String(now + (spec.resetInSeconds ?? 1)),
      },
    )
  }

  // ---- answers from the world --------------------------------------------------------------

  private repoOr404(owner: string, name: string, auth: { installationId?: number }): WorldRepository {
    const repo = this.world.repository(owner, name)
    if (!repo) throw notFound()
    if (auth.installationId !== undefined) {
      const inst = this.world.installations.get(auth.installationId)
      if (!inst || inst.account.toLowerCase() !== repo.owner.toLowerCase()) throw notFound()
    }
    return repo
  }

  private accountObject(login: string) {
    const a = this.world.account(login)
    return this.contract.fill('simple-user', {
      login: a.login,
      id: a.id,
      node_id: `U_${a.id}`,
      type: a.type,
      url: `https://api.github.test/users/${a.login}`,
      html_url: `https://github.test/${a.login}`,
    })
  }

  private repositoryObject(repo: WorldRepository, schema = 'full-repository') {
    const full = `${repo.owner}/${repo.name}`
    return this.contract.fill(schema, {
      id: repo.id,
      node_id: `R_${repo.id}`,
      name: repo.name,
      full_name: full,
      private: repo.private,
      visibility: repo.private ? 'private' : 'public',
      owner: this.accountObject(repo.owner),
      default_branch: repo.defaultBranch,
      html_url: `https://github.test/${full}`,
      url: `https://api.github.test/repos/${full}`,
    })
  }

  private personUser(p: { login?: string; id?: number }) {
    if (!p.login) return null
    const a = this.world.account(p.login)
    return this.accountObject(a.login)
  }

  private commitObject(repo: WorldRepository, c: WorldCommit, withStats = false) {
    const full = `${repo.owner}/${repo.name}`
    const partial: Json = {
      sha: c.sha,
      node_id: `C_${c.sha.slice(0, 12)}`,
      url: `https://api.github.test/repos/${full}/commits/${c.sha}`,
      html_url: `https://github.test/${full}/commit/${c.sha}`,
      comments_url: `https://api.github.test/repos/${full}/commits/${c.sha}/comments`,
      commit: {
        url: `https://api.github.test/repos/${full}/git/commits/${c.sha}`,
        author: { name: c.author.name, email: c.author.email, date: c.author.date },
        committer: { name: c.committer.name, email: c.committer.email, date: c.committer.date },
        message: c.message,
        comment_count: 0,
        tree: { sha: c.sha.split('').reverse().join(''), url: `https://api.github.test/repos/${full}/git/trees/x` },
      },
      author: this.personUser(c.author),
      committer: this.personUser(c.committer),
      parents: c.parents.map((p) => ({ sha: p, url: `https://api.github.test/repos/${full}/commits/${p}`, html_url: `https://github.test/${full}/commit/${p}` })),
    }
    if (withStats) {
      partial.stats = { additions: c.additions, deletions: c.deletions, total: c.additions + c.deletions }
      partial.files = []
    }
    return this.contract.fill('commit', partial)
  }

  /** Page `page` of `items`, with GitHub's Link header. */
  private paged<T>(items: T[], query: Record<string, Json>, selfUrl: string, defaultPerPage = 30, maxPerPage = 100) {
    const perPage = Math.min(Number(query.per_page ?? defaultPerPage), maxPerPage)
    const page = Math.max(1, Number(query.page ?? 1))
    const last = Math.max(1, Math.ceil(items.length / perPage))
    const slice = items.slice((page - 1) * perPage, page * perPage)
    const link = (p: number) => {
      const u = new URL(selfUrl)
      for (const [k, v] of Object.entries(query)) u.searchParams.set(k, String(v))
      u.searchParams.set('per_page', String(perPage))
      u.searchParams.set('page', String(p))
      return u.toString()
    }
    const rels: string[] = []
    if (page < last) rels.push(`<${link(page + 1)}>; rel="next"`, `<${link(last)}>; rel="last"`)
    if (page > 1) rels.push(`<${link(1)}>; rel="first"`, `<${link(page - 1)}>; rel="prev"`)
    const headers: Record<string, string> = rels.length > 0 ? { link: rels.join(', ') } : {}
    return { slice, headers }
  }

  private route(operation: Operation, p: Record<string, Json>, q: Record<string, Json>, body: unknown, auth: { kind: AuthKind; installationId?: number }, selfUrl: string): HttpAnswer {
    const w = this.world
    switch (operation.operationId) {
      case 'repos/get': {
        const repo = this.repoOr404(p.owner, p.repo, auth)
        return new HttpAnswer(200, this.repositoryObject(repo))
      }
      case 'apps/get-repo-installation':
      case 'apps/get-user-installation':
      case 'apps/get-org-installation': {
        let login: string
        if (operation.operationId === 'apps/get-repo-installation') {
          const repo = w.repository(p.owner, p.repo)
          if (!repo) throw notFound()
          login = repo.owner
        } else {
          login = operation.operationId === 'apps/get-user-installation' ? p.username : p.org
          const account = w.accounts.get(login.toLowerCase())
          const wantType = operation.operationId === 'apps/get-user-installation' ? 'User' : 'Organization'
          if (!account || account.type !== wantType) throw notFound()
        }
        const inst = w.installationFor(login)
        if (!inst) throw notFound()
        return new HttpAnswer(200, this.installationObject(inst.id))
      }
      case 'apps/list-installations': {
        // `account: null`: this list's description in @octokit/openapi requires the account to be
        // a user and an enterprise at once (allOf), which no account is; null is allowed.
        const { slice, headers } = this.paged([...w.installations.values()], q, selfUrl)
        return new HttpAnswer(200, slice.map((inst) => ({ ...this.installationObject(inst.id), account: null })), headers)
      }
      case 'apps/list-repos-accessible-to-installation': {
        const inst = auth.installationId === undefined ? undefined : w.installations.get(auth.installationId)
        if (!inst) throw new HttpAnswer(403, { message: 'This endpoint needs an installation token', documentation_url: DOCS, status: '403' })
        const repos = [...w.repositories.values()].filter((r) => r.owner.toLowerCase() === inst.account.toLowerCase())
        const { slice, headers } = this.paged(repos, q, selfUrl)
        return new HttpAnswer(200, { total_count: repos.length, repository_selection: 'all', repositories: slice.map((r) => this.repositoryObject(r, 'repository')) }, headers)
      }
      case 'apps/create-installation-access-token': {
        const inst = w.installations.get(p.installation_id)
        if (!inst) throw notFound()
        const token = `ghs_${crypto.randomBytes(18).toString('hex')}`
        const ttl = (this.options.installationTokenTtlSeconds ?? 3600) * 1000
        this.installationTokens.set(token, { installationId: inst.id, expiresAt: Date.now() + ttl })
        return new HttpAnswer(
          201,
          this.contract.fill('installation-token', {
            token,
            expires_at: new Date(Date.now() + ttl).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            permissions: { contents: 'read', metadata: 'read', pull_requests: 'read', issues: 'read' },
            repository_selection: 'all',
          }),
        )
      }
      case 'repos/compare-commits-with-basehead':
        return this.compare(p, q, auth, selfUrl)
      case 'repos/get-commit': {
        const repo = this.repoOr404(p.owner, p.repo, auth)
        const c = w.resolveRef(repo, p.ref)
        if (!c) throw new HttpAnswer(422, { message: `No commit found for SHA: ${p.ref}`, documentation_url: DOCS, status: '422' })
        return new HttpAnswer(200, this.commitObject(repo, c, true))
      }
      case 'repos/list-commits': {
        const repo = this.repoOr404(p.owner, p.repo, auth)
        const head = w.resolveRef(repo, q.sha ?? repo.defaultBranch)
        if (!head) throw new HttpAnswer(404, { message: 'Not Found', documentation_url: DOCS, status: '404' })
        let list = [...w.ancestors(repo, head.sha)].map((s) => repo.commits.get(s) as WorldCommit)
        if (q.since) list = list.filter((c) => c.committer.date >= new Date(q.since).toISOString())
        if (q.until) list = list.filter((c) => c.committer.date <= new Date(q.until).toISOString())
        list.sort((a, b) => (a.committer.date < b.committer.date ? 1 : a.committer.date > b.committer.date ? -1 : 0))
        const { slice, headers } = this.paged(list, q, selfUrl)
        return new HttpAnswer(200, slice.map((c) => this.commitObject(repo, c)), headers)
      }
      case 'pulls/list': {
        const repo = this.repoOr404(p.owner, p.repo, auth)
        const state = q.state ?? 'open'
        let list = repo.pulls.filter((pr: Json) => state === 'all' || (pr.state ?? 'open') === state)
        list = this.sorted(list, q.sort === 'updated' ? 'updated_at' : 'created_at', q.direction ?? 'desc')
        const { slice, headers } = this.paged(list, q, selfUrl)
        return new HttpAnswer(200, slice.map((pr) => this.pullObject(repo, pr)), headers)
      }
      case 'pulls/get': {
        const repo = this.repoOr404(p.owner, p.repo, auth)
        const pr = repo.pulls.find((x: Json) => x.number === p.pull_number)
        if (!pr) throw notFound()
        return new HttpAnswer(200, this.pullObject(repo, pr, 'pull-request'))
      }
      case 'apps/get-authenticated':
        return new HttpAnswer(200, this.contract.fill('integration', { id: this.options.appId ?? 1, slug: 'devmetrics-test', name: 'DevMetrics (test)', owner: this.accountObject('devmetrics') }))
      case 'rate-limit/get': {
        const reset = Math.floor(Date.now() / 1000) + 3600
        const r = (limit: number) => ({ limit, remaining: Math.max(0, limit - this.requests.length), used: Math.min(limit, this.requests.length), reset })
        return new HttpAnswer(200, this.contract.fill('rate-limit-overview', { resources: { core: r(5000), graphql: r(5000), search: r(30) }, rate: r(5000) }))
      }
      case 'pulls/list-reviews': {
        const repo = this.repoOr404(p.owner, p.repo, auth)
        if (!repo.pulls.some((pr: Json) => pr.number === p.pull_number)) throw notFound()
        const list = repo.reviews.get(p.pull_number) ?? []
        const { slice, headers } = this.paged(list, q, selfUrl)
        return new HttpAnswer(200, slice.map((r) => this.contract.fill('pull-request-review', { user: this.accountObject('reviewer'), ...r })), headers)
      }
      case 'issues/list-for-repo': {
        const repo = this.repoOr404(p.owner, p.repo, auth)
        const state = q.state ?? 'open'
        let list = repo.issues.filter((i: Json) => state === 'all' || (i.state ?? 'open') === state)
        if (q.since) list = list.filter((i: Json) => String(i.updated_at ?? '') >= new Date(q.since).toISOString())
        list = this.sorted(list, q.sort === 'updated' ? 'updated_at' : 'created_at', q.direction ?? 'desc')
        const { slice, headers } = this.paged(list, q, selfUrl)
        return new HttpAnswer(200, slice.map((i) => this.issueObject(repo, i)), headers)
      }
      case 'repos/list-deployments': {
        const repo = this.repoOr404(p.owner, p.repo, auth)
        let list = repo.deployments
        for (const key of ['sha', 'ref', 'task', 'environment'] as const) if (q[key] !== undefined) list = list.filter((d: Json) => d[key] === q[key])
        list = this.sorted(list, 'created_at', 'desc')
        const { slice, headers } = this.paged(list, q, selfUrl)
        return new HttpAnswer(200, slice.map((d) => this.deploymentObject(repo, d)), headers)
      }
      case 'repos/list-deployment-statuses': {
        const repo = this.repoOr404(p.owner, p.repo, auth)
        if (!repo.deployments.some((d: Json) => d.id === p.deployment_id)) throw notFound()
        const list = this.sorted(repo.deploymentStatuses.get(p.deployment_id) ?? [], 'created_at', 'desc')
        const { slice, headers } = this.paged(list, q, selfUrl)
        return new HttpAnswer(
          200,
          slice.map((s) => {
            const url = `https://api.github.test/repos/${repo.owner}/${repo.name}/deployments/${p.deployment_id}`
            return this.contract.fill('deployment-status', {
              url: `${url}/statuses/${s.id}`,
              deployment_url: url,
              repository_url: `https://api.github.test/repos/${repo.owner}/${repo.name}`,
              target_url: `https://ci.example.test/logs/${s.id}`,
              log_url: `https://ci.example.test/logs/${s.id}`,
              environment_url: 'https://app.example.test/',
              creator: this.accountObject('deployer'),
              ...s,
            })
          }),
          headers,
        )
      }
      case 'actions/list-workflow-runs-for-repo': {
        const repo = this.repoOr404(p.owner, p.repo, auth)
        const list = this.sorted(repo.workflowRuns, 'created_at', 'desc')
        const { slice, headers } = this.paged(list, q, selfUrl)
        return new HttpAnswer(200, { total_count: list.length, workflow_runs: slice.map((r) => this.contract.fill('workflow-run', { actor: this.accountObject('actor'), ...r })) }, headers)
      }
      case 'apps/list-webhook-deliveries':
        return this.deliveries('app', q, selfUrl)
      case 'repos/list-webhook-deliveries':
        this.repoOr404(p.owner, p.repo, auth)
        return this.deliveries({ repo: `${p.owner}/${p.repo}`, hookId: p.hook_id }, q, selfUrl)
      case 'orgs/list-webhook-deliveries':
        return this.deliveries({ org: p.org, hookId: p.hook_id }, q, selfUrl)
      case 'apps/redeliver-webhook-delivery':
        return this.redeliver('app', p.delivery_id)
      case 'repos/redeliver-webhook-delivery':
        this.repoOr404(p.owner, p.repo, auth)
        return this.redeliver({ repo: `${p.owner}/${p.repo}`, hookId: p.hook_id }, p.delivery_id)
      case 'orgs/redeliver-webhook-delivery':
        return this.redeliver({ org: p.org, hookId: p.hook_id }, p.delivery_id)
      default:
        void body
        return new HttpAnswer(501, { message: `the contract test server does not script ${operation.operationId}`, documentation_url: DOCS })
    }
  }

  private sorted<T>(list: T[], key: string, direction: string): T[] {
    const out = [...list]
    out.sort((a: Json, b: Json) => {
      const x = String(a[key] ?? '')
      const y = String(b[key] ?? '')
      return (x < y ? -1 : x > y ? 1 : 0) * (direction === 'asc' ? 1 : -1)
    })
    return out
  }

  private installationObject(id: number) {
    const inst = this.world.installations.get(id)
    if (!inst) throw notFound()
    return this.contract.fill('installation', {
      id: inst.id,
      account: this.accountObject(inst.account),
      repository_selection: 'all',
      app_id: this.options.appId ?? 1,
      target_id: inst.accountId,
      target_type: inst.accountType,
      permissions: { contents: 'read', metadata: 'read', pull_requests: 'read', issues: 'read' },
      events: ['push', 'pull_request', 'pull_request_review', 'issues'],
    })
  }

  /** A pull request as the list (`pull-request-simple`) or the single endpoint (`pull-request`, with line counts) sends it. */
  private pullObject(repo: WorldRepository, pr: Json, schema: 'pull-request-simple' | 'pull-request' = 'pull-request-simple') {
    const base = this.repositoryObject(repo, 'repository')
    const partial = {
      url: `https://api.github.test/repos/${repo.owner}/${repo.name}/pulls/${pr.number}`,
      user: this.accountObject(pr.user?.login ?? 'author'),
      head: { label: `${repo.owner}:feature`, ref: 'feature', sha: '0'.repeat(40), user: this.accountObject(repo.owner), repo: base },
      base: { label: `${repo.owner}:${repo.defaultBranch}`, ref: repo.defaultBranch, sha: '0'.repeat(40), user: this.accountObject(repo.owner), repo: base },
      _links: {},
      ...pr,
    }
    if (pr.user) partial.user = this.contract.fill('simple-user', { ...this.accountObject(pr.user.login ?? 'author'), ...pr.user })
    if (schema === 'pull-request-simple') {
      // The list omits what only the single endpoint computes, as GitHub's does.
      for (const k of ['additions', 'deletions', 'changed_files', 'commits', 'comments', 'review_comments', 'mergeable', 'mergeable_state', 'merged', 'merged_by', 'maintainer_can_modify', 'rebaseable']) delete (partial as Json)[k]
    }
    return this.contract.fill(schema, partial)
  }

  private deploymentObject(repo: WorldRepository, d: Json) {
    return this.contract.fill('deployment', {
      url: `https://api.github.test/repos/${repo.owner}/${repo.name}/deployments/${d.id}`,
      creator: this.accountObject(d.creator?.login ?? 'deployer'),
      ...d,
      ...(d.creator ? { creator: this.contract.fill('simple-user', { ...this.accountObject(d.creator.login ?? 'deployer'), ...d.creator }) } : {}),
    })
  }

  private issueObject(repo: WorldRepository, issue: Json) {
    return this.contract.fill('issue', {
      repository_url: `https://api.github.test/repos/${repo.owner}/${repo.name}`,
      user: this.accountObject(issue.user?.login ?? 'author'),
      ...issue,
      ...(issue.user ? { user: this.contract.fill('simple-user', { ...this.accountObject(issue.user.login ?? 'author'), ...issue.user }) } : {}),
    })
  }

  private compare(p: Record<string, Json>, q: Record<string, Json>, auth: { installationId?: number }, selfUrl: string): HttpAnswer {
    const w = this.world
    const repo = this.repoOr404(p.owner, p.repo, auth)
    const m = /^(.+?)\.\.\.(.+)$/.exec(String(p.basehead))
    if (!m) throw notFound()
    const base = w.resolveRef(repo, m[1])
    const head = w.resolveRef(repo, m[2])
    if (!base || !head) throw notFound()
    const baseAnc = w.ancestors(repo, base.sha)
    const headAnc = w.ancestors(repo, head.sha)
    const ahead = [...headAnc].filter((s) => !baseAnc.has(s))
    const behind = [...baseAnc].filter((s) => !headAnc.has(s))
    // Oldest first: parents before children (Kahn), ties by committer date.
    const inRange = new Set(ahead)
    const pending = new Map(ahead.map((s) => [s, (repo.commits.get(s) as WorldCommit).parents.filter((x) => inRange.has(x)).length]))
    const children = new Map<string, string[]>()
    for (const s of ahead) {
      for (const parent of (repo.commits.get(s) as WorldCommit).parents) {
        if (inRange.has(parent)) children.set(parent, [...(children.get(parent) ?? []), s])
      }
    }
    const ordered: WorldCommit[] = []
    let ready = ahead.filter((s) => pending.get(s) === 0)
    while (ready.length > 0) {
      ready.sort((a, b) => ((repo.commits.get(a) as WorldCommit).committer.date < (repo.commits.get(b) as WorldCommit).committer.date ? -1 : 1))
      const s = ready.shift() as string
      ordered.push(repo.commits.get(s) as WorldCommit)
      for (const child of children.get(s) ?? []) {
        pending.set(child, (pending.get(child) as number) - 1)
        if (pending.get(child) === 0) ready.push(child)
      }
    }
    // The merge base: the newest common ancestor.
    const common = [...headAnc].filter((s) => baseAnc.has(s)).map((s) => repo.commits.get(s) as WorldCommit)
    common.sort((a, b) => (a.committer.date < b.committer.date ? 1 : -1))
    const mergeBase = common[0]
    if (!mergeBase) throw notFound()
    const paged = q.page !== undefined || q.per_page !== undefined
    const { slice, headers } = this.paged(ordered, q, selfUrl, paged ? 30 : 250, paged ? 100 : 250)
    const full = `${repo.owner}/${repo.name}`
    const status = ahead.length === 0 && behind.length === 0 ? 'identical' : behind.length === 0 ? 'ahead' : ahead.length === 0 ? 'behind' : 'diverged'
    return new HttpAnswer(
      200,
      this.contract.fill('commit-comparison', {
        url: `https://api.github.test/repos/${full}/compare/${p.basehead}`,
        html_url: `https://github.test/${full}/compare/${p.basehead}`,
        permalink_url: `https://github.test/${full}/compare/${p.basehead}`,
        diff_url: `https://github.test/${full}/compare/${p.basehead}.diff`,
        patch_url: `https://github.test/${full}/compare/${p.basehead}.patch`,
        base_commit: this.commitObject(repo, base),
        merge_base_commit: this.commitObject(repo, mergeBase),
        status,
        ahead_by: ahead.length,
        behind_by: behind.length,
        total_commits: ahead.length,
        commits: slice.map((c) => this.commitObject(repo, c)),
        files: [],
      }),
      headers,
    )
  }

  private deliveries(target: HookTarget, q: Record<string, Json>, selfUrl: string): HttpAnswer {
    const known = this.world.deliveriesOf(target)
    if (!known) throw notFound()
    let list = [...known].reverse() // newest first
    if (q.status === 'success') list = list.filter((d) => d.status_code >= 200 && d.status_code < 300)
    if (q.status === 'failure') list = list.filter((d) => !(d.status_code >= 200 && d.status_code < 300))
    const perPage = Math.min(Number(q.per_page ?? 30), 100)
    let start = 0
    if (q.cursor !== undefined) {
      const m = /^v1_(\d+)$/.exec(String(q.cursor))
      if (!m) throw new HttpAnswer(422, { message: 'Validation Failed', errors: [{ code: 'invalid', field: 'cursor' }], documentation_url: DOCS, status: '422' })
      start = list.findIndex((d) => d.id === Number(m[1]))
      if (start < 0) start = list.length
    }
    const slice = list.slice(start, start + perPage)
    const headers: Record<string, string> = {}
    if (start + perPage < list.length) {
      const u = new URL(selfUrl)
      for (const [k, v] of Object.entries(q)) u.searchParams.set(k, String(v))
      u.searchParams.set('per_page', String(perPage))
      u.searchParams.set('cursor', `v1_${list[start + perPage].id}`)
      headers.link = `<${u.toString()}>; rel="next"`
    }
    return new HttpAnswer(200, slice.map((d) => this.contract.fill('hook-delivery-item', { ...d })), headers)
  }

  private redeliver(target: HookTarget, deliveryId: number): HttpAnswer {
    const original = this.world.deliveriesOf(target)?.find((d) => d.id === deliveryId)
    if (!original) throw notFound()
    if (this.world.refusesRedelivery?.(original)) {
      // GitHub refuses some redeliveries (422) and records no attempt for them.
      throw new HttpAnswer(422, { message: 'Validation Failed', errors: [{ code: 'invalid', message: 'this delivery cannot be redelivered' }], documentation_url: DOCS, status: '422' })
    }
    const again = this.world.addDelivery(target, {
      guid: original.guid,
      event: original.event,
      action: original.action,
      installation_id: original.installation_id,
      repository_id: original.repository_id,
      redelivery: true,
      status_code: this.world.redeliveryStatusCode,
    })
    this.world.onRedeliver?.(again, target)
    return new HttpAnswer(202, {})
  }
}

/** Starts a contract server on 127.0.0.1 and a free port. */
export async function startGitHubServer(options: GitHubServerOptions = {}): Promise<GitHubServer> {
  return new GitHubServer(options).listen()
}

/** A fresh RSA key pair for a test GitHub App: PKCS#1 and PKCS#8 PEM of the same key. */
export function testAppKeys(): { pkcs1: string; pkcs8: string; publicKey: crypto.KeyObject } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    pkcs1: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    pkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey,
  }
}
