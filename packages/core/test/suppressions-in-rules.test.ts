import { expect, it } from 'vitest'
import { loadPolicy, openRemit, openSqliteStore } from '../src/index.ts'

// Rules read the customer's suppressions as `suppressions`: the built-in stop covers a suppressed
// channel; a policy can say more, e.g. "after a spam report, no outbound touch on any channel".

const policy = loadPolicy(
  `version: 1
teams: { marketing: {}, sales: {} }
agents:
  mkt: { team: marketing }
  rep: { team: sales }
actions:
  email.promo: { channel: email }
  call: { channel: phone }
permissions:
  - { id: mkt-promo, team: marketing, action: email.promo }
  - { id: rep-call, team: sales, action: call }
stops:
  - { id: no-touch-after-spam-report, outbound: true,
      when: "suppressions.exists(s, s.reason == 'spamreport')",
      message: "The customer reported us as spam: no outbound touch on any channel" }
review: { defaultTeam: sales }
`,
  { file: 'remit.yaml' },
)

it("a rule reading suppressions stops every channel after a spam report, for the person's linked id too", async () => {
  const remit = await openRemit({ policy, store: openSqliteStore(':memory:') })
  try {
    const at = new Date('2026-04-06T09:00:00Z')
    // A request naming both links the contact id to the address.
    await remit.decide('rep', {
      action: { kind: 'call' },
      customer: { accountId: 'acme', contactId: 'c1', email: 'jane@acme.com' },
      at: at.toISOString(),
      dryRun: false,
    })
    await remit.store.recordSuppression({
      id: 'sup_1',
      accountId: 'acme',
      email: 'jane@acme.com',
      channel: 'email',
      reason: 'spamreport',
      source: 'sendgrid',
      at,
    })
    const call = await remit.decide('rep', {
      action: { kind: 'call' },
      customer: { accountId: 'acme', contactId: 'c1' },
      at: new Date('2026-04-09T09:00:00Z').toISOString(),
    })
    expect(call.verdict).toBe('stop')
    expect(call.reasons.map((r) => r.rule)).toContain('no-touch-after-spam-report')
    const someoneElse = await remit.decide('rep', {
      action: { kind: 'call' },
      customer: { accountId: 'acme', contactId: 'c2' },
      at: new Date('2026-04-09T09:00:00Z').toISOString(),
    })
    expect(someoneElse.verdict).toBe('go')
  } finally {
    await remit.close()
  }
})

it('rules read the e-mail a touch recorded, normalized', async () => {
  const strict = loadPolicy(
    `version: 1
teams: { marketing: {}, sales: {} }
agents:
  mkt: { team: marketing }
actions:
  email.promo: { channel: email }
permissions:
  - { id: mkt-promo, team: marketing, action: email.promo }
stops:
  - { id: not-twice-to-jane, when: "touches.exists(t, t.email == 'jane@acme.com')" }
review: { defaultTeam: sales }
`,
    { file: 'remit.yaml' },
  )
  const remit = await openRemit({ policy: strict, store: openSqliteStore(':memory:') })
  try {
    const ask = (email: string) =>
      remit.decide('mkt', { action: { kind: 'email.promo' }, customer: { accountId: 'acme', email } })
    expect((await ask(' Jane@Acme.com')).verdict).toBe('go')
    const again = await ask('jane@acme.com')
    expect(again.verdict).toBe('stop')
    expect(again.reasons.map((r) => r.rule)).toContain('not-twice-to-jane')
  } finally {
    await remit.close()
  }
})
