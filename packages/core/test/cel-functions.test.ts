import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkPolicy, formatIssue, type PolicyIssue } from '../src/index.ts'
import {
  buildEnvironment,
  CelAction,
  CelAgent,
  CelCommitment,
  CelCustomer,
  type CelEnvironment,
  CelTouch,
  type CelVariables,
  type CompiledExpression,
  compileExpression,
  isProblem,
} from '../src/policy/cel.ts'
import type { PolicyDocument } from '../src/policy/schema.ts'

// What a condition can read and call, and what the author is told when it reads or calls something
// that does not exist: the fields and functions that do, from the environment itself.

const base = `version: 1
teams: { marketing: {}, sales: {} }
agents:
  mkt: { team: marketing, tools: ["hubspot:workflow/1"] }
facts:
  lifecycle: string
  tier: string
actions:
  offer.discount: { channel: email, commitment: discount, attributes: { discountPct: number } }
permissions:
  - { id: mkt-offers, team: marketing, action: offer.discount }
review: { defaultTeam: sales }
stops:
  - id: s1
    when: `

function only(when: string): PolicyIssue {
  const result = checkPolicy(`${base}"${when}"\n`, { file: 'remit.yaml' })
  const found = result.issues.filter((i) => i.severity === 'error')
  expect(found, found.map(formatIssue).join('\n')).toHaveLength(1)
  return found[0] as PolicyIssue
}

describe('a field that does not exist is named with the fields that do', () => {
  it("on a touch: the touch's fields, from its declared type, and the nearest", () => {
    const issue = only("touches.exists(t, t.chanel == 'sms')")
    expect(issue.message).toBe(
      'a touch has no field "chanel": its fields are agent, team, tool, kind, channel, outbound, status, contactId, email, at, attributes',
    )
    expect(issue.hint).toBe('did you mean "channel"?')
  })

  it('on a touch, with nothing near: the fields, not a fact that merely looks alike', () => {
    const issue = only("touches.exists(t, t.campaign == 'x')")
    expect(issue.message).toContain('a touch has no field "campaign": its fields are agent, team')
    expect(issue.hint).toBe(
      'use one of: agent, team, tool, kind, channel, outbound, status, contactId, email, at, attributes',
    )
  })

  it('on customer: the facts the policy declares, and that facts are declared under facts:', () => {
    const issue = only("customer.tz == 'Europe/Paris'")
    expect(issue.message).toBe(
      'customer has no field "tz": conditions read the facts declared under facts: (lifecycle, tier) and id, accountId, contactId, email',
    )
    expect(issue.hint).toBe('declare tz under facts: to read customer.tz')
  })

  it('on customer, a near fact: did you mean it', () => {
    expect(only("customer.tir == 'smb'").hint).toBe('did you mean "tier"?')
  })

  it('on customer, an action attribute: read it on action', () => {
    expect(only('customer.discountPct > 10.0').hint).toBe(
      '"discountPct" is an action attribute: read it as action.discountPct',
    )
  })

  it('on action, a fact: read it on customer', () => {
    const issue = only("action.lifecycle == 'renewal'")
    expect(issue.message).toContain('attributes declared under actions: (discountPct)')
    expect(issue.hint).toBe('"lifecycle" is a fact: read it as customer.lifecycle')
  })

  it('on a commitment and on agent, from their declared types', () => {
    expect(only('commitments.exists(c, c.valu.discountPct > 1.0)')).toMatchObject({
      message: 'a commitment has no field "valu": its fields are kind, team, agent, value, at, expiresAt',
      hint: 'did you mean "value"?',
    })
    expect(only("agent.tem == 'sales'").hint).toBe('did you mean "team"?')
  })
})

