import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { remit } from './remit.ts'

// `remit test`: what a case can seed (touches as recordTouch takes them, suppressions, commitments),
// what it can expect (verdict, rules, retryAfter, reviewTeam, notify), and a malformed case failing
// alone, at its line.

const policy = `version: 1
teams: { marketing: {}, sales: {}, support: {}, legal: {} }
agents:
  mkt: { team: marketing }
  sls: { team: sales }
facts:
  lifecycle: { type: string, enum: [prospect, customer, renewal] }
  tier: { type: string, enum: [smb, vip] }
actions:
  email.positioning: { channel: email }
  offer.discount: { channel: email, commitment: discount, attributes: { discountPct: number } }
ownership:
  - { id: renewal-owned-by-sales, when: "customer.lifecycle == 'renewal'", owner: sales }
permissions:
  - { id: mkt-positioning, team: marketing, action: email.positioning }
  - { id: sales-discount, team: sales, action: offer.discount }
triggers:
  - { id: vip-watch, when: "customer.tier == 'vip'", then: flag, notify: [legal, marketing] }
stops:
  - { id: one-discount, action: offer.discount, when: "commitments.exists(c, c.kind == 'discount')" }
limits:
  - { id: one-email-per-contact, channel: email, max: 1, per: 72h, scope: contact }
review: { defaultTeam: support }
`

/** A folder with the policy and this test file; `remit test` run in it. */
async function test(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'remit-policy-test-'))
  writeFileSync(join(dir, 'remit.yaml'), policy)
  writeFileSync(join(dir, 'remit.test.yaml'), yaml)
  const r = await remit('test', dir)
  return { ...r, file: join(dir, 'remit.test.yaml') }
}

const positioning = `    agent: mkt
    action: { kind: email.positioning }
    at: "2026-04-10T10:00:00Z"`

describe('remit test: expect', () => {
  it('checks retryAfter, as an ISO time or as a duration after the case’s at', async () => {
    const cases = (iso: string, after: string) => `tests:
  - name: as a time
${positioning}
    customer: { accountId: acme, contactId: c1, facts: { lifecycle: customer, tier: smb } }
    touches: [{ kind: email.positioning, contactId: c1, at: "2026-04-09T15:00:00Z" }]
    expect: { verdict: stop, rules: [one-email-per-contact], retryAfter: "${iso}" }
  - name: as a duration
${positioning}
    customer: { accountId: acme, contactId: c1, facts: { lifecycle: customer, tier: smb } }
    touches: [{ kind: email.positioning, contactId: c1, at: "2026-04-09T15:00:00Z" }]
    expect: { verdict: stop, retryAfter: ${after} }
`
    const pass = await test(cases('2026-04-12T15:00:00Z', '53h'))
    expect(pass.out).toContain('2 passed, 0 failed')
    expect(pass.code).toBe(0)

    const fail = await test(cases('2026-04-13T10:00:00Z', '3d'))
    expect(fail.code).toBe(1)
    expect(fail.out).toContain(
      '      expected retryAfter 2026-04-13T10:00:00.000Z (3d after at), got 2026-04-12T15:00:00.000Z (2d5h after at)',
    )
    expect(fail.out).toContain('0 passed, 2 failed')
  })

  it('says a decision with no retryAfter has none', async () => {
    const r = await test(`tests:
  - name: a first e-mail goes
${positioning}
    customer: { accountId: acme, contactId: c1, facts: { lifecycle: customer, tier: smb } }
    expect: { verdict: go, retryAfter: 72h }
`)
    expect(r.out).toContain('      expected retryAfter 2026-04-13T10:00:00.000Z (3d after at), got none')
  })

  it('checks reviewTeam, and notify as an exact set', async () => {
    const pass = await test(`tests:
  - name: a renewal is sales' to review
${positioning}
    customer: { accountId: acme, facts: { lifecycle: renewal, tier: smb } }
    expect: { verdict: flag, reviewTeam: sales, notify: [] }
  - name: a vip tells legal and marketing
${positioning}
    customer: { accountId: acme, facts: { lifecycle: customer, tier: vip } }
    expect: { verdict: flag, reviewTeam: support, notify: [marketing, legal] }
`)
    expect(pass.out).toContain('2 passed, 0 failed')

    const fail = await test(`tests:
  - name: a renewal is sales' to review
${positioning}
    customer: { accountId: acme, facts: { lifecycle: renewal, tier: smb } }
    expect: { verdict: flag, reviewTeam: marketing, notify: [legal] }
  - name: a vip tells legal and marketing
${positioning}
    customer: { accountId: acme, facts: { lifecycle: customer, tier: vip } }
    expect: { verdict: flag, notify: [legal] }
  - name: a go is reviewed by no one
${positioning}
    customer: { accountId: acme, facts: { lifecycle: customer, tier: smb } }
    expect: { verdict: go, reviewTeam: sales }
`)
    expect(fail.code).toBe(1)
    expect(fail.out).toContain('      expected reviewTeam marketing, got sales')
    expect(fail.out).toContain('      expected notify [legal], got []')
    expect(fail.out).toContain('      expected notify [legal], got [legal, marketing]')
    expect(fail.out).toContain('      expected reviewTeam sales, got none')
    expect(fail.out).toContain('0 passed, 3 failed')
  })
})

