import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { openSqliteStore, type Store } from '@remit/core'
import { openPostgresStore } from '@remit/store-postgres'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { generateKey, keyLine } from '../src/index.ts'
import { acme, globex, type Harness, harness } from './helpers.ts'

// An agent holding a valid key is not trusted to be honest: each case here is an attack that bent a
// verdict or took the service down before, tried over the API as the agent would.
const postgresUrl = process.env.REMIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const schemas: string[] = []
const stores: [string, () => Promise<Store>][] = [
  ['SQLite', async () => openSqliteStore(':memory:')],
  [
    'PostgreSQL',
    () => {
      const schema = `remit_t_${randomBytes(5).toString('hex')}`
      schemas.push(schema)
      return openPostgresStore(postgresUrl, { schema })
    },
  ],
]
afterAll(async () => {
  const client = new pg.Client(postgresUrl)
  await client.connect()
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await client.end()
})

let h: Harness
afterEach(async () => h?.server.close())

const positioning = (customer: object, extra: object = {}) => ({
  action: { kind: 'email.positioning' },
  customer,
  ...extra,
})
const customer = { accountId: 'initech', facts: { lifecycle: 'customer', tier: 'smb' } }
const days = (n: number) => new Date(Date.now() + n * 86400e3).toISOString()

