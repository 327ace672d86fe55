// The DORA metrics in the reference backend, as a user meets them: GET /api/dora (by
// repository or team, a window, weekly buckets), `npm run dora` (a child process, the same
// figures as a table or JSON), and the /dora page in a real headless browser (Debian's
// chromium, scripts/install-chromium.sh, driven by playwright-core): it loads, draws each
// metric week by week from the API, marks DORA's levels, and shows the numbers the API gives.
import { randomUUID } from 'node:crypto'
import { Browser, chromium } from 'playwright-core'
import { createTestDatabase, insertRepository, insertTeam, TestDatabase } from './helpers/db'
import { testPrefix } from './helpers/redis'
import { BackendProcess, backendEnv, RunningBackend, startBackend } from './support/backend'

const CHROMIUM = '/usr/bin/chromium'
const SINCE = '2026-10-05T00:00:00.000Z' // a Monday
const UNTIL = '2026-11-02T00:00:00.000Z' // four weeks later
const WINDOW = `since=${SINCE}&until=${UNTIL}`

let db: TestDatabase
let running: RunningBackend
let browser: Browser
const redis = testPrefix()
let teamId: string
let repoId: string

/** A successful production deployment of `sha` at `at`, shipping `commits` committed `leadHours` before. */
async function deployed(repo: string, githubId: number, sha: string, at: string, commits: number, leadHours: number, state = 'success') {
  const id = randomUUID()
  const success = state === 'success' ? at : null
  await db.pool.query(
    `INSERT INTO deployments (id, "repoId", "githubId", sha, ref, task, environment, "originalEnvironment", "isProduction",
                              "productionReason", "createdAt", "updatedAt", state, "firstSuccessAt", "failedAt", "finishedAt",
                              "changesBaseSha", "changesCompletedAt")
     VALUES ($1, $2, $3, $4, 'main', 'deploy', 'production', 'production', true, 'environment_pattern', $5, $5, $6, $7, $8, $5,
             NULL, $7)`,
    [id, repo, githubId, sha, at, state, success, state === 'success' ? null : at],
  )
  await db.pool.query(
    `INSERT INTO deployment_statuses (id, "githubId", "repoId", "deploymentId", state, environment, "createdAt") VALUES ($1, $2, $3, $4, $5, 'production', $6)`,
    [randomUUID(), githubId * 10, repo, id, state, at],
  )
  for (let i = 0; i < commits; i++) {
    const commitSha = `${sha.slice(0, 30)}${String(i).padStart(10, '0')}`
    const committedAt = new Date(Date.parse(at) - (leadHours + i) * 3_600_000)
    await db.pool.query(`INSERT INTO deployment_changes ("deploymentId", "commitSha", "repoId", "committedAt") VALUES ($1, $2, $3, $4)`, [id, commitSha, repo, committedAt])
  }
}

const hex = (n: number) => n.toString(16).padStart(40, '0')

beforeAll(async () => {
  db = await createTestDatabase()
  teamId = await insertTeam(db.pool, 'Platform')
  repoId = await insertRepository(db.pool, 77_001, { fullName: 'acme/shop', teamId })
  const other = await insertRepository(db.pool, 77_002, { fullName: 'acme/ledger', teamId })
  // acme/shop: seven successful production deployments over four weeks, one that never succeeded.
  const plan: [string, number, number][] = [
    ['2026-10-06T10:00:00Z', 3, 5],
    ['2026-10-08T10:00:00Z', 2, 30],
    ['2026-10-14T10:00:00Z', 4, 2],
    ['2026-10-15T10:00:00Z', 1, 50],
    ['2026-10-21T09:00:00Z', 2, 8],
    ['2026-10-28T09:00:00Z', 5, 1],
    ['2026-10-29T09:00:00Z', 1, 100],
  ]
  for (const [i, [at, commits, lead]] of plan.entries()) await deployed(repoId, 880_000 + i, hex(0xa000 + i), at, commits, lead)
  await deployed(repoId, 880_100, hex(0xb000), '2026-10-20T09:00:00Z', 0, 0, 'failure')
  await deployed(other, 881_000, hex(0xc000), '2026-10-07T12:00:00Z', 2, 3)
  running = await startBackend(backendEnv(db.url, redis.prefix), 'api')
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
})

