import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkPolicy, formatIssue, loadPolicy, PolicyError, type PolicyIssue } from '../src/index.ts'

const seedPath = new URL('../../../examples/seed-week/remit.yaml', import.meta.url)
const seed = readFileSync(seedPath, 'utf8')

/** A small valid policy; tests bend one line of it at a time. */
const base = `version: 1
teams: { marketing: {}, sales: {}, support: {} }
agents:
  mkt: { team: marketing, tools: ["hubspot:workflow/1"] }
  sls: { team: sales, tools: ["salesforce:flow/Offer"] }
facts:
  lifecycle: { type: string, enum: [prospect, customer, renewal] }
  tier: { type: string }
actions:
  email.positioning: { channel: email }
  offer.discount: { channel: email, commitment: discount, attributes: { discountPct: number } }
permissions:
  - { id: mkt-positioning, team: marketing, action: email.positioning }
  - id: sales-discount
    team: sales
    action: offer.discount
    when: "action.discountPct <= 15.0"
review: { defaultTeam: sales }
`

function issues(text: string): PolicyIssue[] {
  return checkPolicy(text, { file: 'remit.yaml' }).issues
}
function only(text: string, severity: 'error' | 'warning' = 'error'): PolicyIssue {
  const found = issues(text).filter((i) => i.severity === severity)
  expect(found, found.map(formatIssue).join('\n')).toHaveLength(1)
  return found[0] as PolicyIssue
}
function at(issue: PolicyIssue) {
  return `${issue.position?.line}:${issue.position?.column}`
}

describe('loading a policy', () => {
  it("loads the example week's policy with no issues", () => {
    const result = checkPolicy(seed, { file: 'remit.yaml' })
    expect(result.issues).toEqual([])
    const policy = result.policy
    expect(policy?.agents.get('sales-agent')?.team).toBe('sales')
    expect(policy?.tools.get('hubspot:workflow/2002')).toBe('support-agent')
    expect(policy?.rules.map((r) => r.id)).toContain('ticket-pause')
    expect(policy?.version).toMatch(/^[0-9a-f]{16}$/)
  })

  it('versions a policy by its content', () => {
    expect(loadPolicy(base).version).toBe(loadPolicy(base).version)
    expect(loadPolicy(`${base}# a comment\n`).version).not.toBe(loadPolicy(base).version)
  })

  it('indexes rules by agent and action kind, so evaluation runs only what applies', () => {
    const policy = loadPolicy(seed)
    const applicable = policy.applicable('support-agent', 'sequence.winback')
    expect(applicable.stops.map((r) => r.id)).toEqual(['no-winback-after-sales'])
    expect(applicable.permissions.map((r) => r.id)).toEqual(['support-winback'])
    expect(policy.applicable('marketing-agent', 'email.positioning').stops).toEqual([])
  })

  it('throws a PolicyError that lists every error with file, line and column', () => {
    const broken = base
      .replace('team: sales, tools', 'team: sals, tools')
      .replace('defaultTeam: sales', 'defaultTeam: ops')
    expect(() => loadPolicy(broken, { file: 'remit.yaml' })).toThrow(PolicyError)
    try {
      loadPolicy(broken, { file: 'remit.yaml' })
    } catch (e) {
      const error = e as PolicyError
      expect(error.issues.map((i) => i.code)).toEqual(['UNKNOWN_TEAM', 'UNKNOWN_TEAM'])
      expect(error.message).toContain('remit.yaml:5:16: error: unknown team "sals"')
      expect(error.message).toContain('hint: did you mean "sales"?')
    }
  })
})

