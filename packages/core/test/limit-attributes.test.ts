import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { checkPolicy, formatIssue } from '../src/index.ts'
import { calendarErrors } from './calendar-limits.cases.ts'
import { at, engine } from './helpers.ts'

const run = promisify(execFile)

/** Offers carry a campaign and a discount in dollars; the limit line is the one the tests vary. */
const policy = (limit: string, extra = '') => `version: 1
teams: { marketing: {} }
agents:
  mkt: { team: marketing }
actions:
  email.offer: { channel: email, attributes: { campaign: string, discountUsd: { type: number, optional: true } } }
  email.news: { channel: email, attributes: { campaign: string } }
  call: { channel: phone }
permissions:
  - { id: mkt, team: marketing }
${extra}limits:
  ${limit}
review: { defaultTeam: marketing }
`
const customer = { accountId: 'acme', contactId: 'acme-jane', facts: {} }
type Engine = Awaited<ReturnType<typeof engine>>
const offer = (remit: Engine, hours: number, campaign: string, discountUsd?: number) =>
  remit.decide('mkt', {
    action: { kind: 'email.offer', campaign, ...(discountUsd === undefined ? {} : { discountUsd }) },
    customer,
    at: at(hours),
  })

describe('touches keep the attributes of the action that reserved them', () => {
  it('records them on the touch and lets rules read them as t.attributes', async () => {
    const remit = await engine(
      policy(
        '- { id: cap, channel: phone, max: 9, per: 7d }',
        `triggers:
  - id: spring-once
    action: email.offer
    when: "touches.exists(t, t.kind == 'email.offer' && t.attributes.campaign == action.campaign && t.attributes.discountUsd > 10.0)"
    then: stop
`,
      ),
    )
    expect((await offer(remit, 0, 'spring', 25)).verdict).toBe('go')
    const { touches } = await remit.timeline('acme')
    expect(touches[0]?.attributes).toEqual({ campaign: 'spring', discountUsd: 25 })
    const again = await offer(remit, 1, 'spring', 5)
    expect(again.verdict).toBe('stop')
    expect(again.reasons[0]?.rule).toBe('spring-once')
    expect((await offer(remit, 2, 'summer', 5)).verdict).toBe('go')
  })

  it('gives touches without attributes an empty map, so has() tells them apart', async () => {
    const remit = await engine(
      policy(
        '- { id: cap, channel: phone, max: 9, per: 7d }',
        `triggers:
  - id: tagged
    action: email.offer
    when: "touches.exists(t, has(t.attributes.campaign))"
    then: stop
`,
      ),
    )
    await remit.recordTouch({ accountId: 'acme', kind: 'call', at: at(0) })
    expect((await offer(remit, 1, 'spring')).verdict).toBe('go')
    expect((await offer(remit, 2, 'spring')).verdict).toBe('stop')
  })
})

describe('distinct: a limit on how many distinct values of an attribute the window holds', () => {
  const twoCampaigns =
    '- { id: two-campaigns, action: [email.offer, email.news], distinct: campaign, max: 2, per: 7d, scope: contact }'

  it('allows any number of touches of campaigns already in the window, and stops a third campaign', async () => {
    const remit = await engine(policy(twoCampaigns))
    expect((await offer(remit, 0, 'spring')).verdict).toBe('go')
    expect((await offer(remit, 1, 'spring')).verdict).toBe('go')
    expect((await offer(remit, 2, 'summer')).verdict).toBe('go')
    expect((await offer(remit, 3, 'summer')).verdict).toBe('go')
    const news = await remit.decide('mkt', {
      action: { kind: 'email.news', campaign: 'spring' },
      customer,
      at: at(4),
    })
    expect(news.verdict).toBe('go')
    const third = await offer(remit, 5, 'autumn')
    expect(third.verdict).toBe('stop')
    expect(third.reasons[0]?.message).toContain('at most 2 distinct campaign')
    expect(third.reasons[0]?.message).toContain('spring, summer')
    // A campaign leaves the window with its newest touch: summer's (hour 3) before spring's (hour 4).
    expect(third.retryAfter?.toISOString()).toBe(at(3 + 7 * 24))
    expect((await offer(remit, 3 + 7 * 24, 'autumn')).verdict).toBe('go')
  })

  it('is a load error, with its position, when an action kind the limit applies to lacks the attribute', () => {
    const text = policy('- { id: campaigns, channel: [email, phone], distinct: campaign, max: 2, per: 7d }')
    const { issues } = checkPolicy(text, { file: 'remit.yaml' })
    const issue = issues.find((i) => i.code === 'LIMIT_ATTRIBUTE')
    expect(issue?.severity).toBe('error')
    expect(issue?.message).toContain('action call does not declare')
    expect(formatIssue(issue as NonNullable<typeof issue>)).toMatch(/^remit\.yaml:12:\d+/)
    // Exempting the kind that lacks it, or scoping to kinds that have it, loads.
    const except = policy(
      '- { id: campaigns, distinct: campaign, except: { action: call }, max: 2, per: 7d }',
    )
    expect(checkPolicy(except).issues.filter((i) => i.severity === 'error')).toEqual([])
  })
})

