// The GitHub client through the contract test server: what queue workers rely on. A short
// rate limit is waited out and the request made once more; a long one surfaces as
// GITHUB_RATE_LIMITED with retryAfterMs (the job is delayed, not failed); 5xx and hangs are
// retried; an App's installation token is fetched once per owner; no token or key ever
// reaches an error. Real timers with small waits (1 s retry-after); no sleeps, no timing asserts.

import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { inspect } from 'node:util'
import { createGitHubClient, githubOptionsFromEnv, redactCredentials, type GitHubClient, type GitHubError } from '../lib'
import { startGitHubServer, testAppKeys, type GitHubServer } from './github/server'
import { shaOf } from './github/world'

const TOKEN = 'ghp_clienttest0000000000000000000000000'
const APP_ID = 31337
let gh: GitHubServer
let keys: ReturnType<typeof testAppKeys>

beforeAll(async () => {
  keys = testAppKeys()
  gh = await startGitHubServer({ tokens: [TOKEN], appId: APP_ID, publicKey: keys.publicKey })
  const api = gh.world.addRepository({ owner: 'acme', name: 'api', ownerType: 'Organization' })
  gh.world.commitChain(api, 260)
  gh.world.install('acme', { type: 'Organization' })
  const solo = gh.world.addRepository({ owner: 'solo', name: 'tool' })
  gh.world.commitChain(solo, 3)
  gh.world.install('solo')
  gh.world.addRepository({ owner: 'stranger', name: 'thing' })
})

afterAll(async () => {
  await gh?.close()
})

afterEach(() => {
  gh.assertNoViolations()
})

/** A token client with small waits, as tests want them. */
function tokenClient(extra: Record<string, unknown> = {}): GitHubClient {
  return createGitHubClient({ token: TOKEN, baseUrl: gh.url, retryBaseMs: 10, timeoutMs: 5000, ...extra })
}

/** A PEM key with lines of its body cut out: unreadable, still full of key text. */
function truncated(pem: string): string {
  const lines = pem.split('\n')
  return [...lines.slice(0, 4), ...lines.slice(10)].join('\n')
}

async function rejection(p: Promise<unknown>): Promise<GitHubError> {
  try {
    await p
  } catch (err) {
    return err as GitHubError
  }
  throw new Error('expected a rejection')
}

function requestsTo(pathname: string, since: number) {
  return gh.requests.slice(since).filter((r) => r.path === pathname)
}

