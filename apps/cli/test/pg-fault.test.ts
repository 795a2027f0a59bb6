import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { clusterFiles, dropSchema, type Instance, ledgerGos, postgresUrl, startInstance } from './cluster.ts'

// Two `remit serve` processes on one PostgreSQL schema, under load, while every connection they
// hold is killed again and again. PostgreSQL being away must cost callers a 503 with Retry-After and
// nothing else: no crash, no 500, no go lost or doubled, and no restart needed once it is back.

let instances: Instance[] = []
let schema = ''
afterEach(async () => {
  for (const i of instances) i.process.kill('SIGKILL')
  instances = []
  if (schema) await dropSchema(schema)
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Failure {
  status: number | 'no answer'
  retryAfter: string | null
  detail: string
}

/**
 * One decision, asked until answered: a 503 is retried with the same idempotency key on the other
 * instance, as @remit/client does, but after at most 200 ms rather than Retry-After's 1 s, to put
 * more requests into the outage. Bounded by attempts.
 */
async function decide(
  instances: Instance[],
  o: { key: string; accountId: string; idempotencyKey: string; first: number; failures: Failure[] },
) {
  for (let attempt = 0; attempt < 30; attempt++) {
    const target = instances[(o.first + attempt) % instances.length] as Instance
    let res: Response
    try {
      res = await fetch(`${target.url}/v1/decisions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${o.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          action: { kind: 'email.positioning' },
          customer: { accountId: o.accountId, facts: { lifecycle: 'customer', tier: 'smb' } },
          idempotencyKey: o.idempotencyKey,
        }),
        signal: AbortSignal.timeout(10_000),
      })
    } catch (error) {
      o.failures.push({ status: 'no answer', retryAfter: null, detail: String(error) })
      await sleep(100)
      continue
    }
    if (res.status === 200) return (await res.json()) as { id: string; verdict: string; replayed?: boolean }
    const retryAfter = res.headers.get('retry-after')
    o.failures.push({ status: res.status, retryAfter, detail: await res.text() })
    await sleep(Math.min(Number(retryAfter ?? 1) * 1000, 200))
  }
  throw new Error(`${o.idempotencyKey}: no answer after 30 attempts`)
}

/** Ends every backend whose application_name is `name`, every 50 ms for `ms`; returns how many. */
async function killRepeatedly(name: string, ms: number): Promise<{ kills: number; rounds: number }> {
  const client = new pg.Client(postgresUrl)
  await client.connect()
  let kills = 0
  let rounds = 0
  const until = Date.now() + ms
  try {
    for (; rounds < 200 && Date.now() < until; rounds++) {
      const { rows } = await client.query(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`,
        [name],
      )
      kills += (rows[0] as { n: number }).n
      await sleep(50)
    }
  } finally {
    await client.end()
  }
  return { kills, rounds }
}

describe('PostgreSQL faults under two instances', () => {
  it('every backend killed again and again for 2 s: only 503s with Retry-After, one go per account, recovery without restart', {
    timeout: 90_000,
  }, async () => {
    const files = clusterFiles()
    schema = files.schema
    // The instances name their connections, so the killer ends theirs and no one else's.
    const name = `remit_pgfault_${randomBytes(4).toString('hex')}`
    instances = await Promise.all([
      startInstance({ ...files, store: `${files.store}&application_name=${name}` }),
      startInstance({ ...files, store: `${files.store}&application_name=${name}` }),
    ])

    const accounts = 40
    const failures: Failure[] = []
    const answers: { accountId: string; id: string; verdict: string; replayed?: boolean }[] = []
    let outage: Promise<{ kills: number; rounds: number }> | undefined
    let outageOver = false
    let next = 0
    let asked = 0
    // Callers keep asking until the outage is over and at least 400 decisions were asked; at most 4000.
    const caller = async () => {
      for (let i = next++; i < 4000 && (i < 400 || !outageOver); i = next++) {
        asked++
        const accountId = `acct-${i % accounts}`
        const answer = await decide(instances, {
          key: files.key,
          accountId,
          idempotencyKey: `fault-${i}`,
          first: i,
          failures,
        })
        answers.push({ accountId, id: answer.id, verdict: answer.verdict, replayed: answer.replayed })
        // The outage starts once the load is under way.
        if (!outage && answers.length >= 60) {
          outage = killRepeatedly(name, 2000).finally(() => {
            outageOver = true
          })
        }
      }
    }
    const loadStarted = Date.now()
    await Promise.all(Array.from({ length: 16 }, caller))
    const { kills, rounds } = await (outage as Promise<{ kills: number; rounds: number }>)
    const loadMs = Date.now() - loadStarted

    // Recovery: once the killing stops, each instance answers a new decision at once.
    const recovery: number[] = []
    for (const [n, instance] of instances.entries()) {
      const started = Date.now()
      const probe = await decide([instance], {
        key: files.key,
        accountId: `probe-${n}`,
        idempotencyKey: `probe-${n}`,
        first: 0,
        failures,
      })
      expect(probe.verdict).toBe('go')
      recovery.push(Date.now() - started)
    }

    const unavailable = failures.filter((f) => f.status === 503)
    console.info(
      `pg-fault: ${asked} decisions asked in ${loadMs} ms, ${kills} backends killed in ${rounds} rounds, ` +
        `${unavailable.length} answers were 503, ${failures.length - unavailable.length} other failures, ` +
        `${answers.filter((a) => a.replayed).length} decisions answered by a replay of a retry; ` +
        `first answer after the outage in ${recovery.join(' / ')} ms`,
    )

    // Both processes lived through it.
    for (const i of instances) expect([i.process.exitCode, i.process.signalCode]).toEqual([null, null])
    expect(kills).toBeGreaterThan(0)
    // Every failed answer was a 503 carrying Retry-After: no 500, no dropped connection.
    expect(unavailable.length).toBeGreaterThan(0)
    expect(failures.filter((f) => f.status !== 503 || !f.retryAfter)).toEqual([])
    expect(new Set(unavailable.map((f) => JSON.parse(f.detail).error.code))).toEqual(
      new Set(['STORE_UNAVAILABLE']),
    )
    // Every decision asked was answered (none lost), and answered once: each key has one decision.
    expect(answers).toHaveLength(asked)
    const ledger = await ledgerGos(schema)
    expect(ledger.decisions).toBe(asked + instances.length)

    // max: 1 per 72 h held: each account has one go, the one its callers were answered with.
    const gos = ledger.gos.filter((g) => g.account_id.startsWith('acct-'))
    const goAccounts = gos.map((g) => g.account_id).sort()
    expect(goAccounts).toEqual(Array.from({ length: accounts }, (_, n) => `acct-${n}`).sort())
    const answeredGos = [...new Set(answers.filter((a) => a.verdict === 'go').map((a) => a.id))]
    expect(answeredGos.sort()).toEqual(gos.map((g) => g.id).sort())
    // Nothing half-written: reserved touches are exactly the gos, at most one per account.
    const reserved = ledger.touches.filter((t) => t.status === 'reserved')
    expect(reserved.map((t) => t.decision_id).sort()).toEqual(ledger.gos.map((g) => g.id).sort())
    const perAccount = new Map<string, number>()
    for (const t of reserved) perAccount.set(t.account_id, (perAccount.get(t.account_id) ?? 0) + 1)
    expect([...perAccount.values()].every((n) => n === 1)).toBe(true)
  })
})