describe('calendar windows: per calendar-day, -week, -month or -quarter in a zone', () => {
  it('counts since Monday 00:00 in the zone, and retries at the next Monday', async () => {
    const remit = await engine(
      policy('- { id: weekly, action: email.offer, max: 1, per: calendar-week, zone: America/New_York }'),
    )
    // at(0) is Monday 2026-04-06 09:00 UTC, 05:00 in New York: the week began 04:00 UTC.
    expect((await offer(remit, -6, 'a')).verdict).toBe('go') // Monday 03:00 UTC: Sunday in New York
    expect((await offer(remit, 0, 'b')).verdict).toBe('go')
    const third = await offer(remit, 50, 'c')
    expect(third.verdict).toBe('stop')
    expect(third.reasons[0]?.message).toContain('per calendar-week (America/New_York)')
    expect(third.retryAfter?.toISOString()).toBe('2026-04-13T04:00:00.000Z')
    expect(
      (
        await remit.decide('mkt', {
          action: { kind: 'email.offer', campaign: 'd' },
          customer,
          at: '2026-04-13T04:00:00.000Z',
        })
      ).verdict,
    ).toBe('go')
  })

  it('reads every period right across clock changes, in this process', () => {
    expect(calendarErrors()).toEqual([])
  })

  it.each(['UTC', 'America/New_York', 'Europe/Paris', 'Asia/Tokyo', 'America/Santiago'])(
    'reads every period right on a server in %s',
    { timeout: 60_000 },
    async (tz) => {
      const child = new URL('./calendar-limits.child.ts', import.meta.url).pathname
      const { stdout } = await run(process.execPath, [child], { env: { ...process.env, TZ: tz } })
      const out = JSON.parse(stdout) as { zone: string; wrong: string[] }
      expect(out.zone).toBe(tz)
      expect(out.wrong).toEqual([])
    },
  )

  it('needs a zone for a calendar period, an IANA one, and none for a rolling window', () => {
    const codes = (limit: string) =>
      checkPolicy(policy(limit))
        .issues.filter((i) => i.severity === 'error')
        .map((i) => i.code)
    expect(codes('- { id: w, max: 1, per: calendar-week }')).toEqual(['LIMIT_ZONE'])
    expect(codes('- { id: w, max: 1, per: calendar-week, zone: Europe/Pariss }')).toEqual(['UNKNOWN_ZONE'])
    expect(codes('- { id: w, max: 1, per: 7d, zone: Europe/Paris }')).toEqual(['LIMIT_ZONE'])
    expect(codes('- { id: w, max: 1, per: calendar-fortnight, zone: Europe/Paris }')).toHaveLength(1)
  })
})

describe('sum: a budget over an attribute of the counted touches', () => {
  const budget =
    '- { id: q-discounts, action: email.offer, sum: discountUsd, max: 100, per: calendar-quarter, zone: Europe/Paris }'

  it('stops the action that would take the sum past max, and retries next quarter', async () => {
    const remit = await engine(policy(budget))
    expect((await offer(remit, 0, 'a', 60)).verdict).toBe('go')
    expect((await offer(remit, 1, 'a')).verdict).toBe('go') // no discount: adds nothing
    expect((await offer(remit, 2, 'a', 40)).verdict).toBe('go') // exactly 100
    const over = await offer(remit, 3, 'a', 0.5)
    expect(over.verdict).toBe('stop')
    expect(over.reasons[0]?.message).toContain('100 already in the window, and 0.5 more would make 100.5')
    // 1 July 00:00 in Paris.
    expect(over.retryAfter?.toISOString()).toBe('2026-06-30T22:00:00.000Z')
  })

  it('never retries an action over the whole budget on its own', async () => {
    const remit = await engine(policy(budget))
    const huge = await offer(remit, 0, 'a', 101)
    expect(huge.verdict).toBe('stop')
    expect(huge.retryAfter).toBeUndefined()
  })

  it('refuses a negative amount (400 on the attribute): it would refill the budget for the next action', async () => {
    const remit = await engine(policy(budget))
    await expect(offer(remit, 0, 'a', -5000)).rejects.toMatchObject({
      name: 'InputError',
      code: 'BAD_VALUE',
      path: ['action', 'discountUsd'],
    })
    expect((await offer(remit, 1, 'a', 101)).verdict).toBe('stop')
  })

  it('in a rolling window, retries when enough of the oldest spending ages out', async () => {
    const remit = await engine(
      policy('- { id: weekly-discounts, action: email.offer, sum: discountUsd, max: 100, per: 7d }'),
    )
    await offer(remit, 0, 'a', 30)
    await offer(remit, 1, 'a', 30)
    await offer(remit, 2, 'a', 30)
    const next = await offer(remit, 3, 'a', 50)
    expect(next.verdict).toBe('stop')
    // 90 + 50: the first two must age out (30 + 50 = 80 <= 100).
    expect(next.retryAfter?.toISOString()).toBe(at(1 + 7 * 24))
  })

  it('is a load error with distinct, or on an attribute that is not a number', () => {
    const codes = (limit: string) =>
      checkPolicy(policy(limit))
        .issues.filter((i) => i.severity === 'error')
        .map((i) => i.code)
    expect(
      codes('- { id: b, action: email.offer, sum: discountUsd, distinct: campaign, max: 1, per: 7d }'),
    ).toEqual(['LIMIT_DISTINCT_SUM'])
    expect(codes('- { id: b, action: email.offer, sum: campaign, max: 1, per: 7d }')).toEqual([
      'LIMIT_ATTRIBUTE',
    ])
    expect(codes('- { id: b, action: email.news, sum: discountUsd, max: 1, per: 7d }')).toEqual([
      'LIMIT_ATTRIBUTE',
    ])
  })
})
