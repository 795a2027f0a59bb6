// Instants around daylight-saving changes, and the local time each is in a customer's zone (checked
// against Python's zoneinfo). Shared by local-time.test.ts and the child processes it starts.

export interface LocalTimeCase {
  instant: string
  zone: string
  /** The wall clock in `zone`: `YYYY-MM-DD HH:MM:SS Www`. */
  local: string
  why: string
}

export const LOCAL_TIME_CASES: LocalTimeCase[] = [
  {
    instant: '2026-03-29T00:59:59Z',
    zone: 'Europe/Berlin',
    local: '2026-03-29 01:59:59 Sun',
    why: 'last second of CET',
  },
  {
    instant: '2026-03-29T01:30:00Z',
    zone: 'Europe/Berlin',
    local: '2026-03-29 03:30:00 Sun',
    why: 'just after spring forward',
  },
  {
    instant: '2026-10-25T00:30:00Z',
    zone: 'Europe/Berlin',
    local: '2026-10-25 02:30:00 Sun',
    why: 'the repeated hour, first time',
  },
  {
    instant: '2026-10-25T01:30:00Z',
    zone: 'Europe/Berlin',
    local: '2026-10-25 02:30:00 Sun',
    why: 'the repeated hour, second time',
  },
  {
    instant: '2026-03-08T06:30:00Z',
    zone: 'America/New_York',
    local: '2026-03-08 01:30:00 Sun',
    why: 'before spring forward',
  },
  {
    instant: '2026-03-08T07:30:00Z',
    zone: 'America/New_York',
    local: '2026-03-08 03:30:00 Sun',
    why: 'after spring forward',
  },
  {
    instant: '2026-11-01T05:30:00Z',
    zone: 'America/New_York',
    local: '2026-11-01 01:30:00 Sun',
    why: 'the repeated hour, EDT',
  },
  {
    instant: '2026-11-01T06:30:00Z',
    zone: 'America/New_York',
    local: '2026-11-01 01:30:00 Sun',
    why: 'the repeated hour, EST',
  },
  {
    instant: '2026-03-07T17:30:00Z',
    zone: 'Asia/Tokyo',
    local: '2026-03-08 02:30:00 Sun',
    why: 'a wall time that does not exist in New York',
  },
  {
    instant: '2026-03-28T17:30:00Z',
    zone: 'Asia/Tokyo',
    local: '2026-03-29 02:30:00 Sun',
    why: 'a wall time that does not exist in Berlin',
  },
  {
    instant: '2025-12-31T20:00:00Z',
    zone: 'Asia/Tokyo',
    local: '2026-01-01 05:00:00 Thu',
    why: 'new year in Tokyo, not in UTC',
  },
  {
    instant: '2026-01-01T00:00:00Z',
    zone: 'Asia/Kolkata',
    local: '2026-01-01 05:30:00 Thu',
    why: 'a half-hour offset',
  },
  {
    instant: '2026-07-01T12:00:00Z',
    zone: 'UTC',
    local: '2026-07-01 12:00:00 Wed',
    why: 'summer, read in UTC',
  },
  {
    instant: '2026-04-04T15:30:00Z',
    zone: 'Australia/Sydney',
    local: '2026-04-05 02:30:00 Sun',
    why: 'southern fall back, AEDT',
  },
  {
    instant: '2026-04-04T16:30:00Z',
    zone: 'Australia/Sydney',
    local: '2026-04-05 02:30:00 Sun',
    why: 'southern fall back, AEST',
  },
  {
    instant: '2028-12-31T23:00:00Z',
    zone: 'Europe/Berlin',
    local: '2029-01-01 00:00:00 Mon',
    why: 'new year in Berlin after a leap year',
  },
  {
    instant: '2028-12-31T12:00:00Z',
    zone: 'America/New_York',
    local: '2028-12-31 07:00:00 Sun',
    why: 'last day of a leap year',
  },
]

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']

/** What each CEL accessor should return for `local`, as CEL numbers them (months and days of year from 0). */
export function expectedFields(local: string): Record<string, number> {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) (\w{3})$/.exec(local)
  if (!m) throw new Error(`bad case ${local}`)
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  return {
    getFullYear: y,
    getMonth: mo - 1,
    getDate: d,
    getDayOfMonth: d - 1,
    getDayOfWeek: WEEKDAYS.indexOf(m[7] as string),
    getDayOfYear: (Date.UTC(y, mo - 1, d) - Date.UTC(y, 0, 1)) / 86400e3,
    getHours: h,
    getMinutes: mi,
    getSeconds: s,
  }
}

/**
 * A policy with one flag per case and accessor that fires when the accessor reads something other
 * than the case's local time (or cannot be read): `c<i>-<accessor>`. The accessors without a zone
 * read UTC, checked against the instant.
 */
export function localTimePolicy(): string {
  const rules: string[] = []
  LOCAL_TIME_CASES.forEach((c, i) => {
    for (const [fn, value] of Object.entries(expectedFields(c.local))) {
      rules.push(
        `  - { id: c${i}-${fn}, then: flag, when: "now.${fn}('${c.zone}') != ${value}", message: "${fn}('${c.zone}') is not ${value}" }`,
      )
    }
    const utc = new Date(c.instant).toISOString().replace('T', ' ').slice(0, 19)
    const weekday = WEEKDAYS[new Date(c.instant).getUTCDay()]
    for (const [fn, value] of Object.entries(expectedFields(`${utc} ${weekday}`))) {
      rules.push(
        `  - { id: c${i}-${fn}-utc, then: flag, when: "now.${fn}() != ${value}", message: "${fn}() is not ${value}" }`,
      )
    }
  })
  return `version: 1
teams: { marketing: {}, sales: {} }
agents:
  mkt: { team: marketing, tools: ["hubspot:workflow/1"] }
actions:
  email.positioning: { channel: email }
permissions:
  - { id: mkt-positioning, team: marketing, action: email.positioning }
triggers:
${rules.join('\n')}
review: { defaultTeam: sales }
`
}