describe('policy errors name file, line, column and what was expected', () => {
  it('YAML syntax', () => {
    const issue = only(base.replace('  tier: { type: string }', '  tier: { type: string'))
    expect(issue.code).toBe('YAML_SYNTAX')
    expect(issue.position?.file).toBe('remit.yaml')
    expect(issue.position?.line).toBeGreaterThanOrEqual(8)
  })

  it('a missing required field', () => {
    const issue = only(base.replace('review: { defaultTeam: sales }\n', ''))
    expect(issue).toMatchObject({ code: 'MISSING_FIELD', message: 'missing required field "review"' })
    expect(at(issue)).toBe('1:1')
  })

  it('an unknown key, with the key it probably meant', () => {
    const issue = only(base.replace('    when: "action', '    whn: "action'))
    expect(issue).toMatchObject({
      code: 'UNKNOWN_KEY',
      message: 'unknown key "whn"',
      hint: 'did you mean "when"?',
    })
    expect(at(issue)).toBe('17:5')
  })

  it('a value of the wrong form', () => {
    const issue = only(`${base}limits:\n  - { id: l1, max: 1, per: 72 hours }\n`)
    expect(issue.code).toBe('INVALID_VALUE')
    expect(issue.message).toContain('expected a duration such as 72h')
    expect(at(issue)).toBe('20:28')
  })

  it('a choice outside its options', () => {
    const issue = only(`${base}triggers:\n  - { id: t1, when: "true", then: maybe }\n`)
    expect(issue.message).toBe('expected one of "flag", "stop"')
    expect(at(issue)).toBe('20:35')
  })

  it('unknown teams, agents and action kinds, with suggestions', () => {
    const text = `${base}stops:\n  - { id: s1, agent: mkts, action: offer.discnt }\n  - { id: s2, team: [sales, suport] }\n`
    const found = issues(text)
    expect(found.map((i) => [i.code, at(i), i.hint])).toEqual([
      ['UNKNOWN_AGENT', '20:22', 'did you mean "mkt"?'],
      ['UNKNOWN_ACTION_KIND', '20:36', 'did you mean "offer.discount"?'],
      ['UNKNOWN_TEAM', '21:29', 'did you mean "support"?'],
    ])
    expect(found.every((i) => i.rule === 's1' || i.rule === 's2')).toBe(true)
  })

  it('an ownership owner or notify team that does not exist', () => {
    const text = `${base}ownership:\n  - { id: o1, when: "true", owner: finance }\ntriggers:\n  - { id: t1, when: "true", then: flag, notify: [legal] }\n`
    expect(issues(text).map((i) => [i.code, at(i)])).toEqual([
      ['UNKNOWN_TEAM', '20:36'],
      ['UNKNOWN_TEAM', '22:50'],
    ])
  })

  it('a rule id used twice', () => {
    const issue = only(`${base}stops:\n  - { id: mkt-positioning, when: "false" }\n`)
    expect(issue).toMatchObject({ code: 'DUPLICATE_RULE_ID', rule: 'mkt-positioning' })
    expect(at(issue)).toBe('20:11')
  })

  it('one tool claimed by two agents', () => {
    const issue = only(base.replace('tools: ["salesforce:flow/Offer"]', 'tools: ["hubspot:workflow/1"]'))
    expect(issue.code).toBe('DUPLICATE_TOOL')
  })

  it('an attribute declared with two types', () => {
    const issue = only(
      base.replace(
        'email.positioning: { channel: email }',
        'email.positioning: { channel: email, attributes: { discountPct: string } }',
      ),
    )
    expect(issue.code).toBe('ATTRIBUTE_TYPE_CONFLICT')
  })

  describe('CEL conditions, type-checked at load time', () => {
    const withStop = (when: string) => `${base}stops:\n  - id: s1\n    when: ${when}\n`

    it('a typo in a fact name points at the typo and suggests the fact', () => {
      const issue = only(withStop(`"customer.lifecyle == 'renewal'"`))
      expect(issue).toMatchObject({ code: 'CEL_INVALID', rule: 's1', hint: 'did you mean "lifecycle"?' })
      expect(issue.message).toContain('lifecyle')
      // line 21: `    when: "customer.lifecyle …"`: the typo starts at column 21.
      expect(at(issue)).toBe('21:21')
    })

    it('a comparison of a string to a number', () => {
      const issue = only(withStop(`"customer.tier == 5"`))
      expect(issue.message).toBe('no such overload: string == int')
      expect(issue.hint).toContain('different types')
    })

    it('an attribute no action declares', () => {
      const issue = only(withStop(`"action.discountPtc > 10.0"`))
      expect(issue.hint).toBe('did you mean "discountPct"?')
    })

    it('an unknown variable', () => {
      const issue = only(withStop(`"custmer.tier == 'x'"`))
      expect(issue.message).toBe('Unknown variable: custmer')
    })

    it('a syntax error', () => {
      const issue = only(withStop(`"customer.tier == "`))
      expect(issue.code).toBe('CEL_INVALID')
    })

    it('a condition that is not true-or-false', () => {
      expect(only(withStop('"customer.tier"')).message).toBe(
        'expected a boolean expression, but this one yields string',
      )
    })

    it('an until that is not a time', () => {
      const issue = only(
        `${base}triggers:\n  - { id: t1, when: "true", then: stop, until: "customer.tier" }\n`,
      )
      expect(issue.message).toBe('expected a timestamp expression, but this one yields string')
    })

    it('reports every broken expression at once', () => {
      const text = `${base}stops:\n  - { id: s1, when: "customer.x == 1" }\n  - { id: s2, when: "customer.y == 1" }\n`
      expect(issues(text).map((i) => i.rule)).toEqual(['s1', 's2'])
    })
  })
})

