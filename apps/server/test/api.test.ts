import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqliteStore } from '@remit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { acme, globex, type Harness, harness } from './helpers.ts'

let h: Harness
afterEach(async () => h?.server.close())

describe('credentials', () => {
  it('refuses a call without a key, or with an unknown one, with 401', async () => {
    h = await harness()
    const body = { action: { kind: 'email.positioning' }, customer: globex }
    const none = await h.call('POST', '/v1/decisions', undefined, body)
    expect(none.status).toBe(401)
    expect(none.headers['www-authenticate']).toBe('Bearer')
    expect((await h.call('POST', '/v1/decisions', 'rk_not-a-key', body)).status).toBe(401)
  })

  it('lets each key do only what its role allows', async () => {
    h = await harness()
    const body = { action: { kind: 'email.positioning' }, customer: globex }
    expect((await h.call('POST', '/v1/decisions', h.key.salesReviewer, body)).status).toBe(403)
    expect((await h.call('POST', '/v1/decisions', h.key.admin, body)).status).toBe(403)
    expect((await h.call('GET', '/v1/reviews', h.key.marketing)).status).toBe(403)
    expect((await h.call('POST', '/v1/admin/policy/reload', h.key.salesReviewer)).status).toBe(403)
  })

  it('a refused key is told, in a sentence, whose key may', async () => {
    h = await harness()
    const approve = await h.call('POST', '/v1/reviews/rev_x/approve', h.key.marketing, {})
    expect(approve.status).toBe(403)
    expect(approve.body.error.message).toBe(
      "an agent key may not approve a flag; a reviewer key of the review's team, or an admin key, may",
    )
    const log = await h.call('GET', '/v1/decisions', h.key.marketing)
    expect(log.body.error.message).toBe(
      'an agent key may not read this (the decision log, newest first, filtered); a reviewer key, or an admin key, may',
    )
    const decide = await h.call('POST', '/v1/decisions', h.key.admin, {})
    expect(decide.body.error.message).toBe(
      'an admin key may not decide one action for one customer; an agent key may',
    )
  })

  it("decides as the key's agent; a body naming another agent is refused", async () => {
    h = await harness()
    const ok = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: globex,
    })
    expect(ok.status).toBe(200)
    const log = await h.call('GET', `/v1/decisions/${ok.body.id}`, h.key.admin)
    expect(log.body).toMatchObject({ agent: 'marketing-agent', tool: 'hubspot:workflow/1001' })
    const spoof = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'offer.discount', discountPct: 5 },
      customer: globex,
      agent: 'sales-agent',
    })
    expect(spoof.status).toBe(400)
    expect(spoof.body.error).toMatchObject({ code: 'UNKNOWN_FIELD', path: ['agent'] })
  })
})

