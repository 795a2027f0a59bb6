// pnpm bench (store-postgres): does a decision slow down as the ledger grows? The same accounts,
// each with the same touches inside the policy's 30-day window, decided on twice: once with only
// those touches in the store, once with 10 million older touches beside them (BENCH_TOUCHES to
// change), kept by month as a store that has run for two years keeps them. Whole decisions: the
// example week's policy through openRemit, on the PostgreSQL store.
import { randomBytes } from 'node:crypto'
import { loadPolicyFile, openRemit, type Remit } from '@remit/core'
import pg from 'pg'
import { openPostgresStore } from '../src/index.ts'
import { monthsAhead } from '../src/partitions.ts'

const url = process.env.REMIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const OLD = Number(process.env.BENCH_TOUCHES ?? 10_000_000)
const ACCOUNTS = 100_000
const IN_WINDOW = 3
const NOW = new Date()
const DAY = 86_400_000

async function fill(schema: string, old: number): Promise<void> {
  const client = new pg.Client(url)
  await client.connect()
  try {
    await client.query(`SET search_path = ${schema}`)
    // The months a store open for the last two years has made, ahead of their touches.
    const start = new Date(Date.UTC(NOW.getUTCFullYear(), NOW.getUTCMonth() - 26, 1))
    for (const month of monthsAhead(start, 26))
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${month.name} PARTITION OF remit_touches FOR VALUES FROM ('${month.from.toISOString()}') TO ('${month.to.toISOString()}')`,
      )
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

async function measure(remit: Remit, inFlight: number, n: number) {
  const latencies: number[] = []
  const verdicts = { go: 0, flag: 0, stop: 0 }
  let next = 0
  const caller = async () => {
    for (let i = next++; i < n; i = next++) {
      const accountId = `acct-${(i * 7919) % ACCOUNTS}`
      const started = performance.now()
      const d = await remit.decide('marketing-agent', {
        action: { kind: 'email.positioning' },
        customer: { accountId, facts: { lifecycle: 'customer', tier: 'smb' } },
      })
      latencies.push(performance.now() - started)
      verdicts[d.verdict]++
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: inFlight }, caller))
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] as number
  return { rate: n / seconds, p50: at(0.5), p99: at(0.99), verdicts }
}

/** Bytes on disk per touch (table and indexes, every month) and per decision. */
async function sizes(client: pg.Client, schema: string) {
  const { rows } = await client.query(
    `SELECT
       (SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i WHERE i.inhparent = '${schema}.remit_touches'::regclass)::float8
         / greatest((SELECT count(*) FROM ${schema}.remit_touches), 1) AS touch,
       pg_total_relation_size('${schema}.remit_decisions')::float8 / greatest((SELECT count(*) FROM ${schema}.remit_decisions), 1) AS decision`,
  )
  return rows[0] as { touch: number; decision: number }
}

const policy = await loadPolicyFile(
  new URL('../../../examples/seed-week/remit.yaml', import.meta.url).pathname,
)
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
    const remit = await openRemit({ policy, store })
    await measure(remit, 8, 2_000) // warm: connections, caches
    const one = await measure(remit, 1, 3_000)
    const many = await measure(remit, 64, 20_000)
    await remit.close()
    const bytes = await sizes(admin, schema)
    const label = `${(old + ACCOUNTS * IN_WINDOW).toLocaleString('en-US')} touches in the ledger`
    rows.push(
      `${label.padEnd(36)} one caller: p50 ${one.p50.toFixed(2)} ms, p99 ${one.p99.toFixed(2)} ms   64 in flight: ${Math.round(many.rate).toLocaleString('en-US')}/s, p99 ${many.p99.toFixed(1)} ms   (${many.verdicts.go} go, ${many.verdicts.stop} stop; ${Math.round(bytes.touch)} B a touch, ${Math.round(bytes.decision)} B a decision on disk; filled in ${((performance.now() - filling) / 1000).toFixed(0)} s)`,
    )
    console.log(rows.at(-1))
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  }
}
await admin.end()
