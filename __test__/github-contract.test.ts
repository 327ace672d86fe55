// The contract test server refuses what GitHub would refuse and answers what GitHub's
// contract allows: later GitHub API tests rely on both (a client bug must fail here, not in
// production). Requests are sent raw (fetch), so nothing of our client hides a refusal.

import * as crypto from 'node:crypto'
import { startGitHubServer, testAppKeys, type GitHubServer } from './github/server'
import { shaOf } from './github/world'

const TOKEN = 'ghp_contracttoken000000000000000000000'
const APP_ID = 4242
let gh: GitHubServer
let keys: ReturnType<typeof testAppKeys>

beforeAll(async () => {
  keys = testAppKeys()
  gh = await startGitHubServer({ tokens: [TOKEN], appId: APP_ID, publicKey: keys.publicKey })
  const repo = gh.world.addRepository({ owner: 'acme', name: 'api', ownerType: 'Organization', id: 777 })
  gh.world.commitChain(repo, 300)
  gh.world.install('acme', { id: 99, type: 'Organization' })
})

afterAll(async () => {
  await gh?.close()
})

afterEach(() => {
  gh.assertNoViolations()
})

async function call(method: string, path: string, { auth = `token ${TOKEN}`, body }: { auth?: string | null; body?: unknown } = {}) {
  const headers: Record<string, string> = { accept: 'application/vnd.github+json' }
  if (auth) headers.authorization = auth
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${gh.url}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
}

function jwt(appId: number | string, key: crypto.KeyObject | string, { alg = 'RS256', iatOffset = -30, expOffset = 300 } = {}) {
  const now = Math.floor(Date.now() / 1000)
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const data = `${enc({ alg, typ: 'JWT' })}.${enc({ iss: appId, iat: now + iatOffset, exp: now + expOffset })}`
  const sig = crypto.sign('RSA-SHA256', Buffer.from(data), key).toString('base64url')
  return `${data}.${sig}`
}

describe('refuses what GitHub refuses', () => {
  test('an unknown route is 404', async () => {
    const r = await call('GET', '/repos/acme/api/no-such-thing')
    expect(r.status).toBe(404)
    expect(r.body.message).toBe('Not Found')
  })

  test('a parameter outside its schema is 422', async () => {
    expect((await call('GET', '/repos/acme/api/pulls?state=merged')).status).toBe(422)
    expect((await call('GET', '/repos/acme/api/commits?per_page=many')).status).toBe(422)
    // A typo'd parameter would be ignored by GitHub, silently changing the answer: refused here.
    const typo = await call('GET', '/repos/acme/api/commits?perPage=100')
    expect(typo.status).toBe(422)
    expect(JSON.stringify(typo.body.errors)).toContain('perPage')
  })

  test('a body outside its schema is 422, unparsable JSON 400', async () => {
    const auth = `Bearer ${jwt(APP_ID, keys.pkcs8)}`
    expect((await call('POST', '/app/installations/99/access_tokens', { auth, body: { repository_ids: 'all' } })).status).toBe(422)
    expect((await call('POST', '/app/installations/99/access_tokens', { auth, body: '{nope' })).status).toBe(400)
  })

  test('no credentials or wrong credentials are 401', async () => {
    expect((await call('GET', '/repos/acme/api', { auth: null })).status).toBe(401)
    expect((await call('GET', '/repos/acme/api', { auth: 'token ghp_wrong' })).status).toBe(401)
    // A JWT cannot read repositories; a token cannot act as the App.
    expect((await call('GET', '/repos/acme/api', { auth: `Bearer ${jwt(APP_ID, keys.pkcs8)}` })).status).toBe(401)
    expect((await call('GET', '/app/hook/deliveries')).status).toBe(401)
  })

  test('a JWT must be RS256-signed by the App key, for this App, unexpired', async () => {
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    expect((await call('POST', '/app/installations/99/access_tokens', { auth: `Bearer ${jwt(APP_ID, other)}` })).status).toBe(401)
    expect((await call('POST', '/app/installations/99/access_tokens', { auth: `Bearer ${jwt(APP_ID + 1, keys.pkcs8)}` })).status).toBe(401)
    expect((await call('POST', '/app/installations/99/access_tokens', { auth: `Bearer ${jwt(APP_ID, keys.pkcs8, { iatOffset: -900, expOffset: -300 })}` })).status).toBe(401)
    const ok = await call('POST', '/app/installations/99/access_tokens', { auth: `Bearer ${jwt(APP_ID, keys.pkcs1)}` })
    expect(ok.status).toBe(201)
    expect(ok.body.token).toMatch(/^ghs_/)
    // The installation token reads the installation's repositories, and only those.
    expect((await call('GET', '/repos/acme/api', { auth: `token ${ok.body.token}` })).status).toBe(200)
    gh.world.addRepository({ owner: 'someone-else', name: 'x' })
    expect((await call('GET', '/repos/someone-else/x', { auth: `token ${ok.body.token}` })).status).toBe(404)
  })

  test('a GraphQL query outside GitHub schema is refused with errors, as GitHub does', async () => {
    const before = gh.rejectedGraphql.length
    const r = await call('POST', '/graphql', { body: { query: '{ repository(owner: "acme", name: "api") { object(oid: "abc") { ... on Commit { linesAdded } } } }' } })
    expect(r.status).toBe(200)
    expect(r.body.data).toBeUndefined()
    expect(r.body.errors[0].message).toContain('linesAdded')
    expect(gh.rejectedGraphql.length).toBe(before + 1)
  })
})

