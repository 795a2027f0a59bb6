// pnpm bench (apps/cli): the decision API over HTTP, `remit serve` in its own process(es), the load
// generator in this one (two cores: one each). Three of issue 19's rows, each BENCH_RUNS times
// (default 3), every measurement on a fresh store and a fresh server:
//   HTTP on SQLite / HTTP on PostgreSQL, 64 callers, 1 instance:
//     closed loop: autocannon, 64 connections, BENCH_SECONDS (default 10); every request a new
//       account (a go, so a reservation) with an idempotency key, as @remit/client sends them;
//     open loop: BENCH_RATE (default 5,000) requests a second on a fixed clock (./open-loop.ts),
//       latency from each request's scheduled time; the achieved rate is reported beside it.
//   HTTP on PostgreSQL, 2 instances, 200 accounts: two `remit serve` on one schema, autocannon's
//     64 connections split over both, every request one of 200 accounts asking for an action a
//     limit allows once per account per 30 days; afterwards the database must hold exactly one go
//     (and one reserved touch) per account, and the bench says so.
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKey, keyLine } from '@remit/server'
import autocannon from 'autocannon'
import pg from 'pg'
import { ms, RUNS, rate, recordRows, spread } from '../../../packages/core/bench/table.ts'
import { startServe } from '../test/serve-process.ts'
import { openLoop } from './open-loop.ts'

const postgresUrl = process.env.REMIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const cli = fileURLToPath(new URL('../dist/bin.js', import.meta.url))
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const offered = Number(process.env.BENCH_RATE ?? 5000)
const CONNECTIONS = 64
const ACCOUNTS = 200
const WARM_SECONDS = Math.min(2, seconds)

// Two instances: one action a limit allows once per account per 30 days.
const ONCE_POLICY = `version: 1
teams: { marketing: {} }
agents:
  bench-agent: { team: marketing }
actions:
  welcome.gift: { channel: email, outbound: true }
permissions:
  - { id: may-gift, team: marketing, action: welcome.gift }
limits:
  - { id: one-gift-per-account, action: welcome.gift, max: 1, per: 30d, scope: account, then: stop }
review: { defaultTeam: marketing, expiresAfter: 72h, onExpiry: stop }
`

interface Files {
  dir: string
  policy: string
  keys: string
  key: string
}

function files(policyText?: string, agent = 'marketing-agent'): Files {
  const dir = mkdtempSync(join(tmpdir(), 'remit-http-bench-'))
  const policy = join(dir, 'remit.yaml')
  if (policyText) writeFileSync(policy, policyText)
  else copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), policy)
  const key = generateKey()
  const keys = join(dir, 'keys.yaml')
  writeFileSync(keys, `${keyLine({ name: 'bench', agent }, key)}\n`)
  return { dir, policy, keys, key }
}

function serve(store: string, f: Files) {
  return startServe(['--policy', f.policy, '--store', store, '--keys', f.keys], { bin: cli })
}

