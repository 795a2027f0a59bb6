import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { expect, it } from 'vitest'
import { postgresUrl } from './cluster.ts'
import { remit } from './remit.ts'

// Commands that read a store (outbox list, explain --store) must find the one `remit serve` uses: a
// mistyped path, URL or schema is bad input (exit 2), never a new empty store that reads as "nothing".

const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))

it('outbox list on a PostgreSQL schema with no store says so and creates nothing', async () => {
  const schema = `nothere_${process.pid}_${Date.now()}`
  const r = await remit('outbox', 'list', '--store', `${postgresUrl}?schema=${schema}`)
  expect(r.err).toMatch(new RegExp(`^error: no Remit store in schema "${schema}" of this database`))
  expect(r.code).toBe(2)
  const client = new pg.Client(postgresUrl)
  await client.connect()
  try {
    const { rows } = await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [
      schema,
    ])
    expect(rows).toEqual([])
  } finally {
    await client.end()
  }
})

it('explain --store with a path that holds no store says so and creates no file', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'remit-explain-')), 'nothere.db')
  const r = await remit(
    'explain',
    '--policy',
    seed,
    '--agent',
    'sales-agent',
    '--action',
    'offer.discount',
    '--attr',
    'discountPct=10',
    '--account',
    'acme',
    '--store',
    path,
  )
  expect(r.err).toMatch(/^error: no store at .*nothere\.db/)
  expect(r.code).toBe(2)
  expect(existsSync(path)).toBe(false)
})
