import { describe, expect, it } from 'vitest'
import {
  type ActionKind,
  type Agent,
  checkPolicy,
  type EvaluationInput,
  evaluate,
  formatIssue,
  loadPolicy,
  type PolicyIssue,
} from '../src/index.ts'
import { at, engine, MON } from './helpers.ts'

/** A small valid policy: marketing may send positioning e-mails; tests add one rule at a time. */
const base = `version: 1
teams: { marketing: {}, sales: {} }
agents:
  mkt: { team: marketing, tools: ["hubspot:workflow/1"] }
facts:
  name: { type: string, optional: true }
  pattern: { type: string, optional: true }
  tags: { type: list, optional: true }
  tier: { type: string, optional: true }
actions:
  email.positioning: { channel: email }
permissions:
  - { id: mkt-positioning, team: marketing, action: email.positioning }
review: { defaultTeam: sales }
`
const withRules = (yaml: string) => `${base}${yaml}`

function errors(text: string): PolicyIssue[] {
  const result = checkPolicy(text, { file: 'remit.yaml' })
  expect(result.policy).toBeUndefined()
  return result.issues.filter((i) => i.severity === 'error')
}
function only(text: string): PolicyIssue {
  const found = errors(text)
  expect(found, found.map(formatIssue).join('\n')).toHaveLength(1)
  return found[0] as PolicyIssue
}
/** line:column of the first `needle` in `text`, 1-based, as issues report positions. */
function where(text: string, needle: string): string {
  const before = text.slice(0, text.indexOf(needle)).split('\n')
  return `${before.length}:${(before.at(-1) as string).length + 1}`
}
const at_ = (issue: PolicyIssue) => `${issue.position?.line}:${issue.position?.column}`

async function decide(policy: string, facts: Record<string, unknown>) {
  const remit = await engine(policy)
  return remit.decide('mkt', {
    action: { kind: 'email.positioning' },
    customer: { accountId: 'acme', facts },
    at: at(0),
  })
}

describe('regular expressions run on RE2, in linear time', () => {
  const catastrophic = withRules(`triggers:
  - id: only-as
    then: stop
    when: "customer.name.matches('^(a+)+$')"
`)

  it('a catastrophic pattern on a near-miss input answers at once, and correctly', async () => {
    const started = performance.now()
    const d = await decide(catastrophic, { name: `${'a'.repeat(34)}!` })
    // V8's backtracking RegExp takes about a minute here; RE2 a fraction of a millisecond.
    expect(performance.now() - started).toBeLessThan(15_000)
    expect(d.verdict).toBe('go')
    expect(d.reasons.map((r) => r.rule)).toEqual(['mkt-positioning'])
  })

  it('the same pattern still matches what it should', async () => {
    const d = await decide(catastrophic, { name: 'a'.repeat(34) })
    expect(d.verdict).toBe('stop')
    expect(d.reasons.map((r) => r.rule)).toContain('only-as')
  })

  it('the function form matches(text, pattern) is RE2 too', async () => {
    const policy = withRules(`triggers:
  - { id: only-as, then: stop, when: "matches(customer.name, '^(a+)+$')" }
`)
    const started = performance.now()
    expect((await decide(policy, { name: `${'a'.repeat(34)}!` })).verdict).toBe('go')
    expect(performance.now() - started).toBeLessThan(15_000)
    expect((await decide(policy, { name: 'aaa' })).verdict).toBe('stop')
  })

  it('matches is a search, as in CEL: the pattern may match anywhere in the text', async () => {
    const policy = withRules(`stops:
  - { id: test-accounts, when: "customer.name.matches('te?st')" }
`)
    expect((await decide(policy, { name: 'acme-test-2' })).verdict).toBe('stop')
    expect((await decide(policy, { name: 'acme' })).verdict).toBe('go')
  })
})