async function stop(child: import('node:child_process').ChildProcess) {
  if (child.exitCode !== null) return
  child.kill('SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))
}

const headersFor = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' })

// Every request a new account: a go, so a reservation.
function newAccountBody(prefix: string) {
  let n = 0
  return () =>
    JSON.stringify({
      action: { kind: 'email.positioning' },
      customer: { accountId: `${prefix}-${n}`, facts: { lifecycle: 'customer', tier: 'smb' } },
      idempotencyKey: `${prefix}-${n++}`,
    })
}

interface Closed {
  rate: number
  p50: number
  p99: number
  errors: number
}

async function closedLoop(
  url: string | string[],
  key: string,
  body: () => string,
  duration: number,
  onResponse?: (status: number, body: string) => void,
): Promise<Closed> {
  const headers = headersFor(key)
  const result = await autocannon({
    // autocannon spreads its connections over several URLs (its README); its types say one string.
    url: url as string,
    connections: CONNECTIONS,
    duration,
    requests: [
      {
        method: 'POST',
        path: '/v1/decisions',
        headers,
        setupRequest: (r) => ({ ...r, body: body() }),
        ...(onResponse ? { onResponse: (status: number, b: string) => onResponse(status, b) } : {}),
      },
    ],
  })
  return {
    rate: result['2xx'] / duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
  }
}

const warm = (url: string | string[], key: string, body: () => string) =>
  closedLoop(url, key, body, WARM_SECONDS)

function newSchema() {
  return `remit_b_${randomBytes(5).toString('hex')}`
}
async function sql<T>(f: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(postgresUrl)
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}
const dropSchema = (schema: string) => sql((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))

// One store, one server: warm up, measure closed or open loop, tear down.
async function single(store: 'sqlite' | 'postgres', mode: 'closed' | 'open') {
  const f = files()
  const schema = newSchema()
  const target = store === 'sqlite' ? join(f.dir, 'remit.db') : `${postgresUrl}?schema=${schema}`
  const { url, process: child } = await serve(target, f)
  try {
    await warm(url, f.key, newAccountBody('warm'))
    if (mode === 'closed') return { closed: await closedLoop(url, f.key, newAccountBody('acct'), seconds) }
    const body = newAccountBody('acct')
    return {
      open: await openLoop({
        url,
        path: '/v1/decisions',
        headers: headersFor(f.key),
        body: () => body(),
        rate: offered,
        seconds,
      }),
    }
  } finally {
    await stop(child)
    if (store === 'postgres') await dropSchema(schema)
    rmSync(f.dir, { recursive: true, force: true })
  }
}

interface OnceCheck {
  accounts: number
  exactlyOne: number
  goes: number
  decisions: number
  touchesWrong: number
  goAnswers: number
  ok: boolean
}

async function twoInstances(): Promise<{ closed: Closed; check: OnceCheck }> {
  const f = files(ONCE_POLICY, 'bench-agent')
  const schema = newSchema()
  const store = `${postgresUrl}?schema=${schema}`
  // One after the other, so the first has created the schema when the second starts.
  const a = await serve(store, f)
  const b = await serve(store, f).catch(async (e) => {
    await stop(a.process)
    throw e
  })
  const urls = [a.url, b.url]
  const asking = (prefix: string) => {
    let n = 0
    return () =>
      JSON.stringify({
        action: { kind: 'welcome.gift' },
        customer: { accountId: `${prefix}-${n % ACCOUNTS}` },
        idempotencyKey: `${prefix}-${n++}`,
      })
  }
  try {
    await warm(urls, f.key, asking('warm'))
    let goAnswers = 0
    const closed = await closedLoop(urls, f.key, asking('acct'), seconds, (status, body) => {
      if (status === 200 && body.includes('"verdict":"go"')) goAnswers++
    })
    const check = await sql(async (c) => {
      const { rows } = await c.query(
        `SELECT count(*)::int AS accounts, count(*) FILTER (WHERE go = 1)::int AS "exactlyOne",
                coalesce(sum(go), 0)::int AS goes, coalesce(sum(n), 0)::int AS decisions
         FROM (SELECT account_id, count(*) FILTER (WHERE verdict = 'go') AS go, count(*) AS n
               FROM ${schema}.remit_decisions WHERE account_id LIKE 'acct-%' GROUP BY account_id) per_account`,
      )
      const touches = await c.query(
        `SELECT count(*)::int AS wrong FROM (
           SELECT account_id FROM ${schema}.remit_touches WHERE account_id LIKE 'acct-%'
           GROUP BY account_id HAVING count(*) <> 1) t`,
      )
      const r = rows[0] as Omit<OnceCheck, 'touchesWrong' | 'goAnswers' | 'ok'>
      const touchesWrong = (touches.rows[0] as { wrong: number }).wrong
      return {
        ...r,
        touchesWrong,
        goAnswers,
        ok:
          r.accounts === ACCOUNTS &&
          r.exactlyOne === ACCOUNTS &&
          r.goes === ACCOUNTS &&
          touchesWrong === 0 &&
          goAnswers === ACCOUNTS,
      }
    })
    return { closed, check }
  } finally {
    await Promise.all([stop(a.process), stop(b.process)])
    await dropSchema(schema)
    rmSync(f.dir, { recursive: true, force: true })
  }
}

const pad = (s: string, n = 50) => s.padEnd(n)
const errs = (n: number) => (n ? `   ${n} errors` : '')
const printClosed = (label: string, r: Closed) =>
  console.log(
    `${pad(label)} ${Math.round(r.rate).toLocaleString('en-US').padStart(7)} decisions/s   p50 ${ms(r.p50).padStart(5)} ms   p99 ${ms(r.p99).padStart(5)} ms${errs(r.errors)}`,
  )

console.log(
  `HTTP, node ${process.version}; ${RUNS} run(s) of each; closed loop: autocannon, ${CONNECTIONS} connections, ${seconds} s; ` +
    `open loop: ${offered.toLocaleString('en-US')}/s offered on a fixed clock for ${seconds} s, latency from the scheduled time\n`,
)

type Single = { closed: Closed[]; open: Awaited<ReturnType<typeof openLoop>>[] }
const results: Record<'sqlite' | 'postgres', Single> = {
  sqlite: { closed: [], open: [] },
  postgres: { closed: [], open: [] },
}
const two: { closed: Closed[]; checks: OnceCheck[] } = { closed: [], checks: [] }

for (let run = 1; run <= RUNS; run++) {
  console.log(`run ${run} of ${RUNS}`)
  for (const store of ['sqlite', 'postgres'] as const) {
    const name = store === 'sqlite' ? 'SQLite (embedded), one process' : 'PostgreSQL, one process'
    const c = (await single(store, 'closed')).closed as Closed
    results[store].closed.push(c)
    printClosed(`  ${name}, closed loop`, c)
    const o = (await single(store, 'open')).open as Awaited<ReturnType<typeof openLoop>>
    results[store].open.push(o)
    console.log(
      `${pad(`  ${name}, ${rate(offered)}/s offered`)} ${Math.round(o.achieved).toLocaleString('en-US').padStart(7)} decisions/s   p50 ${ms(o.p50).padStart(5)} ms   p99 ${ms(o.p99).padStart(5)} ms   max ${ms(o.max)} ms` +
        `${errs(o.non2xx + o.errors)}${o.unanswered ? `   ${o.unanswered} unanswered` : ''}   (generator sent late by p99 ${ms(o.sendLagP99)} ms, max ${ms(o.sendLagMax)} ms)`,
    )
  }
  const t = await twoInstances()
  two.closed.push(t.closed)
  two.checks.push(t.check)
  printClosed('  PostgreSQL, two processes, 200 accounts', t.closed)
  const c = t.check
  console.log(
    `${pad('')} exactly one go per account: ${c.ok ? 'yes' : 'NO'} — ${c.exactlyOne} of ${c.accounts} accounts with exactly 1 go ` +
      `(${c.decisions.toLocaleString('en-US')} decisions, ${c.goes} go in the database, ${c.goAnswers} go answered; ` +
      `${c.touchesWrong} accounts without exactly 1 reserved touch)`,
  )
  if (!c.ok) process.exitCode = 1
}

const closedRow = (s: Single) =>
  `${spread(
    s.closed.map((r) => r.rate),
    rate,
    '/s',
  )}, p99 ${spread(
    s.closed.map((r) => r.p99),
    ms,
    ' ms',
  )} (closed loop, ${CONNECTIONS} connections); at ${rate(offered)}/s offered: achieved ${spread(
    s.open.map((r) => r.achieved),
    rate,
    '/s',
  )}, p50 ${spread(
    s.open.map((r) => r.p50),
    ms,
    ' ms',
  )}, p99 ${spread(
    s.open.map((r) => r.p99),
    ms,
    ' ms',
  )}`
const onceOk = two.checks.filter((c) => c.ok).length
recordRows({
  'HTTP on SQLite': closedRow(results.sqlite),
  'HTTP on PostgreSQL, 64 callers, 1 instance': closedRow(results.postgres),
  'HTTP on PostgreSQL, 2 instances, 200 accounts': `${spread(
    two.closed.map((r) => r.rate),
    rate,
    '/s',
  )}, p99 ${spread(
    two.closed.map((r) => r.p99),
    ms,
    ' ms',
  )} (closed loop, ${CONNECTIONS} connections over both); exactly one go per account in ${onceOk} of ${two.checks.length} runs${onceOk === two.checks.length ? '' : ' — FAILED'}`,
})
