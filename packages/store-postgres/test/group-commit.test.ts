import { randomBytes } from 'node:crypto'
import { ConflictError, type DecisionWrite, InputError, type LedgerView, type Store } from '@remit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../src/index.ts'
import { schemas, sql, url } from './database.ts'
import { goWrite, request } from './writes.ts'

// Decisions asked for together are decided in one transaction (group commit). Deciding them there
// must come to what deciding them one by one would: these ask for many at once and look at what
// each plan saw and what was committed, and in how many transactions (rows written by one
// transaction share its xmin).

const fresh = schemas()
const opened: Store[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close()
})

async function open() {
  const schema = fresh()
  const store = await openPostgresStore(url, {
    schema,
    pool: { application_name: `remit_gc_${randomBytes(3).toString('hex')}` },
  })
  opened.push(store)
  return { store, schema }
}

/** A go while the account has fewer than `cap` touches in its view, else a stop: a limit, in small. */
function capped(accountId: string, cap: number, seen?: LedgerView[]) {
  return (ledger: LedgerView): DecisionWrite => {
    seen?.push(ledger)
    const go = goWrite(accountId)
    if (ledger.touches.length < cap) return go
    return { decision: { ...go.decision, verdict: 'stop' } }
  }
}

async function transactions(schema: string, table = 'remit_decisions'): Promise<number> {
  const { rows } = await sql((c) =>
    c.query(`SELECT count(DISTINCT xmin::text)::int AS n FROM ${schema}.${table}`),
  )
  return (rows[0] as { n: number }).n
}

