import { describe, expect, it } from 'vitest'
import { InputError } from '../src/index.ts'
import { acme, at, engine, globex, initech, rules, seedPolicyText } from './helpers.ts'

describe('verdicts: the most severe result wins, every matched rule is a reason', () => {
  it('goes when a permission grants the action and nothing else holds', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(0),
    })
    expect(d.verdict).toBe('go')
    expect(d.reasons).toEqual([
      {
        rule: 'mkt-positioning',
        sort: 'permission',
        message: expect.stringContaining('permitted by mkt-positioning'),
      },
    ])
    expect(d.policyVersion).toBe(remit.policy.version)
  })

  it('a hard stop wins over a permission and over flags', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.cold_prospect' },
      customer: acme,
      at: at(0),
    })
    expect(d.verdict).toBe('stop')
    expect(rules(d)).toEqual([
      'no-cold-to-customers',
      'renewal-flag',
      'renewal-owned-by-sales',
      'no-permission',
    ])
    expect(d.retryAfter).toBeUndefined()
    expect(d.reviewId).toBeUndefined()
  })

  it('a trigger flags, and the flag is routed to the owning team', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
    })
    expect(d.verdict).toBe('flag')
    expect(rules(d)).toEqual(['renewal-flag', 'renewal-owned-by-sales', 'mkt-positioning'])
    expect(d.reviewTeam).toBe('sales')
    const review = await remit.reviews.get(d.reviewId as string)
    expect(review).toMatchObject({ status: 'pending', team: 'sales', decisionId: d.id })
    expect(review?.expiresAt.toISOString()).toBe(at(72))
  })

  it('a stop trigger with `until` is a pause: the decision says when to retry', async () => {
    const remit = await engine()
    const customer = { ...globex, facts: { ...globex.facts, lastTicketOpenedAt: at(-10) } }
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer,
      at: at(0),
    })
    expect(d.verdict).toBe('stop')
    expect(rules(d)).toEqual(['ticket-pause', 'mkt-positioning'])
    expect(d.retryAfter?.toISOString()).toBe(at(38))
    // 48 hours after the ticket, the pause has lifted.
    const later = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer,
      at: at(38),
    })
    expect(later.verdict).toBe('go')
  })

  it('a pause gives no retry time when a hard stop holds too', async () => {
    const remit = await engine()
    const customer = { ...acme, facts: { ...acme.facts, lastTicketOpenedAt: at(-1) } }
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.cold_prospect' },
      customer,
      at: at(0),
    })
    expect(rules(d)).toContain('ticket-pause')
    expect(d.verdict).toBe('stop')
    expect(d.retryAfter).toBeUndefined()
  })

  it('a limit stops a second outbound touch in the window, and says when the first ages out', async () => {
    const remit = await engine()
    const first = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(0),
    })
    expect(first.verdict).toBe('go')
    const second = await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 5 },
      customer: globex,
      at: at(10),
    })
    expect(second.verdict).toBe('stop')
    expect(second.reasons[0]).toEqual({
      rule: 'one-touch-per-72h',
      sort: 'limit',
      message: 'at most 1 outbound touch per account per 72h: 1 already in the window',
      cause: true,
    })
    expect(second.retryAfter?.toISOString()).toBe(at(72))
    const third = await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 5 },
      customer: globex,
      at: at(72),
    })
    expect(third.verdict).toBe('go')
  })

  it('a touch reserved by a decider whose clock read later still counts (it took the lock first)', async () => {
    const remit = await engine()
    const first = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(1),
    })
    expect(first.verdict).toBe('go')
    const earlier = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(0),
    })
    expect(earlier.verdict).toBe('stop')
    expect(earlier.reasons[0]?.rule).toBe('one-touch-per-72h')
  })

  it('a failed or cancelled reservation stops counting toward limits', async () => {
    const remit = await engine()
    const first = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(0),
    })
    await remit.outcome(first.id, 'failed')
    const second = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(1),
    })
    expect(second.verdict).toBe('go')
    await remit.outcome(second.id, 'cancelled')
    const third = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(2),
    })
    expect(third.verdict).toBe('go')
    await remit.outcome(third.id, 'sent')
    const fourth = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(3),
    })
    expect(fourth.verdict).toBe('stop')
  })

  it("a contact-scoped limit counts only that contact's touches", async () => {
    const remit = await engine(
      seedPolicyText.replace('max: 1, per: 72h, scope: account', 'max: 1, per: 72h, scope: contact'),
    )
    const jane = { ...globex, contactId: 'jane' }
    const omar = { ...globex, contactId: 'omar' }
    expect(
      (
        await remit.decide('marketing-agent', {
          action: { kind: 'email.positioning' },
          customer: jane,
          at: at(0),
        })
      ).verdict,
    ).toBe('go')
    expect(
      (
        await remit.decide('marketing-agent', {
          action: { kind: 'email.positioning' },
          customer: omar,
          at: at(1),
        })
      ).verdict,
    ).toBe('go')
    expect(
      (
        await remit.decide('marketing-agent', {
          action: { kind: 'email.positioning' },
          customer: jane,
          at: at(2),
        })
      ).verdict,
    ).toBe('stop')
  })

  it('an action no permission grants is flagged to the default review team', async () => {
    const remit = await engine()
    const d = await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 20 },
      customer: initech,
      at: at(0),
    })
    expect(d.verdict).toBe('flag')
    expect(d.reasons).toEqual([
      {
        rule: 'no-permission',
        sort: 'default',
        message:
          'no permission lets sales-agent (sales) take offer.discount here on its own: a human decides',
        cause: true,
      },
    ])
    expect(d.reviewTeam).toBe('sales')
    const within = await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 10 },
      customer: { ...initech, accountId: 'initech-2' },
      at: at(0),
    })
    expect(within.verdict).toBe('go')
  })

  it("ownership flags another team's agent to the owner, not the owner's own agent", async () => {
    const policy = seedPolicyText.replace(
      '  - { id: renewal-flag, when: "customer.lifecycle == \'renewal\'", then: flag,\n      message: "Account is in active renewal: every touch is flagged" }\n',
      '',
    )
    const remit = await engine(policy)
    const support = await remit.decide('support-agent', {
      action: { kind: 'sequence.winback' },
      customer: acme,
      at: at(0),
    })
    expect(support.verdict).toBe('flag')
    expect(rules(support)).toEqual(['renewal-owned-by-sales', 'support-winback'])
    expect(support.reviewTeam).toBe('sales')
    const sales = await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 5 },
      customer: { ...acme, accountId: 'acme-2' },
      at: at(0),
    })
    expect(sales.verdict).toBe('go')
  })

  it('ownership can stop instead of flag', async () => {
    const remit = await engine(seedPolicyText.replace('owner: sales }', 'owner: sales, then: stop }'))
    const d = await remit.decide('support-agent', {
      action: { kind: 'sequence.winback' },
      customer: acme,
      at: at(0),
    })
    expect(d.verdict).toBe('stop')
    expect(rules(d)).toContain('renewal-owned-by-sales')
  })

  it('a trigger adds the teams it notifies', async () => {
    const remit = await engine(
      seedPolicyText.replace('then: flag,\n', 'then: flag, notify: [support, marketing],\n'),
    )
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
    })
    expect(d.notify).toEqual(['support', 'marketing'])
  })

  it("rules read other agents' touches in the shared ledger (spoke with sales yesterday)", async () => {
    const remit = await engine()
    await remit.recordTouch({
      accountId: 'globex',
      kind: 'call',
      channel: 'phone',
      team: 'sales',
      outbound: false,
      at: at(0),
    })
    const d = await remit.decide('support-agent', {
      action: { kind: 'sequence.winback' },
      customer: globex,
      at: at(20),
    })
    expect(d.verdict).toBe('stop')
    expect(rules(d)).toEqual(['no-winback-after-sales', 'support-winback'])
    const dayAfter = await remit.decide('support-agent', {
      action: { kind: 'sequence.winback' },
      customer: globex,
      at: at(25),
    })
    expect(dayAfter.verdict).toBe('go')
  })

  it('rules read outstanding commitments', async () => {
    const remit = await engine(
      `${seedPolicyText.replace('stops:\n', `stops:\n  - { id: one-discount, action: offer.discount, when: "commitments.exists(c, c.kind == 'discount')" }\n`).replace('per: 72h', 'per: 1h')}`,
    )
    const first = await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 10 },
      customer: initech,
      at: at(0),
    })
    expect(first.verdict).toBe('go')
    const second = await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 5 },
      customer: initech,
      at: at(5),
    })
    expect(second.verdict).toBe('stop')
    expect(rules(second)).toContain('one-discount')
  })
})

