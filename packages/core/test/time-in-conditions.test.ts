import { describe, expect, it } from 'vitest'
import { checkPolicy, formatIssue, type PolicyIssue } from '../src/index.ts'
import { at, engine } from './helpers.ts'

// A policy that passes `remit validate` must not fail at evaluation for a reason knowable at load:
// durations in conditions take the policy's own units, and reading a timestamp the wrong way is an
// error at the character, not a flag on every decision.

const base = `version: 1
teams: { marketing: {}, sales: {} }
agents:
  mkt: { team: marketing, tools: ["hubspot:workflow/1"] }
facts:
  lastSeen: { type: timestamp, optional: true }
  window: { type: string, optional: true }
  zone: { type: string, optional: true }
actions:
  email.positioning: { channel: email }
permissions:
  - { id: mkt-positioning, team: marketing, action: email.positioning }
review: { defaultTeam: sales }
`
const withRules = (yaml: string) => `${base}${yaml}`

function errors(text: string): PolicyIssue[] {
  const result = checkPolicy(text, { file: 'remit.yaml' })
  expect(result.policy, 'the policy should not load').toBeUndefined()
  return result.issues.filter((i) => i.severity === 'error')
}
function only(text: string): PolicyIssue {
  const found = errors(text)
  expect(found, found.map(formatIssue).join('\n')).toHaveLength(1)
  return found[0] as PolicyIssue
}
function loads(text: string): void {
  const result = checkPolicy(text, { file: 'remit.yaml' })
  const found = result.issues.filter((i) => i.severity === 'error')
  expect(found.map(formatIssue)).toEqual([])
}
/** line:column of the first `needle` in `text`, 1-based, as issues report positions. */
function where(text: string, needle: string): string {
  const before = text.slice(0, text.indexOf(needle)).split('\n')
  return `${before.length}:${(before.at(-1) as string).length + 1}`
}
const at_ = (issue: PolicyIssue) => `${issue.position?.line}:${issue.position?.column}`

async function decide(policy: string, facts: Record<string, unknown>, when = at(0)) {
  const remit = await engine(policy)
  return remit.decide('mkt', {
    action: { kind: 'email.positioning' },
    customer: { accountId: 'acme', facts },
    at: when,
  })
}
const fired = (d: { reasons: { rule: string; message: string }[] }, rule: string) =>
  d.reasons.find((r) => r.rule === rule)

describe('duration() takes the units the policy file takes: d and w too', () => {
  const recent = withRules(`triggers:
  - { id: seen-recently, then: flag, when: "has(customer.lastSeen) && now - customer.lastSeen < duration('14d')" }
`)

  it("duration('14d') validates and decides: flag within 14 days, go after", async () => {
    loads(recent)
    const within = await decide(recent, { lastSeen: at(-13 * 24) })
    expect(within.verdict).toBe('flag')
    expect(fired(within, 'seen-recently')?.message).not.toContain('could not evaluate')
    const after = await decide(recent, { lastSeen: at(-15 * 24) })
    expect(after.verdict).toBe('go')
    expect(after.reasons.map((r) => r.rule)).toEqual(['mkt-positioning'])
  })

  it("weeks and mixed units: duration('1w2d') is 216 hours, duration('1d12h') is 36", async () => {
    const policy = withRules(`stops:
  - { id: arithmetic, when: "duration('1w2d') == duration('216h') && duration('1d12h') == duration('36h') && duration('2w') > duration('13d')" }
`)
    loads(policy)
    expect((await decide(policy, {})).verdict).toBe('stop')
  })

  it("CEL's own units still work: ms, s, m, h, fractions and a sign", async () => {
    const policy = withRules(`stops:
  - { id: units, when: "duration('1.5h') == duration('90m') && duration('-30s') < duration('0s') && duration('1500ms') == duration('1s500ms')" }
`)
    loads(policy)
    expect((await decide(policy, {})).verdict).toBe('stop')
  })

  it('a duration read from a fact takes d and w as well', async () => {
    const policy = withRules(`triggers:
  - { id: custom-window, then: flag, when: "now - customer.lastSeen < duration(customer.window)" }
`)
    const d = await decide(policy, { lastSeen: at(-24 * 8), window: '1w2d' })
    expect(d.verdict).toBe('flag')
    expect(fired(d, 'custom-window')?.message).not.toContain('could not evaluate')
    expect((await decide(policy, { lastSeen: at(-24 * 8), window: '1w' })).verdict).toBe('go')
  })

  it('an invalid duration read from a fact fails closed to a flag, saying why', async () => {
    const policy = withRules(`triggers:
  - { id: custom-window, then: flag, when: "now - customer.lastSeen < duration(customer.window)" }
`)
    const d = await decide(policy, { lastSeen: at(-1), window: 'a fortnight' })
    expect(d.verdict).toBe('flag')
    expect(fired(d, 'custom-window')?.message).toContain(
      'could not evaluate (invalid duration "a fortnight")',
    )
  })

  it("an invalid constant duration('14x') is refused when the policy loads, at the string, naming the units", () => {
    const text = withRules(`triggers:
  - id: seen-recently
    then: flag
    when: "now - customer.lastSeen < duration('14x')"
`)
    const issue = only(text)
    expect(issue).toMatchObject({ code: 'CEL_INVALID', rule: 'seen-recently' })
    expect(issue.message).toBe('invalid duration "14x"')
    expect(at_(issue)).toBe(where(text, "'14x'"))
    expect(issue.hint).toMatch(/\bd\b.*\bw\b/)
    expect(issue.hint).toContain('ms, s, m, h, d')
    expect(formatIssue(issue)).toMatch(
      /^remit\.yaml:\d+:\d+: error \[seen-recently\]: invalid duration "14x"/,
    )
  })

  it('an invalid constant duration in an until expression is refused too', () => {
    const text = withRules(`triggers:
  - { id: pause, then: stop, when: "true", until: "now + duration('3 days')" }
`)
    const issue = only(text)
    expect(issue.message).toBe('invalid duration "3 days"')
    expect(at_(issue)).toBe(where(text, "'3 days'"))
  })
})