describe('policy warnings: rules that load but can never change a decision', () => {
  it('a permission for a team with no agents', () => {
    const issue = only(
      `${base.replace('permissions:\n', 'permissions:\n  - { id: support-x, team: support, action: email.positioning }\n')}`,
      'warning',
    )
    expect(issue).toMatchObject({ code: 'NEVER_APPLIES', rule: 'support-x' })
    expect(at(issue)).toBe('13:5')
    expect(
      checkPolicy(base.replace('permissions:\n', 'permissions:\n  - { id: support-x, team: support }\n'))
        .policy,
    ).toBeDefined()
  })

  it('a permission always overridden by a stop with no condition', () => {
    const issue = only(`${base}stops:\n  - { id: never-discount, action: offer.discount }\n`, 'warning')
    expect(issue).toMatchObject({ code: 'PERMISSION_OVERRIDDEN', rule: 'sales-discount' })
  })

  it('a pause that only flags', () => {
    const issue = only(
      `${base}triggers:\n  - { id: t1, when: "true", then: flag, until: "now" }\n`,
      'warning',
    )
    expect(issue.code).toBe('UNTIL_IGNORED')
  })

  it('keeps warnings on the loaded policy', () => {
    const policy = loadPolicy(`${base}triggers:\n  - { id: t1, when: "true", then: flag, until: "now" }\n`)
    expect(policy.warnings.map((w) => w.code)).toEqual(['UNTIL_IGNORED'])
  })
})

describe('a type that is not one', () => {
  it('names the valid types and the nearest, at the type', () => {
    const result = checkPolicy(
      'version: 1\nteams: { sales: {} }\nagents:\n  a: { team: sales }\nfacts:\n  vip: { type: bool }\n  tier: strng\nactions:\n  offer.discount: { channel: email, attributes: { pct: integer } }\nreview: { defaultTeam: sales }\n',
      { file: 'remit.yaml' },
    )
    expect(result.issues.map((i) => [i.position?.line, i.position?.column, i.message, i.hint])).toEqual([
      [
        6,
        16,
        'unknown type "bool": the types are string, number, boolean, timestamp, list',
        'did you mean "boolean"?',
      ],
      [
        7,
        9,
        'unknown type "strng": the types are string, number, boolean, timestamp, list',
        'did you mean "string"?',
      ],
      [
        9,
        56,
        'unknown type "integer": the types are string, number, boolean, timestamp, list',
        'did you mean "number"?',
      ],
    ])
  })
})