describe('patterns RE2 refuses', () => {
  it('a backreference is refused when the policy loads, at the pattern', () => {
    const text = withRules(`triggers:
  - id: doubled-letter
    then: flag
    when: customer.name.matches(r'(\\w)\\1')
`)
    const issue = only(text)
    expect(issue).toMatchObject({ code: 'BAD_REGEX', rule: 'doubled-letter' })
    expect(issue.message).toContain('invalid regular expression "(\\\\w)\\\\1"')
    expect(at_(issue)).toBe(where(text, "r'(\\w)"))
    expect(issue.hint).toContain('no backreferences')
    expect(formatIssue(issue)).toMatch(
      /^remit\.yaml:\d+:\d+: error \[doubled-letter\]: invalid regular expression/,
    )
  })

  it('a lookahead is refused when the policy loads, with a hint', () => {
    const text = withRules(`stops:
  - { id: has-digit, when: "matches(customer.name, '^(?=.*[0-9])')" }
`)
    const issue = only(text)
    expect(issue.code).toBe('BAD_REGEX')
    expect(at_(issue)).toBe(where(text, "'^(?="))
    expect(issue.hint).toContain('no lookahead or lookbehind')
  })

  it('a pattern from data that RE2 refuses stops the decision, naming the rule', async () => {
    const policy = withRules(`triggers:
  - { id: custom-pattern, then: flag, when: "customer.name.matches(customer.pattern)" }
`)
    const d = await decide(policy, { name: 'aa', pattern: '(a)\\1' })
    expect(d.verdict).toBe('stop')
    const reason = d.reasons.find((r) => r.rule === 'custom-pattern')
    expect(reason).toEqual({
      rule: 'custom-pattern',
      sort: 'trigger',
      message:
        'invalid regular expression "(a)\\\\1": invalid escape sequence at `\\1`; stopped (fail closed)',
      cause: true,
    })
    expect(d.retryAfter).toBeUndefined()
  })

  it('a refused pattern cannot be hidden by CEL absorbing the error (`|| true` in a permission)', async () => {
    const policy = base.replace(
      '  - { id: mkt-positioning, team: marketing, action: email.positioning }',
      '  - { id: pattern-or-anything, team: marketing, when: "customer.name.matches(customer.pattern) || true" }',
    )
    const d = await decide(policy, { name: 'a', pattern: '(?!a)' })
    expect(d.verdict).toBe('stop')
    // The permission is not granted, and its abort makes the decision a stop rather than a flag.
    expect(d.reasons.map((r) => [r.rule, r.sort])).toEqual([
      ['pattern-or-anything', 'permission'],
      ['no-permission', 'default'],
    ])
  })
})

describe('each evaluation of a condition has a budget', () => {
  const tags = Array.from({ length: 1000 }, (_, i) => `tag-${i}`)
  const quadratic = "customer.tags.exists(a, customer.tags.exists(b, a == b + '!'))"

  it('a rule over budget stops the decision, and the reason names the rule', async () => {
    const policy = withRules(`triggers:
  - { id: tag-pairs, then: flag, when: "${quadratic}" }
`)
    // The abort in the reasons is the proof the budget cut it off (a wall-clock bound here failed a
    // CI run on a busy machine at 2,054 ms: timing belongs in benchmarks).
    const d = await decide(policy, { tags })
    expect(d.verdict).toBe('stop')
    expect(d.reasons).toContainEqual({
      rule: 'tag-pairs',
      sort: 'trigger',
      message: 'evaluation exceeded its budget; stopped (fail closed)',
      cause: true,
    })
    expect(d.retryAfter).toBeUndefined()
  })

  it('many rules each within budget share one budget per decision: past it the decision stops', async () => {
    // Each rule walks 90 × 1,000 pairs (under one condition's budget); four of them together are over
    // the decision's 2,000,000 steps.
    const near = "customer.tags.filter(x, x.size() == 6).exists(a, customer.tags.exists(b, b == a + '!'))"
    const rules = [1, 2, 3, 4].map((i) => `  - { id: walk-${i}, then: flag, when: "${near}" }`).join('\n')
    const d = await decide(withRules(`triggers:\n${rules}\n`), { tags })
    expect(d.verdict).toBe('stop')
    const aborted = d.reasons.filter((r) => r.message.includes('exceeded its budget')).map((r) => r.rule)
    expect(aborted.length).toBeGreaterThan(0)
    expect(aborted).toContain('walk-4')
    // Alone, one such rule decides as written.
    const one = await decide(withRules(`triggers:\n  - { id: walk-1, then: flag, when: "${near}" }\n`), {
      tags,
    })
    expect(one.reasons.some((r) => r.message.includes('exceeded its budget'))).toBe(false)
  })

  it('a comprehension building a list is charged per item, not per item again at every step', async () => {
    // map and filter grow one list in place: 1,000 tags through map, map and filter are a few thousand
    // steps' work (charged as ~1.5 million before, over one condition's budget).
    const policy = withRules(`triggers:
  - { id: long-tags, then: flag, when: "customer.tags.map(t, t + '!').map(t, t + '?').filter(t, t.size() > 8).size() > 0" }
`)
    const d = await decide(policy, { tags })
    expect(d.reasons.some((r) => r.message.includes('exceeded its budget'))).toBe(false)
    expect(d.verdict).toBe('flag')
  })

  it('the same rule within budget decides as written', async () => {
    const policy = withRules(`triggers:
  - { id: tag-pairs, then: flag, when: "${quadratic}" }
`)
    const d = await decide(policy, { tags: ['x', 'x!'] })
    expect(d.verdict).toBe('flag')
    expect(d.reasons.map((r) => r.rule)).toContain('tag-pairs')
  })

  it('running out of budget cannot be hidden by CEL absorbing the error (`&& false`)', async () => {
    const policy = withRules(`stops:
  - { id: never, when: "${quadratic} && false" }
`)
    const d = await decide(policy, { tags })
    expect(d.verdict).toBe('stop')
    expect(d.reasons.map((r) => r.rule)).toContain('never')
  })

  it('the evaluation lists aborted rules apart, so callers can log them', () => {
    const policy = loadPolicy(
      withRules(`triggers:
  - { id: tag-pairs, then: flag, when: "${quadratic}" }
  - { id: enterprise, then: flag, when: "customer.tier == 'enterprise'" }
`),
    )
    const input: EvaluationInput = {
      agent: policy.agents.get('mkt') as Agent,
      action: policy.actions.get('email.positioning') as ActionKind,
      attributes: {},
      customer: { accountId: 'acme', facts: { tags } },
      now: new Date(MON),
      touches: [],
      commitments: [],
    }
    const evaluation = evaluate(policy, input)
    expect(evaluation.verdict).toBe('stop')
    expect(evaluation.aborted).toEqual([
      {
        rule: 'tag-pairs',
        code: 'BUDGET_EXCEEDED',
        message: 'evaluation exceeded its budget; stopped (fail closed)',
      },
    ])
    // A fact that is missing is not an abort: that rule fails closed to a flag, as before.
    expect(evaluation.reasons.find((r) => r.rule === 'enterprise')?.message).toContain(
      'fact or attribute "tier" was missing',
    )
  })

  it('a missing fact still fails closed to flag, not stop', async () => {
    const policy = withRules(`triggers:
  - { id: enterprise, then: flag, when: "customer.tier == 'enterprise'" }
`)
    const d = await decide(policy, {})
    expect(d.verdict).toBe('flag')
  })
})

