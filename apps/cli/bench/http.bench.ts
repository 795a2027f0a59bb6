// pnpm bench (apps/cli): the decision API over HTTP, `remit serve` in its own process, autocannon
// in this one (two cores: one each). Every request is a new account, so every go is a reservation.
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKey, keyLine } from '@remit/server'
import autocannon from 'autocannon'
import pg from 'pg'
import { startServe } from '../test/serve-process.ts'

const postgresUrl = process.env.REMIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const cli = fileURLToPath(new URL('../dist/bin.js', import.meta.url))
const seconds = Number(process.env.BENCH_SECONDS ?? 10)

function serve(store: string, files: { policy: string; keys: string }) {
  return startServe(['--policy', files.policy, '--store', store, '--keys', files.keys], { bin: cli })
}

async function run(label: string, store: string, target: string) {
  const dir = mkdtempSync(join(tmpdir(), 'remit-http-bench-'))
  const policy = join(dir, 'remit.yaml')
  copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), policy)
  const key = generateKey()
  const keys = join(dir, 'keys.yaml')
  writeFileSync(keys, `${keyLine({ name: 'bench', agent: 'marketing-agent' }, key)}\n`)
  const { url, process: child } = await serve(store, { policy, keys })
  let n = 0
  // As @remit/client sends them: every request carries an idempotency key (bound to its request).
  const body = () =>
    JSON.stringify({
      action: { kind: 'email.positioning' },
      customer: { accountId: `acct-${n}`, facts: { lifecycle: 'customer', tier: 'smb' } },
      idempotencyKey: `bench-${n++}`,
    })
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  // Warm up (JIT, connections, caches), then measure.
  await autocannon({
    url,
    connections: 16,
    duration: 2,
    requests: [
      { method: 'POST', path: '/v1/decisions', headers, setupRequest: (r) => ({ ...r, body: body() }) },
    ],
  })
  const result = await autocannon({
    url,
    connections: 64,
    duration: seconds,
    requests: [
      { method: 'POST', path: '/v1/decisions', headers, setupRequest: (r) => ({ ...r, body: body() }) },
    ],
  })
  child.kill('SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))
  const ok = result['2xx']
  const errors = result.non2xx + result.errors + result.timeouts
  console.log(
    `${label.padEnd(34)} ${Math.round(ok / seconds)
      .toLocaleString('en-US')
      .padStart(
        7,
      )} decisions/s   p50 ${String(result.latency.p50).padStart(3)} ms   p99 ${String(result.latency.p99).padStart(3)} ms   ${errors ? `${errors} errors   ` : ''}(${target})`,
  )
}

console.log(
  `HTTP, 64 connections, ${seconds} s, every request a new account (a go, so a reservation) with an idempotency key; node ${process.version}\n`,
)
await run(
  'SQLite (embedded), one process',
  join(mkdtempSync(join(tmpdir(), 'remit-http-bench-')), 'remit.db'),
  'target ≥ 8,000/s, p99 ≤ 10 ms',
)
const schema = `remit_b_${randomBytes(5).toString('hex')}`
await run('PostgreSQL, one process', `${postgresUrl}?schema=${schema}`, 'target ≥ 3,000/s, p99 ≤ 20 ms')
const client = new pg.Client(postgresUrl)
await client.connect()
await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
await client.end()