describe('the clock is the server’s', () => {
  it('a touch dated 100 days ahead is refused, so it cannot pass a 1-per-72h limit a second time', async () => {
    h = await harness()
    const first = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer))
    expect(first.body.verdict).toBe('go')
    const ahead = await h.call(
      'POST',
      '/v1/decisions',
      h.key.marketing,
      positioning(customer, { at: days(100) }),
    )
    expect(ahead.status).toBe(400)
    expect(ahead.body.error).toMatchObject({ code: 'AT_OUT_OF_RANGE', path: ['at'] })
    const again = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer))
    expect(again.body.verdict).toBe('stop')
    expect(again.body.reasons).toContainEqual(expect.objectContaining({ rule: 'one-touch-per-72h' }))
  })

  it('a decision dated 9999 is refused and blocks no other agent', async () => {
    h = await harness()
    const far = await h.call(
      'POST',
      '/v1/decisions',
      h.key.marketing,
      positioning(customer, { at: '9999-01-01T00:00:00Z' }),
    )
    expect(far.status).toBe(400)
    expect(far.body.error.path).toEqual(['at'])
    const other = await h.call('POST', '/v1/decisions', h.key.support, {
      action: { kind: 'sequence.winback' },
      customer,
    })
    expect(other.body.verdict).toBe('go')
  })

  it('an at within the allowed skew is accepted, and the decision is made at the server’s time', async () => {
    h = await harness()
    const before = Date.now()
    const near = new Date(before + 60_000).toISOString()
    const d = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer, { at: near }))
    expect(d.status).toBe(200)
    const record = await h.call('GET', `/v1/decisions/${d.body.id}`, h.key.admin)
    expect(Date.parse(record.body.at)).toBeLessThan(before + 30_000)
  })

  it('an at that is no ISO time with an offset is refused as the schema says, not quietly dropped', async () => {
    h = await harness()
    const local = new Date().toISOString().slice(0, 19) // now, but without its offset
    for (const at of [local, 'garbage', 123, []]) {
      const r = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer, { at }))
      expect(r.status, JSON.stringify(at)).toBe(400)
      expect(r.body.error.path).toEqual(['at'])
    }
  })

  it('an agent cannot backdate a recorded touch; an admin can', async () => {
    h = await harness()
    const touch = { accountId: 'initech', kind: 'call', at: days(-10) }
    const byAgent = await h.call('POST', '/v1/touches', h.key.sales, touch)
    expect(byAgent.status).toBe(400)
    expect(byAgent.body.error.code).toBe('AT_OUT_OF_RANGE')
    const byAdmin = await h.call('POST', '/v1/touches', h.key.admin, touch)
    expect(byAdmin.status).toBe(201)
    expect(byAdmin.body.at).toBe(touch.at)
  })

  it('no key records a touch that has not happened yet: a 400 on at, nothing recorded', async () => {
    h = await harness()
    for (const at of [days(2), '9999-12-31T23:59:59Z']) {
      const byAdmin = await h.call('POST', '/v1/touches', h.key.admin, {
        accountId: 'initech',
        kind: 'call',
        at,
      })
      expect(byAdmin.status, at).toBe(400)
      expect(byAdmin.body.error).toMatchObject({ code: 'AT_OUT_OF_RANGE', path: ['at'] })
    }
    expect((await h.call('GET', '/v1/customers/initech/timeline', h.key.admin)).body.touches).toHaveLength(0)
  })

  it("a touch sent again with its external id is recorded once; an agent's external ids are its own", async () => {
    h = await harness()
    const touch = { accountId: 'initech', kind: 'call', externalId: 'crm:call:7' }
    const first = await h.call('POST', '/v1/touches', h.key.sales, touch)
    const again = await h.call('POST', '/v1/touches', h.key.sales, touch)
    expect(again.body.id).toBe(first.body.id)
    expect(first.body.externalId).toBe('agent:sales-agent/crm:call:7')
    // Another agent sending the same id claims nothing of sales-agent's, nor of a vendor feed's.
    const other = await h.call('POST', '/v1/touches', h.key.support, touch)
    expect(other.body.id).not.toBe(first.body.id)
    const byAdmin = await h.call('POST', '/v1/touches', h.key.admin, touch)
    expect(byAdmin.body.externalId).toBe('crm:call:7')
    expect((await h.call('GET', '/v1/customers/initech/timeline', h.key.admin)).body.touches).toHaveLength(3)
  })

  it('an external id sent again for something else is a 409, not the first record returned in silence', async () => {
    h = await harness()
    const call = { accountId: 'initech', kind: 'call', externalId: 'crm:call:8' }
    expect((await h.call('POST', '/v1/touches', h.key.sales, call)).status).toBe(201)
    const other = await h.call('POST', '/v1/touches', h.key.sales, { ...call, accountId: 'globex' })
    expect(other.status).toBe(409)
    expect(other.body.error.code).toBe('EXTERNAL_ID_REUSED')
    expect((await h.call('GET', '/v1/customers/globex/timeline', h.key.admin)).body.touches).toHaveLength(0)
    const unsubscribe = {
      email: 'ann@globex.example',
      channel: 'email',
      reason: 'unsubscribe',
      externalId: 'sg:9',
    }
    expect((await h.call('POST', '/v1/suppressions', h.key.marketing, unsubscribe)).status).toBe(201)
    const spam = { ...unsubscribe, email: 'bob@globex.example', reason: 'spamreport' }
    const reused = await h.call('POST', '/v1/suppressions', h.key.marketing, spam)
    expect(reused.status).toBe(409)
    expect(reused.body.error.message).toMatch(/differs in email, reason/)
  })

  it('an admin decides backdated as a dry run, reserving nothing unless asked', async () => {
    h = await harness()
    const at = days(-30)
    const dry = await h.call('POST', '/v1/admin/decisions', h.key.admin, {
      agent: 'marketing-agent',
      ...positioning(customer, { at }),
    })
    expect(dry.status).toBe(200)
    expect(dry.body.verdict).toBe('go')
    expect((await h.call('GET', '/v1/customers/initech/timeline', h.key.admin)).body.touches).toEqual([])
    const reserved = await h.call('POST', '/v1/admin/decisions', h.key.admin, {
      tool: 'hubspot:workflow/1001',
      reserve: true,
      ...positioning(customer, { at }),
    })
    expect(reserved.body.verdict).toBe('go')
    const timeline = await h.call('GET', '/v1/customers/initech/timeline', h.key.admin)
    expect(timeline.body.touches.map((t: { at: string }) => t.at)).toEqual([at])
    expect((await h.call('POST', '/v1/admin/decisions', h.key.marketing, positioning(customer))).status).toBe(
      403,
    )
  })
})