describe('timestamps and durations have no fields: reading one is a load error', () => {
  it('now.hour is refused at the field, with the functions that exist', () => {
    const text = withRules(`triggers:
  - id: late
    then: flag
    when: "now.hour >= 21"
`)
    const issue = only(text)
    expect(issue).toMatchObject({ code: 'CEL_INVALID', rule: 'late' })
    expect(issue.message).toBe('a timestamp has no field "hour"')
    expect(at_(issue)).toBe(where(text, 'hour >= 21'))
    expect(issue.hint).toContain("now.getHours('Europe/Paris')")
    expect(issue.hint).toContain('getDayOfWeek')
    expect(issue.hint).toContain('getMinutes')
  })

  it('on any timestamp: a fact, a touch in a comprehension, an index', () => {
    for (const [when, field] of [
      ['customer.lastSeen.day == 1', 'day'],
      ['touches.exists(t, t.at.minutes == 0)', 'minutes'],
      ["now['hour'] > 3", 'hour'],
      ['has(now.seconds)', 'seconds'],
    ] as const) {
      const issue = only(withRules(`stops:\n  - { id: r, when: "${when}" }\n`))
      expect(issue.message, when).toBe(`a timestamp has no field "${field}"`)
    }
  })

  it('a duration has no fields either; the hint names its functions', () => {
    const issue = only(withRules(`stops:\n  - { id: r, when: "(now - customer.lastSeen).hours > 3" }\n`))
    expect(issue.message).toBe('a duration has no field "hours"')
    expect(issue.hint).toContain('getHours()')
  })

  it('the functions themselves load', () => {
    loads(
      withRules(`stops:
  - { id: r, when: "now.getHours('Europe/Paris') >= 21 || now.getDayOfWeek('Europe/Paris') == 0 || now.getHours() == 3 || duration('1d').getHours() == 24" }
`),
    )
  })
})

describe('time zones in conditions', () => {
  it('an unknown zone constant is refused when the policy loads, at the zone, with a did-you-mean', () => {
    const text = withRules(`triggers:
  - id: quiet-hours
    then: flag
    when: "now.getHours('Europe/Pariss') >= 21"
`)
    const issue = only(text)
    expect(issue).toMatchObject({ code: 'CEL_INVALID', rule: 'quiet-hours' })
    expect(issue.message).toBe('unknown time zone "Europe/Pariss"')
    expect(at_(issue)).toBe(where(text, "'Europe/Pariss'"))
    expect(issue.hint).toContain('did you mean "Europe/Paris"?')
  })

  it('a fixed offset is refused with a hint to name the zone (offsets ignore daylight saving time)', () => {
    const issue = only(withRules(`stops:\n  - { id: r, when: "now.getDayOfWeek('+05:30') == 1" }\n`))
    expect(issue.message).toBe('unknown time zone "+05:30"')
    expect(issue.hint).toContain('IANA')
  })

  it('every zone-taking function checks its constant zone', () => {
    for (const fn of [
      'getHours',
      'getMinutes',
      'getSeconds',
      'getMilliseconds',
      'getDayOfWeek',
      'getDayOfMonth',
      'getDate',
      'getMonth',
      'getFullYear',
      'getDayOfYear',
    ]) {
      const issue = only(withRules(`stops:\n  - { id: r, when: "now.${fn}('Mars/Olympus') == 1" }\n`))
      expect(issue.message, fn).toBe('unknown time zone "Mars/Olympus"')
    }
  })

  it('an unknown zone read from a fact fails closed to a flag, naming the zone', async () => {
    const policy = withRules(`triggers:
  - { id: quiet-hours, then: flag, when: "now.getHours(customer.zone) >= 21" }
`)
    const d = await decide(policy, { zone: 'Mars/Olympus' })
    expect(d.verdict).toBe('flag')
    expect(fired(d, 'quiet-hours')?.message).toContain(
      'could not evaluate (unknown time zone "Mars/Olympus")',
    )
    // A zone the customer really has decides as written: 09:00Z is 18:00 in Tokyo.
    expect((await decide(policy, { zone: 'Asia/Tokyo' })).verdict).toBe('go')
    expect((await decide(policy, { zone: 'Pacific/Kiritimati' })).verdict).toBe('flag')
  })

  it('a zone-taking function on something that is not a timestamp is a load error', () => {
    const issue = only(withRules(`stops:\n  - { id: r, when: "customer.window.getHours('UTC') == 1" }\n`))
    expect(issue.code).toBe('CEL_INVALID')
    expect(issue.message).toContain('getHours')
  })
})
