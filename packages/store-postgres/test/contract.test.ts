import { randomBytes } from 'node:crypto'
import { storeContract } from '@remit/core/testing'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../src/index.ts'

// A real PostgreSQL (127.0.0.1:5432 here and in CI; .ci/run checks it is up). Each store gets a
// schema of its own, dropped at the end.
export const url = process.env.REMIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const schemas: string[] = []
const fresh = () => {
  const schema = `remit_t_${randomBytes(6).toString('hex')}`
  schemas.push(schema)
  return schema
}
afterAll(async () => {
  const client = new pg.Client(url)
  await client.connect()
  for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`)
  await client.end()
})

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
    const client = new pg.Client(url)
    await client.connect()
    const { rows } = await client.query(`SELECT version FROM ${schema}.remit_migrations ORDER BY version`)
    expect(rows.map((r) => r.version)).toEqual([1])
    await client.end()
    await Promise.all(opened.map((s) => s.close()))
    // …and again on a restart, which finds nothing to do.
    await (await openPostgresStore(url, { schema })).close()
  })

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(openPostgresStore(url, { schema: 'x; DROP TABLE y' })).rejects.toThrow(/invalid schema name/)
  })

  it('says so when the database cannot be reached', async () => {
    await expect(
      openPostgresStore('postgres://postgres@127.0.0.1:1/none', { pool: { connectionTimeoutMillis: 2000 } }),
    ).rejects.toThrow()
  })
})
