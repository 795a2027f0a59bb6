import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openSqliteStore, type Touch } from '../src/index.ts'
import { storeContract } from '../src/store/contract.ts'
import { nodeSqlite } from '../src/store/node-sqlite.ts'

storeContract('SQLite in memory', { open: async () => openSqliteStore(':memory:') })

const paths = new WeakMap<object, string>()
storeContract('SQLite file (WAL)', {
  open: async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'remit-store-')), 'remit.db')
    const store = openSqliteStore(path)
    paths.set(store, path)
    return store
  },
  // Reopening after close proves a resolved decide was committed to the file, not held in memory.
  reopen: async (store) => {
    const path = paths.get(store) as string
    await store.close()
    return openSqliteStore(path)
  },
})

describe('a SQLite file made before touches kept their address', () => {
  it('opens with the column and the identities table added, its old touches kept', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'remit-store-')), 'remit.db')
    // The touches table as files made before this release have it (no email), and one old touch.
    const old = new (nodeSqlite().DatabaseSync)(path)
    old.exec(`CREATE TABLE touches (
      id TEXT PRIMARY KEY, account_id TEXT NOT NULL, contact_id TEXT, agent TEXT, team TEXT, tool TEXT,
      kind TEXT NOT NULL, channel TEXT, outbound INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL,
      decision_id TEXT, source TEXT NOT NULL, note TEXT, external_id TEXT);
      INSERT INTO touches (id, account_id, kind, outbound, at, status, source)
        VALUES ('tch_old', 'acme', 'call', 0, ${Date.parse('2026-04-06T08:00:00Z')}, 'sent', 'recorded');`)
    old.close()
    const store = openSqliteStore(path)
    const touch: Touch = {
      id: 'tch_new',
      accountId: 'acme',
      contactId: 'c1',
      email: 'jane@acme.example',
      kind: 'email.manual',
      outbound: true,
      at: new Date('2026-04-06T09:00:00Z'),
      status: 'sent',
      source: 'recorded',
    }
    await store.recordTouch(touch)
    const view = await store.ledger('acme', new Date(0), new Date('2026-04-07T00:00:00Z'), {
      contactId: 'c1',
    })
    expect(view.touches.map((t) => [t.id, t.email])).toEqual([
      ['tch_old', undefined],
      ['tch_new', 'jane@acme.example'],
    ])
    expect(view.identities).toEqual([{ contactId: 'c1', email: 'jane@acme.example' }])
    await store.close()
  })
})

describe('a SQLite file made before suppressions could be lifted', () => {
  it('opens with the column added: its old suppressions stay in force and can be lifted', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'remit-store-')), 'remit.db')
    const at = '2026-04-06T08:00:00.000Z'
    const body = JSON.stringify({
      id: 'sup_old',
      accountId: 'acme',
      email: 'jane@acme.example',
      reason: 'unsubscribe',
      source: 'sendgrid',
      at,
    })
    // The suppressions table as files made before this release have it (no lifted_at).
    const old = new (nodeSqlite().DatabaseSync)(path)
    old.exec(`CREATE TABLE suppressions (
      id TEXT PRIMARY KEY, account_id TEXT NOT NULL, at INTEGER NOT NULL, external_id TEXT, body TEXT NOT NULL);
      INSERT INTO suppressions (id, account_id, at, body) VALUES ('sup_old', 'acme', ${Date.parse(at)}, '${body}');`)
    old.close()
    const store = openSqliteStore(path)
    const now = new Date('2026-04-07T00:00:00Z')
    expect((await store.ledger('acme', new Date(0), now)).suppressions?.map((s) => s.id)).toEqual(['sup_old'])
    await store.liftSuppression('sup_old', { at: now, by: 'admin' })
    expect((await store.ledger('acme', new Date(0), now)).suppressions).toEqual([])
    expect(await store.listSuppressions({ lifted: true })).toMatchObject([
      { id: 'sup_old', liftedBy: 'admin' },
    ])
    await store.close()
  })
})