describe('decisions over HTTP', () => {
  it("a go is reserved, confirmed as sent, and on the account's timeline", async () => {
    h = await harness()
    const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: globex,
    })
    expect(d.body).toMatchObject({
      verdict: 'go',
      reasons: [{ rule: 'mkt-positioning', sort: 'permission' }],
      notify: [],
    })
    expect(d.body.policyVersion).toBe(h.server.remit.policy.version)
    const sent = await h.call('POST', `/v1/decisions/${d.body.id}/outcome`, h.key.marketing, {
      status: 'sent',
    })
    expect(sent.body).toMatchObject({ status: 'sent', decisionId: d.body.id })
    const t = await h.call('GET', '/v1/customers/globex/timeline', h.key.salesReviewer)
    expect(t.body.touches).toMatchObject([
      { status: 'sent', agent: 'marketing-agent', kind: 'email.positioning' },
    ])
    expect(t.body.decisions).toHaveLength(1)
  })

  it('an agent reports outcomes only for its own decisions', async () => {
    h = await harness()
    const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: globex,
    })
    expect(
      (await h.call('POST', `/v1/decisions/${d.body.id}/outcome`, h.key.sales, { status: 'cancelled' }))
        .status,
    ).toBe(404)
  })

  it('the same idempotency key gives the same decision and no second reservation', async () => {
    h = await harness()
    const body = { action: { kind: 'email.positioning' }, customer: globex, idempotencyKey: 'enrollment-7' }
    const a = await h.call('POST', '/v1/decisions', h.key.marketing, body)
    const b = await h.call('POST', '/v1/decisions', h.key.marketing, body)
    expect(b.body).toEqual({ ...a.body, replayed: true })
    const t = await h.call('GET', '/v1/customers/globex/timeline', h.key.admin)
    expect(t.body.touches).toHaveLength(1)
  })

  it("a flag goes to the owning team's queue; only that team can answer it", async () => {
    h = await harness()
    const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: acme,
    })
    expect(d.body).toMatchObject({ verdict: 'flag', reviewTeam: 'sales' })
    const queue = await h.call('GET', '/v1/reviews?status=pending', h.key.salesReviewer)
    expect(queue.body.reviews.map((r: { id: string }) => r.id)).toEqual([d.body.reviewId])
    expect((await h.call('GET', '/v1/reviews?status=pending', h.key.supportReviewer)).body.reviews).toEqual(
      [],
    )
    expect((await h.call('GET', '/v1/reviews?team=sales', h.key.supportReviewer)).status).toBe(403)
    expect(
      (await h.call('POST', `/v1/reviews/${d.body.reviewId}/approve`, h.key.supportReviewer, {})).status,
    ).toBe(404)
    const approved = await h.call('POST', `/v1/reviews/${d.body.reviewId}/approve`, h.key.salesReviewer, {
      note: 'fits the renewal',
    })
    expect(approved.status).toBe(200)
    expect(approved.body).toMatchObject({
      status: 'approved',
      outcome: 'go',
      resolvedBy: 'sales-reviewers',
      note: 'fits the renewal',
    })
    const again = await h.call('POST', `/v1/reviews/${d.body.reviewId}/reject`, h.key.salesReviewer)
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe('REVIEW_RESOLVED')
  })

  it("an approval naming another request's digest is a 409 and the review stays pending; its own digest approves", async () => {
    h = await harness()
    const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: acme,
    })
    const review = await h.call('GET', `/v1/reviews/${d.body.reviewId}`, h.key.salesReviewer)
    const digest: string = review.body.digest
    expect(digest).toMatch(/^[0-9a-f]{64}$/)
    expect((await h.call('GET', `/v1/decisions/${d.body.id}`, h.key.admin)).body.digest).toBe(digest)
    const refused = await h.call('POST', `/v1/reviews/${d.body.reviewId}/approve`, h.key.salesReviewer, {
      digest: '0'.repeat(64),
    })
    expect(refused.status).toBe(409)
    expect(refused.body.error.code).toBe('REVIEW_DIGEST_MISMATCH')
    expect((await h.call('GET', `/v1/reviews/${d.body.reviewId}`, h.key.salesReviewer)).body.status).toBe(
      'pending',
    )
    const approved = await h.call('POST', `/v1/reviews/${d.body.reviewId}/approve`, h.key.salesReviewer, {
      digest,
    })
    expect(approved.body).toMatchObject({ status: 'approved', outcome: 'go', digest })
  })

  it("records touches from elsewhere as the key's agent", async () => {
    h = await harness()
    const t = await h.call('POST', '/v1/touches', h.key.sales, {
      accountId: 'globex',
      kind: 'call',
      channel: 'phone',
      outbound: false,
    })
    expect(t.status).toBe(201)
    expect(t.body).toMatchObject({ agent: 'sales-agent', team: 'sales', source: 'recorded' })
    const spoof = await h.call('POST', '/v1/touches', h.key.sales, {
      accountId: 'globex',
      kind: 'call',
      team: 'support',
    })
    expect(spoof.status).toBe(403)
    // …and support's win-back now sees that sales spoke with the customer.
    const winback = await h.call('POST', '/v1/decisions', h.key.support, {
      action: { kind: 'sequence.winback' },
      customer: globex,
    })
    expect(winback.body.verdict).toBe('stop')
    expect(winback.body.reasons[0].rule).toBe('no-winback-after-sales')
  })

  it("a flag's preview, at its bounds (a body over 64 KiB), reaches the decision log and the reviewer's queue", async () => {
    h = await harness()
    const preview = {
      subject: 's'.repeat(300),
      from: 'news@remit.example',
      text: 't'.repeat(20_000),
      html: `<p>${'h'.repeat(100_000 - 7)}</p>`,
      link: 'https://remit.example/renewal',
    }
    const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: acme,
      preview,
    })
    expect(d.status, JSON.stringify(d.body).slice(0, 300)).toBe(200)
    expect(d.body.verdict).toBe('flag')
    // The answer is the verdict; the preview is the reviewer's (and the log's).
    expect(d.body.preview).toBeUndefined()
    expect((await h.call('GET', `/v1/decisions/${d.body.id}`, h.key.admin)).body.preview).toEqual(preview)
    const signIn = await h.server.app.inject({
      method: 'POST',
      url: '/v1/console/session',
      payload: { key: h.key.salesReviewer },
    })
    const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string
    const queue = await h.server.app.inject({ method: 'GET', url: '/v1/console/queue', headers: { cookie } })
    const item = queue.json().items.find((i: { review: { id: string } }) => i.review.id === d.body.reviewId)
    expect(item.decision.preview).toEqual(preview)
  })

  it('filters the decision log', async () => {
    h = await harness()
    await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.cold_prospect' },
      customer: acme,
    })
    await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: globex,
    })
    const stops = await h.call('GET', '/v1/decisions?verdict=stop&rule=no-cold-to-customers', h.key.admin)
    expect(stops.body.decisions.map((d: { accountId: string }) => d.accountId)).toEqual(['acme'])
    expect((await h.call('GET', '/v1/decisions?limit=0', h.key.admin)).status).toBe(400)
  })
})