for (const [name, open] of stores) {
  describe(`idempotency keys are bound to their request (${name})`, () => {
    it('the same key for another account is 409, not the first account’s go', async () => {
      h = await harness({ store: await open() })
      const key = { idempotencyKey: 'retry-1' }
      const first = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer, key))
      expect(first.body.verdict).toBe('go')
      const replay = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer, key))
      expect(replay.body).toMatchObject({ id: first.body.id, replayed: true })
      const other = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(globex, key))
      expect(other.status).toBe(409)
      expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED')
      expect((await h.call('GET', '/v1/customers/globex/timeline', h.key.admin)).body.decisions).toEqual([])
    })

    it('the same key with another preview (another e-mail) is 409, and the first flag keeps its own', async () => {
      h = await harness({ store: await open() })
      const key = { idempotencyKey: 'mail-1' }
      const preview = { subject: 'Renewal', from: 'news@remit.example', text: 'Hi Jane' }
      const first = await h.call(
        'POST',
        '/v1/decisions',
        h.key.marketing,
        positioning(acme, { ...key, preview }),
      )
      expect(first.body.verdict).toBe('flag')
      const replay = await h.call(
        'POST',
        '/v1/decisions',
        h.key.marketing,
        positioning(acme, { ...key, preview }),
      )
      expect(replay.body).toMatchObject({ id: first.body.id, replayed: true })
      const other = await h.call(
        'POST',
        '/v1/decisions',
        h.key.marketing,
        positioning(acme, { ...key, preview: { ...preview, text: 'Hi Jane, 50% off' } }),
      )
      expect(other.status).toBe(409)
      expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED')
      const logged = await h.call('GET', `/v1/decisions/${first.body.id}`, h.key.admin)
      expect(logged.body.preview).toEqual(preview)
    })

    it('the same request with its keys in another order is a replay', async () => {
      h = await harness({ store: await open() })
      const a = await h.call('POST', '/v1/decisions', h.key.marketing, {
        idempotencyKey: 'k2',
        action: { kind: 'email.positioning' },
        customer: { accountId: 'initech', facts: { lifecycle: 'customer', tier: 'smb' } },
      })
      const b = await h.call('POST', '/v1/decisions', h.key.marketing, {
        customer: { facts: { tier: 'smb', lifecycle: 'customer' }, accountId: 'initech' },
        action: { kind: 'email.positioning' },
        idempotencyKey: 'k2',
      })
      expect(b.body).toMatchObject({ id: a.body.id, replayed: true })
    })
  })

  describe(`outcomes are a state machine (${name})`, () => {
    it('a touch reported sent cannot then be cancelled to free the cap', async () => {
      h = await harness({ store: await open() })
      const go = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer))
      const url = `/v1/decisions/${go.body.id}/outcome`
      expect((await h.call('POST', url, h.key.marketing, { status: 'sent' })).status).toBe(200)
      expect((await h.call('POST', url, h.key.marketing, { status: 'sent' })).status).toBe(200)
      const cancel = await h.call('POST', url, h.key.marketing, { status: 'cancelled' })
      expect(cancel.status).toBe(409)
      expect(cancel.body.error.code).toBe('ILLEGAL_TRANSITION')
      const next = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer))
      expect(next.body.verdict).toBe('stop')
    })

    it('a failed touch stops counting once, and cannot come back as sent', async () => {
      h = await harness({ store: await open() })
      const go = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer))
      const url = `/v1/decisions/${go.body.id}/outcome`
      expect((await h.call('POST', url, h.key.marketing, { status: 'failed' })).status).toBe(200)
      expect((await h.call('POST', url, h.key.marketing, { status: 'sent' })).status).toBe(409)
      const next = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer))
      expect(next.body.verdict).toBe('go')
      const third = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(customer))
      expect(third.body.verdict).toBe('stop')
    })
  })
}

