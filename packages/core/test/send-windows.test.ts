import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { type ActionKind, type Agent, checkPolicy, evaluate, explain, loadPolicy } from '../src/index.ts'
import { runWindowCases, WINDOW_CASES, WINDOWS_POLICY } from './send-windows.cases.ts'

const run = promisify(execFile)
const policy = loadPolicy(WINDOWS_POLICY)
const expected = WINDOW_CASES.map((c) => ({
  verdict: c.verdict,
  ...(c.retryAfter ? { retryAfter: c.retryAfter } : {}),
}))

function decide(action: string, at: string, facts: Record<string, unknown> = {}) {
  const input = {
    agent: policy.agents.get('mkt') as Agent,
    action: policy.actions.get(action) as ActionKind,
    attributes: {},
    customer: { accountId: 'acme', facts },
    now: new Date(at),
    touches: [],
    commitments: [],
  }
  return { evaluation: evaluate(policy, input), explanation: explain(policy, input) }
}

describe('send windows', () => {
  it.each(WINDOW_CASES.map((c, i) => [c.why, i] as const))('%s', (_, i) => {
    expect(runWindowCases()[i]).toEqual(expected[i])
  })

  it('a stop outside a window names the window, the local time and when it opens', () => {
    const { evaluation } = decide('email.newsletter', '2026-04-11T10:00:00Z', { timeZone: 'Europe/Paris' })
    expect(evaluation.reasons[0]).toEqual({
      rule: 'email-hours',
      sort: 'window',
      message:
        'outside window email-hours (mon-fri 08:00-20:00, Europe/Paris): it is Sat 12:00 there; opens Mon 08:00 (2026-04-13T06:00:00.000Z)',
      cause: true,
    })
  })

  it('a zone fact that is no IANA zone fails closed to a human, naming the nearest zone', () => {
    const { evaluation, explanation } = decide('email.newsletter', '2026-04-08T10:00:00Z', {
      timeZone: 'Europe/Pariss',
    })
    expect(evaluation.verdict).toBe('flag')
    expect(evaluation.retryAfter).toBeUndefined()
    const reason = evaluation.reasons.find((r) => r.rule === 'email-hours')
    expect(reason?.message).toMatch(
      /^could not evaluate \(customer.timeZone "Europe\/Pariss" is not a time zone/,
    )
    expect(reason?.message).toContain('did you mean "Europe/Paris"?')
    expect(explanation.applied.find((r) => r.id === 'email-hours')).toMatchObject({ result: 'unevaluable' })
  })

  it('a window is held to on approval too: approving a flag outside it stops', () => {
    const e = evaluate(
      policy,
      {
        agent: policy.agents.get('mkt') as Agent,
        action: policy.actions.get('sms.promo') as ActionKind,
        attributes: {},
        customer: { accountId: 'acme', facts: {} },
        now: new Date('2026-04-08T20:00:00Z'),
        touches: [],
        commitments: [],
      },
      'approve',
    )
    expect(e).toMatchObject({ verdict: 'stop', retryAfter: new Date('2026-04-09T07:00:00Z') })
  })

  it('explain shows the window: the zone read, the local time, shut or open', () => {
    const shut = decide('email.newsletter', '2026-04-11T10:00:00Z', { timeZone: 'Europe/Paris' })
    expect(shut.explanation.applied.find((r) => r.id === 'email-hours')).toEqual({
      id: 'email-hours',
      sort: 'window',
      when: 'mon-fri 08:00-20:00',
      result: 'matched',
      reads: [
        { name: 'customer.timeZone', value: 'Europe/Paris' },
        { name: 'zone', value: 'Europe/Paris' },
        { name: 'now', value: '2026-04-11T10:00:00.000Z (Sat 12:00 there)' },
        { name: 'opens', value: '2026-04-13T06:00:00.000Z' },
      ],
    })
    expect(shut.explanation.because).toMatch(/^stop, because email-hours stopped it/)
    const open = decide('email.newsletter', '2026-04-08T10:00:00Z')
    expect(open.explanation.applied.find((r) => r.id === 'email-hours')?.result).toBe('not matched')
  })

  it.each(['Asia/Tokyo', 'America/New_York'])(
    'a server in %s decides every case the same',
    { timeout: 60_000 },
    async (tz) => {
      const child = new URL('./send-windows.child.ts', import.meta.url).pathname
      const { stdout } = await run(process.execPath, [child], { env: { ...process.env, TZ: tz } })
      const out = JSON.parse(stdout) as { zone: string; results: unknown[] }
      expect(out.zone).toBe(tz)
      expect(out.results).toEqual(expected)
    },
  )
})

describe('send windows are checked at load', () => {
  const withWindow = (window: string, facts = '  timeZone: { type: string, optional: true }') =>
    WINDOWS_POLICY.replace(/facts:\n.*\n/, `facts:\n${facts}\n`).replace(
      /windows:\n[\s\S]*?\nreview:/,
      `windows:\n${window}\nreview:`,
    )
  const errors = (text: string) =>
    checkPolicy(text, { file: 'remit.yaml' }).issues.filter((i) => i.severity === 'error')

  it('an unknown zone constant is an error at its line and column, naming the nearest zone', () => {
    const text = withWindow('  - { id: w, channel: email, hours: 08:00-20:00, defaultZone: Europe/Pariss }')
    const [e, ...rest] = errors(text)
    expect(rest).toEqual([])
    expect(e).toMatchObject({ code: 'UNKNOWN_ZONE', rule: 'w', path: ['windows', 0, 'defaultZone'] })
    const lines = text.split('\n')
    const line = lines.findIndex((l) => l.includes('Europe/Pariss'))
    expect(e?.position).toMatchObject({
      line: line + 1,
      column: (lines[line] as string).indexOf('Europe/Pariss') + 1,
    })
    expect(e?.hint).toContain('did you mean "Europe/Paris"?')
    expect(() => loadPolicy(text)).toThrow(/Europe\/Pariss/)
  })

  it('a fixed offset is no zone', () => {
    const text = withWindow('  - { id: w, channel: email, hours: 08:00-20:00, defaultZone: "+01:00" }')
    expect(errors(text)[0]).toMatchObject({
      code: 'UNKNOWN_ZONE',
      hint: expect.stringContaining('fixed offset'),
    })
  })

  it('days and hours that are not ones are errors with hints', () => {
    const text = withWindow(
      '  - { id: w, channel: email, days: [monday, sat-sun], hours: [8-20, "21:00-21:00", "09:00-25:00"], defaultZone: UTC }',
    )
    const found = errors(text).map((e) => [e.code, e.path.join('.'), e.position?.line !== undefined])
    expect(found).toEqual([
      ['WINDOW_DAYS', 'windows.0.days.0', true],
      ['WINDOW_HOURS', 'windows.0.hours.0', true],
      ['WINDOW_HOURS', 'windows.0.hours.1', true],
      ['WINDOW_HOURS', 'windows.0.hours.2', true],
    ])
    expect(errors(text)[0]?.hint).toContain('did you mean "mon"?')
  })

  it('a zone read from an optional fact, or no zone at all, needs a default zone', () => {
    expect(errors(withWindow('  - { id: w, hours: 08:00-20:00, zone: customer.timeZone }'))[0]).toMatchObject(
      {
        code: 'WINDOW_DEFAULT_ZONE',
        hint: expect.stringContaining('defaultZone: Europe/Paris'),
      },
    )
    expect(errors(withWindow('  - { id: w, hours: 08:00-20:00 }'))[0]?.code).toBe('WINDOW_DEFAULT_ZONE')
    // A required fact needs none: a customer without it is refused before any rule runs.
    expect(
      errors(withWindow('  - { id: w, hours: 08:00-20:00, zone: customer.timeZone }', '  timeZone: string')),
    ).toEqual([])
  })

  it('the zone names a declared string fact', () => {
    const unknown = errors(
      withWindow('  - { id: w, hours: 08:00-20:00, zone: customer.timezone, defaultZone: UTC }'),
    )
    expect(unknown[0]).toMatchObject({
      code: 'WINDOW_ZONE',
      hint: expect.stringContaining('customer.timeZone'),
    })
    const typed = errors(
      withWindow(
        '  - { id: w, hours: 08:00-20:00, zone: customer.timeZone, defaultZone: UTC }',
        '  timeZone: number',
      ),
    )
    expect(typed[0]?.code).toBe('WINDOW_ZONE')
    const enumed = errors(
      withWindow(
        '  - { id: w, hours: 08:00-20:00, zone: customer.timeZone }',
        '  timeZone: { type: string, enum: [Europe/Paris, Mars/Olympus] }',
      ),
    )
    expect(enumed.map((e) => e.code)).toEqual(['UNKNOWN_ZONE'])
  })

  it('hours and quiet together, or neither with no days, are errors', () => {
    expect(
      errors(withWindow('  - { id: w, hours: 08:00-20:00, quiet: 21:00-09:00, defaultZone: UTC }'))[0]?.code,
    ).toBe('WINDOW_HOURS_AND_QUIET')
    expect(errors(withWindow('  - { id: w, defaultZone: UTC }'))[0]?.code).toBe('WINDOW_ALWAYS_OPEN')
  })

  it('window ids are rule ids, and scope names are checked', () => {
    const text = withWindow(
      '  - { id: mkt-all, channel: email, days: mon-fri, defaultZone: UTC }\n  - { id: w2, action: email.newsleter, days: mon, defaultZone: UTC }',
    )
    expect(errors(text).map((e) => e.code)).toEqual(['DUPLICATE_RULE_ID', 'UNKNOWN_ACTION_KIND'])
  })
})