describe('scope filtering and failing closed', () => {
  // A stop that reads a fact the caller did not give, scoped to support only.
  const policy = seedPolicyText.replace(
    'stops:\n',
    'stops:\n  - { id: vip-only, team: support, when: "customer.tier == \'enterprise\'" }\n',
  )

  it('never evaluates a rule scoped to another team, agent or action', async () => {
    const remit = await engine(policy)
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { accountId: 'x', facts: { lifecycle: 'customer' } },
      at: at(0),
    })
    expect(d.verdict).toBe('go')
    expect(rules(d)).not.toContain('vip-only')
  })

  it('a stop whose fact is missing fails closed: flag, and the reason names the fact', async () => {
    const remit = await engine(policy)
    const d = await remit.decide('support-agent', {
      action: { kind: 'sequence.winback' },
      customer: { accountId: 'x', facts: { lifecycle: 'customer' } },
      at: at(0),
    })
    expect(d.verdict).toBe('flag')
    const reason = d.reasons.find((r) => r.rule === 'vip-only')
    expect(reason?.sort).toBe('stop')
    expect(reason?.message).toContain('fact or attribute "tier" was missing')
  })

  it('a trigger whose fact is missing fails closed too', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { accountId: 'x', facts: { tier: 'smb' } },
      at: at(0),
    })
    expect(d.verdict).toBe('flag')
    expect(d.reasons.find((r) => r.rule === 'renewal-flag')?.message).toContain('"lifecycle" was missing')
  })

  it('an optional fact guarded with has() is simply absent', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(0),
    })
    expect(rules(d)).not.toContain('ticket-pause')
  })
})