describe('bad input is a 400 naming the field, never a 500', () => {
  const cases: [string, unknown, string, (string | number)[]][] = [
    [
      'an unknown action kind',
      { action: { kind: 'email.nope' }, customer: globex },
      'UNKNOWN_ACTION',
      ['action', 'kind'],
    ],
    [
      'a number as a string',
      { action: { kind: 'offer.discount', discountPct: '20' }, customer: globex },
      'BAD_TYPE',
      ['action', 'discountPct'],
    ],
    [
      'a fact outside its enum',
      { action: { kind: 'email.positioning' }, customer: { accountId: 'a', facts: { tier: 'gold' } } },
      'BAD_TYPE',
      ['customer', 'facts', 'tier'],
    ],
    ['a missing customer', { action: { kind: 'email.positioning' } }, 'BAD_REQUEST', ['customer']],
    [
      'a bad email',
      { action: { kind: 'email.positioning' }, customer: { email: 'not-an-email' } },
      'BAD_REQUEST',
      ['customer', 'email'],
    ],
    ['an array body', [], 'BAD_REQUEST', []],
    [
      'an unknown field in a preview',
      { action: { kind: 'email.positioning' }, customer: globex, preview: { subject: 'Hi', script: 'x' } },
      'UNKNOWN_FIELD',
      ['preview', 'script'],
    ],
    [
      'a preview HTML over 100,000 characters',
      { action: { kind: 'email.positioning' }, customer: globex, preview: { html: 'x'.repeat(100_001) } },
      'BAD_REQUEST',
      ['preview', 'html'],
    ],
    [
      'a preview link that is not https',
      { action: { kind: 'email.positioning' }, customer: globex, preview: { link: 'http://x.example/' } },
      'BAD_REQUEST',
      ['preview', 'link'],
    ],
  ]
  for (const [name, body, code, path] of cases) {
    it(name, async () => {
      h = await harness()
      const r = await h.call('POST', '/v1/decisions', h.key.marketing, body)
      expect(r.status).toBe(400)
      expect(r.body.error, JSON.stringify(r.body)).toMatchObject({ code, path })
    })
  }

  it('a body that is not JSON', async () => {
    h = await harness()
    const r = await h.call('POST', '/v1/decisions', h.key.marketing, '{"action": ')
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('BAD_JSON')
  })

  it('a body of another type, or too large', async () => {
    h = await harness()
    const text = await h.server.app.inject({
      method: 'POST',
      url: '/v1/decisions',
      headers: { authorization: `Bearer ${h.key.marketing}`, 'content-type': 'text/plain' },
      payload: 'hi',
    })
    expect(text.statusCode).toBe(415)
    // Decisions have room for a preview at its bounds (1 MiB); other routes keep the server's 64 KiB.
    const big = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: { accountId: 'x'.repeat(1_100_000) },
    })
    expect(big.status).toBe(413)
    expect(big.body.error.code).toBeDefined()
    const bigTouch = await h.call('POST', '/v1/touches', h.key.marketing, {
      accountId: 'acme',
      kind: 'call',
      note: 'x'.repeat(70_000),
    })
    expect(bigTouch.status).toBe(413)
  })

  it('a NUL character anywhere, which PostgreSQL cannot store', async () => {
    h = await harness()
    const r = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: { accountId: 'a\u0000b' },
    })
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('BAD_CHARACTER')
    const t = await h.call('GET', '/v1/customers/a%00b/timeline', h.key.admin)
    expect(t.status).toBe(400)
    expect(t.body.error).toMatchObject({ code: 'BAD_CHARACTER', path: ['accountId'] })
  })

  it('an unknown route', async () => {
    h = await harness()
    const r = await h.call('GET', '/v1/nope', h.key.admin)
    expect(r.status).toBe(404)
    expect(r.body.error.code).toBe('NOT_FOUND')
  })
})

