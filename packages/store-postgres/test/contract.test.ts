import { storeContract } from '@remit/core/testing'
import { describe, expect, it } from 'vitest'
import { openPostgresStore } from '../src/index.ts'
import { MIGRATIONS } from '../src/schema.ts'
import { schemas, sql, url } from './database.ts'

const fresh = schemas()

const stores = new WeakMap<object, string>()
storeContract('PostgreSQL', {
  open: async () => {
    const schema = fresh()
    const store = await openPostgresStore(url, { schema })
    stores.set(store, schema)
    return store
  },
  reopen: async (store) => {
    const schema = stores.get(store) as string
    await store.close()
    return openPostgresStore(url, { schema })
  },
})

describe('migrations', () => {
  it('run once, even when several instances start at the same moment', async () => {
    const schema = fresh()
    const opened = await Promise.all(
      Array.from({ length: 6 }, () => openPostgresStore(url, { schema, maxConnections: 2 })),
    )
    const { rows } = await sql((client) =>
      client.query(`SELECT version FROM ${schema}.remit_migrations ORDER BY version`),
    )
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1))
    await Promise.all(opened.map((s) => s.close()))
    // …and again on a restart, which finds nothing to do.
    await (await openPostgresStore(url, { schema })).close()
  })

  it('a migration that fails says why, and those before it stay applied', async () => {
    const schema = fresh()
    // A table in the way of the outbox's migration.
    await sql((client) =>
      client.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.remit_outbox (id int)`),
    )
    await expect(openPostgresStore(url, { schema })).rejects.toThrow(/relation "remit_outbox" already exists/)
    const { rows } = await sql((client) =>
      client.query(`SELECT max(version) AS v FROM ${schema}.remit_migrations`),
    )
    expect(rows).toEqual([{ v: MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE remit_outbox')) }])
  })

  it('refuses a schema name that is not a plain identifier, as bad input', async () => {
    await expect(openPostgresStore(url, { schema: 'x; DROP TABLE y' })).rejects.toMatchObject({
      name: 'InputError',
      code: 'BAD_SCHEMA',
      message: expect.stringMatching(/^schema: invalid schema name/),
    })
  })

  it('with create: false, opens a store that is there and refuses one that is not, creating nothing', async () => {
    const schema = fresh()
    await expect(openPostgresStore(url, { schema, create: false })).rejects.toMatchObject({
      name: 'InputError',
      code: 'NO_STORE',
    })
    const { rows } = await sql((client) =>
      client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema]),
    )
    expect(rows).toEqual([])
    await (await openPostgresStore(url, { schema })).close()
    await (await openPostgresStore(url, { schema, create: false })).close()
  })

  it('says so when the database cannot be reached', async () => {
    await expect(openPostgresStore('postgres://postgres@127.0.0.1:1/none')).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    })
  })
})