describe('decisions are logged, idempotent and reserved atomically', () => {
  it('the same idempotency key gives the same decision and no second reservation', async () => {
    const remit = await engine()
    const req = {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(0),
      idempotencyKey: 'send-42',
    }
    const first = await remit.decide('marketing-agent', req)
    const again = await remit.decide('marketing-agent', { ...req, at: at(1) })
    expect(again).toEqual({ ...first, replayed: true })
    const t = await remit.timeline('globex')
    expect(t.touches).toHaveLength(1)
    expect(t.decisions).toHaveLength(1)
  })

  it('a dry run decides without logging or reserving', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(0),
      dryRun: true,
    })
    expect(d.verdict).toBe('go')
    expect(d.dryRun).toBe(true)
    expect(await remit.decisions.get(d.id)).toBeUndefined()
    expect((await remit.timeline('globex')).touches).toEqual([])
  })

  it('a go on a commitment kind records the commitment', async () => {
    const remit = await engine()
    const d = await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 10 },
      customer: initech,
      at: at(0),
    })
    const t = await remit.timeline('initech')
    expect(t.commitments).toMatchObject([
      { kind: 'discount', value: { discountPct: 10 }, team: 'sales', decisionId: d.id },
    ])
  })

  it('identifies the agent by its tool, and records the tool', async () => {
    const remit = await engine()
    const d = await remit.decide(
      { tool: 'hubspot:workflow/1001' },
      { action: { kind: 'email.positioning' }, customer: globex, at: at(0) },
    )
    expect(d.agent).toBe('marketing-agent')
    expect(d.tool).toBe('hubspot:workflow/1001')
    expect((await remit.timeline('globex')).touches[0]?.tool).toBe('hubspot:workflow/1001')
  })

  it('filters the decision log', async () => {
    const remit = await engine()
    await remit.decide('marketing-agent', {
      action: { kind: 'email.cold_prospect' },
      customer: acme,
      at: at(0),
    })
    await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(1),
    })
    expect((await remit.decisions.list({ rule: 'no-cold-to-customers' })).map((d) => d.accountId)).toEqual([
      'acme',
    ])
    expect((await remit.decisions.list({ verdict: 'go' })).map((d) => d.accountId)).toEqual(['globex'])
  })
})