describe('group commit on PostgreSQL', () => {
  it('two decisions for one account asked together share a transaction, and the second sees what the first reserved', async () => {
    const { store, schema } = await open()
    const seen: LedgerView[] = []
    const [first, second] = await Promise.all([
      store.decide(request('acme'), capped('acme', 1, seen)),
      store.decide(request('acme'), capped('acme', 1, seen)),
    ])
    expect([first?.verdict, second?.verdict]).toEqual(['go', 'stop'])
    expect(seen[1]?.touches.map((t) => t.decisionId)).toEqual([first?.id])
    expect(await transactions(schema)).toBe(1)
    expect((await store.listDecisions()).map((d) => d.verdict).sort()).toEqual(['go', 'stop'])
  })

  it('many callers on a few accounts: exactly the cap of goes per account, in far fewer transactions than decisions', async () => {
    const { store, schema } = await open()
    const accounts = Array.from({ length: 8 }, (_, i) => `acct-${i}`)
    const decisions = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const account = accounts[i % accounts.length] as string
        return store.decide(request(account), capped(account, 3))
      }),
    )
    for (const account of accounts) {
      const goes = decisions.filter((d) => d.accountId === account && d.verdict === 'go')
      expect(goes).toHaveLength(3)
    }
    const { rows } = await sql((c) =>
      c.query(`SELECT account_id, count(*)::int AS n FROM ${schema}.remit_touches GROUP BY account_id`),
    )
    expect(rows.map((r) => (r as { n: number }).n)).toEqual(Array(8).fill(3))
    expect(await transactions(schema)).toBeLessThan(50)
  })

  it('a key sent twice in one batch with the same request replays the first decision; with another request it is refused', async () => {
    const { store } = await open()
    const [first, again, other] = await Promise.allSettled([
      store.decide(request('acme', { idempotencyKey: 'k', requestHash: 'h1' }), () =>
        goWrite('acme', { key: 'k' }),
      ),
      store.decide(request('acme', { idempotencyKey: 'k', requestHash: 'h1' }), () =>
        goWrite('acme', { key: 'k' }),
      ),
      store.decide(request('globex', { idempotencyKey: 'k', requestHash: 'h2' }), () =>
        goWrite('globex', { key: 'k' }),
      ),
    ])
    const decided = (first as PromiseFulfilledResult<{ id: string }>).value
    expect((again as PromiseFulfilledResult<unknown>).value).toEqual({ ...decided, replayed: true })
    expect((other as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError)
    expect((other as PromiseRejectedResult).reason).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' })
    expect(await store.listDecisions()).toEqual([decided])
  })

  it('a key sent again in a later batch replays what an earlier batch committed', async () => {
    const { store } = await open()
    const first = await store.decide(request('acme', { idempotencyKey: 'k', requestHash: 'h1' }), () =>
      goWrite('acme', { key: 'k' }),
    )
    const [again] = await Promise.all([
      store.decide(request('acme', { idempotencyKey: 'k', requestHash: 'h1' }), () =>
        goWrite('acme', { key: 'k' }),
      ),
      store.decide(request('acme'), () => goWrite('acme')),
    ])
    expect(again).toEqual({ ...first, replayed: true })
    expect(await store.listDecisions()).toHaveLength(2)
  })

  it("one request's failing plan refuses that request alone; the rest of its batch is committed", async () => {
    const { store, schema } = await open()
    const results = await Promise.allSettled([
      store.decide(request('acme'), () => goWrite('acme')),
      store.decide(request('acme'), () => {
        throw new InputError('BAD', 'this one is wrong', ['action'])
      }),
      store.decide(request('globex'), () => goWrite('globex')),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(await store.listDecisions()).toHaveLength(2)
    expect(await transactions(schema)).toBe(1)
  })

  it('a time PostgreSQL cannot hold fails its own request (400), and the others of its batch are decided', async () => {
    const { store } = await open()
    const far = new Date(Date.UTC(300000, 0, 1))
    const results = await Promise.allSettled([
      store.decide(request('acme'), () => goWrite('acme')),
      store.decide(request('globex', { now: far, since: far }), () => goWrite('globex', { at: far })),
      store.decide(request('initech'), () => goWrite('initech')),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'AT_OUT_OF_RANGE' })
    expect((await store.listDecisions()).map((d) => d.accountId).sort()).toEqual(['acme', 'initech'])
  })

  it('a decision naming a person, after one in its batch linked an identity in that account, sees the link (it waits for the next batch)', async () => {
    const { store } = await open()
    const jane = { contactId: 'c1', email: 'jane@acme.test' }
    // An older link of the address to another id: the new link joins c1 to it, which a read from
    // c1 alone made before the link could not reach.
    await store.decide({ ...request('acme'), person: { contactId: 'c0', email: jane.email } }, () => ({
      ...goWrite('acme'),
      identity: { contactId: 'c0', email: jane.email },
    }))
    const seen: LedgerView[] = []
    await Promise.all([
      store.decide({ ...request('acme'), person: jane }, () => ({ ...goWrite('acme'), identity: jane })),
      store.decide({ ...request('acme'), person: { contactId: 'c1' } }, (ledger) => {
        seen.push(ledger)
        return goWrite('acme')
      }),
    ])
    expect(seen[0]?.identities).toEqual([{ contactId: 'c0', email: jane.email }, jane])
    expect(seen[0]?.touches).toHaveLength(2)
  })

  it('close() waits for the decisions already asked for: each is committed, none lost', async () => {
    const { store, schema } = await open()
    opened.pop()
    const asked = Array.from({ length: 100 }, (_, i) =>
      store.decide(request(`acct-${i % 7}`), () => goWrite(`acct-${i % 7}`)),
    )
    await store.close()
    expect((await Promise.all(asked)).every((d) => d.verdict === 'go')).toBe(true)
    const { rows } = await sql((c) => c.query(`SELECT count(*)::int AS n FROM ${schema}.remit_touches`))
    expect((rows[0] as { n: number }).n).toBe(100)
    await expect(store.decide(request('acme'), () => goWrite('acme'))).rejects.toThrow(/closed/)
  })

  it('a go is answered only once it is committed: the row is there when the promise settles', async () => {
    const { store, schema } = await open()
    const decided = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store
          .decide(request(`a${i}`), () => goWrite(`a${i}`))
          .then(async (d) => {
            const { rows } = await sql((c) =>
              c.query(`SELECT 1 FROM ${schema}.remit_decisions WHERE id = $1`, [d.id]),
            )
            return rows.length
          }),
      ),
    )
    expect(decided).toEqual(Array(20).fill(1))
  })
})
