import { randomUUID } from 'node:crypto'
import type { Store, Touch } from '@remit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../src/index.ts'
import { ensureMonths, monthsAhead } from '../src/partitions.ts'
import { schemas, sql, url } from './database.ts'

// Touches are kept by month (PostgreSQL's own partitioning), so pruning a month is dropping a table.
// These look at where rows land and what pruning and the migration from one table do.

const fresh = schemas()
const opened: Store[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close()
})

async function open(schema = fresh()) {
  const store = await openPostgresStore(url, { schema })
  opened.push(store)
  return { store, schema }
}

function touch(at: Date, o: Partial<Touch> = {}): Touch {
  return {
    id: `tch_${randomUUID()}`,
    accountId: 'acme',
    kind: 'call',
    outbound: true,
    at,
    status: 'sent',
    source: 'recorded',
    ...o,
  }
}

/** Which table of remit_touches holds each touch, by id. */
async function homes(schema: string): Promise<Record<string, string>> {
  const { rows } = await sql((c) =>
    c.query(`SELECT id, tableoid::regclass::text AS home FROM ${schema}.remit_touches`),
  )
  return Object.fromEntries(
    rows.map((r) => [(r as { id: string }).id, (r as { home: string }).home.replace(`${schema}.`, '')]),
  )
}

async function months(schema: string): Promise<string[]> {
  const { rows } = await sql((c) =>
    c.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = '${schema}.remit_touches'::regclass ORDER BY 1`,
    ),
  )
  return rows.map((r) => (r as { relname: string }).relname)
}

describe('touches kept by month on PostgreSQL', () => {
  it('has this month and the next two when it opens; a touch lands in its month, one from long ago in DEFAULT', async () => {
    const { store, schema } = await open()
    const ahead = monthsAhead(new Date()).map((m) => m.name)
    expect(await months(schema)).toEqual([...ahead, 'remit_touches_default'].sort())
    const now = touch(new Date())
    const old = touch(new Date('2019-03-02T00:00:00Z'))
    await store.recordTouch(now)
    await store.recordTouch(old)
    expect(await homes(schema)).toEqual({ [now.id]: ahead[0], [old.id]: 'remit_touches_default' })
    expect((await store.ledger('acme', new Date('2019-01-01T00:00:00Z'), new Date())).touches).toEqual([
      old,
      now,
    ])
  })

  it('prunes a whole month by dropping its table, and deletes the rest row by row', async () => {
    const { store, schema } = await open()
    const [thisMonth, nextMonth] = monthsAhead(new Date())
    const inThis = touch(new Date((thisMonth?.from.getTime() as number) + 3600e3))
    const inNext = touch(new Date((nextMonth?.from.getTime() as number) + 3600e3))
    const old = touch(new Date('2019-03-02T00:00:00Z'), { externalId: 'crm:call:old' })
    for (const t of [inThis, inNext, old]) await store.recordTouch(t)
    const cut = nextMonth?.from as Date
    const report = await store.prune({ touchesBefore: cut, decisionsBefore: new Date(0), now: new Date() })
    expect(report).toMatchObject({ touches: 2, months: [thisMonth?.name] })
    expect(await months(schema)).not.toContain(thisMonth?.name)
    expect(Object.keys(await homes(schema))).toEqual([inNext.id])
    // Its external id went with it: the source may report it again.
    const again = touch(new Date('2019-03-02T00:00:00Z'), { externalId: 'crm:call:old' })
    expect(await store.recordTouch(again)).toEqual(again)
  })

  it('leaves a month ahead that DEFAULT already holds rows of to DEFAULT, without failing', async () => {
    const { store, schema } = await open()
    const far = monthsAhead(new Date(), 5)[5] as { name: string; from: Date }
    const early = touch(new Date(far.from.getTime() + 3600e3))
    await store.recordTouch(early)
    const made = await sql(async (c) => {
      await c.query(`SET search_path = ${schema}`)
      await c.query('BEGIN')
      const out = await ensureMonths(c, far.from)
      await c.query('COMMIT')
      return out
    })
    expect(made).not.toContain(far.name)
    expect(made).toHaveLength(2)
    expect((await homes(schema))[early.id]).toBe('remit_touches_default')
  })

  it('moves the touches of a store from before partitioning, each into its month, external ids still once', async () => {
    const { store, schema } = await open()
    await store.close()
    opened.pop()
    // The layout before: one table, external ids unique in it.
    await sql((c) =>
      c.query(`
        DROP TABLE ${schema}.remit_touches; DROP TABLE ${schema}.remit_touch_external;
        CREATE TABLE ${schema}.remit_touches (
          id text PRIMARY KEY, account_id text NOT NULL, contact_id text, agent text, team text, tool text,
          kind text NOT NULL, channel text, outbound boolean NOT NULL, at timestamptz NOT NULL, status text NOT NULL,
          decision_id text, source text NOT NULL, note text, external_id text, email text, attributes jsonb);
        CREATE INDEX remit_touches_account ON ${schema}.remit_touches (account_id, at);
        CREATE UNIQUE INDEX remit_touches_external ON ${schema}.remit_touches (external_id) WHERE external_id IS NOT NULL;
        INSERT INTO ${schema}.remit_touches (id, account_id, kind, outbound, at, status, source, external_id, attributes)
          VALUES ('t1', 'acme', 'call', true, '2025-06-10T10:00:00Z', 'sent', 'recorded', 'crm:1', '{"campaign":"june"}'),
                 ('t2', 'acme', 'call', true, '2025-07-01T00:00:00Z', 'sent', 'recorded', NULL, NULL),
                 ('t3', 'acme', 'call', true, '0044-03-15T00:00:00Z BC', 'sent', 'recorded', NULL, NULL);
        DELETE FROM ${schema}.remit_migrations WHERE version > 8;`),
    )
    const { store: after } = await open(schema)
    expect(await homes(schema)).toEqual({
      t1: 'remit_touches_p202506',
      t2: 'remit_touches_p202507',
      t3: 'remit_touches_default',
    })
    const first = (
      await after.ledger('acme', new Date('2025-06-01T00:00:00Z'), new Date('2025-06-30T00:00:00Z'))
    ).touches
    expect(first).toMatchObject([
      { id: 't1', externalId: 'crm:1', attributes: { campaign: 'june' } },
      { id: 't2' },
    ])
    const resent = touch(new Date('2025-06-10T10:00:00Z'), { externalId: 'crm:1' })
    expect((await after.recordTouch(resent)).id).toBe('t1')
  })
})