describe('bad requests are InputErrors naming the field', () => {
  const cases: [string, unknown, string, (string | number)[]][] = [
    [
      'an unknown action kind',
      { action: { kind: 'email.positoning' }, customer: globex },
      'UNKNOWN_ACTION',
      ['action', 'kind'],
    ],
    [
      'an undeclared attribute',
      { action: { kind: 'offer.discount', discountPct: 5, pct: 5 }, customer: globex },
      'UNKNOWN_ATTRIBUTE',
      ['action', 'pct'],
    ],
    [
      'a missing attribute',
      { action: { kind: 'offer.discount' }, customer: globex },
      'MISSING_ATTRIBUTE',
      ['action', 'discountPct'],
    ],
    [
      'an attribute of the wrong type',
      { action: { kind: 'offer.discount', discountPct: '5' }, customer: globex },
      'BAD_TYPE',
      ['action', 'discountPct'],
    ],
    [
      'an undeclared fact',
      { action: { kind: 'email.positioning' }, customer: { accountId: 'a', facts: { lifecyle: 'x' } } },
      'UNKNOWN_FACT',
      ['customer', 'facts', 'lifecyle'],
    ],
    [
      'a fact outside its enum',
      {
        action: { kind: 'email.positioning' },
        customer: { accountId: 'a', facts: { lifecycle: 'churned' } },
      },
      'BAD_TYPE',
      ['customer', 'facts', 'lifecycle'],
    ],
    [
      'a timestamp fact that is not a time',
      {
        action: { kind: 'email.positioning' },
        customer: { accountId: 'a', facts: { lastTicketOpenedAt: 'yesterday' } },
      },
      'BAD_TYPE',
      ['customer', 'facts', 'lastTicketOpenedAt'],
    ],
    [
      'a customer with no id',
      { action: { kind: 'email.positioning' }, customer: { facts: {} } },
      'BAD_REQUEST',
      ['customer'],
    ],
    [
      'a body that names an agent',
      { action: { kind: 'email.positioning' }, customer: globex, agent: 'sales-agent' },
      'UNKNOWN_FIELD',
      ['agent'],
    ],
    [
      'a bad time',
      { action: { kind: 'email.positioning' }, customer: globex, at: 'monday' },
      'BAD_REQUEST',
      ['at'],
    ],
    ['no action', { customer: globex }, 'BAD_REQUEST', ['action']],
    [
      'an unknown field in a preview',
      { action: { kind: 'email.positioning' }, customer: globex, preview: { subject: 'Hi', body: 'x' } },
      'UNKNOWN_FIELD',
      ['preview', 'body'],
    ],
    [
      'a preview subject over 300 characters',
      { action: { kind: 'email.positioning' }, customer: globex, preview: { subject: 'x'.repeat(301) } },
      'BAD_REQUEST',
      ['preview', 'subject'],
    ],
    [
      'a preview sender over 320 characters',
      { action: { kind: 'email.positioning' }, customer: globex, preview: { from: 'x'.repeat(321) } },
      'BAD_REQUEST',
      ['preview', 'from'],
    ],
    [
      'a preview text over 20,000 characters',
      { action: { kind: 'email.positioning' }, customer: globex, preview: { text: 'x'.repeat(20_001) } },
      'BAD_REQUEST',
      ['preview', 'text'],
    ],
    [
      'a preview HTML over 100,000 characters',
      { action: { kind: 'email.positioning' }, customer: globex, preview: { html: 'x'.repeat(100_001) } },
      'BAD_REQUEST',
      ['preview', 'html'],
    ],
    [
      'a preview HTML with a lone surrogate',
      { action: { kind: 'email.positioning' }, customer: globex, preview: { html: '<p>\ud800</p>' } },
      'BAD_REQUEST',
      ['preview', 'html'],
    ],
    [
      'a preview link that is not https',
      {
        action: { kind: 'email.positioning' },
        customer: globex,
        preview: { link: 'javascript:alert(1)' },
      },
      'BAD_REQUEST',
      ['preview', 'link'],
    ],
    [
      'a preview link over 2,000 characters',
      {
        action: { kind: 'email.positioning' },
        customer: globex,
        preview: { link: `https://example.com/${'x'.repeat(2000)}` },
      },
      'BAD_REQUEST',
      ['preview', 'link'],
    ],
    [
      'a preview that is not an object',
      { action: { kind: 'email.positioning' }, customer: globex, preview: 'Hello' },
      'BAD_REQUEST',
      ['preview'],
    ],
  ]
  for (const [name, body, code, path] of cases) {
    it(name, async () => {
      const remit = await engine()
      const error = await remit.decide('marketing-agent', body as never).catch((e) => e)
      expect(error).toBeInstanceOf(InputError)
      expect({ code: error.code, path: error.path }).toEqual({ code, path })
    })
  }

  it('an unknown agent or tool, with a suggestion', async () => {
    const remit = await engine()
    const req = { action: { kind: 'email.positioning' }, customer: globex }
    await expect(remit.decide('marketing-agnt', req)).rejects.toMatchObject({
      code: 'UNKNOWN_AGENT',
      hint: 'did you mean "marketing-agent"?',
    })
    await expect(remit.decide({ tool: 'hubspot:workflow/9' }, req)).rejects.toMatchObject({
      code: 'UNKNOWN_TOOL',
    })
  })
})

