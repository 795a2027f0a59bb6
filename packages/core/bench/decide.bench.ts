// pnpm bench: decision speed for a 100-rule policy and accounts with 50 touches in their ledger.
//   evaluation alone (the policy engine, no I/O) and decide-and-reserve on the embedded SQLite store.
// The two rows of issue 19's table (evaluation p50; 64 in flight, WAL) are measured BENCH_RUNS times
// (default 3) and recorded as median (min–max) in the table (./table.ts); the others once, for
// reference. BENCH_SECONDS (default 10) scales the decide-and-reserve runs.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { evaluate, loadPolicy, openRemit, openSqliteStore, type Touch } from '../src/index.ts'
import { AGENTS, benchPolicy, KINDS, TEAMS } from './policy.ts'
import { RUNS, rate, recordRows, spread } from './table.ts'

const policy = loadPolicy(benchPolicy(), { file: 'bench-policy.yaml' })
// A candidate in shadow (issue 21): the same rules under another version, so every decision is
// evaluated twice and none differs: what shadow evaluation itself costs.
const candidate = loadPolicy(`${benchPolicy()}\n# candidate\n`, { file: 'next-policy.yaml' })
const NOW = new Date('2026-04-06T09:00:00Z')
const ACCOUNTS = 2000
const TOUCHES = 50

let seed = 42
const random = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x7fffffff
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T

function ledger(accountId: string): Touch[] {
  return Array.from({ length: TOUCHES }, (_, i) => ({
    id: `t-${accountId}-${i}`,
    accountId,
    agent: pick(AGENTS),
    team: pick(TEAMS),
    kind: pick(KINDS),
    channel: 'email',
    outbound: true,
    // Spread over the last 30 days, none in the last 24 hours.
    at: new Date(NOW.getTime() - 86400e3 - i * 13 * 3600e3),
    status: 'sent' as const,
    source: 'decision' as const,
  }))
}

// Agents mostly ask for what their team does (nine in ten requests), sometimes for something else.
const ownKinds = new Map(
  AGENTS.map((a) => [
    a,
    policy.rules
      .filter((r) => r.sort === 'permission' && r.scope.teams?.has(policy.agents.get(a)?.team as string))
      .flatMap((r) => [...(r.scope.actions ?? [])]),
  ]),
)

function request(i: number) {
  const agent = AGENTS[(i * 7) % AGENTS.length] as string
  const own = ownKinds.get(agent) as string[]
  const kind = (i % 10 === 9 || own.length === 0 ? KINDS[i % KINDS.length] : own[i % own.length]) as string
  return {
    agent,
    body: {
      action: kind.startsWith('offer.') ? { kind, discountPct: (i % 20) + 1 } : { kind },
      customer: {
        accountId: `acct-${i % ACCOUNTS}`,
        facts: {
          lifecycle: pick([
            'prospect',
            'prospect',
            'customer',
            'customer',
            'customer',
            'customer',
            'customer',
            'customer',
            'customer',
            'renewal',
          ]),
          tier: pick(['smb', 'midmarket', 'enterprise']),
          region: `r${i % 12}`,
          score: random() * 100,
        },
      },
      at: NOW.toISOString(),
    },
  }
}

function percentiles(ns: Float64Array) {
  const sorted = Array.from(ns).sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
  return { p50: at(0.5) / 1e3, p99: at(0.99) / 1e3 }
}

function report(name: string, n: number, elapsedNs: number, samples: Float64Array, target: string) {
  const { p50, p99 } = percentiles(samples)
  const perSecond = n / (elapsedNs / 1e9)
  console.log(
    `${name.padEnd(44)} ${Math.round(perSecond).toLocaleString('en-US').padStart(10)} decisions/s   p50 ${p50.toFixed(2).padStart(7)} µs   p99 ${p99.toFixed(2).padStart(7)} µs   (${target})`,
  )
  return { p50, p99, rate: perSecond }
}

const seconds = Number(process.env.BENCH_SECONDS ?? 10)

console.log(
  `policy: ${policy.rules.length} rules, ${policy.agents.size} agents, ${KINDS.length} action kinds; ledger: ${TOUCHES} touches per account`,
)
console.log(`node ${process.version}, ${process.arch}\n`)