describe('a function that does not exist is named with the functions that do', () => {
  it('a misspelt one: no function, and the nearest that exists', () => {
    const issue = only("now.getHour('UTC') > 20")
    expect(issue).toMatchObject({ message: 'no function "getHour"', hint: 'did you mean "getHours"?' })
  })

  it('one with nothing near: no function, and where they are listed', () => {
    const issue = only('average([1.0, 2.0]) > 1.0')
    expect(issue).toMatchObject({
      message: 'no function "average"',
      hint: 'docs/cel.md lists the functions conditions can call',
    })
  })

  it('one called the wrong way: what it takes', () => {
    const issue = only('sum([1.0, 2.0]) > 1.0')
    expect(issue.message).toBe('sum takes list<double>.sum(), list<int>.sum(), not sum(list<double>)')
    expect(issue.hint).toBe('call it on its receiver, as in list<double>.sum()')
  })

  it('one given the wrong type: its overloads, as an author writes them', () => {
    expect(only('now.getHours(1) > 20').message).toBe(
      'getHours takes timestamp.getHours(), timestamp.getHours(string), duration.getHours(), not timestamp.getHours(int)',
    )
  })
})

describe('sum, min and max over a list of numbers', () => {
  const env = buildEnvironment({ facts: { seats: { type: 'number' } } } as unknown as PolicyDocument, {})
  const vars = (values: unknown[]): CelVariables => ({
    agent: new CelAgent('mkt', 'marketing', ''),
    action: new CelAction(),
    customer: Object.assign(new CelCustomer(), { id: 'acme', accountId: 'acme', seats: 12 }),
    touches: [],
    commitments: values.map((value) => Object.assign(new CelCommitment(), { value })),
    suppressions: [],
    now: new Date('2026-04-06T09:00:00Z'),
  })
  const compiled = (source: string): CompiledExpression => {
    const out = compileExpression(env, source, 'bool')
    if (isProblem(out)) throw new Error(out.message)
    return out
  }
  const run = (source: string, values: unknown[] = []) => compiled(source).run(vars(values))

  it('of doubles, of ints, and of both: a double', () => {
    expect(run('[1.5, 2.5].sum() == 4.0')).toBe(true)
    expect(run('[3, 1, 2].min() == 1.0 && [3, 1, 2].max() == 3.0')).toBe(true)
    expect(run('[1, 2.5].sum() == 3.5 && [1, 2.5].max() == 2.5')).toBe(true)
    expect(run('customer.seats + [1.0].sum() == 13.0')).toBe(true)
  })

  it('of values mapped from commitments (dyn): checked as it runs', () => {
    const source = 'commitments.map(c, c.value.discountPct).sum() <= 30.0'
    expect(run(source, [{ discountPct: 10 }, { discountPct: 15 }])).toBe(true)
    expect(run(source, [{ discountPct: 10 }, { discountPct: 25 }])).toBe(false)
    expect(() => run(source, [{ discountPct: 'ten' }])).toThrow(/needs a list of numbers/)
  })

  it('of an empty list: sum is 0.0, min and max are evaluation errors', () => {
    expect(run('commitments.map(c, c.value.discountPct).sum() == 0.0')).toBe(true)
    expect(() => run('commitments.map(c, c.value.discountPct).min() > 1.0')).toThrow('min() of an empty list')
    expect(() => run('commitments.map(c, c.value.discountPct).max() > 1.0')).toThrow('max() of an empty list')
    expect(run('size(commitments) > 0 && commitments.map(c, c.value.discountPct).max() > 1.0')).toBe(false)
  })

  it('typed: the result is a double, and a list of strings is an error at load', () => {
    const problem = (source: string) => compileExpression(env, source, 'bool') as { message?: string }
    expect(problem('[1, 2].sum() == 3').message).toBe('no such overload: double == int')
    expect(problem("['a', 'b'].sum() > 1.0").message).toMatch(
      /^sum takes list<double>.sum\(\), list<int>.sum\(\), not list/,
    )
    expect(problem('touches.max() > 1.0').message).toMatch(
      /^max takes list<double>.max\(\), list<int>.max\(\), not list/,
    )
  })

  it('metered: each item counts against the budget', () => {
    const env2 = buildEnvironment({ facts: {} } as unknown as PolicyDocument, {})
    const out = compileExpression(env2, 'commitments.map(c, c.value.n).sum() > 0.0', 'bool')
    if (isProblem(out)) throw new Error(out.message)
    const many = Array.from({ length: 200 }, () => ({ n: 1 }))
    let spent = 0
    const charge = env2.meter.charge.bind(env2.meter)
    env2.meter.charge = (steps: number) => {
      spent += steps
      charge(steps)
    }
    out.run(vars(many))
    expect(spent).toBe(200)
  })
})