describe('conditions too large to review are refused when the policy loads', () => {
  it('more than 4096 characters', () => {
    const text = withRules(`stops:
  - { id: long, when: "customer.name == '${'x'.repeat(5000)}'" }
`)
    const issue = only(text)
    expect(issue).toMatchObject({ code: 'CEL_TOO_LARGE', rule: 'long' })
    expect(issue.message).toBe('expression is 5019 characters long; at most 4096 are allowed')
    expect(at_(issue)).toBe(where(text, "customer.name == 'xxx"))
  })

  it('nested too deep', () => {
    const text = withRules(`stops:
  - { id: deep, when: "${'('.repeat(40)}true${')'.repeat(40)}" }
`)
    const issue = only(text)
    expect(issue).toMatchObject({
      code: 'CEL_TOO_LARGE',
      message: 'expression nests more than 32 levels deep',
    })
    expect(issue.position?.line).toBe(Number(where(text, '((((').split(':')[0]))
  })
})

describe('names every JavaScript object already has', () => {
  it('facts and action attributes named after Object.prototype properties are refused, at the name', () => {
    const text = base
      .replace(
        '  tier: { type: string, optional: true }\n',
        '  constructor: string\n  __proto__: { type: number }\n',
      )
      .replace(
        'email.positioning: { channel: email }',
        'email.positioning: { channel: email, attributes: { toString: number } }',
      )
    const found = errors(text)
    expect(found.map((i) => [i.code, i.path.join('.'), at_(i)])).toEqual([
      ['RESERVED_NAME', 'facts.constructor', where(text, 'constructor:')],
      ['RESERVED_NAME', 'facts.__proto__', where(text, '__proto__:')],
      ['RESERVED_NAME', 'actions.email.positioning.attributes.toString', where(text, 'toString:')],
    ])
    expect(found[0]?.message).toBe(
      'fact name "constructor" is reserved: every JavaScript object has a property of that name',
    )
    expect(found[0]?.hint).toContain('hasOwnProperty')
  })

  it('a team named like an inherited property is unknown, not found on the prototype', () => {
    const text = base.replace('mkt: { team: marketing', 'mkt: { team: constructor')
    const issue = errors(text).find((i) => i.code === 'UNKNOWN_TEAM')
    expect(issue?.message).toBe('unknown team "constructor"')
    expect(at_(issue as PolicyIssue)).toBe(where(text, 'constructor'))
  })

  it('a loaded policy answers only for the facts and attributes it declares', () => {
    const policy = loadPolicy(base)
    expect(policy.facts.constructor).toBeUndefined()
    expect(policy.facts.toString).toBeUndefined()
    expect(policy.attributes.valueOf).toBeUndefined()
    expect(Object.keys(policy.facts)).toEqual(['name', 'pattern', 'tags', 'tier'])
  })
})
