// The figures of issue 19's table, in one place. Each bench measures its rows BENCH_RUNS times
// (default 3), writes them here as "median (min–max)", and prints the whole table as it stands, so
// whichever bench `./dev bench` runs last prints every row. `node packages/core/bench/table.ts`
// prints it again. The rows live in node_modules/.cache/remit-bench/table.json (not in git); each
// row says when it was measured, so a row left over from an earlier run shows as such.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3))

// The table's rows, in the wording and order.
export const ROWS = [
  'evaluation alone, p50',
  'SQLite decide+reserve in-process, 64 in flight',
  'HTTP on SQLite',
  'HTTP on PostgreSQL, 64 callers, 1 instance',
  'HTTP on PostgreSQL, 2 instances, 200 accounts',
  'replay 1M events, peak RSS',
] as const
export type Row = (typeof ROWS)[number]

const file = fileURLToPath(new URL('../../../node_modules/.cache/remit-bench/table.json', import.meta.url))

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** "8.6k/s (7.4k–14.2k)": the median, then min–max when there was more than one run. */
export function spread(xs: readonly number[], fmt: (x: number) => string, unit = ''): string {
  const med = `${fmt(median(xs))}${unit}`
  if (xs.length < 2) return med
  return `${med} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`
}

export const rate = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : `${Math.round(x)}`)
export const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1))

/** Exact percentile (nearest rank) of samples; sorts a copy. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(samples).sort()
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] as number
}

type Stored = Partial<Record<Row, { value: string; at: string; runs: number }>>

function load(): Stored {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Stored
  } catch {
    return {}
  }
}

export function printTable(rows: Stored = load()): void {
  const width = Math.max(...ROWS.map((r) => r.length))
  console.log(`\n| ${'figure'.padEnd(width)} | measured: median (min–max) over the runs | runs | when |`)
  console.log(`|${'-'.repeat(width + 2)}|---|---:|---|`)
  for (const row of ROWS) {
    const r = rows[row]
    console.log(
      `| ${row.padEnd(width)} | ${r?.value ?? '— (not measured yet)'} | ${r?.runs ?? ''} | ${r ? r.at.slice(0, 16).replace('T', ' ') : ''} |`,
    )
  }
}

/** Stores this bench's rows and prints the whole table. */
export function recordRows(rows: Partial<Record<Row, string>>, runs = RUNS): void {
  const stored = load()
  const at = new Date().toISOString()
  for (const [row, value] of Object.entries(rows)) stored[row as Row] = { value: value as string, at, runs }
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`)
  printTable(stored)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) printTable()
