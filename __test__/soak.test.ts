// The soak script's short run, as CI can afford it: 5,000 deliveries through the built addon
// (`npm run soak -- --events 5000`), every one stored once, native memory and live JS heap
// sampled per window and bounded generously (64 MB growth after the first window; the long
// run's bound is DESIGN.md's 20 MB over 200k events, figures in docs/reliability.md).
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

interface SoakSummary {
  ok: boolean
  problems: string[]
  events: number
  stored: number
  eventRows: number
  failed: number
  windows: number
  growthMb: { native: number; heap: number; rss: number }
  samples: { events: number; rssMb: number; nativeMb: number; pool: Record<string, number> }[]
}

test('5,000 deliveries: every one stored once, memory bounded, the pool within its size', async () => {
  const script = join(__dirname, '..', 'scripts', 'soak.js')
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', script, '--events', '5000', '--window', '1000', '--concurrency', '4', '--max-growth-mb', '64', '--json'],
    { env: { ...process.env }, maxBuffer: 16 * 1024 * 1024 },
  )
  const summary = JSON.parse(stdout.trim().split('\n').pop()!) as SoakSummary
  console.log(
    `soak: ${summary.events} events, ${summary.stored} stored, growth ${JSON.stringify(summary.growthMb)} MB; native by window ` +
      summary.samples.map((s) => `${s.events}: ${s.nativeMb} MB`).join(', '),
  )
  expect(summary).toMatchObject({ ok: true, problems: [], events: 5000, stored: 5000, eventRows: 5000, failed: 0, windows: 5 })
  // The addon never holds more connections than its pool allows.
  for (const s of summary.samples) {
    expect(Object.values(s.pool).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(4)
  }
})