describe('previews: what the reviewer of a flag sees', () => {
  const preview = {
    subject: 'Your renewal, and what is new',
    from: 'news@remit.example',
    text: 'Hi Jane,\n\nthree things changed this quarter.',
    html: '<p>Hi Jane,</p><p>three things changed this quarter.</p>',
    link: 'https://remit.example/renewal',
  }

  it('a preview round-trips: on the flagged decision, its review’s decision, the log and the wire', async () => {
    const { decisionRecordToWire } = await import('../src/internal.ts')
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
      preview,
    })
    expect(d.verdict).toBe('flag')
    expect(d.preview).toEqual(preview)
    const review = await remit.reviews.get(d.reviewId as string)
    const logged = await remit.decisions.get(review?.decisionId as string)
    expect(logged?.preview).toEqual(preview)
    expect(decisionRecordToWire(logged as NonNullable<typeof logged>).preview).toEqual(preview)
    expect((await remit.timeline('acme')).decisions[0]?.preview).toEqual(preview)
    // Approval re-checks the request, preview or not.
    expect((await remit.reviews.approve(d.reviewId as string, { at: at(1), by: 'dana' })).outcome).toBe('go')
  })

  it('a decision without a preview, or with an empty one, keeps none', async () => {
    const remit = await engine()
    const none = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(0),
    })
    const empty = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(30),
      preview: {},
    })
    expect('preview' in none).toBe(false)
    expect('preview' in empty).toBe(false)
    expect('preview' in ((await remit.decisions.get(empty.id)) ?? {})).toBe(false)
  })

  it('a dry run with a preview decides, logs nothing, and returns the preview it saw', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
      dryRun: true,
      preview,
    })
    expect(d).toMatchObject({ verdict: 'flag', dryRun: true, preview })
    expect(await remit.decisions.get(d.id)).toBeUndefined()
    expect(await remit.reviews.list({ status: 'pending' })).toEqual([])
  })

  it('the same idempotency key with the same preview replays; with another preview it is IDEMPOTENCY_KEY_REUSED', async () => {
    const remit = await engine()
    const req = {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
      idempotencyKey: 'send-7',
      preview,
    }
    const first = await remit.decide('marketing-agent', req)
    // Keys in another order are the same preview.
    const reordered = Object.fromEntries(Object.entries(preview).reverse()) as typeof preview
    const again = await remit.decide('marketing-agent', { ...req, preview: reordered, at: at(1) })
    expect(again).toEqual({ ...first, replayed: true })
    // Other content (or none) under the same key is another request.
    for (const other of [{ ...preview, text: 'Hi Jane, one more thing.' }, undefined]) {
      await expect(remit.decide('marketing-agent', { ...req, preview: other })).rejects.toMatchObject({
        code: 'IDEMPOTENCY_KEY_REUSED',
      })
    }
    expect(await remit.reviews.list({ status: 'pending' })).toHaveLength(1)
  })

  it('a request without a preview binds its key as before previews existed', async () => {
    const { requestHash } = await import('../src/decision/request.ts')
    const { hash } = await import('node:crypto')
    const customer = { accountId: 'globex', facts: { tier: 'smb', lifecycle: 'customer' } }
    const before = hash(
      'sha256',
      JSON.stringify([
        'marketing-agent',
        null,
        [['kind', 'email.positioning']],
        'globex',
        null,
        null,
        [
          ['lifecycle', 'customer'],
          ['tier', 'smb'],
        ],
      ]),
    )
    expect(requestHash('marketing-agent', undefined, { kind: 'email.positioning' }, customer)).toBe(before)
    expect(
      requestHash('marketing-agent', undefined, { kind: 'email.positioning' }, customer, { subject: 'Hi' }),
    ).not.toBe(before)
  })
})

