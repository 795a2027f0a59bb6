import { describe, expect, it } from 'vitest'
import { at, engine, rules, seedPolicyText } from './helpers.ts'

// `scope: contact` counts a person: its contact id or its address (trimmed, any case), and whatever
// a request naming both linked to them in the account.

const policy = seedPolicyText.replace('max: 1, per: 72h, scope: account', 'max: 2, per: 7d, scope: contact')
const facts = { lifecycle: 'customer', tier: 'smb' }
const positioning = { kind: 'email.positioning' }
const WEEK = 7 * 24

describe('a contact-scoped limit', () => {
  it('counts a person named by its address alone, however the address is spelled, and links an id named with it', async () => {
    const remit = await engine(policy)
    const ask = (hour: number, customer: { contactId?: string; email?: string }) =>
      remit.decide('marketing-agent', {
        action: positioning,
        customer: { accountId: 'acme', ...customer, facts },
        at: at(hour),
      })
    const verdicts = []
    for (const [hour, email] of [
      [0, 'Jane@Example.com '],
      [1, 'jane@example.com'],
      [2, 'Jane@Example.com '],
      [3, 'jane@example.com'],
    ] as const)
      verdicts.push((await ask(hour, { email })).verdict)
    expect(verdicts).toEqual(['go', 'go', 'stop', 'stop'])
    // Another address of the account is another person.
    expect((await ask(3.5, { email: 'omar@example.com' })).verdict).toBe('go')
    const touches = (await remit.timeline('acme')).touches
    expect(touches.map((t) => t.email)).toEqual(['jane@example.com', 'jane@example.com', 'omar@example.com'])

    // Named with the address, contact c1 is Jane: counted with her two e-mails, and linked to them.
    const linking = await ask(4, { contactId: 'c1', email: 'JANE@example.com' })
    expect(linking.verdict).toBe('stop')
    // From then on c1 alone is Jane, for a dry run as for a decision.
    const dry = await remit.decide('marketing-agent', {
      action: positioning,
      customer: { accountId: 'acme', contactId: 'c1', facts },
      at: at(5),
      dryRun: true,
    })
    expect(dry.verdict).toBe('stop')
    const byId = await ask(5, { contactId: 'c1' })
    expect(byId.verdict).toBe('stop')
    expect(rules(byId)).toContain('one-touch-per-72h')
    expect(byId.reasons.find((r) => r.rule === 'one-touch-per-72h')?.message).toMatch(
      /2 already in the window/,
    )
    // Free again when the first e-mail ages out of the week.
    expect(byId.retryAfter?.toISOString()).toBe(at(WEEK))

    // And the other way: the address counts what was sent to c1 alone.
    expect((await ask(WEEK + 2, { contactId: 'c1' })).verdict).toBe('go')
    expect((await ask(WEEK + 3, { email: 'jane@example.com' })).verdict).toBe('go')
    expect((await ask(WEEK + 4, { email: 'jane@example.com' })).verdict).toBe('stop')
    // Omar was never linked to c1.
    expect((await ask(WEEK + 4, { email: 'omar@example.com' })).verdict).toBe('go')
  })

  it('links an id and an address a recorded touch names together', async () => {
    const remit = await engine(policy)
    await remit.recordTouch({
      accountId: 'acme',
      contactId: 'c7',
      email: ' Omar@Example.com',
      kind: 'email.positioning',
      at: at(0),
    })
    expect((await remit.timeline('acme')).touches[0]?.email).toBe('omar@example.com')
    await remit.decide('marketing-agent', {
      action: positioning,
      customer: { accountId: 'acme', contactId: 'c7', facts },
      at: at(1),
    })
    const third = await remit.decide('marketing-agent', {
      action: positioning,
      customer: { accountId: 'acme', email: 'omar@example.com', facts },
      at: at(2),
    })
    expect(third.verdict).toBe('stop')
  })

  it("re-counts, at approval, the person's touches by id and by linked address", async () => {
    const remit = await engine(policy)
    // c1 and jane@ linked by a go.
    await remit.decide('marketing-agent', {
      action: positioning,
      customer: { accountId: 'acme', contactId: 'c1', email: 'jane@example.com', facts },
      at: at(0),
    })
    // A flag for c1 alone (the account is in renewal): one touch in the week, under the cap.
    const flagged = await remit.decide('marketing-agent', {
      action: positioning,
      customer: { accountId: 'acme', contactId: 'c1', facts: { ...facts, lifecycle: 'renewal' } },
      at: at(1),
    })
    expect(flagged.verdict).toBe('flag')
    // Meanwhile an e-mail to the address alone: the second touch of the week.
    const meanwhile = await remit.decide('marketing-agent', {
      action: positioning,
      customer: { accountId: 'acme', email: 'jane@example.com', facts },
      at: at(2),
    })
    expect(meanwhile.verdict).toBe('go')
    const review = await remit.reviews.approve(flagged.reviewId as string, { at: at(3) })
    expect(review.outcome).toBe('stop')
    expect(review.outcomeReasons?.map((r) => r.rule)).toContain('one-touch-per-72h')
  })
})

describe('a suppression', () => {
  it('of an address stops a request naming only the contact id linked to it, and one of an id the address linked to it', async () => {
    const remit = await engine()
    const ask = (hour: number, customer: { contactId?: string; email?: string }) =>
      remit.decide('marketing-agent', {
        action: positioning,
        customer: { accountId: 'acme', ...customer, facts },
        at: at(hour),
      })
    await remit.recordSuppression({
      accountId: 'acme',
      email: 'Jane@Example.com',
      channel: 'email',
      reason: 'unsubscribe',
      source: 'sendgrid',
    })
    // Nothing links c1 to the address yet.
    expect((await ask(0, { contactId: 'c1' })).verdict).toBe('go')
    const linking = await ask(80, { contactId: 'c1', email: 'jane@example.com' })
    expect(rules(linking)).toContain('suppression')
    const byId = await ask(160, { contactId: 'c1' })
    expect(byId.verdict).toBe('stop')
    expect(rules(byId)).toContain('suppression')

    await remit.recordSuppression({ accountId: 'acme', contactId: 'c2', reason: 'manual', source: 'ops' })
    await ask(240, { contactId: 'c2', email: 'omar@example.com' })
    const byAddress = await ask(320, { email: 'omar@example.com' })
    expect(byAddress.verdict).toBe('stop')
    expect(rules(byAddress)).toContain('suppression')
  })
})
