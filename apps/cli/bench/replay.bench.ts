// pnpm bench (apps/cli): remit replay's speed and memory on the 100-rule bench policy, streaming an
// NDJSON history from disk. Targets: ≥ 50,000 touches/s; memory flat as the history grows (peak RSS
// at 1M events ≤ 1.2× the 100k figure).
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadPolicy, replay } from '@remit/core'
import { AGENTS, benchPolicy, KINDS } from '../../../packages/core/bench/policy.ts'
import { ndjson } from '../src/commands/replay.ts'

const policy = loadPolicy(benchPolicy())
const dir = mkdtempSync(join(tmpdir(), 'remit-replay-bench-'))

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

console.log(
  `policy: ${policy.rules.length} rules; 5,000 accounts; history streamed from NDJSON; node ${process.version}\n`,
)
for (const events of [10_000, 100_000, 1_000_000]) {
  const path = join(dir, `h${events}.ndjson`)
  await history(path, events)
  global.gc?.()
  const before = process.memoryUsage()
  let peak = before.rss
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 50)
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
  clearInterval(sampler)
  const after = process.memoryUsage()
  peak = Math.max(peak, after.rss)
  console.log(
    `${events.toLocaleString('en-US').padStart(9)} events (${(statSync(path).size / 1e6).toFixed(0)} MB): ${Math.round(events / seconds).toLocaleString('en-US')} touches/s, ` +
      `${seconds.toFixed(2)} s; RSS ${(before.rss / 1e6).toFixed(0)} → peak ${(peak / 1e6).toFixed(0)} MB, heap used ${(after.heapUsed / 1e6).toFixed(0)} MB  ` +
      `(go ${report.verdicts.go}, flag ${report.verdicts.flag}, stop ${report.verdicts.stop}; target ≥ 50,000/s, flat memory)`,
  )
  console.log(`${''.padStart(9)} RSS as it went: ${marks.join(', ')}`)
  rmSync(path)
}
rmSync(dir, { recursive: true })