describe('remit test: seeding the ledger', () => {
  it('touches carry a contact: a contact-scoped limit counts only that contact’s', async () => {
    const r = await test(`tests:
  - name: the same contact waits
${positioning}
    customer: { accountId: acme, contactId: c1, facts: { lifecycle: customer, tier: smb } }
    touches: [{ kind: email.positioning, contactId: c1, channel: email, agent: mkt, at: "2026-04-09T15:00:00Z" }]
    expect: { verdict: stop, rules: [one-email-per-contact] }
  - name: another contact of the account does not
${positioning}
    customer: { accountId: acme, contactId: c2, facts: { lifecycle: customer, tier: smb } }
    touches: [{ kind: email.positioning, contactId: c1, at: "2026-04-09T15:00:00Z" }]
    expect: { verdict: go, notRules: [one-email-per-contact] }
`)
    expect(r.out).toContain('2 passed, 0 failed')
    expect(r.code).toBe(0)
  })

  it('touches carry an e-mail address, counted for a customer named by that address', async () => {
    const r = await test(`tests:
  - name: the same address waits
${positioning}
    customer: { accountId: acme, email: pat@acme.com, facts: { lifecycle: customer, tier: smb } }
    touches: [{ kind: email.positioning, email: Pat@Acme.com, at: "2026-04-09T15:00:00Z" }]
    expect: { verdict: stop, rules: [one-email-per-contact] }
  - name: another address does not
${positioning}
    customer: { accountId: acme, email: sam@acme.com, facts: { lifecycle: customer, tier: smb } }
    touches: [{ kind: email.positioning, email: pat@acme.com, at: "2026-04-09T15:00:00Z" }]
    expect: { verdict: go }
`)
    expect(r.out).toContain('2 passed, 0 failed')
  })

  it('seeds suppressions: an unsubscribed address gets no e-mail', async () => {
    const r = await test(`tests:
  - name: unsubscribed
${positioning}
    customer: { accountId: acme, email: pat@acme.com, facts: { lifecycle: customer, tier: smb } }
    suppressions: [{ email: pat@acme.com, channel: email, reason: unsubscribe }]
    expect: { verdict: stop, rules: [suppression] }
  - name: suppressed on the phone only
${positioning}
    customer: { accountId: acme, email: pat@acme.com, facts: { lifecycle: customer, tier: smb } }
    suppressions: [{ email: pat@acme.com, channel: phone, reason: manual }]
    expect: { verdict: go, notRules: [suppression] }
  - name: the whole account
${positioning}
    customer: { accountId: acme, contactId: c9, facts: { lifecycle: customer, tier: smb } }
    suppressions: [{ reason: bounce }]
    expect: { verdict: stop, rules: [suppression] }
`)
    expect(r.out).toContain('3 passed, 0 failed')
    expect(r.code).toBe(0)
  })

  it('seeds commitments, which rules read; one past its expiresAt is not outstanding', async () => {
    const r = await test(`tests:
  - name: a second discount is stopped
    agent: sls
    action: { kind: offer.discount, discountPct: 10 }
    customer: { accountId: acme, facts: { lifecycle: customer, tier: smb } }
    commitments: [{ kind: discount, value: { discountPct: 15 }, agent: sls, at: "2026-04-01T09:00:00Z" }]
    at: "2026-04-10T10:00:00Z"
    expect: { verdict: stop, rules: [one-discount] }
  - name: a lapsed one does not count
    agent: sls
    action: { kind: offer.discount, discountPct: 10 }
    customer: { accountId: acme, facts: { lifecycle: customer, tier: smb } }
    commitments:
      - { kind: discount, value: { discountPct: 15 }, team: sales, at: "2026-04-01T09:00:00Z", expiresAt: 7d }
      - { kind: discount, team: marketing, expiresAt: "2026-04-10T09:00:00Z" }
    at: "2026-04-10T10:00:00Z"
    expect: { verdict: go, notRules: [one-discount] }
`)
    expect(r.out).toContain('2 passed, 0 failed')
    expect(r.code).toBe(0)
  })

  it('a seed the policy refuses fails its case at the line that says it', async () => {
    const r = await test(`tests:
  - name: a touch by a team the policy lacks
${positioning}
    customer: { accountId: acme, facts: { lifecycle: customer, tier: smb } }
    touches:
      - { kind: call, team: slaes, at: "2026-04-09T15:00:00Z" }
    expect: { verdict: go }
  - name: a commitment by an unknown agent
${positioning}
    customer: { accountId: acme, facts: { lifecycle: customer, tier: smb } }
    commitments:
      - kind: discount
        agent: sales-agnt
    expect: { verdict: go }
`)
    expect(r.code).toBe(1)
    expect(r.out).toContain(
      `  ✗ a touch by a team the policy lacks\n      ${r.file}:8:23: unknown team "slaes"`,
    )
    expect(r.out).toContain(
      `  ✗ a commitment by an unknown agent\n      ${r.file}:17:9: unknown agent "sales-agnt" (known: mkt, sls)`,
    )
  })
})

