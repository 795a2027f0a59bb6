// pnpm bench (store-postgres): does a decision slow down as the ledger grows? The same accounts,
// each with the same touches inside the 30-day window, decided on twice: once with only those
// touches in the store, once with 10 million older touches beside them (BENCH_TOUCHES to change).
// The store's part of a decision only (lock, idempotency check, ledger read, writes, commit); the
// policy's part does not depend on the store's size.
import { randomBytes, randomUUID } from 'node:crypto'
import type { DecisionWrite, Store } from '@remit/core'
import pg from 'pg'
import { openPostgresStore } from '../src/index.ts'

const url = process.env.REMIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const OLD = Number(process.env.BENCH_TOUCHES ?? 10_000_000)
const ACCOUNTS = 100_000
const IN_WINDOW = 3
const NOW = new Date('2026-04-06T09:00:00Z')
const DAY = 86_400_000

async function fill(schema: string, old: number): Promise<void> {
  const client = new pg.Client(url)
  await client.connect()
  try {
    await client.query(`SET search_path = ${schema}`)
    // Inside the window: 3 per account over the last 20 days. Older: spread over the two years before.
    const insert = (n: number, from: number, span: number) =>
      client.query(
        `INSERT INTO remit_touches (id, account_id, kind, channel, outbound, at, status, source, agent, team)
         SELECT 'tch_' || md5(random()::text || g), 'acct-' || (g % ${ACCOUNTS}), 'email.positioning', 'email', true,
                $1::timestamptz - (random() * ${span}) * interval '1 millisecond', 'sent', 'recorded', 'marketing-agent', 'marketing'
         FROM generate_series(1, ${n}) g`,
        [new Date(NOW.getTime() - from)],
      )
    await insert(ACCOUNTS * IN_WINDOW, DAY, 20 * DAY)
    for (let done = 0; done < old; done += 1_000_000)
      await insert(Math.min(1_000_000, old - done), 31 * DAY, 730 * DAY)
    await client.query('VACUUM ANALYZE remit_touches')
  } finally {
    await client.end()
  }
}

function go(accountId: string): DecisionWrite {
  const id = `dec_${randomUUID()}`
  return {
    decision: {
      id,
      at: NOW,
      agent: 'marketing-agent',
      team: 'marketing',
      accountId,
      action: { kind: 'email.positioning', attributes: {} },
      facts: {},
      verdict: 'go',
      reasons: [],
      notify: [],
      policyVersion: 'v1',
      dryRun: false,
    },
    touch: {
      id: `tch_${randomUUID()}`,
      accountId,
      agent: 'marketing-agent',
      team: 'marketing',
      kind: 'email.positioning',
      outbound: true,
      at: NOW,
      status: 'reserved',
      decisionId: id,
      source: 'decision',
    },
  }
}

async function measure(store: Store, inFlight: number, n: number) {
  const latencies: number[] = []
  let next = 0
  let seen = 0
  const caller = async () => {
    for (let i = next++; i < n; i = next++) {
      const accountId = `acct-${(i * 7919) % ACCOUNTS}`
      const started = performance.now()
      await store.decide(
        { accountId, agent: 'marketing-agent', since: new Date(NOW.getTime() - 30 * DAY), now: NOW },
        (ledger) => {
          seen += ledger.touches.length
          return go(accountId)
        },
      )
      latencies.push(performance.now() - started)
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: inFlight }, caller))
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] as number
  return { rate: n / seconds, p50: at(0.5), p99: at(0.99), touchesSeen: seen / n }
}

const admin = new pg.Client(url)
await admin.connect()
console.log(`PostgreSQL store, decision time against the ledger's size; node ${process.version}\n`)
const rows: string[] = []
for (const old of [0, OLD]) {
  const schema = `remit_bl_${randomBytes(4).toString('hex')}`
  try {
    await (await openPostgresStore(url, { schema })).close()
    const filling = performance.now()
    await fill(schema, old)
    const store = await openPostgresStore(url, { schema })
    await measure(store, 8, 2_000) // warm: connections, caches
    const one = await measure(store, 1, 3_000)
    const many = await measure(store, 64, 20_000)
    await store.close()
    const label = `${(old + ACCOUNTS * IN_WINDOW).toLocaleString('en-US')} touches in the ledger`
    rows.push(
      `${label.padEnd(36)} one caller: p50 ${one.p50.toFixed(2)} ms, p99 ${one.p99.toFixed(2)} ms   64 in flight: ${Math.round(many.rate).toLocaleString('en-US')}/s, p99 ${many.p99.toFixed(1)} ms   (${one.touchesSeen.toFixed(1)} in the window per decision; filled in ${((performance.now() - filling) / 1000).toFixed(0)} s)`,
    )
    console.log(rows.at(-1))
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  }
}
await admin.end()