describe('the policy in service', () => {
  it('a broken policy never replaces the one in service; the admin call says why', async () => {
    h = await harness()
    const before = h.server.remit.policy.version
    writeFileSync(
      h.policyPath,
      readFileSync(h.policyPath, 'utf8').replace(
        "customer.tier == 'enterprise'",
        "customer.tir == 'enterprise'",
      ),
    )
    const r = await h.call('POST', '/v1/admin/policy/reload', h.key.admin)
    expect(r.status).toBe(422)
    expect(r.body.error.code).toBe('POLICY_INVALID')
    expect(r.body.error.issues[0]).toMatchObject({
      code: 'CEL_INVALID',
      position: { line: expect.any(Number) },
    })
    expect(h.server.remit.policy.version).toBe(before)
    expect((await h.call('GET', '/v1/admin/policy', h.key.admin)).body.lastRefusal.issues).toHaveLength(1)
    expect(h.logs.some((l) => l.includes('policy reload refused'))).toBe(true)
    const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: globex,
    })
    expect(d.body.policyVersion).toBe(before)
  })

  it('a good policy is swapped in, and decisions record the version they used', async () => {
    h = await harness()
    const before = h.server.remit.policy.version
    writeFileSync(
      h.policyPath,
      readFileSync(h.policyPath, 'utf8').replace('max: 1, per: 72h', 'max: 2, per: 72h'),
    )
    const r = await h.call('POST', '/v1/admin/policy/reload', h.key.admin)
    expect(r.body).toMatchObject({ ok: true, changed: true })
    expect(r.body.version).not.toBe(before)
    const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: globex,
    })
    expect(d.body.policyVersion).toBe(r.body.version)
  })

  it('reloads when the file changes', async () => {
    h = await harness({ watch: true })
    const before = h.server.remit.policy.version
    writeFileSync(
      h.policyPath,
      readFileSync(h.policyPath, 'utf8').replace('max: 1, per: 72h', 'max: 3, per: 72h'),
    )
    for (let i = 0; i < 100 && h.server.remit.policy.version === before; i++)
      await new Promise((r) => setTimeout(r, 50))
    expect(h.server.remit.policy.version).not.toBe(before)
  })
})

