// The doraMetrics table of bench/RESULTS.md, from bench/dora-results.json (written by
// `npm run bench:dora`, bench/dora.ts). bench/report.ts puts it in again when `npm run bench`
// rewrites RESULTS.md, so a throughput run does not drop it.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** One timed doraMetrics call shape, over RUNS runs. */
export interface DoraCase {
  name: string
  medianMs: number
  minMs: number
  maxMs: number
  /** What the call measured, to show the work is the same at both scales. */
  deployments: number
  commits: number
  failed: number
}

/** One seeded organisation. */
export interface DoraScale {
  /** 1: 100 repositories; 10: 1,000. */
  scale: number
  seedMs: number
  rows: { repositories: number; deployments: number; statuses: number; changes: number; issues: number }
  cases: DoraCase[]
}

/** One statement under EXPLAIN (ANALYZE, BUFFERS): the team's call, production. */
export interface DoraPlan {
  repositories: number
  window: string
  statement: string
  /** Shared buffers hit + read by the whole statement: the work, without the machine's noise. */
  pages: number
  executionMs: number
}

export interface DoraBenchResults {
  generatedAt: string
  runs: number
  scales: DoraScale[]
  plans?: DoraPlan[]
  /** `uptime` before and after the run (the machine is shared). */
  load?: string
  /** What the run's author observed, in words. */
  note?: string
}

const DORA_JSON = join(__dirname, 'dora-results.json')

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

/** The section, between markers so bench/dora.ts can replace it in place. */
export function doraSection(results: DoraBenchResults): string[] {
  const [small, large] = [results.scales.find((s) => s.scale === 1), results.scales.find((s) => s.scale === 10)]
  const rows = (small?.cases ?? []).map((c, i) => {
    const big = large?.cases[i]
    const ratio = big ? `${(big.medianMs / c.medianMs).toFixed(2)}×` : '—'
    const work = (x?: DoraCase) => (x ? `${fmt(x.deployments)} deployments, ${fmt(x.commits)} commits` : '—')
    return `| ${c.name} | ${work(c)} | ${fmt(c.medianMs, 1)} | ${work(big)} | ${big ? fmt(big.medianMs, 1) : '—'} | ${ratio} |`
  })
  const data = (s?: DoraScale) =>
    s ? `${fmt(s.rows.repositories)} repositories, ${fmt(s.rows.deployments)} deployments, ${fmt(s.rows.statuses)} statuses, ${fmt(s.rows.changes)} shipped commits, ${fmt(s.rows.issues)} issues (seeded in ${fmt(s.seedMs / 1000, 1)} s)` : 'not run'
  return [
    '<!-- dora:start -->',
    '### doraMetrics: one team\'s five metrics, and 10× the data',
    '',
    `Written by \`npm run bench:dora\` (bench/dora.ts) on ${results.generatedAt}; median of ${results.runs} calls through the addon after warm-up. A year of a 100-repository organisation: ${data(small)}. Ten times that: ${data(large)}. The team has 10 repositories at both scales, so its calls do the same work on ten times the rows; the whole organisation's call does ten times the work (it shows the cost follows the deployments measured). Plans: [DORA-PLANS.md](DORA-PLANS.md).`,
    '',
    '| call | 1×: what it measures | 1× ms | 10×: what it measures | 10× ms | time ratio (data 10×) |',
    '|---|---|--:|---|--:|--:|',
    ...rows,
    ...planRows(results.plans ?? []),
    ...(results.load ? ['', `Load: ${results.load}.`] : []),
    ...(results.note ? ['', results.note] : []),
    '<!-- dora:end -->',
  ]
}

/** Pages each statement touched for the team at 1× and 10×: the work, free of timing noise. */
function planRows(plans: DoraPlan[]): string[] {
  const small = plans.filter((p) => p.repositories === 100)
  if (small.length === 0) return []
  return [
    '',
    'The same team\'s statements under `EXPLAIN (ANALYZE, BUFFERS)` (pages = shared buffers hit + read; timings on this shared machine are noisy, pages are not):',
    '',
    '| statement | window | 1× pages | 10× pages | pages ratio | 1× ms | 10× ms |',
    '|---|---|--:|--:|--:|--:|--:|',
    ...small.map((p) => {
      const big = plans.find((q) => q.repositories === 1000 && q.window === p.window && q.statement === p.statement)
      return `| ${p.statement} | ${p.window} | ${fmt(p.pages)} | ${big ? fmt(big.pages) : '—'} | ${big ? `${(big.pages / p.pages).toFixed(2)}×` : '—'} | ${fmt(p.executionMs, 1)} | ${big ? fmt(big.executionMs, 1) : '—'} |`
    }),
  ]
}

/** The section from the stored results, or nothing when bench:dora has not run. */
export function storedDoraSection(): string[] {
  if (!existsSync(DORA_JSON)) return []
  return [...doraSection(JSON.parse(readFileSync(DORA_JSON, 'utf8')) as DoraBenchResults), '']
}
