// node bench/tracing.bench.ts: what spans and the decision log cost a decision.
//   1. the span wrapper alone, with no SDK registered (the @opentelemetry/api no-op), against a bare call;
//   2. decide() against the same decision without its span (the engine's own decideNow), no SDK;
//   3. the same with an SDK registered (BasicTracerProvider, a processor that drops spans), and with
//      a decision log that drops its lines: what turning them on costs.
import { trace } from '@opentelemetry/api'
import { BasicTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { loadPolicy, openRemit, openSqliteStore, type Remit } from '../src/index.ts'
import { traced } from '../src/telemetry/tracing.ts'
import { seedPolicyText } from '../test/helpers.ts'

const policy = loadPolicy(seedPolicyText)
const ROUNDS = 5

async function perCall(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(n, 20_000); i++) await fn(i) // warm-up
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await fn(i)
  return Number(process.hrtime.bigint() - start) / n
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const fmt = (ns: number) => (ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`)

async function compare(label: string, n: number, runs: Record<string, (i: number) => Promise<unknown>>) {
  const results: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]))
  // Alternating, so drift on a shared machine falls on both sides.
  for (let r = 0; r < ROUNDS; r++)
    for (const [name, fn] of Object.entries(runs)) results[name]?.push(await perCall(n, fn))
  console.log(label)
  for (const [name, xs] of Object.entries(results))
    console.log(`  ${name.padEnd(44)} median ${fmt(median(xs))}  (runs: ${xs.map(fmt).join(', ')})`)
}

const value = Promise.resolve(1)
await compare('span wrapper alone, no SDK (per call)', 200_000, {
  'bare async call': async () => value,
  'traced() (no-op span, isRecording false)': () => traced('remit.decide', async () => value),
})

async function remit(decisionLog = false): Promise<Remit> {
  return openRemit({
    policy,
    store: openSqliteStore(':memory:'),
    ...(decisionLog ? { decisionLog: { write: () => {} } } : {}),
  })
}
const request = (i: number, dryRun: boolean) => ({
  action: { kind: 'offer.discount', discountPct: 10 },
  customer: { accountId: `acct-${i}`, contactId: `c-${i}`, facts: { lifecycle: 'customer', tier: 'smb' } },
  dryRun,
})
// The decision without its span: the engine's own step, reached past TypeScript's `private`.
const untraced = (r: Remit) =>
  (r as unknown as { decideNow: Remit['decide'] }).decideNow.bind(r) as Remit['decide']

const plain = await remit()
const logged = await remit(true)
await compare('decide(), dry run (evaluation and a ledger read, no write), no SDK', 50_000, {
  'without span': (i) => untraced(plain)('sales-agent', request(i, true)),
  'with span (as shipped)': (i) => plain.decide('sales-agent', request(i, true)),
})
// Each its own store, so each writes as many rows as the others.
const [a, b] = [await remit(), await remit()]
let k = 0
await compare('decide() and reserve (SQLite in memory, one in flight), no SDK', 20_000, {
  'without span': () => untraced(a)('sales-agent', request(k++, false)),
  'with span (as shipped)': () => b.decide('sales-agent', request(k++, false)),
  'with span and a decision log that drops lines': () => logged.decide('sales-agent', request(k++, false)),
})

// An SDK that records every span and hands it to a processor that drops it: the SDK's own cost.
const drop: SpanProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
}
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [drop] }))
const fresh = await remit()
await compare('with an SDK registered (spans recorded, then dropped)', 50_000, {
  'traced() alone': () => traced('remit.decide', async () => value),
  'decide(), dry run, without span': (i) => untraced(fresh)('sales-agent', request(i, true)),
  'decide(), dry run, with span': (i) => fresh.decide('sales-agent', request(i, true)),
})