describe('operations', () => {
  it('healthz needs no key', async () => {
    h = await harness()
    expect((await h.call('GET', '/healthz')).body).toEqual({
      status: 'ok',
      policyVersion: h.server.remit.policy.version,
    })
  })

  it('metrics are in Prometheus format', async () => {
    h = await harness()
    await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: globex,
    })
    const r = await h.server.app.inject({ method: 'GET', url: '/metrics' })
    expect(r.headers['content-type']).toContain('text/plain')
    expect(r.body).toContain('remit_decisions_total{verdict="go",team="marketing"} 1')
    expect(r.body).toContain('remit_reviews_pending 0')
    expect(r.body).toMatch(/remit_policy_info\{version="[0-9a-f]{16}"\} 1/)
  })

  it('logs no customer e-mail addresses at info level, and never a key', async () => {
    h = await harness()
    await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: { email: 'jane@acme.example', facts: {} },
    })
    await h.call(
      'GET',
      `/v1/customers/${encodeURIComponent('email:jane@acme.example')}/timeline`,
      h.key.admin,
    )
    const text = h.logs.join('')
    expect(text).toContain('"route":"/v1/customers/:accountId/timeline"')
    expect(text).not.toContain('jane@acme.example')
    expect(text).not.toContain(h.key.marketing)
  })

  it('an admin creates a key that works at once, shown once', async () => {
    h = await harness()
    const created = await h.call('POST', '/v1/admin/keys', h.key.admin, {
      name: 'zapier-marketing',
      agent: 'marketing-agent',
    })
    expect(created.status, h.logs.join('')).toBe(201)
    expect(created.body.key).toMatch(/^rk_/)
    expect(readFileSync(h.keysPath, 'utf8')).not.toContain(created.body.key)
    const d = await h.call('POST', '/v1/decisions', created.body.key, {
      action: { kind: 'email.positioning' },
      customer: globex,
    })
    expect(d.status).toBe(200)
    expect((await h.call('POST', '/v1/admin/keys', h.key.admin, { name: 'x', agent: 'nobody' })).status).toBe(
      400,
    )
  })

  it('shutting down lets in-flight decisions finish; every go answered is in the ledger', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'remit-shutdown-')), 'remit.db')
    // A store whose decisions take 100 ms, so that many are in flight when shutdown begins.
    const store = openSqliteStore(path)
    let entered = 0
    const slow = Object.assign(Object.create(store), {
      decide: async (...args: Parameters<typeof store.decide>) => {
        entered++
        await new Promise((r) => setTimeout(r, 100))
        return store.decide(...args)
      },
      close: () => store.close(),
    })
    h = await harness({ store: slow })
    const url = await h.server.listen({ port: 0 })
    const calls = Array.from({ length: 200 }, (_, i) =>
      fetch(`${url}/v1/decisions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.key.marketing}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          action: { kind: 'email.positioning' },
          customer: { ...globex, accountId: `a${i}` },
        }),
      }).then(
        async (r) => ({ status: r.status, body: (await r.json()) as { id: string; verdict: string } }),
        () => ({ status: 0, body: undefined }),
      ),
    )
    while (entered < 20) await new Promise((r) => setTimeout(r, 5))
    await h.server.close()
    const results = await Promise.all(calls)
    const answered = results.filter((r) => r.status === 200)
    expect(answered.length, JSON.stringify(results.map((r) => r.status))).toBeGreaterThan(0)
    // Anything not answered 200 was refused whole (503 while closing, or the connection closed).
    expect(results.every((r) => [200, 503, 0].includes(r.status))).toBe(true)
    expect(answered.length).toBeGreaterThanOrEqual(20)
    const reopened = openSqliteStore(path)
    const ledger = await Promise.all(answered.map((r) => reopened.getDecision(r.body?.id as string)))
    expect(ledger.every((d) => d?.verdict === 'go')).toBe(true)
    expect(await reopened.listDecisions({ limit: 1000 })).toHaveLength(answered.length)
    await reopened.close()
  })
})
