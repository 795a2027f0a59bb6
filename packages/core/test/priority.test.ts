import { describe, expect, it } from 'vitest'
import { checkPolicy, formatIssue, loadPolicy, type PolicyIssue } from '../src/index.ts'
import { at, engine } from './helpers.ts'

/** Two marketing e-mails a week per person; the renewal offer matters more. The limit line varies. */
const policy = (limit: string, renewal = '{ channel: email, priority: 10 }') => `version: 1
teams: { marketing: {} }
agents:
  mkt: { team: marketing }
facts: { tier: string }
actions:
  newsletter: { channel: email, attributes: { campaign: { type: string, optional: true } } }
  offer.renewal: ${renewal}
  offer.discount: { channel: email, priority: 10, attributes: { discountUsd: number } }
permissions:
  - { id: mkt, team: marketing }
limits:
  ${limit}
review: { defaultTeam: marketing }
`
const customer = { accountId: 'acme', contactId: 'acme-jane', facts: { tier: 'smb' } }
const reserved = '- { id: email-cap, channel: email, max: 2, per: 7d, reserve: { slots: 1, minPriority: 5 } }'

type Remit = Awaited<ReturnType<typeof engine>>
const send = (remit: Remit, kind: string, hours: number, attributes: Record<string, unknown> = {}) =>
  remit.decide('mkt', { action: { kind, ...attributes }, customer, at: at(hours) })

describe('a limit with reserve keeps its last slots for higher priorities', () => {
  it('stops the second newsletter at the reserved slot, and the renewal offer goes into it', async () => {
    const remit = await engine(policy(reserved))
    expect((await send(remit, 'newsletter', 0)).verdict).toBe('go')
    const second = await send(remit, 'newsletter', 24)
    expect(second.verdict).toBe('stop')
    expect(second.reasons[0]).toMatchObject({ rule: 'email-cap', sort: 'limit' })
    expect(second.reasons[0]?.message).toBe(
      'at most 2 email touches per account per 7d: 1 already in the window; the last slot is kept for priority ≥ 5 (newsletter has 0)',
    )
    // When the first newsletter ages out, a slot newsletters may use frees.
    expect(second.retryAfter?.toISOString()).toBe(at(7 * 24))
    const renewal = await send(remit, 'offer.renewal', 72)
    expect(renewal.verdict).toBe('go')
  })

  it('without a reserve, two newsletters fill the week and the renewal offer is stopped', async () => {
    const remit = await engine(policy('- { id: email-cap, channel: email, max: 2, per: 7d }'))
    expect((await send(remit, 'newsletter', 0)).verdict).toBe('go')
    expect((await send(remit, 'newsletter', 24)).verdict).toBe('go')
    expect((await send(remit, 'offer.renewal', 72)).verdict).toBe('stop')
  })

  it('cannot take back a slot a lower priority already took: once full, the limit stops everyone', async () => {
    const remit = await engine(policy(reserved))
    expect((await send(remit, 'offer.renewal', 0)).verdict).toBe('go')
    expect((await send(remit, 'offer.renewal', 1)).verdict).toBe('go')
    const third = await send(remit, 'offer.renewal', 2)
    expect(third.verdict).toBe('stop')
    expect(third.reasons[0]?.message).toBe(
      'at most 2 email touches per account per 7d: 2 already in the window',
    )
    expect(third.retryAfter?.toISOString()).toBe(at(7 * 24))
  })

  it('gives a lower priority the retryAfter at which a non-reserved slot frees', async () => {
    const remit = await engine(policy(reserved))
    expect((await send(remit, 'offer.renewal', 0)).verdict).toBe('go')
    expect((await send(remit, 'offer.renewal', 10)).verdict).toBe('go')
    // Two in the window: a newsletter needs the count below 1, so both must age out.
    const newsletter = await send(remit, 'newsletter', 20)
    expect(newsletter.verdict).toBe('stop')
    expect(newsletter.retryAfter?.toISOString()).toBe(at(10 + 7 * 24))
  })

  it('lets an action whose priority equals minPriority use the reserve', async () => {
    const remit = await engine(policy(reserved, '{ channel: email, priority: 5 }'))
    expect((await send(remit, 'newsletter', 0)).verdict).toBe('go')
    expect((await send(remit, 'offer.renewal', 1)).verdict).toBe('go')
  })

  it('keeps several slots, and names them in the reason', async () => {
    const remit = await engine(
      policy('- { id: email-cap, channel: email, max: 3, per: 7d, reserve: { slots: 2, minPriority: 5 } }'),
    )
    expect((await send(remit, 'newsletter', 0)).verdict).toBe('go')
    const second = await send(remit, 'newsletter', 1)
    expect(second.reasons[0]?.message).toContain('the last 2 slots are kept for priority ≥ 5')
    expect((await send(remit, 'offer.renewal', 2)).verdict).toBe('go')
    expect((await send(remit, 'offer.renewal', 3)).verdict).toBe('go')
  })

  it("adds the reserve to the policy's own message", async () => {
    const remit = await engine(
      policy(
        '- { id: email-cap, channel: email, max: 2, per: 7d, reserve: { slots: 1, minPriority: 5 }, message: "Two e-mails a week" }',
      ),
    )
    await send(remit, 'newsletter', 0)
    const second = await send(remit, 'newsletter', 1)
    expect(second.reasons[0]?.message).toBe(
      'Two e-mails a week; the last slot is kept for priority ≥ 5 (newsletter has 0)',
    )
  })

  it('with distinct, keeps the last distinct values for higher priorities', async () => {
    const limit =
      '- { id: campaigns, action: [newsletter, offer.renewal], distinct: campaign, max: 2, per: 7d, reserve: { slots: 1, minPriority: 5 } }'
    const remit = await engine(
      policy(
        limit,
        '{ channel: email, priority: 10, attributes: { campaign: { type: string, optional: true } } }',
      ),
    )
    expect((await send(remit, 'newsletter', 0, { campaign: 'spring' })).verdict).toBe('go')
    // Another e-mail of a campaign already counted adds nothing.
    expect((await send(remit, 'newsletter', 1, { campaign: 'spring' })).verdict).toBe('go')
    const summer = await send(remit, 'newsletter', 2, { campaign: 'summer' })
    expect(summer.verdict).toBe('stop')
    expect(summer.reasons[0]?.message).toContain(
      'the last distinct campaign is kept for priority ≥ 5 (newsletter has 0)',
    )
    expect(summer.retryAfter?.toISOString()).toBe(at(1 + 7 * 24))
    expect((await send(remit, 'offer.renewal', 3, { campaign: 'renewal' })).verdict).toBe('go')
  })

  it('gives action kinds priority 0 by default', () => {
    const loaded = loadPolicy(policy(reserved))
    expect(loaded.actions.get('newsletter')?.priority).toBe(0)
    expect(loaded.actions.get('offer.renewal')?.priority).toBe(10)
  })
})