afterAll(async () => {
  await browser?.close()
  await running?.backend.close()
  await redis.cleanup()
  await db.drop()
})

async function api(query: string) {
  const res = await fetch(`${running.url}/api/dora?${query}`)
  return { status: res.status, body: await res.json() }
}

test('GET /api/dora answers the window and each Monday-based week for a repository, and the team sums its repositories', async () => {
  const { status, body } = await api(`repo=acme/shop&${WINDOW}`)
  expect(status).toBe(200)
  expect(body).toMatchObject({ since: SINCE, until: UNTIL, environment: null, scope: { team: null, repositories: [{ fullName: 'acme/shop', githubId: 77001 }] } })
  expect(body.weeks.map((w: { since: string }) => w.since.slice(0, 10))).toEqual(['2026-10-05', '2026-10-12', '2026-10-19', '2026-10-26'])
  expect(body.metrics.deploymentFrequency).toMatchObject({ deployments: 7, days: 7, failedToDeploy: 1 })
  expect(body.weeks.map((w: any) => w.metrics.deploymentFrequency.deployments)).toEqual([2, 2, 1, 2])
  expect(body.metrics.leadTime.commits).toBe(18)

  const team = await api(`team=Platform&${WINDOW}`)
  expect(team.status).toBe(200)
  expect(team.body.scope.team).toEqual({ id: teamId, name: 'Platform' })
  expect(team.body.metrics.deploymentFrequency.deployments).toBe(8)
})

test.each([
  ['repo=acme/nothing', 404, /no repository named acme\/nothing/],
  ['team=Nobody', 404, /no team Nobody/],
  ['repo=acme/shop&team=Platform', 400, /repo or team, not both/],
  ['repo=acme/shop&since=yesterday', 400, /since must be a duration/],
  [`repo=acme/shop&since=${UNTIL}&until=${SINCE}`, 400, /since must be before until/],
  ['repo=acme/shop&colour=red', 400, /unknown parameter colour/],
])('GET /api/dora?%s is refused with %i and says why', async (query, code, message) => {
  const { status, body } = await api(query)
  expect(status).toBe(code)
  expect(body.error).toMatch(message)
})

test('npm run dora prints the same figures as the API, as a table or as JSON; --help and bad options are usage', async () => {
  const env = { DATABASE_URL: db.url, REDIS_URL: 'redis://127.0.0.1:6379', NODE_ENV: 'development' }
  const run = async (...args: string[]) => {
    const child = BackendProcess.start('examples/backend/src/cli/dora.ts', args, env)
    const code = await child.exited
    return { code, lines: child.lines, out: child.lines.map((l) => l.message).join('\n'), err: child.errors }
  }
  const { body } = await api(`repo=acme/shop&${WINDOW}`)
  const json = await run('acme/shop', '--since', SINCE, '--until', UNTIL, '--json')
  expect(json.code).toBe(0)
  expect(json.lines).toHaveLength(1) // one line of JSON
  expect((json.lines[0] as unknown as { metrics: unknown }).metrics).toEqual(body.metrics)

  const table = await run('acme/shop', '--since', SINCE, '--until', UNTIL)
  expect(table.code).toBe(0)
  expect(table.out).toMatch(/^DORA metrics of acme\/shop, production, 2026-10-05T00:00:00.000Z to 2026-11-02T00:00:00.000Z$/m)
  expect(table.out).toMatch(new RegExp(`^deployment frequency +${body.metrics.deploymentFrequency.perWeek.toFixed(2)} / week +7 deployments on 7 days, 1 never succeeded`, 'm'))
  expect(table.out).toMatch(/^change lead time +\S+ (s|min|h|d) +p75 .*, 18 commits/m)

  const help = await run('--help')
  expect(help.code).toBe(0)
  expect(help.out).toMatch(/^usage: npm run dora --/m)
  const bad = await run('--sinse', '30d')
  expect(bad.code).toBe(2)
  expect(bad.err).toMatch(/unknown option --sinse/)
  expect(bad.err).toMatch(/usage: npm run dora --/)
})