// docs/cel.md lists every function a condition can call, read from the environment (cel-js's and
// Remit's own registrations), and each example in it compiles and runs: the reference cannot drift.
describe('docs/cel.md, the CEL function reference', () => {
  const text = readFileSync(new URL('../../../docs/cel.md', import.meta.url), 'utf8')
  const functions = text.slice(text.indexOf('## Functions'))
  const rows = [...functions.matchAll(/^\| `(\w+)` \| .* \| `(.+)` \|$/gm)].map((m) => ({
    name: m[1] as string,
    example: m[2] as string,
  }))
  const unavailable = text.slice(text.indexOf('### Declared, not available'))
  const facts = {
    tier: { type: 'string' },
    seats: { type: 'number' },
    tags: { type: 'list' },
    timeZone: { type: 'string', optional: true },
    lastTicketOpenedAt: { type: 'timestamp' },
  }
  const env: CelEnvironment = buildEnvironment(
    { facts } as unknown as PolicyDocument,
    {
      discountPct: { type: 'number' },
    } as never,
  )

  it('names every function the environment has', () => {
    const names = new Set(env.env.getDefinitions().functions.map((f) => f.name))
    expect(names).toContain('sum')
    const documented = new Set(rows.map((r) => r.name))
    for (const name of names) {
      const listed = documented.has(name) || new RegExp(`\`(optional\\.)?${name}\``).test(unavailable)
      expect(listed, `docs/cel.md lists \`${name}\``).toBe(true)
    }
  })

  it('names every variable and every field of each declared type', () => {
    for (const fields of Object.values(env.types)) {
      for (const field of Object.keys(fields)) {
        if (field in facts || field === 'discountPct') continue
        expect(text, `docs/cel.md names the field \`${field}\``).toContain(`\`${field}\``)
      }
    }
    for (const v of ['agent', 'action', 'customer', 'touches', 'commitments', 'suppressions', 'now'])
      expect(text).toContain(`| \`${v}\` |`)
  })

  it('has an example of each function that compiles and runs to a boolean', () => {
    const vars: CelVariables = {
      agent: new CelAgent('mkt', 'marketing', 'hubspot:workflow/1'),
      action: Object.assign(new CelAction(), {
        kind: 'email.offer',
        channel: 'email',
        outbound: true,
        discountPct: 5,
      }),
      customer: Object.assign(new CelCustomer(), {
        id: 'acme',
        accountId: 'acme',
        contactId: 'k1',
        email: 'admin@example.com',
        tier: 'enterprise',
        seats: 12,
        tags: ['vip'],
        timeZone: 'Europe/Paris',
        lastTicketOpenedAt: new Date('2026-04-01T09:00:00Z'),
      }),
      touches: [
        Object.assign(new CelTouch(), {
          agent: 'mkt',
          team: 'marketing',
          tool: '',
          kind: 'email.welcome',
          channel: 'email',
          outbound: true,
          status: 'sent',
          contactId: 'k1',
          at: new Date('2026-04-05T09:00:00Z'),
        }),
      ],
      commitments: [
        Object.assign(new CelCommitment(), {
          kind: 'discount',
          team: 'marketing',
          agent: 'mkt',
          value: { discountPct: 10 },
          at: new Date('2026-04-02T09:00:00Z'),
        }),
      ],
      suppressions: [],
      now: new Date('2026-04-06T09:00:00Z'),
    }
    expect(rows.length).toBeGreaterThan(40)
    for (const { name, example } of rows) {
      const out = compileExpression(env, example, 'bool')
      expect(isProblem(out) ? out.message : '', `${name}: ${example}`).toBe('')
      expect(typeof (out as CompiledExpression).run(vars), `${name}: ${example}`).toBe('boolean')
    }
  })
})