describe('no condition can stall the service', () => {
  it('a catastrophic regular expression is answered at once, and health checks keep answering', async () => {
    h = await harness()
    const text = readFileSync(h.policyPath, 'utf8')
      .replace('facts:', 'facts:\n  name: { type: string, optional: true }')
      .replace(
        'triggers:',
        () =>
          `triggers:\n  - { id: odd-name, when: "has(customer.name) && customer.name.matches('^(a+)+$')", then: flag, message: "odd name" }`,
      )
    writeFileSync(h.policyPath, text)
    const reload = await h.call('POST', '/v1/admin/policy/reload', h.key.admin)
    expect(reload.body.ok, JSON.stringify(reload.body)).toBe(true)
    // V8's backtracking engine takes about a minute on this input; a linear-time one, microseconds.
    // The test's own time-out (15 s) is the bound: the old engine took about 60 s.
    const [decision, health] = await Promise.all([
      h.call('POST', '/v1/decisions', h.key.marketing, {
        action: { kind: 'email.positioning' },
        customer: {
          accountId: 'initech',
          facts: { lifecycle: 'customer', tier: 'smb', name: `${'a'.repeat(34)}!` },
        },
      }),
      h.call('GET', '/healthz'),
    ])
    expect(health.status).toBe(200)
    expect(decision.status).toBe(200)
    expect(decision.body.reasons.map((r: { rule: string }) => r.rule)).not.toContain('odd-name')
  }, 15_000)
})