describe('a logged decision asked again', () => {
  it('rebuilds the same request for approval and for explanations: ids, e-mail, facts, tool', async () => {
    const { requestOf } = await import('../src/internal.ts')
    const remit = await engine()
    const d = await remit.decide(
      { tool: 'hubspot:workflow/1001' },
      {
        action: { kind: 'email.positioning' },
        customer: {
          accountId: 'acme',
          contactId: 'jane',
          email: 'Jane@Acme.example',
          facts: { lifecycle: 'renewal', tier: 'enterprise' },
        },
        at: at(0),
      },
    )
    const req = requestOf(remit.policy, d, new Date(at(1)))
    expect(req.customer).toMatchObject({ accountId: 'acme', contactId: 'jane', email: 'Jane@Acme.example' })
    expect(req.tool).toBe('hubspot:workflow/1001')
    expect(req.now).toEqual(new Date(at(1)))
  })
})

describe('suppressions', () => {
  it('an unsubscribed address gets no outbound touch from any agent, however long ago it unsubscribed', async () => {
    const remit = await engine()
    await remit.recordSuppression({
      email: 'Omar@Globex.example',
      channel: 'email',
      reason: 'unsubscribe',
      source: 'sendgrid',
    })
    const ask = (email: string, at: string) =>
      remit.decide('marketing-agent', {
        action: { kind: 'email.positioning' },
        customer: { email, facts: { lifecycle: 'customer', tier: 'smb' } },
        at,
      })
    // Far past the ledger's lookback window: an unsubscribe does not lapse.
    const later = await ask('omar@globex.example', at(24 * 200))
    expect(later.verdict).toBe('stop')
    expect(rules(later)[0]).toBe('suppression')
    expect(later.reasons[0]?.message).toMatch(
      /^omar@globex\.example is suppressed on email \(unsubscribe, recorded by sendgrid/,
    )
    expect((await ask('jane@globex.example', at(1))).verdict).toBe('go')
  })

  it('a flag whose customer unsubscribes before the answer is a stop when approved', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
    })
    expect(d.verdict).toBe('flag')
    await remit.recordSuppression({
      accountId: acme.accountId,
      contactId: acme.contactId,
      channel: 'email',
      reason: 'spamreport',
      source: 'sendgrid',
    })
    const review = await remit.reviews.approve(d.reviewId as string, { at: at(1) })
    expect(review.outcome).toBe('stop')
    expect(review.outcomeReasons?.map((r) => r.rule)).toContain('suppression')
  })

  it('a suppression needs a customer and a reason', async () => {
    const remit = await engine()
    await expect(remit.recordSuppression({ reason: 'manual', source: 'ops' })).rejects.toBeInstanceOf(
      InputError,
    )
  })
})

describe('what a decision keeps of the content', () => {
  it('a flag keeps the whole preview for its reviewer; a go keeps only what names the message', async () => {
    const remit = await engine()
    const preview = {
      subject: 'Renewal',
      from: 'sales@remit.example',
      text: 'Dear Jane…',
      html: '<p>Dear Jane…</p>',
    }
    const flagged = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      preview,
      at: at(0),
    })
    expect(flagged.verdict).toBe('flag')
    expect(flagged.preview).toEqual(preview)
    const go = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      preview,
      at: at(0),
    })
    expect(go.verdict).toBe('go')
    // One copy of a campaign's body per recipient would grow the log by the campaign's size each time.
    expect((await remit.decisions.get(go.id))?.preview).toEqual({
      subject: 'Renewal',
      from: 'sales@remit.example',
    })
  })
})
