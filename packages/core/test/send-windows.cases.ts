// Send windows at instants chosen around weekends and daylight-saving changes (2026), with the verdict
// and retryAfter each must give. Shared by send-windows.test.ts and the child processes it starts.
import { type ActionKind, type Agent, evaluate, loadPolicy } from '../src/index.ts'

export const WINDOWS_POLICY = `version: 1
teams: { marketing: {}, sales: {} }
agents:
  mkt: { team: marketing }
facts:
  timeZone: { type: string, optional: true }
actions:
  email.newsletter: { channel: email }
  email.receipt: { channel: email }
  sms.promo: { channel: sms }
  call.late: { channel: phone }
  call.early: { channel: phone }
permissions:
  - { id: mkt-all, team: marketing }
windows:
  - id: email-hours
    channel: email
    except: { action: [email.receipt] }
    days: mon-fri
    hours: 08:00-20:00
    zone: customer.timeZone
    defaultZone: Europe/Paris
  - id: sms-quiet
    channel: sms
    quiet: 21:00-09:00
    zone: customer.timeZone
    defaultZone: Europe/Paris
  - { id: opens-0230, action: call.late, hours: 02:30-05:00, zone: customer.timeZone, defaultZone: UTC }
  - { id: opens-0130, action: call.early, hours: 01:30-05:00, zone: customer.timeZone, defaultZone: UTC }
review: { defaultTeam: sales }
`

export interface WindowCase {
  why: string
  action: string
  at: string
  timeZone?: string
  verdict: 'go' | 'stop'
  retryAfter?: string
}

export const WINDOW_CASES: WindowCase[] = [
  {
    why: 'inside: Wed 12:00 Paris',
    action: 'email.newsletter',
    at: '2026-04-08T10:00:00Z',
    timeZone: 'Europe/Paris',
    verdict: 'go',
  },
  {
    why: 'after hours: Wed 21:00 Paris opens Thu 08:00',
    action: 'email.newsletter',
    at: '2026-04-08T19:00:00Z',
    timeZone: 'Europe/Paris',
    verdict: 'stop',
    retryAfter: '2026-04-09T06:00:00.000Z',
  },
  {
    why: 'Fri 20:30 Paris opens Mon 08:00',
    action: 'email.newsletter',
    at: '2026-04-10T18:30:00Z',
    timeZone: 'Europe/Paris',
    verdict: 'stop',
    retryAfter: '2026-04-13T06:00:00.000Z',
  },
  {
    why: 'Sat 12:00 Paris opens Mon 08:00',
    action: 'email.newsletter',
    at: '2026-04-11T10:00:00Z',
    timeZone: 'Europe/Paris',
    verdict: 'stop',
    retryAfter: '2026-04-13T06:00:00.000Z',
  },
  {
    why: 'closing minute: Wed 20:00 Paris is shut',
    action: 'email.newsletter',
    at: '2026-04-08T18:00:00Z',
    timeZone: 'Europe/Paris',
    verdict: 'stop',
    retryAfter: '2026-04-09T06:00:00.000Z',
  },
  {
    why: 'opening minute: Thu 08:00 Paris is open',
    action: 'email.newsletter',
    at: '2026-04-09T06:00:00Z',
    timeZone: 'Europe/Paris',
    verdict: 'go',
  },
  {
    why: 'no zone fact: the default zone (Wed 07:00 Paris)',
    action: 'email.newsletter',
    at: '2026-04-08T05:00:00Z',
    verdict: 'stop',
    retryAfter: '2026-04-08T06:00:00.000Z',
  },
  {
    why: 'the same instant in New York (01:00 EDT)',
    action: 'email.newsletter',
    at: '2026-04-08T05:00:00Z',
    timeZone: 'America/New_York',
    verdict: 'stop',
    retryAfter: '2026-04-08T12:00:00.000Z',
  },
  {
    why: 'a receipt is exempt',
    action: 'email.receipt',
    at: '2026-04-11T10:00:00Z',
    timeZone: 'Europe/Paris',
    verdict: 'go',
  },
  {
    why: 'quiet hours: 22:00 Paris opens 09:00',
    action: 'sms.promo',
    at: '2026-04-08T20:00:00Z',
    timeZone: 'Europe/Paris',
    verdict: 'stop',
    retryAfter: '2026-04-09T07:00:00.000Z',
  },
  {
    why: 'quiet hours past midnight: 02:00 Paris opens 09:00 that day',
    action: 'sms.promo',
    at: '2026-04-09T00:00:00Z',
    timeZone: 'Europe/Paris',
    verdict: 'stop',
    retryAfter: '2026-04-09T07:00:00.000Z',
  },
  {
    why: 'outside quiet hours, Saturday',
    action: 'sms.promo',
    at: '2026-04-11T08:00:00Z',
    timeZone: 'Europe/Paris',
    verdict: 'go',
  },
  {
    why: 'Berlin spring forward: 02:30 does not exist, opens 03:00 CEST',
    action: 'call.late',
    at: '2026-03-29T00:30:00Z',
    timeZone: 'Europe/Berlin',
    verdict: 'stop',
    retryAfter: '2026-03-29T01:00:00.000Z',
  },
  {
    why: 'New York spring forward: 02:30 does not exist, opens 03:00 EDT',
    action: 'call.late',
    at: '2026-03-08T06:00:00Z',
    timeZone: 'America/New_York',
    verdict: 'stop',
    retryAfter: '2026-03-08T07:00:00.000Z',
  },
  {
    why: 'Berlin fall back: 02:30 happens twice, opens at the first (CEST)',
    action: 'call.late',
    at: '2026-10-24T23:00:00Z',
    timeZone: 'Europe/Berlin',
    verdict: 'stop',
    retryAfter: '2026-10-25T00:30:00.000Z',
  },
  {
    why: 'New York fall back: 01:30 happens twice, opens at the first (EDT)',
    action: 'call.early',
    at: '2026-11-01T04:00:00Z',
    timeZone: 'America/New_York',
    verdict: 'stop',
    retryAfter: '2026-11-01T05:30:00.000Z',
  },
  {
    why: 'New York fall back: the second 01:30 (EST) is inside',
    action: 'call.early',
    at: '2026-11-01T06:30:00Z',
    timeZone: 'America/New_York',
    verdict: 'go',
  },
]

/** Each case's verdict and retryAfter as this process decides them. */
export function runWindowCases(): { verdict: string; retryAfter?: string }[] {
  const policy = loadPolicy(WINDOWS_POLICY)
  return WINDOW_CASES.map((c) => {
    const e = evaluate(policy, {
      agent: policy.agents.get('mkt') as Agent,
      action: policy.actions.get(c.action) as ActionKind,
      attributes: {},
      customer: { accountId: 'acme', facts: c.timeZone ? { timeZone: c.timeZone } : {} },
      now: new Date(c.at),
      touches: [],
      commitments: [],
    })
    return { verdict: e.verdict, ...(e.retryAfter ? { retryAfter: e.retryAfter.toISOString() } : {}) }
  })
}