test('the /dora page loads in a headless browser, draws the five metrics week by week over DORA\'s levels, and shows the numbers the API gives', async () => {
  const { body } = await api(`repo=acme/shop&${WINDOW}`)
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(String(e)))
  try {
    await page.goto(`${running.url}/dora?repo=acme/shop&${WINDOW}`, { waitUntil: 'load' })
    await page.waitForSelector('#status[data-state="ready"]', { state: 'attached' })
    expect(await page.$eval('#status', (e) => e.textContent)).toBe('acme/shop, production: 2026-10-05 to 2026-11-02, 4 weeks')

    const shown = await page.$$eval('.card', (cards) => cards.map((c) => ({ id: c.id, value: (c as HTMLElement).dataset.value, text: c.querySelector('.value')?.textContent })))
    const raw = [
      body.metrics.deploymentFrequency.perWeek,
      body.metrics.leadTime.medianSeconds,
      body.metrics.changeFailRate.rate,
      body.metrics.recoveryTime.medianSeconds,
      body.metrics.reworkRate.rate,
    ]
    expect(shown.map((c) => c.id)).toEqual(['metric-deploymentFrequency', 'metric-leadTime', 'metric-changeFailRate', 'metric-recoveryTime', 'metric-reworkRate'])
    expect(shown.map((c) => c.value)).toEqual(raw.map((v) => (v === null ? 'null' : String(v))))
    expect(shown[0].text).toBe(`${body.metrics.deploymentFrequency.perWeek.toFixed(2)} / week`)
    const basis = await page.$eval('#metric-deploymentFrequency .basis', (e) => e.textContent)
    expect(basis).toBe('7 deployments on 7 days, 1 never succeeded')

    // Each chart: one point per week with a value, each the API's figure for that week.
    const points = await page.$$eval('#chart-deploymentFrequency circle.point', (cs) => cs.map((c) => [c.getAttribute('data-week'), Number(c.getAttribute('data-value'))]))
    expect(points).toEqual(body.weeks.map((w: any) => [w.since, w.metrics.deploymentFrequency.perWeek]))
    const leadPoints = await page.$$eval('#chart-leadTime circle.point', (cs) => cs.map((c) => Number(c.getAttribute('data-value'))))
    expect(leadPoints).toEqual(body.weeks.map((w: any) => w.metrics.leadTime.medianSeconds).filter((v: number | null) => v !== null))
    for (const key of ['deploymentFrequency', 'leadTime', 'changeFailRate', 'recoveryTime', 'reworkRate']) {
      expect(await page.$(`#chart-${key}`)).not.toBeNull()
    }
    // DORA's levels are drawn behind the four metrics that have them; rework rate has none.
    const bands = await page.$$eval('#chart-leadTime rect.band', (rs) => rs.map((r) => r.getAttribute('data-level')))
    expect(bands).toContain('elite')
    expect(await page.locator('#chart-reworkRate rect.band').count()).toBe(0)
    expect(errors).toEqual([])
  } finally {
    await page.close()
  }
})

test('the /dora page says what is wrong when the API refuses the query', async () => {
  const page = await browser.newPage()
  try {
    await page.goto(`${running.url}/dora?repo=acme/nothing`, { waitUntil: 'load' })
    await page.waitForSelector('#status[data-state="error"]', { state: 'attached' })
    expect(await page.$eval('#status', (e) => e.textContent)).toBe('no repository named acme/nothing')
  } finally {
    await page.close()
  }
})
