import { type ActionKind, type Agent, evaluate, loadPolicy, type Touch } from '../src/index.ts'

// Calendar periods of limits, read on the customer's zone's wall clock: for each case, when the
// period holding the instant began and when the next begins. Several fall on days the clock changes
// (a 23- or 25-hour day, a midnight that never happens), in the server's zone or the limit's.

export const PERIODS = ['day', 'week', 'month', 'quarter'] as const
type Bounds = Record<(typeof PERIODS)[number], [string, string]>

export const CALENDAR_CASES: { zone: string; instant: string; bounds: Bounds }[] = [
  {
    // Sunday: Paris springs forward at 02:00 (a 23-hour day).
    zone: 'Europe/Paris',
    instant: '2026-03-29T12:00:00Z',
    bounds: {
      day: ['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
      week: ['2026-03-22T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
      month: ['2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z'],
      quarter: ['2025-12-31T23:00:00.000Z', '2026-03-31T22:00:00.000Z'],
    },
  },
  {
    // Sunday: New York falls back at 02:00 (a 25-hour day).
    zone: 'America/New_York',
    instant: '2026-11-01T12:00:00Z',
    bounds: {
      day: ['2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z'],
      week: ['2026-10-26T04:00:00.000Z', '2026-11-02T05:00:00.000Z'],
      month: ['2026-11-01T04:00:00.000Z', '2026-12-01T05:00:00.000Z'],
      quarter: ['2026-10-01T04:00:00.000Z', '2027-01-01T05:00:00.000Z'],
    },
  },
  {
    // Friday 1 January, 01:00 in Tokyo; still 31 December in UTC.
    zone: 'Asia/Tokyo',
    instant: '2026-12-31T16:00:00Z',
    bounds: {
      day: ['2026-12-31T15:00:00.000Z', '2027-01-01T15:00:00.000Z'],
      week: ['2026-12-27T15:00:00.000Z', '2027-01-03T15:00:00.000Z'],
      month: ['2026-12-31T15:00:00.000Z', '2027-01-31T15:00:00.000Z'],
      quarter: ['2026-12-31T15:00:00.000Z', '2027-03-31T15:00:00.000Z'],
    },
  },
  {
    // Sunday 6 September: Santiago skips from 00:00 to 01:00, so the day starts when the clock jumps.
    zone: 'America/Santiago',
    instant: '2026-09-06T12:00:00Z',
    bounds: {
      day: ['2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z'],
      week: ['2026-08-31T04:00:00.000Z', '2026-09-07T03:00:00.000Z'],
      month: ['2026-09-01T04:00:00.000Z', '2026-10-01T03:00:00.000Z'],
      quarter: ['2026-07-01T04:00:00.000Z', '2026-10-01T03:00:00.000Z'],
    },
  },
]

/** One limit per case and period: at most one e-mail per calendar period in the case's zone. */
export function calendarPolicy() {
  const limits = CALENDAR_CASES.flatMap((c, i) =>
    PERIODS.map((p) => `  - { id: c${i}-${p}, max: 1, per: calendar-${p}, zone: ${c.zone} }`),
  )
  return loadPolicy(`version: 1
teams: { marketing: {} }
agents: { mkt: { team: marketing } }
actions: { email: { channel: email } }
permissions: [{ id: p, team: marketing }]
limits:
${limits.join('\n')}
review: { defaultTeam: marketing }
`)
}

/**
 * Every way the evaluation disagrees with the cases: a touch at the period's start counts (a stop
 * until the next period), one a millisecond before it does not.
 */
export function calendarErrors(): string[] {
  const policy = calendarPolicy()
  const touch = (at: number): Touch => ({
    id: `t${at}`,
    accountId: 'acme',
    kind: 'email',
    channel: 'email',
    outbound: true,
    at: new Date(at),
    status: 'sent',
    source: 'recorded',
  })
  const decide = (now: string, at: number) =>
    evaluate(policy, {
      agent: policy.agents.get('mkt') as Agent,
      action: policy.actions.get('email') as ActionKind,
      attributes: {},
      customer: { accountId: 'acme', facts: {} },
      now: new Date(now),
      touches: [touch(at)],
      commitments: [],
    })
  const wrong: string[] = []
  CALENDAR_CASES.forEach((c, i) => {
    for (const p of PERIODS) {
      const [start, next] = c.bounds[p]
      const id = `c${i}-${p}`
      const inside = decide(c.instant, Date.parse(start))
      const held = inside.reasons.find((r) => r.rule === id)
      if (!held) wrong.push(`${c.zone} ${c.instant} ${p}: a touch at ${start} did not count`)
      // Only this case's limits share its instant; its retryAfter is the latest next period of them.
      const before = decide(c.instant, Date.parse(start) - 1)
      if (before.reasons.some((r) => r.rule === id))
        wrong.push(`${c.zone} ${c.instant} ${p}: a touch before ${start} counted`)
      const alone = evaluate(
        loadPolicy(`version: 1
teams: { marketing: {} }
agents: { mkt: { team: marketing } }
actions: { email: { channel: email } }
permissions: [{ id: p, team: marketing }]
limits: [{ id: ${id}, max: 1, per: calendar-${p}, zone: ${c.zone} }]
review: { defaultTeam: marketing }
`),
        {
          agent: { id: 'mkt', team: 'marketing', tools: [] },
          action: policy.actions.get('email') as ActionKind,
          attributes: {},
          customer: { accountId: 'acme', facts: {} },
          now: new Date(c.instant),
          touches: [touch(Date.parse(start))],
          commitments: [],
        },
      )
      if (alone.retryAfter?.toISOString() !== next)
        wrong.push(`${c.zone} ${c.instant} ${p}: retryAfter ${alone.retryAfter?.toISOString()}, not ${next}`)
    }
  })
  return wrong
}