describe('answers from the scripted world', () => {
  test('GraphQL: line counts by aliased object(oid:), null for an unknown oid, NOT_FOUND for an unknown repository', async () => {
    const repo = gh.world.repository('acme', 'api')!
    const [a, b] = [...repo.commits.values()].slice(0, 2)
    const query = `query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) {
      c0: object(oid: "${a.sha}") { ... on Commit { oid additions deletions changedFilesIfAvailable } }
      c1: object(oid: "${b.sha}") { ... on Commit { oid additions deletions changedFilesIfAvailable } }
      c2: object(oid: "${shaOf('gone')}") { ... on Commit { oid additions deletions } } } }`
    const r = await call('POST', '/graphql', { body: { query, variables: { owner: 'acme', name: 'api' } } })
    expect(r.status).toBe(200)
    expect(r.headers.get('x-ratelimit-resource')).toBe('graphql')
    expect(r.body).toEqual({
      data: {
        repository: {
          c0: { oid: a.sha, additions: a.additions, deletions: a.deletions, changedFilesIfAvailable: a.changedFiles },
          c1: { oid: b.sha, additions: b.additions, deletions: b.deletions, changedFilesIfAvailable: b.changedFiles },
          c2: null,
        },
      },
    })
    // Object ids as variables of GitHub's GitObjectID scalar, as a batching client sends them.
    const byVars = await call('POST', '/graphql', {
      body: {
        query: 'query($owner: String!, $name: String!, $o0: GitObjectID!, $o1: GitObjectID!) { repository(owner: $owner, name: $name) { o0: object(oid: $o0) { ... on Commit { additions } } o1: object(oid: $o1) { ... on Commit { additions } } } }',
        variables: { owner: 'acme', name: 'api', o0: a.sha, o1: shaOf('gone') },
      },
    })
    expect(byVars.body).toEqual({ data: { repository: { o0: { additions: a.additions }, o1: null } } })
    const wrongVar = await call('POST', '/graphql', { body: { query: 'query($o: GitObjectID!) { repository(owner: "acme", name: "api") { object(oid: $o) { oid } } }', variables: {} } })
    expect(wrongVar.body.errors[0].message).toMatch(/\$o/)
    const missing = await call('POST', '/graphql', { body: { query: '{ repository(owner: "acme", name: "nope") { nameWithOwner } }' } })
    expect(missing.body.data).toEqual({ repository: null })
    expect(missing.body.errors[0].type).toBe('NOT_FOUND')
  })

  test('GraphQL: a commit\'s history counts its ancestors in the scripted graph, merges followed, as git rev-list --count', async () => {
    // trunk: t0 - t1 - t2 - t3 - M ; side: t1 - s0 - s1 - M (M merges s1 into trunk)
    const repo = gh.world.addRepository({ owner: 'acme', name: 'graph' })
    const [t0, t1, t2, t3] = gh.world.commitChain(repo, 4, 'main', 't')
    repo.branches.set('side', t1.sha)
    const [, s1] = gh.world.commitChain(repo, 2, 'side', 's')
    const merge = gh.world.addCommit(repo, { sha: shaOf('graph:merge'), parents: [t3.sha, s1.sha] }, 'main')
    const count = '... on Commit { history(first: 1) { totalCount nodes { oid } pageInfo { hasNextPage } } }'
    const query = `query($a: GitObjectID!, $b: GitObjectID!, $c: GitObjectID!, $gone: GitObjectID!) { repository(owner: "acme", name: "graph") {
      a: object(oid: $a) { ${count} } b: object(oid: $b) { ${count} } c: object(oid: $c) { ${count} } gone: object(oid: $gone) { ${count} } } }`
    const r = await call('POST', '/graphql', { body: { query, variables: { a: t0.sha, b: t2.sha, c: merge.sha, gone: shaOf('graph:gone') } } })
    expect(r.body).toEqual({
      data: {
        repository: {
          a: { history: { totalCount: 1, nodes: [{ oid: t0.sha }], pageInfo: { hasNextPage: false } } },
          b: { history: { totalCount: 3, nodes: [{ oid: t2.sha }], pageInfo: { hasNextPage: true } } },
          c: { history: { totalCount: 7, nodes: [{ oid: merge.sha }], pageInfo: { hasNextPage: true } } },
          gone: null,
        },
      },
    })
    // The range t2...merge holds 7 - 3 = 4 commits: t3, s0, s1, merge (what compare says).
    const compare = await call('GET', `/repos/acme/graph/compare/${t2.sha}...${merge.sha}?per_page=100`)
    expect(compare.body.total_commits).toBe(4)
  })

  test('GraphQL: a connection without first/last, or beyond 100, is refused as GitHub\'s node limit says', async () => {
    const repo = gh.world.repository('acme', 'api')!
    const [a] = repo.commits.values()
    const ask = (args: string, variables: Record<string, unknown> = {}) =>
      call('POST', '/graphql', { body: { query: `query${args.includes('$n') ? '($n: Int)' : ''} { repository(owner: "acme", name: "api") { object(oid: "${a.sha}") { ... on Commit { history${args} { totalCount } } } } }`, variables } })
    const before = gh.rejectedGraphql.length
    const missing = await ask('')
    expect(missing.body.data).toBeUndefined()
    expect(missing.body.errors[0]).toMatchObject({ type: 'MISSING_PAGINATION_BOUNDARIES' })
    expect((await ask('(first: 101)')).body.errors[0]).toMatchObject({ type: 'EXCESSIVE_PAGINATION' })
    expect((await ask('(first: 0)')).body.errors[0]).toMatchObject({ type: 'EXCESSIVE_PAGINATION' })
    expect((await ask('(last: $n)', { n: 500 })).body.errors[0]).toMatchObject({ type: 'EXCESSIVE_PAGINATION' })
    expect(gh.rejectedGraphql.length).toBe(before + 4)
    expect((await ask('(first: $n)', { n: 100 })).body).toEqual({ data: { repository: { object: { history: { totalCount: 1 } } } } })
  })

  test('compare pages with per_page/page and Link headers, oldest commit first', async () => {
    const repo = gh.world.repository('acme', 'api')!
    const all = [...repo.commits.values()]
    const basehead = `${all[0].sha}...main`
    const shas: string[] = []
    let next: string | null = `/repos/acme/api/compare/${basehead}?per_page=100`
    let pages = 0
    while (next) {
      const r = await call('GET', next)
      expect(r.status).toBe(200)
      expect(r.body.total_commits).toBe(299)
      expect(r.body.status).toBe('ahead')
      shas.push(...r.body.commits.map((c: { sha: string }) => c.sha))
      const link = r.headers.get('link')
      const m = link && /<([^>]+)>; rel="next"/.exec(link)
      next = m ? new URL(m[1]).pathname + new URL(m[1]).search : null
      pages++
    }
    expect(pages).toBe(3)
    expect(shas).toEqual(all.slice(1).map((c) => c.sha))
    // Unpaged, GitHub gives at most 250.
    const unpaged = await call('GET', `/repos/acme/api/compare/${basehead}`)
    expect(unpaged.body.commits).toHaveLength(250)
    expect((await call('GET', `/repos/acme/api/compare/${shaOf('nowhere')}...main`)).status).toBe(404)
  })

  test('repository, installation lookups and commits', async () => {
    const repo = await call('GET', '/repos/acme/api')
    expect(repo.body).toMatchObject({ id: 777, name: 'api', full_name: 'acme/api', default_branch: 'main', owner: { login: 'acme' } })
    const auth = `Bearer ${jwt(APP_ID, keys.pkcs8)}`
    expect((await call('GET', '/repos/acme/api/installation', { auth })).body.id).toBe(99)
    expect((await call('GET', '/orgs/acme/installation', { auth })).body.id).toBe(99)
    expect((await call('GET', '/users/acme/installation', { auth })).status).toBe(404) // an organization
    expect((await call('GET', '/app', { auth })).body.id).toBe(APP_ID)
    expect((await call('GET', '/rate_limit')).body.resources.core.limit).toBe(5000)
    const commits = await call('GET', '/repos/acme/api/commits?per_page=5')
    expect(commits.body).toHaveLength(5)
    expect(commits.body[0].stats).toBeUndefined() // list endpoints carry no line counts
    const one = await call('GET', `/repos/acme/api/commits/${commits.body[0].sha}`)
    expect(one.body.stats.additions).toBeGreaterThan(0)
  })

  test('hook deliveries are cursor-paged newest first; a redelivery keeps the guid', async () => {
    const repo = gh.world.repository('acme', 'api')!
    for (let i = 0; i < 75; i++) {
      gh.world.addDelivery('app', { event: 'push', status_code: i === 10 ? 502 : 200, repository_id: repo.id, installation_id: 99 })
    }
    const redelivered: string[] = []
    gh.world.onRedeliver = (d) => redelivered.push(d.guid)
    const auth = `Bearer ${jwt(APP_ID, keys.pkcs8)}`
    const items: { id: number; guid: string; status_code: number }[] = []
    let next: string | null = '/app/hook/deliveries?per_page=30'
    while (next) {
      const r = await call('GET', next, { auth })
      expect(r.status).toBe(200)
      items.push(...r.body)
      const m = /<([^>]+)>; rel="next"/.exec(r.headers.get('link') ?? '')
      next = m ? new URL(m[1]).pathname + new URL(m[1]).search : null
    }
    expect(items).toHaveLength(75)
    expect(items[0].id).toBeGreaterThan(items[74].id)
    const failed = items.filter((d) => d.status_code !== 200)
    expect(failed).toHaveLength(1)
    expect((await call('POST', `/app/hook/deliveries/${failed[0].id}/attempts`, { auth })).status).toBe(202)
    expect(redelivered).toEqual([failed[0].guid])
    expect((await call('POST', '/app/hook/deliveries/1/attempts', { auth })).status).toBe(404)
  })

  test('repository and organization hook deliveries, filtered by status, redelivered', async () => {
    const repo = gh.world.repository('acme', 'api')!
    const repoHook = { repo: 'acme/api', hookId: 11 }
    const orgHook = { org: 'acme', hookId: 12 }
    gh.world.addDelivery(repoHook, { event: 'push', status_code: 200, repository_id: repo.id })
    const failed = gh.world.addDelivery(repoHook, { event: 'pull_request', action: 'opened', status_code: 0, repository_id: repo.id })
    gh.world.addDelivery(orgHook, { event: 'issues', action: 'closed', status_code: 500, repository_id: repo.id })
    const list = await call('GET', '/repos/acme/api/hooks/11/deliveries?per_page=100')
    expect(list.body.map((d: { id: number }) => d.id)).toEqual([failed.id, failed.id - 1])
    expect(list.body[0]).toMatchObject({ guid: failed.guid, event: 'pull_request', action: 'opened', status_code: 0, redelivery: false })
    const org = await call('GET', '/orgs/acme/hooks/12/deliveries')
    expect(org.body).toHaveLength(1)
    expect((await call('POST', `/repos/acme/api/hooks/11/deliveries/${failed.id}/attempts`)).status).toBe(202)
    expect((await call('POST', `/orgs/acme/hooks/12/deliveries/${org.body[0].id}/attempts`)).status).toBe(202)
    const again = await call('GET', '/repos/acme/api/hooks/11/deliveries')
    expect(again.body[0]).toMatchObject({ guid: failed.guid, redelivery: true, status_code: 200 })
    // A hook GitHub does not know is 404.
    expect((await call('GET', '/repos/acme/api/hooks/99/deliveries')).status).toBe(404)
    expect((await call('GET', '/repos/acme/api/hooks/11/deliveries?cursor=garbage')).status).toBe(422)
  })

  test('pull requests, reviews and issues (pull requests included, with a pull_request key)', async () => {
    const repo = gh.world.repository('acme', 'api')!
    repo.pulls.push({ number: 1, state: 'open', title: 'One', updated_at: '2026-01-02T00:00:00Z', created_at: '2026-01-01T00:00:00Z' })
    repo.reviews.set(1, [{ id: 5, state: 'APPROVED', submitted_at: '2026-01-03T00:00:00Z' }])
    repo.issues.push({ number: 2, state: 'open', title: 'Bug' }, { number: 1, state: 'open', title: 'One', pull_request: { url: 'https://api.github.test/x', html_url: null, diff_url: null, patch_url: null } })
    const pulls = await call('GET', '/repos/acme/api/pulls?state=all')
    expect(pulls.body.map((p: { number: number }) => p.number)).toEqual([1])
    repo.pulls[0].additions = 12
    expect((await call('GET', '/repos/acme/api/pulls/1')).body).toMatchObject({ number: 1, additions: 12 })
    expect((await call('GET', '/repos/acme/api/pulls?state=all')).body[0].additions).toBeUndefined()
    expect((await call('GET', '/repos/acme/api/pulls/404')).status).toBe(404)
    const reviews = await call('GET', '/repos/acme/api/pulls/1/reviews')
    expect(reviews.body[0].state).toBe('APPROVED')
    const issues = await call('GET', '/repos/acme/api/issues?state=all')
    expect(issues.body.filter((i: { pull_request?: unknown }) => i.pull_request)).toHaveLength(1)
  })
})

