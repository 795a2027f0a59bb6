import { randomBytes } from 'node:crypto'
import { ConflictError, type Store } from '@remit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../src/index.ts'
import { schemas, sql, until, url, waitingOnLocks } from './database.ts'
import { goWrite, request } from './writes.ts'

// An idempotency key belongs to the request it was first sent with. The contract suite covers the
// rules; these tests force PostgreSQL's interleavings and its migration of older decisions.

const fresh = schemas()
const opened: Store[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close()
})

async function open(schema = fresh()) {
  const name = `remit_idem_${randomBytes(4).toString('hex')}`
  const store = await openPostgresStore(url, { schema, pool: { application_name: name } })
  opened.push(store)
  return { store, name, schema }
}

describe('idempotency keys on PostgreSQL', () => {
  it('one key raced for two accounts (two locks): one decision, one ConflictError, never two decisions', async () => {
    const { store, name, schema } = await open()
    const results = await sql(async (other) => {
      // A third transaction holds the key's index entry until both deciders have read "no decision
      // yet" and wait to insert theirs: the interleaving that makes the loser meet a unique violation.
      await other.query('BEGIN')
      await other.query(
        `INSERT INTO ${schema}.remit_decisions (id, at, account_id, agent, team, verdict, idempotency_key, body)
         VALUES ('dec_other', now(), 'x', 'marketing-agent', 'marketing', 'stop', 'raced', '{}')`,
      )
      // One after the other, so each is a transaction of its own (as from two instances): asked
      // together, they would share one batch, which settles the key without PostgreSQL (below).
      const racing: Promise<unknown>[] = []
      for (const account of ['acme', 'globex']) {
        racing.push(
          store.decide(request(account, { idempotencyKey: 'raced', requestHash: `hash-${account}` }), () =>
            goWrite(account, { key: 'raced' }),
          ),
        )
        await until(async () => (await waitingOnLocks(name)) === racing.length)
      }
      await other.query('ROLLBACK')
      return Promise.allSettled(racing)
    })
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    const refused = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason
    expect(refused).toBeInstanceOf(ConflictError)
    expect(refused).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' })
    expect((refused as Error).message).toMatch(/"raced" was first used for another request/)
    const decided = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<unknown>).value
    expect(await store.listDecisions()).toEqual([decided])
    const { rows } = await sql((client) => client.query(`SELECT account_id FROM ${schema}.remit_touches`))
    expect(rows).toHaveLength(1)
  })

  it('stores the request hash with the decision', async () => {
    const { store, schema } = await open()
    await store.decide(request('acme', { idempotencyKey: 'k', requestHash: 'h-1' }), () =>
      goWrite('acme', { key: 'k' }),
    )
    const { rows } = await sql((client) =>
      client.query(`SELECT request_hash FROM ${schema}.remit_decisions WHERE idempotency_key = 'k'`),
    )
    expect(rows).toEqual([{ request_hash: 'h-1' }])
  })

  it('a decision made before keys were bound to requests answers its key for its own account only', async () => {
    const schema = fresh()
    const before = await open(schema)
    const first = await before.store.decide(request('acme', { idempotencyKey: 'old' }), () =>
      goWrite('acme', { key: 'old' }),
    )
    // Back to the schema as it was before the migration that added request_hash (and those after).
    await before.store.close()
    await sql((client) =>
      client.query(
        `DROP TABLE ${schema}.remit_outbox;
         DROP TABLE ${schema}.remit_state;
         DROP TABLE ${schema}.remit_suppressions;
         DROP TABLE ${schema}.remit_identities;
         DROP TABLE ${schema}.remit_touch_external;
         DROP TABLE ${schema}.remit_touches;
         CREATE TABLE ${schema}.remit_touches (
           id text PRIMARY KEY, account_id text NOT NULL, contact_id text, agent text, team text, tool text,
           kind text NOT NULL, channel text, outbound boolean NOT NULL, at timestamptz NOT NULL, status text NOT NULL,
           decision_id text, source text NOT NULL, note text);
         CREATE INDEX remit_touches_account ON ${schema}.remit_touches (account_id, at);
         ALTER TABLE ${schema}.remit_decisions DROP COLUMN request_hash;
         DELETE FROM ${schema}.remit_migrations WHERE version > 1`,
      ),
    )
    const { store } = await open(schema)
    expect(
      await store.decide(request('acme', { idempotencyKey: 'old', requestHash: 'h-acme' }), () =>
        goWrite('acme', { key: 'old' }),
      ),
    ).toEqual({ ...first, replayed: true })
    await expect(
      store.decide(request('globex', { idempotencyKey: 'old', requestHash: 'h-globex' }), () =>
        goWrite('globex', { key: 'old' }),
      ),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' })
    expect(await store.listDecisions()).toHaveLength(1)
  })
})
