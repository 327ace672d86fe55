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

export interface DoraBenchResults {
  generatedAt: string
  runs: number
  scales: DoraScale[]
}

const DORA_JSON = join(__dirname, 'dora-results.json')

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

/** The section, between markers so bench/dora.ts can replace it in place. */
export function doraSection(results: DoraBenchResults): string[] {
  const [small, large] = [results.scales.find((s) => s.scale === 1), results.scales.find((s) => s.scale === 10)]
  const rows = (small?.cases ?? []).map((c, i) => {
    const big = large?.cases[i]
    const ratio = big ? `${(big.medianMs / c.medianMs).toFixed(2)}×` : '—'
    return `| ${c.name} | ${fmt(c.deployments)} deployments, ${fmt(c.commits)} commits | ${fmt(c.medianMs, 1)} | ${big ? fmt(big.medianMs, 1) : '—'} | ${ratio} |`
  })
  const data = (s?: DoraScale) =>
    s ? `${fmt(s.rows.repositories)} repositories, ${fmt(s.rows.deployments)} deployments, ${fmt(s.rows.statuses)} statuses, ${fmt(s.rows.changes)} shipped commits, ${fmt(s.rows.issues)} issues (seeded in ${fmt(s.seedMs / 1000, 1)} s)` : 'not run'
  return [
    '<!-- dora:start -->',
    '### doraMetrics: one team\'s five metrics, and 10× the data',
    '',
    `Written by \`npm run bench:dora\` (bench/dora.ts) on ${results.generatedAt}; median of ${results.runs} calls through the addon after warm-up. A year of a 100-repository organisation: ${data(small)}. Ten times that: ${data(large)}. The team has 10 repositories at both scales. Plans: [DORA-PLANS.md](DORA-PLANS.md).`,
    '',
    '| call | what it measures (both scales) | 1× ms | 10× ms | time ratio (data 10×) |',
    '|---|---|--:|--:|--:|',
    ...rows,
    '<!-- dora:end -->',
  ]
}

/** The section from the stored results, or nothing when bench:dora has not run. */
export function storedDoraSection(): string[] {
  if (!existsSync(DORA_JSON)) return []
  return [...doraSection(JSON.parse(readFileSync(DORA_JSON, 'utf8')) as DoraBenchResults), '']
}
