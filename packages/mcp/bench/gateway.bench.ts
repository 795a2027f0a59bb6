// The gateway's added latency per tool call: the same no-op tool called directly on the upstream
// server and through the gateway (an embedded Remit on SQLite, a go each time, its outcome
// recorded), both over stdio. Prints p50 and p99 of each and of the difference.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { loadPolicy, openRemit, openSqliteStore } from '@remit/core'
import { loadToolMap, openGateway } from '../src/index.ts'

const N = Number(process.env.BENCH_CALLS ?? 2000)
const upstreamScript = fileURLToPath(new URL('../test/fixtures/upstream.ts', import.meta.url))
const upstream = () =>
  new StdioClientTransport({
    command: process.execPath,
    args: [upstreamScript],
    env: getDefaultEnvironment(),
  })

const policy = loadPolicy(`version: 1
teams: { ops: {} }
agents: { bench-agent: { team: ops } }
actions: { ping: { channel: none, outbound: false } }
permissions: [{ id: ops-ping, team: ops, action: ping }]
review: { defaultTeam: ops }
`)
const map = loadToolMap('version: 1\ntools:\n  noop: { action: ping, customer: { accountId: account } }\n', {
  policy,
})

async function timed(call: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 200; i++) await call(i) // warm-up
  const ms: number[] = []
  for (let i = 0; i < N; i++) {
    const start = process.hrtime.bigint()
    await call(i)
    ms.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  return ms.sort((a, b) => a - b)
}
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number

const dir = mkdtempSync(join(tmpdir(), 'remit-mcp-bench-'))
const direct = new Client({ name: 'bench', version: '1' })
await direct.connect(upstream())
const remit = await openRemit({ policy, store: openSqliteStore(join(dir, 'remit.db')) })
const gateway = await openGateway({
  map,
  remit: { remit, agent: 'bench-agent' },
  upstream: upstream(),
  holdPath: join(dir, 'remit-mcp.db'),
})
const [agentSide, gatewaySide] = InMemoryTransport.createLinkedPair()
await gateway.server.connect(gatewaySide)
const gated = new Client({ name: 'bench', version: '1' })
await gated.connect(agentSide)

// Each call names its own account, so no limit or ledger growth on one account shapes the numbers.
const before = await timed(() => direct.callTool({ name: 'noop', arguments: {} }))
const through = await timed((i) =>
  gated.callTool({ name: 'noop', arguments: { account: `acct-${i % 500}` } }),
)
const line = (name: string, s: number[]) =>
  `${name.padEnd(28)} p50 ${pct(s, 50).toFixed(3)} ms  p99 ${pct(s, 99).toFixed(3)} ms`
console.log(`${N} calls each, after 200 warm-up`)
console.log(line('upstream directly (stdio)', before))
console.log(line('through the gateway', through))
console.log(
  `added by the gateway: p50 ${(pct(through, 50) - pct(before, 50)).toFixed(3)} ms, p99 ${(pct(through, 99) - pct(before, 99)).toFixed(3)} ms`,
)
await gated.close()
await gateway.close()
await direct.close()
await remit.close()
rmSync(dir, { recursive: true, force: true })