describe('faults on demand', () => {
  test('secondary and primary limits, 502, both statuses', async () => {
    gh.throttleNext({ kind: 'secondary', retryAfterSeconds: 7 })
    const s = await call('GET', '/repos/acme/api')
    expect(s.status).toBe(403)
    expect(s.headers.get('retry-after')).toBe('7')
    expect(s.body.message).toMatch(/secondary rate limit/)
    gh.throttleNext({ kind: 'primary', status: 429, resetInSeconds: 30 })
    const p = await call('GET', '/repos/acme/api')
    expect(p.status).toBe(429)
    expect(p.headers.get('x-ratelimit-remaining')).toBe('0')
    expect(Number(p.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000)
    gh.failNext(1)
    expect((await call('GET', '/repos/acme/api')).status).toBe(502)
    expect((await call('GET', '/repos/acme/api')).status).toBe(200)
  })

  test('every request is logged with its auth kind and operation', async () => {
    const n = gh.requests.length
    await call('GET', '/repos/acme/api/commits?per_page=2')
    expect(gh.requests.slice(n)).toEqual([
      { method: 'GET', path: '/repos/acme/api/commits', query: { per_page: '2' }, body: undefined, auth: 'token', installationId: undefined, operationId: 'repos/list-commits', status: 200 },
    ])
  })
})

test('an answer outside GitHub contract is caught, not sent', async () => {
  const repo = gh.world.repository('acme', 'api')!
  repo.pulls.push({ number: 3, state: 'open', title: 7 }) // a title is a string in GitHub's contract
  const r = await call('GET', '/repos/acme/api/pulls?state=all')
  expect(r.status).toBe(500)
  expect(gh.violations.join('\n')).toContain('pulls/list')
  gh.violations.length = 0
  repo.pulls.pop()
})
