import { describe, expect, it } from 'vitest'
import { checkPolicy, formatIssue, loadPolicy, PolicyError, type PolicyIssue } from '../src/index.ts'
import { at, engine } from './helpers.ts'

/** E-mail capped at 2 a week; the limit line is the one the tests vary. */
const policy = (limit: string) => `version: 1
teams: { marketing: {}, billing: {} }
agents:
  mkt: { team: marketing }
  bill: { team: billing }
facts: { tier: string }
actions:
  promotion: { channel: email }
  receipt: { channel: email }
permissions:
  - { id: mkt-promotion, team: marketing, action: promotion }
  - { id: bill-receipt, team: billing, action: receipt }
limits:
  ${limit}
review: { defaultTeam: marketing }
`
const customer = { accountId: 'globex', contactId: 'globex-omar', facts: { tier: 'smb' } }
const exceptReceipts = '- { id: email-cap, channel: email, except: { action: [receipt] }, max: 2, per: 7d }'
const whenNotReceipt = `- { id: email-cap, channel: email, when: "action.kind != 'receipt'", max: 2, per: 7d }`

async function sendReceipts(remit: Awaited<ReturnType<typeof engine>>, count: number) {
  for (let i = 0; i < count; i++) {
    const d = await remit.decide('bill', { action: { kind: 'receipt' }, customer, at: at(i) })
    expect(d.verdict).toBe('go')
  }
}
const promote = (remit: Awaited<ReturnType<typeof engine>>, hours: number) =>
  remit.decide('mkt', { action: { kind: 'promotion' }, customer, at: at(hours) })

describe('a limit with except: exempt actions are neither limited nor counted', () => {
  it('caps promotions at 2 a week though 5 receipts were sent that week', async () => {
    const remit = await engine(policy(exceptReceipts))
    await sendReceipts(remit, 5)
    expect((await promote(remit, 10)).verdict).toBe('go')
    expect((await promote(remit, 11)).verdict).toBe('go')
    const third = await promote(remit, 12)
    expect(third.verdict).toBe('stop')
    expect(third.reasons[0]).toMatchObject({ rule: 'email-cap', sort: 'limit' })
    expect(third.reasons[0]?.message).toContain('2 already in the window')
    expect(third.retryAfter?.toISOString()).toBe(at(10 + 7 * 24))
  })

  it('never limits a receipt, however many e-mails the week holds', async () => {
    const remit = await engine(policy(exceptReceipts))
    expect((await promote(remit, 0)).verdict).toBe('go')
    expect((await promote(remit, 1)).verdict).toBe('go')
    const receipt = await remit.decide('bill', { action: { kind: 'receipt' }, customer, at: at(2) })
    expect(receipt.verdict).toBe('go')
    expect(receipt.reasons.map((r) => r.rule)).not.toContain('email-cap')
  })

  it('unlike when:, which exempts receipts from the limit but still counts them', async () => {
    const remit = await engine(policy(whenNotReceipt))
    await sendReceipts(remit, 5)
    expect((await promote(remit, 10)).verdict).toBe('stop')
  })

  it('selects exemptions like a scope: every key given must match', async () => {
    const remit = await engine(
      policy(
        '- { id: email-cap, channel: email, except: { action: receipt, team: marketing }, max: 2, per: 7d }',
      ),
    )
    // Receipts from billing are not exempt: they count, and they are limited.
    await sendReceipts(remit, 2)
    expect((await promote(remit, 10)).verdict).toBe('stop')
  })
})

describe('except: names are checked like scope names', () => {
  const issuesOf = (limit: string): PolicyIssue[] =>
    checkPolicy(policy(limit), { file: 'remit.yaml' }).issues.filter((i) => i.severity === 'error')

  it('an unknown action kind in except is a load error with a did-you-mean, at its line and column', () => {
    const found = issuesOf(
      '- { id: email-cap, channel: email, except: { action: [reciept] }, max: 2, per: 7d }',
    )
    expect(found.map((i) => [i.code, `${i.position?.line}:${i.position?.column}`, i.hint])).toEqual([
      ['UNKNOWN_ACTION_KIND', '14:57', 'did you mean "receipt"?'],
    ])
    expect(found[0]?.path).toEqual(['limits', 0, 'except', 'action', 0])
    expect(() => loadPolicy(policy('- { id: c, except: { action: reciept }, max: 2, per: 7d }'))).toThrow(
      PolicyError,
    )
  })

  it('an unknown team or agent in except is a load error too', () => {
    const found = issuesOf('- { id: c, except: { team: biling, agent: [mk] }, max: 2, per: 7d }')
    expect(found.map((i) => [i.code, i.hint])).toEqual([
      ['UNKNOWN_TEAM', 'did you mean "billing"?'],
      ['UNKNOWN_AGENT', 'did you mean "mkt"?'],
    ])
  })

  it('an empty except is a load error', () => {
    const found = issuesOf('- { id: c, except: {}, max: 2, per: 7d }')
    expect(found, found.map(formatIssue).join('\n')).toHaveLength(1)
    expect(found[0]?.message).toContain('expected at least one of agent, team, action, channel, outbound')
  })
})

describe('a limit whose when: selects actions warns that it still counts them', () => {
  const warnings = (limit: string) =>
    checkPolicy(policy(limit), { file: 'remit.yaml' }).issues.filter((i) => i.severity === 'warning')

  it("warns for when: \"action.kind != 'receipt'\", at the when's line and column", () => {
    const found = warnings(whenNotReceipt)
    expect(found.map((i) => [i.code, `${i.position?.line}:${i.position?.column}`])).toEqual([
      ['LIMIT_WHEN_SCOPES', '14:44'],
    ])
    expect(found[0]?.message).toContain('this limit still counts those touches; to exempt them, use except:')
    expect(found[0]?.path).toEqual(['limits', 0, 'when'])
  })

  it.each([
    "action.kind == 'promotion'",
    "agent.team == 'marketing' && customer.tier == 'smb'",
    "action.kind in ['promotion'] || action.channel == 'email'",
  ])('warns for when: "%s"', (when) => {
    const found = warnings(`- { id: c, when: "${when}", max: 2, per: 7d }`)
    expect(found.map((i) => i.code)).toEqual(['LIMIT_WHEN_SCOPES'])
  })

  it.each([
    "customer.tier == 'smb'",
    'touches.exists(t, t.kind == action.kind)',
    "action.kind == 'promotion' || customer.tier == 'smb'",
  ])('does not warn for when: "%s"', (when) => {
    expect(warnings(`- { id: c, when: "${when}", max: 2, per: 7d }`)).toEqual([])
  })

  it('does not warn for except:', () => {
    expect(warnings(exceptReceipts)).toEqual([])
  })
})