describe('rate limits', () => {
  test('a secondary limit with a short retry-after is waited out, and the request made once more', async () => {
    const client = tokenClient()
    const octokit = await client.forOwner('acme')
    for (const status of [403, 429] as const) {
      const n = gh.requests.length
      gh.throttleNext({ kind: 'secondary', status, retryAfterSeconds: 1 })
      const r = await octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' })
      expect(r.data.full_name).toBe('acme/api')
      expect(requestsTo('/repos/acme/api', n).map((x) => x.status)).toEqual([status, 200])
    }
    expect(client.stats().rateLimited.secondary).toBe(2)
  })

  test('a long secondary limit surfaces as GITHUB_RATE_LIMITED with retryAfterMs, without waiting', async () => {
    const octokit = await tokenClient().forOwner('acme')
    for (const status of [403, 429] as const) {
      const n = gh.requests.length
      gh.throttleNext({ kind: 'secondary', status, retryAfterSeconds: 120 })
      const err = await rejection(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' }))
      expect(err).toMatchObject({ name: 'WebhookProcessingError', code: 'GITHUB_RATE_LIMITED', retryable: true, retryAfterMs: 120_000, rateLimit: 'secondary', status })
      expect(requestsTo('/repos/acme/api', n)).toHaveLength(1)
    }
  })

  test('a primary limit (remaining 0): short waits are waited out, long ones surface with the time to reset', async () => {
    const client = tokenClient()
    const octokit = await client.forOwner('acme')
    let n = gh.requests.length
    gh.throttleNext({ kind: 'primary', resetInSeconds: 0 })
    expect((await octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' })).status).toBe(200)
    expect(requestsTo('/repos/acme/api', n).map((x) => x.status)).toEqual([403, 200])

    n = gh.requests.length
    gh.throttleNext({ kind: 'primary', resetInSeconds: 600 })
    const err = await rejection(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' }))
    expect(err).toMatchObject({ code: 'GITHUB_RATE_LIMITED', retryable: true, rateLimit: 'primary' })
    // Until the reset (600 s from the answer) plus GitHub's advised second.
    expect(err.retryAfterMs).toBeGreaterThan(500_000)
    expect(err.retryAfterMs).toBeLessThanOrEqual(601_000)
    expect(requestsTo('/repos/acme/api', n)).toHaveLength(1)
    expect(client.stats().rateLimited.primary).toBe(2)
    expect(client.stats().rateLimit.core).toMatchObject({ limit: 5000 })
  })

  test('GraphQL: a primary limit (RATE_LIMITED error) and a secondary one are waited out when short, surface when long', async () => {
    const client = tokenClient({ writeSpacingMs: 0 })
    const octokit = await client.forOwner('acme')
    const query = '{ repository(owner: "acme", name: "api") { nameWithOwner } }'
    const n = gh.requests.length
    gh.throttleNext({ kind: 'primary', resetInSeconds: 0, path: '/graphql' })
    gh.throttleNext({ kind: 'secondary', retryAfterSeconds: 1, path: '/graphql' })
    expect(await octokit.graphql(query)).toEqual({ repository: { nameWithOwner: 'acme/api' } })
    expect(requestsTo('/graphql', n).map((r) => r.status)).toEqual([200, 403, 200])
    gh.throttleNext({ kind: 'primary', resetInSeconds: 300, path: '/graphql' })
    const err = await rejection(octokit.graphql(query))
    expect(err).toMatchObject({ code: 'GITHUB_RATE_LIMITED', retryable: true, rateLimit: 'primary' })
    expect(err.retryAfterMs).toBeGreaterThan(200_000)
    expect(client.stats().rateLimit.graphql?.remaining).toBe(0)
  })

  test('maxInlineWaitMs: 0 never waits, even for one second', async () => {
    const octokit = await tokenClient({ maxInlineWaitMs: 0 }).forOwner('acme')
    gh.throttleNext({ kind: 'secondary', retryAfterSeconds: 1 })
    const err = await rejection(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' }))
    expect(err).toMatchObject({ code: 'GITHUB_RATE_LIMITED', retryAfterMs: 1000 })
  })
})

describe('faults', () => {
  test('502s are retried with backoff, then the request succeeds', async () => {
    const client = tokenClient()
    const octokit = await client.forOwner('acme')
    const n = gh.requests.length
    gh.failNext(2, 502, '/repos/acme/api')
    expect((await octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' })).status).toBe(200)
    expect(requestsTo('/repos/acme/api', n).map((x) => x.status)).toEqual([502, 502, 200])
    expect(client.stats().byStatus['5xx']).toBe(2)
    expect(client.stats().retried).toBe(2)
  })

  test('a GitHub that stays down is GITHUB_UNAVAILABLE (retryable) after the configured retries', async () => {
    const octokit = await tokenClient({ retries: 2 }).forOwner('acme')
    const n = gh.requests.length
    gh.failNext(5, 503, '/repos/acme/api')
    const err = await rejection(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' }))
    expect(err).toMatchObject({ code: 'GITHUB_UNAVAILABLE', retryable: true, status: 503 })
    expect(requestsTo('/repos/acme/api', n)).toHaveLength(3)
    while (gh.pendingFaults() > 0) await octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' }).catch(() => undefined)
  })

  test('a request that hangs times out and is retried', async () => {
    const client = tokenClient({ timeoutMs: 2000 })
    const octokit = await client.forOwner('acme')
    const n = gh.requests.length
    gh.hangNext(1, '/repos/acme/api')
    expect((await octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' })).status).toBe(200)
    expect(requestsTo('/repos/acme/api', n).length).toBeGreaterThanOrEqual(2)
    expect(client.stats().timeouts).toBeGreaterThanOrEqual(1)
  })

  test('GitHub Enterprise Server: REST under /api/v3, GraphQL at /api/graphql', async () => {
    const octokit = await tokenClient({ baseUrl: `${gh.url}/api/v3`, writeSpacingMs: 0 }).forOwner('acme')
    const n = gh.requests.length
    expect((await octokit.rest.repos.get({ owner: 'acme', repo: 'api' })).data.full_name).toBe('acme/api')
    expect(await octokit.graphql('{ repository(owner: "acme", name: "api") { nameWithOwner } }')).toEqual({ repository: { nameWithOwner: 'acme/api' } })
    expect(gh.requests.slice(n).map((r) => `${r.path} ${r.status}`)).toEqual(['/repos/acme/api 200', '/graphql 200'])
  })

  test('a GitHub that does not listen is GITHUB_UNAVAILABLE with status 0', async () => {
    const closed = await startGitHubServer({ tokens: [TOKEN] })
    const url = closed.url
    await closed.close()
    const octokit = await createGitHubClient({ token: TOKEN, baseUrl: url, retries: 1, retryBaseMs: 10 }).forOwner('acme')
    const err = await rejection(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' }))
    expect(err).toMatchObject({ code: 'GITHUB_UNAVAILABLE', retryable: true, status: 0 })
  })

  test('404 is GITHUB_NOT_FOUND, not retried', async () => {
    const octokit = await tokenClient().forOwner('acme')
    const n = gh.requests.length
    const err = await rejection(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'nope' }))
    expect(err).toMatchObject({ code: 'GITHUB_NOT_FOUND', retryable: false, status: 404 })
    expect(requestsTo('/repos/acme/nope', n)).toHaveLength(1)
  })
})

describe('as a GitHub App', () => {
  function appClient(privateKey = keys.pkcs8) {
    return createGitHubClient({ appId: APP_ID, privateKey, baseUrl: gh.url, retryBaseMs: 10 })
  }

  test('an installation token is fetched once per owner and cached; requests use it', async () => {
    const client = appClient(keys.pkcs1)
    const n = gh.requests.length
    const [a, b] = await Promise.all([client.forOwner('acme'), client.forOwner('acme')])
    expect(a).toBe(b)
    await a.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' })
    await (await client.forOwner('ACME')).request('GET /repos/{owner}/{repo}/commits', { owner: 'acme', repo: 'api', per_page: 1 })
    await (await client.forOwner('solo')).request('GET /repos/{owner}/{repo}', { owner: 'solo', repo: 'tool' })
    const tokens = gh.requests.slice(n).filter((r) => r.operationId === 'apps/create-installation-access-token')
    expect(tokens).toHaveLength(2)
    expect(tokens.every((r) => r.auth === 'jwt')).toBe(true)
    const reads = gh.requests.slice(n).filter((r) => r.path.startsWith('/repos/acme/api') && r.operationId !== 'apps/get-repo-installation')
    expect(reads.map((r) => r.auth)).toEqual(['installation', 'installation'])
    // The organization was found after the user lookup said 404; the user directly.
    expect(gh.requests.slice(n).filter((r) => r.path.endsWith('/installation')).map((r) => `${r.path} ${r.status}`)).toEqual([
      '/users/acme/installation 404',
      '/orgs/acme/installation 200',
      '/users/solo/installation 200',
    ])
  })

  test('an owner without the App is GITHUB_NOT_FOUND, and is asked again next time', async () => {
    const client = appClient()
    const err = await rejection(client.forOwner('stranger'))
    expect(err).toMatchObject({ code: 'GITHUB_NOT_FOUND', retryable: false })
    expect(err.message).toContain('stranger')
    gh.world.install('stranger')
    const octokit = await client.forOwner('stranger')
    expect((await octokit.request('GET /repos/{owner}/{repo}', { owner: 'stranger', repo: 'thing' })).status).toBe(200)
  })

  test('a revoked installation token is GITHUB_AUTH once; the next forOwner() fetches a new one', async () => {
    const client = appClient()
    const before = await client.forOwner('solo')
    await before.request('GET /repos/{owner}/{repo}', { owner: 'solo', repo: 'tool' })
    gh.revokeInstallationTokens()
    const err = await rejection(before.request('GET /repos/{owner}/{repo}', { owner: 'solo', repo: 'tool' }))
    expect(err).toMatchObject({ code: 'GITHUB_AUTH', retryable: false, status: 401 })
    const after = await client.forOwner('solo')
    expect(after).not.toBe(before)
    expect((await after.request('GET /repos/{owner}/{repo}', { owner: 'solo', repo: 'tool' })).status).toBe(200)
  })

  test('asApp() authenticates as the App (JWT) for the App hook deliveries; graphql works on installations', async () => {
    const client = appClient()
    gh.world.addDelivery('app', { event: 'push' })
    const n = gh.requests.length
    const deliveries = await client.asApp().request('GET /app/hook/deliveries', { per_page: 10 })
    expect(deliveries.data.length).toBeGreaterThan(0)
    expect(gh.requests[n].auth).toBe('jwt')
    const octokit = await client.forOwner('acme')
    const sha = [...gh.world.repository('acme', 'api')!.commits.keys()][0]
    const data = await octokit.graphql<{ repository: { c: { additions: number } | null; gone: null } }>(
      `query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) {
         c: object(oid: "${sha}") { ... on Commit { additions } } gone: object(oid: "${shaOf('x')}") { oid } } }`,
      { owner: 'acme', name: 'api' },
    )
    expect(data.repository).toEqual({ c: { additions: 1 }, gone: null })
    const bad = await rejection(octokit.graphql('{ repository(owner: "acme", name: "api") { linesAdded } }'))
    expect(bad).toMatchObject({ code: 'GITHUB_ERROR', retryable: false })
    expect(client.stats().rateLimit.graphql).toMatchObject({ limit: 5000 })
  })

  test('the compare API pages through the client (Link headers)', async () => {
    const octokit = await appClient().forOwner('acme')
    const all = [...gh.world.repository('acme', 'api')!.commits.keys()]
    const shas = await octokit.paginate(
      octokit.rest.repos.compareCommitsWithBasehead,
      { owner: 'acme', repo: 'api', basehead: `${all[0]}...main`, per_page: 100 },
      (r) => r.data.commits.map((c) => c.sha),
    )
    expect(shas).toEqual(all.slice(1))
  })
})

describe('configuration', () => {
  test('a bad combination is CONFIG_ERROR at the call', () => {
    const bad: unknown[] = [
      undefined,
      {},
      { token: TOKEN, appId: 1, privateKey: keys.pkcs8 },
      { appId: 1 },
      { privateKey: keys.pkcs8 },
      { appId: 'abc', privateKey: keys.pkcs8 },
      { appId: 1, privateKey: 'not a key' },
      { appId: 1, privateKey: keys.pkcs8, privateKeyPath: '/x' },
      { appId: 1, privateKeyPath: '/nonexistent/key.pem' },
      { token: '' },
      { token: TOKEN, baseUrl: 'ftp://x' },
      { token: TOKEN, baseUrl: 'https://user:secret@ghe.example' },
      { token: TOKEN, timeoutMs: -1 },
    ]
    for (const options of bad) {
      expect(() => createGitHubClient(options as never)).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }))
    }
    expect(() => tokenClient().asApp()).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }))
  })

  test('a careless forOwner() call rejects INVALID_JOB, whatever the mode', async () => {
    const app = createGitHubClient({ appId: APP_ID, privateKey: keys.pkcs8, baseUrl: gh.url })
    for (const client of [tokenClient(), app]) {
      for (const owner of [undefined, '', 'acme/api', '-x', '_x', 'mona_', 'mona_a_b', 42]) {
        await expect(client.forOwner(owner as never)).rejects.toMatchObject({ code: 'INVALID_JOB' })
      }
      await expect(client.forInstallation(-1)).rejects.toMatchObject({ code: 'INVALID_JOB' })
    }
  })

  test('an Enterprise Managed Users account (handle_shortcode) is an owner like any other, as App and with a token', async () => {
    const repo = gh.world.addRepository({ owner: 'mona_acme', name: 'tool' })
    gh.world.install('mona_acme')
    const app = createGitHubClient({ appId: APP_ID, privateKey: keys.pkcs8, baseUrl: gh.url })
    for (const client of [tokenClient(), app]) {
      const octokit = await client.forOwner('mona_acme', 'tool')
      const r = await octokit.request('GET /repos/{owner}/{repo}', { owner: 'mona_acme', repo: 'tool' })
      expect(r.data.id).toBe(repo.id)
    }
    expect(githubOptionsFromEnv({ GITHUB_TOKEN: TOKEN, GITHUB_HOOKS: 'mona_acme/tool#5, octo_acme#6' })!.hooks).toEqual([
      { kind: 'repo', owner: 'mona_acme', repo: 'tool', hookId: 5 },
      { kind: 'org', org: 'octo_acme', hookId: 6 },
    ])
  })

  test('githubOptionsFromEnv: off when nothing is set, App key as PEM text, escaped text or a file', () => {
    expect(githubOptionsFromEnv({})).toBeNull()
    expect(githubOptionsFromEnv({ GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url })).toEqual({ token: TOKEN, baseUrl: gh.url })
    const escaped = keys.pkcs1.trim().replace(/\n/g, '\\n')
    const fromEscaped = githubOptionsFromEnv({ GITHUB_APP_ID: '7', GITHUB_APP_PRIVATE_KEY: escaped })
    expect(fromEscaped).toEqual({ appId: '7', privateKey: keys.pkcs1 })
    // Newlines flattened to spaces, or CRLF, by a secret store: the same key.
    for (const mangled of [keys.pkcs1.trim().replace(/\n/g, ' '), keys.pkcs8.replace(/\n/g, '\r\n'), `"${escaped}"`]) {
      const got = githubOptionsFromEnv({ GITHUB_APP_ID: '7', GITHUB_APP_PRIVATE_KEY: mangled })!
      expect(got.privateKey).toBe(mangled.includes('RSA') ? keys.pkcs1 : keys.pkcs8)
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-key-'))
    try {
      fs.writeFileSync(path.join(dir, 'key.pem'), keys.pkcs8)
      const fromFile = githubOptionsFromEnv({ GITHUB_APP_ID: '7', GITHUB_APP_PRIVATE_KEY_PATH: path.join(dir, 'key.pem'), GITHUB_HOOKS: 'acme/api#12, acme#34' })
      expect(fromFile).toEqual({
        appId: '7',
        privateKey: keys.pkcs8,
        hooks: [
          { kind: 'repo', owner: 'acme', repo: 'api', hookId: 12 },
          { kind: 'org', org: 'acme', hookId: 34 },
        ],
      })
      expect(createGitHubClient({ ...fromFile!, baseUrl: gh.url }).mode).toBe('app')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    for (const env of [
      { GITHUB_APP_ID: '7' },
      { GITHUB_APP_PRIVATE_KEY: keys.pkcs8 },
      { GITHUB_APP_ID: '7', GITHUB_APP_PRIVATE_KEY: keys.pkcs8, GITHUB_TOKEN: TOKEN },
      { GITHUB_API_URL: gh.url },
      { GITHUB_TOKEN: TOKEN, GITHUB_HOOKS: 'acme/api' },
      { GITHUB_APP_ID: '7', GITHUB_APP_PRIVATE_KEY: truncated(keys.pkcs8) },
      { GITHUB_APP_ID: '7', GITHUB_APP_PRIVATE_KEY_PATH: '/nonexistent/key.pem' },
    ]) {
      expect(() => githubOptionsFromEnv(env)).toThrow(expect.objectContaining({ code: 'CONFIG_ERROR' }))
    }
  })
})

describe('secrets', () => {
  const keyBody = () => keys.pkcs8.split('\n')[3]

  test('a refused token is GITHUB_AUTH; neither the token nor any key is in its message or cause chain', async () => {
    const wrong = 'ghp_wrongtoken11111111111111111111111111'
    const octokit = await createGitHubClient({ token: wrong, baseUrl: gh.url }).forOwner('acme')
    const err = await rejection(octokit.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' }))
    expect(err).toMatchObject({ code: 'GITHUB_AUTH', retryable: false, status: 401 })
    const logged = `${err.message}\n${inspect(err, { depth: 20 })}\n${String(err.stack)}`
    expect(logged).not.toContain(wrong)
    expect(logged).toContain('[REDACTED]') // octokit's own redaction, kept in the cause
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2lnbmF0dXJl'
    expect(redactCredentials(`failed with ${wrong}; authorization: Bearer ${jwt}; token 0123456789abcdef0123456789`)).toBe(
      'failed with ***; authorization: Bearer ***; token ***',
    )
    expect(redactCredentials('the token expired; a bearer bond')).toBe('the token expired; a bearer bond')
  })

  test('an App whose token requests fail leaks neither the key nor its JWT', async () => {
    const client = createGitHubClient({ appId: APP_ID, privateKey: keys.pkcs8, baseUrl: gh.url, retries: 0 })
    gh.failNext(1, 500, /access_tokens$/)
    const err = await rejection(client.forOwner('solo'))
    expect(err.code).toBe('GITHUB_UNAVAILABLE')
    const logged = `${err.message}\n${inspect(err, { depth: 20 })}`
    expect(logged).not.toContain(keyBody())
    expect(logged).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/) // no JWT
    const badKey = (() => {
      try {
        createGitHubClient({ appId: 1, privateKey: truncated(keys.pkcs8) })
      } catch (e) {
        return e as Error
      }
      return null
    })()
    expect(badKey).toMatchObject({ code: 'CONFIG_ERROR' })
    expect(`${badKey!.message}${inspect(badKey)}`).not.toContain(keyBody().slice(0, 20))
  })
})
