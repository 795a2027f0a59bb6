import type { OutboxMessage, Store } from '@remit/core'
import { outboxMessage } from '@remit/core/internal'
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgresStore, type PostgresStoreOptions } from '../src/index.ts'
import { schemas, sql, url } from './database.ts'
import { AT, flagWrite, request } from './writes.ts'

// Several instances deliver one outbox. The contract suite covers the rules within one store; these
// tests are about claims from different pools meeting on the same rows.

const fresh = schemas()
const opened: Store[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close()
})

async function open(schema: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const store = await openPostgresStore(url, { schema, ...options })
  opened.push(store)
  return store
}

const LEASE = 3600e3

/** `n` messages owed to HubSpot, due at AT, written with one review's answer. */
async function owe(store: Store, n: number): Promise<string[]> {
  const write = flagWrite('acme')
  await store.decide(request('acme'), () => write)
  const ids = Array.from({ length: n }, (_, i) => `obx_${String(i).padStart(3, '0')}`)
  await store.resolveReview(
    write.review.id,
    { since: new Date(AT.getTime() - 3600e3), now: AT },
    (review) => ({
      review: { ...review, status: 'approved', outcome: 'stop', resolvedAt: AT },
      outbox: ids.map((id) => outboxMessage(id, 'hubspot', { callbackId: id }, AT)),
    }),
  )
  return ids
}

/** Claims batches of 10 until a claim comes back empty. */
async function drain(store: Store): Promise<OutboxMessage[]> {
  const claimed: OutboxMessage[] = []
  for (;;) {
    const batch = await store.claimOutbox('hubspot', AT, LEASE, 10)
    if (batch.length === 0) return claimed
    claimed.push(...batch)
  }
}

describe('the outbox across instances', () => {
  it('two instances claiming at once take every due message exactly once', async () => {
    const schema = fresh()
    const [a, b] = [await open(schema), await open(schema)]
    const ids = await owe(a, 200)
    // Four claimers on each instance, each on a connection of its own.
    const claims = await Promise.all([a, a, a, a, b, b, b, b].map(drain))
    const claimed = claims.flat()
    expect(claimed.map((m) => m.id).sort()).toEqual(ids)
    expect(claimed.every((m) => m.attempts === 1)).toBe(true)
    expect(claimed.every((m) => m.nextAt.getTime() === AT.getTime() + LEASE)).toBe(true)
    // What the table holds agrees: one attempt each, leased, none left due.
    const stored = await b.listOutbox({ limit: 1000 })
    expect(stored.map((m) => [m.id, m.attempts])).toEqual(ids.map((id) => [id, 1]))
    expect(await a.claimOutbox('hubspot', AT, LEASE, 10)).toEqual([])
  })

  it('a claim passes by a message another instance holds, rather than waiting for it', async () => {
    const schema = fresh()
    // A claim that waited would fail after 2 s instead of passing by.
    const store = await open(schema, { pool: { query_timeout: 2000 } })
    const ids = await owe(store, 3)
    await sql(async (other) => {
      await other.query('BEGIN')
      await other.query(`SELECT id FROM ${schema}.remit_outbox WHERE id = $1 FOR UPDATE`, [ids[0]])
      const claimed = await store.claimOutbox('hubspot', AT, LEASE, 10)
      expect(claimed.map((m) => m.id)).toEqual(ids.slice(1))
      await other.query('ROLLBACK')
    })
    expect((await store.claimOutbox('hubspot', AT, LEASE, 10)).map((m) => m.id)).toEqual([ids[0]])
  })

  it('keeps the body in step with the columns claims select on', async () => {
    const schema = fresh()
    const store = await open(schema)
    const [id] = await owe(store, 1)
    await store.claimOutbox('hubspot', AT, LEASE, 10)
    await store.settleOutbox(id as string, { status: 'dead', error: 'HubSpot 401', at: AT })
    await store.retryOutbox(id as string, AT)
    const { rows } = await sql((client) =>
      client.query(
        `SELECT status, attempts, next_at, body->>'status' AS body_status, (body->>'attempts')::int AS body_attempts,
                (body->>'nextAt')::timestamptz AS body_next_at, body ? 'lastError' AS has_error
         FROM ${schema}.remit_outbox`,
      ),
    )
    expect(rows).toEqual([
      {
        status: 'pending',
        attempts: 0,
        next_at: AT,
        body_status: 'pending',
        body_attempts: 0,
        body_next_at: AT,
        has_error: false,
      },
    ])
  })
})