describe('deep input', () => {
  it('a body nested 20,000 levels is a 400, and the server answers the next request', async () => {
    h = await harness()
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`
    const r = await h.call('POST', '/v1/decisions', h.key.marketing, `{"action":${deep}}`)
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('TOO_DEEP')
    expect((await h.call('GET', '/healthz')).status).toBe(200)
  })

  it('nesting inside strings does not count', async () => {
    h = await harness()
    const r = await h.call('POST', '/v1/decisions', h.key.marketing, {
      ...positioning(customer),
      idempotencyKey: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
    })
    expect(r.status).toBe(200)
  })
})

describe('authority does not leak', () => {
  it('an agent reads the reviews of its own flags only; others are not found', async () => {
    h = await harness()
    const flag = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(acme))
    expect(flag.body.verdict).toBe('flag')
    const url = `/v1/reviews/${flag.body.reviewId}`
    expect((await h.call('GET', url, h.key.marketing)).status).toBe(200)
    const other = await h.call('GET', url, h.key.support)
    expect(other.status).toBe(404)
    expect((await h.call('GET', '/v1/reviews/rev_does_not_exist', h.key.support)).body.error.code).toBe(
      other.body.error.code,
    )
  })

  it("another team's review answers exactly as a review that does not exist", async () => {
    h = await harness()
    const flag = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(acme))
    const theirs = await h.call(
      'POST',
      `/v1/reviews/${flag.body.reviewId}/approve`,
      h.key.supportReviewer,
      {},
    )
    const none = await h.call('POST', '/v1/reviews/rev_none/approve', h.key.supportReviewer, {})
    expect([theirs.status, none.status]).toEqual([404, 404])
    expect(theirs.body.error.code).toBe(none.body.error.code)
  })

  it('a key removed from keys.yaml stops working within seconds, console sessions included', async () => {
    h = await harness({ keysPollMs: 100 })
    const signIn = await h.server.app.inject({
      method: 'POST',
      url: '/v1/console/session',
      payload: { key: h.key.salesReviewer },
    })
    const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string
    const viaCookie = () =>
      h.server.app.inject({ method: 'GET', url: '/v1/console/queue', headers: { cookie } })
    expect((await viaCookie()).statusCode).toBe(200)
    expect((await h.call('GET', '/v1/reviews', h.key.salesReviewer)).status).toBe(200)
    const text = readFileSync(h.keysPath, 'utf8')
    writeFileSync(
      h.keysPath,
      text
        .split('\n')
        .filter((l) => !l.includes('sales-reviewers'))
        .join('\n'),
    )
    let status = 200
    for (let i = 0; i < 50 && status !== 401; i++) {
      await new Promise((r) => setTimeout(r, 100))
      status = (await h.call('GET', '/v1/reviews', h.key.salesReviewer)).status
    }
    expect(status).toBe(401)
    expect((await viaCookie()).statusCode).toBe(401)
    // Keys added to the file work as soon, without a restart.
    const added = generateKey()
    writeFileSync(
      h.keysPath,
      `${readFileSync(h.keysPath, 'utf8')}\n${keyLine({ name: 'new', admin: true }, added)}\n`,
    )
    let ok = 401
    for (let i = 0; i < 50 && ok !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100))
      ok = (await h.call('GET', '/v1/admin/keys', added)).status
    }
    expect(ok).toBe(200)
  })

  it('a broken keys.yaml leaves the keys in service as they were, and says so', async () => {
    h = await harness({ keysPollMs: 100 })
    writeFileSync(h.keysPath, '- { name: broken')
    await new Promise((r) => setTimeout(r, 400))
    expect((await h.call('GET', '/v1/reviews', h.key.salesReviewer)).status).toBe(200)
    expect(h.logs.join('')).toMatch(/keys file refused/)
  })

  it('fact names that are names of every object (constructor, toString) are unknown facts', async () => {
    h = await harness()
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const r = await h.call(
        'POST',
        '/v1/decisions',
        h.key.marketing,
        `{"action":{"kind":"email.positioning"},"customer":{"accountId":"initech","facts":{"lifecycle":"customer","tier":"smb","${name}":"x"}}}`,
      )
      expect(r.status, name).toBe(400)
    }
  })
})

describe('what a probe as a hostile caller found', () => {
  it("a reviewer's view of an account's timeline holds its own team's reviews only", async () => {
    h = await harness()
    const flag = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(acme))
    await h.call('POST', `/v1/reviews/${flag.body.reviewId}/reject`, h.key.salesReviewer, {
      note: 'legal hold',
    })
    const sales = await h.call('GET', '/v1/customers/acme/timeline', h.key.salesReviewer)
    expect(sales.body.reviews).toHaveLength(1)
    const support = await h.call('GET', '/v1/customers/acme/timeline', h.key.supportReviewer)
    expect(support.status).toBe(200)
    expect(support.body.reviews).toEqual([])
    expect(JSON.stringify(support.body)).not.toContain('legal hold')
  })

  it('__proto__ spelled with JSON escapes is refused like __proto__', async () => {
    h = await harness()
    const r = await h.call(
      'POST',
      '/v1/decisions',
      h.key.marketing,
      '{"action":{"kind":"email.positioning","\\u005f_proto__":{"kind":"x"}},"customer":{"accountId":"A","facts":{"lifecycle":"customer","tier":"smb"}}}',
    )
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('RESERVED_NAME')
  })

  it("the router's own refusals answer in the API's error shape, and long ids reach their timeline", async () => {
    h = await harness()
    const bad = await h.call('GET', '/v1/decisions/x%ff', h.key.admin)
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('BAD_URL')
    const id = 'a'.repeat(256)
    const d = await h.call(
      'POST',
      '/v1/decisions',
      h.key.marketing,
      positioning({ ...customer, accountId: id }),
    )
    expect(d.status).toBe(200)
    const timeline = await h.call('GET', `/v1/customers/${id}/timeline`, h.key.admin)
    expect(timeline.status).toBe(200)
    expect(timeline.body.decisions).toHaveLength(1)
  })

  it('keys created at once by concurrent admin calls are all in service, and the file still loads', async () => {
    h = await harness()
    const made = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        h.call('POST', '/v1/admin/keys', h.key.admin, { name: `race-${i}`, reviewer: 'sales' }),
      ),
    )
    expect(made.map((r) => r.status)).toEqual(Array(10).fill(201))
    for (const r of made) expect((await h.call('GET', '/v1/reviews', r.body.key)).status).toBe(200)
    const twice = await Promise.all(
      [1, 2].map(() => h.call('POST', '/v1/admin/keys', h.key.admin, { name: 'same', reviewer: 'sales' })),
    )
    expect(twice.map((r) => r.status).sort()).toEqual([201, 400])
    const { readKeysFile } = await import('../src/index.ts')
    expect((await readKeysFile(h.keysPath)).map((k) => k.name)).toContain('same')
  })

  it('the console queue shows at most 200 flags a poll, however many agents create', async () => {
    h = await harness()
    for (let i = 0; i < 210; i++)
      await h.call(
        'POST',
        '/v1/decisions',
        h.key.marketing,
        positioning({ ...acme, accountId: `q-${i % 3}` }),
      )
    const signIn = await h.server.app.inject({
      method: 'POST',
      url: '/v1/console/session',
      payload: { key: h.key.salesReviewer },
    })
    const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string
    const queue = await h.server.app.inject({ method: 'GET', url: '/v1/console/queue', headers: { cookie } })
    expect(queue.statusCode).toBe(200)
    expect(queue.json().items).toHaveLength(200)
  })
})

describe('shutting down', () => {
  it('a peer that never finishes its request cannot hold the server open', async () => {
    const { createServer } = await import('../src/index.ts')
    h = await harness()
    await h.server.close()
    const server = await createServer({
      policy: h.policyPath,
      store: openSqliteStore(':memory:'),
      keys: h.keysPath,
      logger: false,
      watch: false,
      closeGraceMs: 200,
    })
    const url = new URL(await server.listen({ port: 0 }))
    const { connect } = await import('node:net')
    const socket = connect(Number(url.port), '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    // Headers and a promise of 10 bytes of body, then nothing.
    socket.write(
      'POST /v1/decisions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{',
    )
    socket.on('error', () => {})
    await new Promise((r) => setTimeout(r, 100))
    // The test's time-out bounds this: before, close() waited as long as the peer did.
    await server.close()
    socket.destroy()
  }, 10_000)
})

describe('the outbox over HTTP', () => {
  it("is an admin's to list and retry; others are refused, unknown ids are 404", async () => {
    h = await harness()
    h.server.remit.outbox.route('vendor', (review) => ({ review: review.id }))
    const stop = h.server.remit.outbox.deliver(
      'vendor',
      async () => {
        throw new Error('vendor refused')
      },
      { maxAttempts: 1 },
    )
    const flag = await h.call('POST', '/v1/decisions', h.key.marketing, positioning(acme))
    await h.call('POST', `/v1/reviews/${flag.body.reviewId}/reject`, h.key.salesReviewer, {})
    stop()
    const dead = await h.call('GET', '/v1/admin/outbox?status=dead', h.key.admin)
    expect(dead.body.messages).toMatchObject([
      { channel: 'vendor', status: 'dead', lastError: 'vendor refused' },
    ])
    expect(dead.body.messages[0].payload).toBeUndefined()
    for (const key of [h.key.salesReviewer, h.key.marketing])
      expect((await h.call('GET', '/v1/admin/outbox', key)).status).toBe(403)
    const id = dead.body.messages[0].id
    expect((await h.call('POST', `/v1/admin/outbox/${id}/retry`, h.key.salesReviewer, {})).status).toBe(403)
    const retried = await h.call('POST', `/v1/admin/outbox/${id}/retry`, h.key.admin, {})
    expect(retried.body).toMatchObject({ id, status: 'pending', attempts: 0 })
    expect((await h.call('POST', '/v1/admin/outbox/obx_none/retry', h.key.admin, {})).status).toBe(404)
    expect((await h.call('GET', '/v1/admin/outbox?status=lost', h.key.admin)).status).toBe(400)
  })
})

describe('suppressions over HTTP', () => {
  it("an agent's unsubscribe stops every agent's outbound e-mail to that customer; sent again, recorded once", async () => {
    h = await harness()
    const body = { email: 'Omar@Globex.example', channel: 'email', reason: 'unsubscribe', externalId: 'sg-1' }
    const first = await h.call('POST', '/v1/suppressions', h.key.marketing, body)
    expect(first.status).toBe(201)
    expect(first.body).toMatchObject({
      accountId: 'email:omar@globex.example',
      email: 'omar@globex.example',
      source: 'marketing-agent',
      externalId: 'agent:marketing-agent/sg-1',
    })
    expect((await h.call('POST', '/v1/suppressions', h.key.marketing, body)).body.id).toBe(first.body.id)
    const d = await h.call('POST', '/v1/decisions', h.key.sales, {
      action: { kind: 'offer.discount', discountPct: 5 },
      customer: { email: 'omar@globex.example', facts: { lifecycle: 'customer', tier: 'smb' } },
    })
    expect(d.body.verdict).toBe('stop')
    expect(d.body.reasons[0].rule).toBe('suppression')
    // A reviewer key records none; a body without a customer is a 400 naming the field.
    expect((await h.call('POST', '/v1/suppressions', h.key.salesReviewer, body)).status).toBe(403)
    // An agent silences one channel, not a customer for every team: every channel is an admin's.
    const everywhere = await h.call('POST', '/v1/suppressions', h.key.marketing, {
      email: 'x@y.example',
      reason: 'manual',
    })
    expect(everywhere.status).toBe(400)
    expect(everywhere.body.error.path).toEqual(['channel'])
    expect(
      (await h.call('POST', '/v1/suppressions', h.key.admin, { email: 'x@y.example', reason: 'manual' }))
        .status,
    ).toBe(201)
    const bad = await h.call('POST', '/v1/suppressions', h.key.admin, { reason: 'manual' })
    expect(bad.status).toBe(400)
    expect(bad.body.error.path).toEqual(['accountId'])
  })

  it('an address that is none is a 400 naming it; a channel in capitals still suppresses its channel', async () => {
    h = await harness()
    for (const email of ['not an email', 'jösé@exämple'] as const) {
      const r = await h.call('POST', '/v1/suppressions', h.key.marketing, {
        email,
        channel: 'email',
        reason: 'unsubscribe',
      })
      expect(r.status, email).toBe(400)
      expect(r.body.error.path, email).toEqual(['email'])
    }
    const caps = { email: 'zoe@globex.example', channel: 'EMAIL', reason: 'unsubscribe' }
    expect((await h.call('POST', '/v1/suppressions', h.key.marketing, caps)).status).toBe(201)
    const d = await h.call('POST', '/v1/decisions', h.key.sales, {
      action: { kind: 'offer.discount', discountPct: 5 },
      customer: { email: 'zoe@globex.example', facts: { lifecycle: 'customer', tier: 'smb' } },
    })
    expect(d.body.verdict).toBe('stop')
    expect(d.body.reasons[0].rule).toBe('suppression')
  })

  it('an admin lifts a suppression: the next decision goes, and the suppression stays on record with who lifted it', async () => {
    h = await harness()
    const omar = {
      action: { kind: 'offer.discount', discountPct: 5 },
      customer: { email: 'omar@globex.example', facts: { lifecycle: 'customer', tier: 'smb' } },
    }
    const s = await h.call('POST', '/v1/suppressions', h.key.marketing, {
      email: 'omar@globex.example',
      channel: 'email',
      reason: 'unsubscribe',
    })
    expect((await h.call('POST', '/v1/decisions', h.key.sales, omar)).body.reasons[0].rule).toBe(
      'suppression',
    )
    const url = `/v1/suppressions/${s.body.id}/lift`
    // An agent or a reviewer key may not lift one: only an admin's.
    expect((await h.call('POST', url, h.key.marketing, {})).status).toBe(403)
    expect((await h.call('POST', url, h.key.salesReviewer, {})).status).toBe(403)
    expect((await h.call('POST', '/v1/suppressions/sup_none/lift', h.key.admin, {})).status).toBe(404)
    const badNote = await h.call('POST', url, h.key.admin, { note: 5 })
    expect(badNote.status).toBe(400)
    expect(badNote.body.error.path).toEqual(['note'])
    const lifted = await h.call('POST', url, h.key.admin, { note: 'resubscribed by phone' })
    expect(lifted.status).toBe(200)
    expect(lifted.body).toMatchObject({
      id: s.body.id,
      reason: 'unsubscribe',
      liftedBy: 'ops',
      liftNote: 'resubscribed by phone',
    })
    expect(Date.parse(lifted.body.liftedAt)).not.toBeNaN()
    const d = await h.call('POST', '/v1/decisions', h.key.sales, omar)
    expect(d.body.reasons.map((r: { rule: string }) => r.rule)).not.toContain('suppression')
    // Lifted again: the first lift stands.
    expect((await h.call('POST', url, h.key.admin, { note: 'again' })).body.liftNote).toBe(
      'resubscribed by phone',
    )
  })
})
