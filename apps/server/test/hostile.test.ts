import { randomBytes } from 'node:crypto'
import { openSqliteStore, type Store } from '@remit/core'
import { openPostgresStore } from '@remit/store-postgres'
import fc from 'fast-check'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, harness } from './helpers.ts'

// Malformed and hostile bodies, headers and keys thrown at every endpoint, on both stores: never a
// 500, never a crash; 400 names the field, 401/403 for keys, 404/409/413/415 where they belong.
const postgresUrl = process.env.REMIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const schema = `remit_h_${randomBytes(5).toString('hex')}`
const stores: [string, () => Promise<Store>][] = [
  ['SQLite', async () => openSqliteStore(':memory:')],
  ['PostgreSQL', () => openPostgresStore(postgresUrl, { schema })],
]
afterAll(async () => {
  const client = new pg.Client(postgresUrl)
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await client.end()
})

const endpoints: ['GET' | 'POST', string][] = [
  ['POST', '/v1/decisions'],
  ['POST', '/v1/decisions/dec_x/outcome'],
  ['GET', '/v1/decisions/dec_x'],
  ['GET', '/v1/decisions'],
  ['POST', '/v1/touches'],
  ['GET', '/v1/reviews'],
  ['GET', '/v1/reviews/rev_x'],
  ['POST', '/v1/reviews/rev_x/approve'],
  ['POST', '/v1/reviews/rev_x/reject'],
  ['GET', '/v1/customers/acme/timeline'],
  ['GET', '/v1/admin/policy'],
  ['POST', '/v1/admin/policy/reload'],
  ['GET', '/v1/admin/keys'],
  ['POST', '/v1/admin/keys'],
  ['GET', '/healthz'],
]
const ALLOWED = new Set([200, 201, 400, 401, 403, 404, 409, 413, 415, 422])

const hostileString = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '../../etc/passwd',
    "'; DROP TABLE remit_decisions; --",
    '<script>',
    '%00',
    '\ud800',
    'x'.repeat(5000),
  ),
)
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    hostileString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(
        hostileString,
        fc.constantFrom(
          'action',
          'customer',
          'kind',
          'facts',
          'accountId',
          '__proto__',
          'constructor',
          'status',
          'note',
          'name',
          'agent',
        ),
      ),
      tie('value'),
      { maxKeys: 5 },
    ),
  ),
})).value

/** A decision-shaped body with one part replaced by garbage: closer to the edges than pure noise. */
const nearlyValid = fc.record({
  action: fc.oneof(
    fc.constant({ kind: 'email.positioning' }),
    fc.record({ kind: hostileString }),
    json,
    fc.record({ kind: fc.constant('offer.discount'), discountPct: json }),
  ),
  customer: fc.oneof(
    fc.constant({ accountId: 'acme', facts: { lifecycle: 'customer' } }),
    fc.record({ accountId: json, facts: json }),
    json,
    fc.record({ email: hostileString }),
  ),
  at: fc.option(hostileString, { nil: undefined }),
  idempotencyKey: fc.option(json, { nil: undefined }),
  dryRun: fc.option(json, { nil: undefined }),
})

const authorization = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('marketing', 'salesReviewer', 'admin'),
  fc.string().map((s) => `raw:${s}`),
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'Basic abc',
    `Bearer ${'k'.repeat(2000)}`,
    'bearer rk_x',
    'Bearer rk_\u0000',
  ),
)

describe.each(stores)('hostile input (%s)', (_name, open) => {
  let h: Harness
  beforeAll(async () => {
    h = await harness({ store: await open() })
  })
  afterAll(async () => h.server.close())

  it('never gets a 500 or kills the server, and every 400 names its field', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...endpoints),
        fc.oneof(
          json,
          nearlyValid,
          hostileString.map((s) => ({ raw: s })),
        ),
        authorization,
        fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'text/plain',
          'application/x-www-form-urlencoded',
          undefined,
        ),
        async ([method, url], body, auth, contentType) => {
          const key =
            auth === undefined
              ? undefined
              : auth.startsWith('raw:')
                ? auth.slice(4)
                : auth.startsWith('B') || auth.startsWith('b')
                  ? undefined
                  : h.key[auth as 'admin']
          const header =
            auth === undefined
              ? undefined
              : auth.startsWith('raw:')
                ? auth.slice(4)
                : auth.startsWith('B') || auth.startsWith('b')
                  ? auth
                  : `Bearer ${key}`
          const payload =
            body && typeof body === 'object' && 'raw' in (body as object)
              ? String((body as { raw: string }).raw)
              : JSON.stringify(body)
          const res = await h.server.app.inject({
            method,
            url,
            headers: {
              ...(header !== undefined ? { authorization: header } : {}),
              ...(contentType && method === 'POST' ? { 'content-type': contentType } : {}),
            },
            ...(method === 'POST' ? { payload } : {}),
          })
          expect(ALLOWED.has(res.statusCode), `${method} ${url} → ${res.statusCode} ${res.body}`).toBe(true)
          const out = JSON.parse(res.body)
          if (res.statusCode >= 400) expect(out.error.code).toEqual(expect.any(String))
          if (res.statusCode === 400) expect(Array.isArray(out.error.path)).toBe(true)
        },
      ),
      { numRuns: 600, seed: 20261124 },
    )
    expect((await h.call('GET', '/healthz')).status).toBe(200)
  })

  it('query strings with garbage are 400s', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.oneof(fc.string(), fc.constantFrom('limit', 'verdict', 'since', 'team', 'status')),
          fc.string(),
          { maxKeys: 4 },
        ),
        async (query) => {
          const qs = new URLSearchParams(query).toString()
          for (const url of ['/v1/decisions', '/v1/reviews']) {
            const res = await h.server.app.inject({
              method: 'GET',
              url: `${url}?${qs}`,
              headers: { authorization: `Bearer ${h.key.admin}` },
            })
            expect([200, 400]).toContain(res.statusCode)
          }
        },
      ),
      { numRuns: 200, seed: 7 },
    )
  })
})