// 1. Evaluation alone: resolve the request against the policy, then evaluate. No store.
const { resolveRequest } = await import('../src/decision/request.ts')
function evaluationRun() {
  const ledgers = Array.from({ length: 100 }, (_, i) => ledger(`acct-${i}`))
  const inputs = Array.from({ length: 1000 }, (_, i) => {
    const r = request(i)
    return {
      ...resolveRequest(policy, r.agent, r.body, () => NOW),
      touches: ledgers[i % 100] as Touch[],
      commitments: [],
    }
  })
  const N = 200_000
  for (let i = 0; i < 20_000; i++) evaluate(policy, inputs[i % inputs.length] as (typeof inputs)[number])
  const samples = new Float64Array(N)
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint()
    evaluate(policy, inputs[i % inputs.length] as (typeof inputs)[number])
    samples[i] = Number(process.hrtime.bigint() - t0)
  }
  return report(
    'evaluation alone',
    N,
    Number(process.hrtime.bigint() - start),
    samples,
    'target p50 ≤ 0.5 µs',
  ).p50
}
const evaluationP50s = Array.from({ length: RUNS }, evaluationRun)

// 1b. The same, with the candidate evaluated in shadow beside each evaluation (what `draft` adds).
const { shadowDecision } = await import('../src/candidate/diff.ts')
function shadowRun() {
  const ledgers = Array.from({ length: 100 }, (_, i) => ledger(`acct-${i}`))
  const inputs = Array.from({ length: 1000 }, (_, i) => {
    const r = request(i)
    return { req: resolveRequest(policy, r.agent, r.body, () => NOW), touches: ledgers[i % 100] as Touch[] }
  })
  const decision = { id: 'dec_bench', at: NOW, agent: '', team: '', accountId: '', action: { kind: '' } }
  const once = (i: number) => {
    const { req, touches } = inputs[i % inputs.length] as (typeof inputs)[number]
    const view = { touches, commitments: [] }
    const e = evaluate(policy, { ...req, ...view })
    shadowDecision(policy, candidate, req, view, decision as never, e)
  }
  const N = 200_000
  for (let i = 0; i < 20_000; i++) once(i)
  const samples = new Float64Array(N)
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint()
    once(i)
    samples[i] = Number(process.hrtime.bigint() - t0)
  }
  return report(
    'evaluation + candidate in shadow',
    N,
    Number(process.hrtime.bigint() - start),
    samples,
    'issue 21',
  ).p50
}
for (let run = 0; run < RUNS; run++) shadowRun()

// 2. Decide-and-reserve on SQLite: validate, then in one transaction read the ledger, evaluate,
// log the decision and reserve the touch. Callers keep `inFlight` decisions outstanding, as a
// server's concurrent requests do; writes that arrive together share one commit (group commit).
async function decideRun(durability: 'normal' | 'full', inFlight: number, N: number, shadow = false) {
  const path = join(mkdtempSync(join(tmpdir(), 'remit-bench-')), 'remit.db')
  const store = openSqliteStore(path, { durability })
  await Promise.all(
    Array.from({ length: ACCOUNTS }, (_, a) =>
      Promise.all(ledger(`acct-${a}`).map((t) => store.recordTouch(t))),
    ),
  )
  const remit = await openRemit({ policy, store })
  if (shadow) remit.setCandidate(candidate)
  const samples = new Float64Array(N)
  let next = 0
  const caller = async () => {
    for (let i = next++; i < N; i = next++) {
      const r = request(i)
      const t0 = process.hrtime.bigint()
      await remit.decide(r.agent, r.body)
      samples[i] = Number(process.hrtime.bigint() - t0)
    }
  }
  const start = process.hrtime.bigint()
  await Promise.all(Array.from({ length: inFlight }, caller))
  const elapsed = Number(process.hrtime.bigint() - start)
  const label = durability === 'full' ? 'fsync per commit' : 'WAL, synchronous=NORMAL'
  const result = report(
    `decide-and-reserve, ${label}, ${inFlight} in flight${shadow ? ', shadow' : ''}`,
    N,
    elapsed,
    samples,
    shadow
      ? 'issue 21: candidate in shadow'
      : inFlight > 1 && durability === 'normal'
        ? 'target ≥ 25,000/s'
        : 'for reference',
  )
  const last = await remit.decisions.list({ limit: 1000 })
  const count = (v: string) => last.filter((d) => d.verdict === v).length
  console.log(
    `${''.padEnd(44)} verdicts of the last 1000: ${count('go')} go, ${count('flag')} flag, ${count('stop')} stop`,
  )
  await remit.close()
  return result.rate
}
await decideRun('normal', 1, 500 * seconds)
const inFlightRates: number[] = []
for (let run = 0; run < RUNS; run++) inFlightRates.push(await decideRun('normal', 64, 6_000 * seconds))
await decideRun('normal', 1, 500 * seconds, true)
for (let run = 0; run < RUNS; run++) await decideRun('normal', 64, 6_000 * seconds, true)
await decideRun('full', 1, 50 * seconds)
await decideRun('full', 64, 2_000 * seconds)

recordRows({
  'evaluation alone, p50': spread(evaluationP50s, (x) => x.toFixed(2), ' µs'),
  'SQLite decide+reserve in-process, 64 in flight': spread(inFlightRates, rate, '/s'),
})