describe('reserve and priority are checked at load', () => {
  const errors = (limit: string, renewal?: string): PolicyIssue[] =>
    checkPolicy(policy(limit, renewal), { file: 'remit.yaml' }).issues.filter((i) => i.severity === 'error')
  const where = (i: PolicyIssue) => `${i.position?.file}:${i.position?.line}:${i.position?.column}`
  /** Where `token` sits in the limit line (line 13, indented by two). */
  const at13 = (limit: string, token: string) => `remit.yaml:13:${limit.indexOf(token) + 3}`

  it('refuses a reserve of max slots or more, at reserve.slots', () => {
    const limit =
      '- { id: email-cap, channel: email, max: 2, per: 7d, reserve: { slots: 2, minPriority: 5 } }'
    const found = errors(limit)
    expect(
      found.map((i) => [i.code, where(i)]),
      found.map(formatIssue).join('\n'),
    ).toEqual([['LIMIT_RESERVE', at13(limit, '2, minPriority')]])
    expect(found[0]?.message).toContain('it must keep fewer than max')
    expect(found[0]?.path).toEqual(['limits', 0, 'reserve', 'slots'])
  })

  it('refuses a reserve on a sum budget', () => {
    const limit =
      '- { id: budget, action: offer.discount, sum: discountUsd, max: 5000, per: 7d, reserve: { slots: 1, minPriority: 5 } }'
    const found = errors(limit)
    expect(found.map((i) => i.code)).toEqual(['LIMIT_RESERVE'])
    expect(found[0]?.hint).toContain('reserve is not supported with sum')
    expect(where(found[0] as PolicyIssue)).toBe(at13(limit, '{ slots'))
  })

  it.each([
    ['a reserve of no slots', '{ slots: 0, minPriority: 5 }'],
    ['a reserve without minPriority', '{ slots: 1 }'],
    ['an unknown key', '{ slots: 1, minPriority: 5, below: 5 }'],
  ])('refuses %s', (_, reserve) => {
    const found = errors(`- { id: email-cap, channel: email, max: 2, per: 7d, reserve: ${reserve} }`)
    expect(found.length, found.map(formatIssue).join('\n')).toBeGreaterThan(0)
    expect(found[0]?.position?.line).toBe(13)
  })

  it.each(['-1', '2.5', 'high'])('refuses priority: %s', (priority) => {
    const found = errors(reserved, `{ channel: email, priority: ${priority} }`)
    expect(
      found.map((i) => i.path),
      found.map(formatIssue).join('\n'),
    ).toEqual([['actions', 'offer.renewal', 'priority']])
    expect(found[0]?.position?.line).toBe(8)
  })

  it('warns when no action kind the limit applies to can use the reserve', () => {
    const warnings = checkPolicy(policy(reserved, '{ channel: email, priority: 3 }'), {
      file: 'remit.yaml',
    }).issues.filter((i) => i.severity === 'warning')
    // offer.discount (priority 10) is e-mail too: restrict the limit to the two kinds.
    expect(warnings.map((i) => i.code)).toEqual([])
    const limit =
      '- { id: email-cap, action: [newsletter, offer.renewal], max: 2, per: 7d, reserve: { slots: 1, minPriority: 5 } }'
    const narrowed = checkPolicy(policy(limit, '{ channel: email, priority: 3 }'), {
      file: 'remit.yaml',
    }).issues.filter((i) => i.severity === 'warning')
    expect(narrowed.map((i) => [i.code, where(i)])).toEqual([['RESERVE_UNUSED', at13(limit, '{ slots')]])
  })
})
