// The soak and bench commands on bad arguments, as a newcomer types them: every numeric option
// with junk, an empty value or a number out of range is refused before anything runs, with
// the option named and the usage, exit 2 and no stack trace. (A junk --max-growth-mb read as
// NaN and silently passed every soak; `--events=` benchmarked 0 events; `--only=` ran every
// part; a bad --reprocess-batch stopped the bench only when its part came, minutes in.)
// Real processes: `node scripts/soak.js`, `node -r bench/register.js bench/run.ts`.
import { spawn } from 'node:child_process'
import { join } from 'node:path'

const ROOT = join(__dirname, '..')

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // The database the soak would create is not reachable: a run that starts fails elsewhere,
    // never with the usage error asserted below.
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

const soak = (...args: string[]) => run([join(ROOT, 'scripts', 'soak.js'), ...args])
const bench = (...args: string[]) => run(['-r', join(ROOT, 'bench', 'register.js'), join(ROOT, 'bench', 'run.ts'), '--report-only', ...args])

test.each([
  [['--events', 'abc'], /^--events must be a positive integer, not "abc"\n/],
  [['--events='], /^--events must be a positive integer, not ""\n/],
  [['--events', '0'], /^--events must be a positive integer, not "0"\n/],
  [['--window', '1.5'], /^--window must be a positive integer, not "1.5"\n/],
  [['--events', '10', '--max-growth-mb', 'abc'], /^--max-growth-mb must be a positive number, not "abc"\n/],
])('soak %j: a usage error, exit 2, nothing run', async (args, message) => {
  const r = await soak(...args)
  expect(r.stderr).toMatch(message)
  expect(r.stderr).toContain('usage: npm run soak -- ')
  expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
  expect(r.stdout).toBe('') // no window printed: nothing ran
  expect(r.code).toBe(2)
})

// With --report-only the bench measures nothing (it renders the last results again), so a
// command line that got past the arguments costs seconds, not a benchmark; a bad one must stop
// at the arguments all the same.
test.each([
  [['--events', 'abc'], /^--events must be an integer ≥ 1, not "abc"\n/],
  [['--events='], /^--events must be an integer ≥ 1, not ""\n/],
  [['--concurrency=-1'], /^--concurrency must be an integer ≥ 1, not "-1"\n/],
  [['--rounds', '0'], /^--rounds must be an integer ≥ 1, not "0"\n/],
  [['--reprocess-batch', 'lots'], /^--reprocess-batch must be an integer ≥ 1, not "lots"\n/],
  [['--only', 'addon,junk'], /^--only: unknown part "junk" \(/],
  [['--only='], /^--only: unknown part "" \(/],
])('bench %j: a usage error, exit 2, nothing run', async (args, message) => {
  const r = await bench(...args)
  expect(r.stderr).toMatch(message)
  expect(r.stderr).toContain('usage: npm run bench -- ')
  expect(r.stderr).not.toMatch(/\n\s+at /)
  expect(r.code).toBe(2)
})