describe('remit test: a malformed case', () => {
  it('fails alone, at file:line:col of the offending key; the other cases still run', async () => {
    const r = await test(`tests:
  - name: first runs
${positioning}
    customer: { accountId: acme, facts: { lifecycle: customer, tier: smb } }
    expect: { verdict: go }
  - name: a bad verdict and a misspelt key
${positioning}
    customer: { accountId: acme, contactid: c1, facts: { lifecycle: customer, tier: smb } }
    expect:
      verdict: maybe
  - name: no expect
${positioning}
    customer: { accountId: acme, facts: { lifecycle: customer, tier: smb } }
  - name: last runs
${positioning}
    customer: { accountId: acme, facts: { lifecycle: customer, tier: smb } }
    expect: { verdict: flag }
`)
    expect(r.code).toBe(1)
    expect(r.out).toContain('  ✓ first runs')
    expect(r.out).toContain(
      [
        '  ✗ a bad verdict and a misspelt key',
        `      ${r.file}:12:34: unknown key "contactid" in customer (did you mean "contactId"?)`,
        `      ${r.file}:14:7: expect.verdict: expected one of go, flag, stop, got "maybe"`,
      ].join('\n'),
    )
    expect(r.out).toContain(`  ✗ no expect\n      ${r.file}:15:5: missing required key "expect"`)
    expect(r.out).toContain('  ✗ last runs\n      expected flag, got go')
    expect(r.out).toContain('1 passed, 3 failed')
  })

  it('a bad time or duration is named at its line', async () => {
    const r = await test(`tests:
  - name: a time that is not one
${positioning}
    customer: { accountId: acme, facts: { lifecycle: customer, tier: smb } }
    touches: [{ kind: call, at: yesterday }]
    expect: { verdict: go, retryAfter: soon }
`)
    expect(r.out).toContain(
      `${r.file}:7:29: touches[0].at: expected an ISO 8601 time such as 2026-04-10T10:00:00Z, got "yesterday"`,
    )
    expect(r.out).toContain(
      `${r.file}:8:28: expect.retryAfter: expected an ISO 8601 time such as 2026-04-13T10:00:00Z, or a duration after the case's \`at\` such as 72h or 3d, got "soon"`,
    )
  })

  it('a file that is not YAML fails as a whole, with line:col', async () => {
    const r = await test('tests:\n  - name: x\n    expect: { verdict: go\n')
    expect(r.code).toBe(1)
    expect(r.out).toMatch(new RegExp(`✗ ${r.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `))
    expect(r.out).toContain('0 passed, 1 failed')
  })

  it('a file without tests fails as a whole, at the offending key', async () => {
    const r = await test('policy: remit.yaml\ntest:\n  - name: x\n')
    expect(r.code).toBe(1)
    expect(r.out).toContain(`✗ ${r.file}:2:1: unknown key "test" (did you mean "tests"?)`)
  })
})
