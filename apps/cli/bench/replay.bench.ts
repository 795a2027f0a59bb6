// pnpm bench (apps/cli): remit replay's speed and memory on the 100-rule bench policy, streaming an
// NDJSON history from disk. Targets: ≥ 50,000 touches/s; memory flat as the history grows (peak RSS
// at 1M events ≤ 1.2× the 100k figure). Each replay runs in a fresh process of its own (a process's
// RSS does not shrink, so one replay after another would measure the largest so far), BENCH_RUNS
// times (default 3) per size; peak RSS is the kernel's (getrusage's ru_maxrss) for that process.
// BENCH_EVENTS (default 10000,100000,1000000) picks the sizes.
import { spawn } from 'node:child_process'
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadPolicy, replay } from '@remit/core'
import { AGENTS, benchPolicy, KINDS } from '../../../packages/core/bench/policy.ts'
import { median, RUNS, rate, recordRows, spread } from '../../../packages/core/bench/table.ts'
import { ndjson } from '../src/commands/replay.ts'

const policy = loadPolicy(benchPolicy())

interface One {
  seconds: number
  rssBefore: number
  peak: number
  heapUsed: number
  marks: string[]
  verdicts: { go: number; flag: number; stop: number }
}

// The child: one replay of one history, its figures as JSON on stdout's last line.
async function one(path: string, events: number): Promise<One> {
  global.gc?.()
  const rssBefore = process.memoryUsage().rss
  const marks: string[] = []
  const t0 = process.hrtime.bigint()
  const report = await replay(
    policy,
    ndjson(path, () => {}),
    {
      every: events / 4,
      progress: (n) =>
        marks.push(`${Math.round((100 * n) / events)}%: ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`),
    },
  )
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  return {
    seconds,
    rssBefore,
    peak: process.resourceUsage().maxRSS * 1024,
    heapUsed: process.memoryUsage().heapUsed,
    marks,
    verdicts: report.verdicts,
  }
}

async function history(path: string, events: number) {
  const out = createWriteStream(path)
  let seed = 7
  const rand = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    return seed / 2 ** 32
  }
  const start = Date.parse('2026-01-01T00:00:00Z')
  for (let i = 0; i < events; i++) {
    // One event every 10 s: a million span 115 days, well past the policy's 30-day lookback.
    const at = new Date(start + i * 10_000).toISOString()
    const kind = KINDS[i % KINDS.length] as string
    const line =
      i % 20 === 19
        ? {
            at,
            touch: {
              accountId: `acct-${Math.floor(rand() * 5000)}`,
              kind: 'call',
              team: 'sales',
              outbound: false,
            },
          }
        : {
            at,
            agent: AGENTS[Math.floor(rand() * AGENTS.length)],
            action: kind.startsWith('offer.') ? { kind, discountPct: Math.floor(rand() * 30) } : { kind },
            customer: {
              accountId: `acct-${Math.floor(rand() * 5000)}`,
              facts: {
                lifecycle: rand() < 0.1 ? 'renewal' : 'customer',
                tier: rand() < 0.2 ? 'enterprise' : 'smb',
                region: `r${i % 12}`,
                score: Math.floor(rand() * 100),
              },
            },
          }
    if (!out.write(`${JSON.stringify(line)}\n`)) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  await new Promise<void>((r) => out.end(() => r()))
}

const self = fileURLToPath(import.meta.url)

function child(path: string, events: number): Promise<One> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--expose-gc', self, '--one', path, String(events)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    c.stdout.on('data', (chunk) => {
      out += chunk
    })
    c.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`replay child exited ${code}`))
      resolve(JSON.parse(out.trim().split('\n').pop() as string) as One)
    })
  })
}

if (process.argv[2] === '--one') {
  console.log(JSON.stringify(await one(process.argv[3] as string, Number(process.argv[4]))))
} else {
  const sizes = (process.env.BENCH_EVENTS ?? '10000,100000,1000000,2000000').split(',').map(Number)
  const dir = mkdtempSync(join(tmpdir(), 'remit-replay-bench-'))
  console.log(
    `policy: ${policy.rules.length} rules; 5,000 accounts; history streamed from NDJSON; each replay in a fresh process, ${RUNS} run(s) per size; node ${process.version}\n`,
  )
  const peaks = new Map<number, number[]>()
  const rates = new Map<number, number[]>()
  for (const events of sizes) {
    const path = join(dir, `h${events}.ndjson`)
    await history(path, events)
    for (let run = 1; run <= RUNS; run++) {
      const r = await child(path, events)
      peaks.set(events, [...(peaks.get(events) ?? []), r.peak])
      rates.set(events, [...(rates.get(events) ?? []), events / r.seconds])
      console.log(
        `${events.toLocaleString('en-US').padStart(9)} events (${(statSync(path).size / 1e6).toFixed(0)} MB), run ${run}: ${Math.round(events / r.seconds).toLocaleString('en-US')} touches/s, ` +
          `${r.seconds.toFixed(2)} s; RSS ${(r.rssBefore / 1e6).toFixed(0)} → peak ${(r.peak / 1e6).toFixed(0)} MB, heap used ${(r.heapUsed / 1e6).toFixed(0)} MB  ` +
          `(go ${r.verdicts.go}, flag ${r.verdicts.flag}, stop ${r.verdicts.stop}; target ≥ 50,000/s, flat memory)`,
      )
      console.log(`${''.padStart(9)} RSS as it went: ${r.marks.join(', ')}`)
    }
    rmSync(path)
  }
  rmSync(dir, { recursive: true })

  const mb = (x: number) => (x / 1e6).toFixed(0)
  // The table's row is about 1M; a longer history (2M: 230 days, the window 30) shows whether memory
  // stays flat once the history is longer than the window, which is what keeping only the window buys.
  const big = sizes.includes(1_000_000) ? 1_000_000 : Math.max(...sizes)
  const longest = Math.max(...sizes)
  const hundredK = peaks.get(100_000)
  const row = [
    `${spread(peaks.get(big) as number[], mb, ' MB')} at ${big.toLocaleString('en-US')} events`,
    hundredK && big !== 100_000 ? `${spread(hundredK, mb, ' MB')} at 100,000` : '',
    hundredK && big !== 100_000
      ? `ratio of medians ${(median(peaks.get(big) as number[]) / median(hundredK)).toFixed(2)}× (target ≤ 1.2×)`
      : '',
    longest > big
      ? `${spread(peaks.get(longest) as number[], mb, ' MB')} at ${longest.toLocaleString('en-US')} (${(median(peaks.get(longest) as number[]) / median(peaks.get(big) as number[])).toFixed(2)}× the ${big.toLocaleString('en-US')} figure)`
      : '',
    `${spread(rates.get(big) as number[], rate, ' touches/s')}`,
  ].filter(Boolean)
  recordRows({ 'replay 1M events, peak RSS': row.join('; ') })
}
