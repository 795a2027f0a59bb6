import type { PolicyIssue } from '../errors.ts'
import type { CompiledRule, Policy } from './model.ts'
import { ruleApplies, scopeMatches } from './scope.ts'

// Conflict analysis for `remit validate`: things a policy can load with and still be wrong about.
// Conditions are read for their top-level conjuncts of the shape `customer.x == 'v'` and
// `customer.x in ['a', 'b']`; anything subtler is treated as "may hold", so a warning here means
// "could", never "does not".

type Requirement = Map<string, Set<string>>

/** Per fact, the values a condition's top-level conjunction requires (undefined: unknown shape). */
function requirements(source: string | undefined): Requirement | undefined {
  if (!source) return new Map()
  if (source.includes('||')) return undefined
  const need: Requirement = new Map()
  for (const part of source.split('&&').map((p) => p.trim().replace(/^\(+|\)+$/g, ''))) {
    const left = /^customer\.(\w+)\s*==\s*['"]([^'"]*)['"]$/.exec(part)
    const right = /^['"]([^'"]*)['"]\s*==\s*customer\.(\w+)$/.exec(part)
    const eq = left ? [left[1], left[2]] : right ? [right[2], right[1]] : undefined
    const within = /^customer\.(\w+)\s+in\s+\[([^\]]*)\]$/.exec(part)
    const add = (fact: string, values: string[]) => {
      const prior = need.get(fact)
      need.set(fact, prior ? new Set(values.filter((v) => prior.has(v))) : new Set(values))
    }
    if (eq) add(eq[0] as string, [eq[1] as string])
    else if (within)
      add(
        within[1] as string,
        [...(within[2] as string).matchAll(/['"]([^'"]*)['"]/g)].map((m) => m[1] as string),
      )
  }
  return need
}

/** Whether two conditions provably cannot both hold (they require disjoint values of one fact). */
function exclusive(a: string | undefined, b: string | undefined): boolean {
  const ra = requirements(a)
  const rb = requirements(b)
  if (!ra || !rb) return false
  for (const [fact, va] of ra) {
    const vb = rb.get(fact)
    if (vb && ![...va].some((v) => vb.has(v))) return true
  }
  return false
}

export interface AnalysisOptions {
  /** Facts some provider (or caller) supplies; rules reading others are reported. */
  suppliedFacts?: string[]
}

export function analyzePolicy(policy: Policy, o: AnalysisOptions = {}): PolicyIssue[] {
  const issues: PolicyIssue[] = []
  const warn = (rule: CompiledRule, code: string, message: string, hint: string) =>
    issues.push({
      severity: 'warning',
      code,
      message,
      path: [],
      rule: rule.id,
      ...(rule.position ? { position: rule.position } : {}),
      hint,
    })

  const ownership = policy.rules.filter((r) => r.sort === 'ownership')
  for (let i = 0; i < ownership.length; i++) {
    for (let j = i + 1; j < ownership.length; j++) {
      const a = ownership[i] as Extract<CompiledRule, { sort: 'ownership' }>
      const b = ownership[j] as Extract<CompiledRule, { sort: 'ownership' }>
      if (a.owner === b.owner || exclusive(a.when.source, b.when.source)) continue
      warn(
        b,
        'OWNERSHIP_CONFLICT',
        `ownership "${a.id}" (${a.owner}) and "${b.id}" (${b.owner}) can both hold for one customer; the first in the file wins`,
        'make the conditions exclusive (e.g. different values of one fact), or merge them',
      )
    }
  }

  const pairs = [...policy.agents.values()].flatMap((agent) =>
    [...policy.actions.values()].map((action) => ({ agent, action })),
  )
  const alwaysStopped = (p: (typeof pairs)[number]) =>
    policy.rules.some((s) => s.sort === 'stop' && !s.when && scopeMatches(s.scope, p.agent, p.action))
  for (const rule of policy.rules) {
    if (rule.sort !== 'limit') continue
    const counted = pairs.filter((p) => ruleApplies(rule, p.agent, p.action))
    if (counted.length && counted.every(alwaysStopped)) {
      warn(
        rule,
        'LIMIT_UNREACHABLE',
        `limit "${rule.id}" can never be reached: every action it counts is always stopped`,
        'remove the limit, or the stop with no condition that makes it moot',
      )
    }
  }

  for (const rule of policy.rules) {
    for (const source of [rule.when?.source, rule.sort === 'trigger' ? rule.until?.source : undefined]) {
      if (!source) continue
      for (const m of source.matchAll(
        /customer\.(\w+)\s*==\s*['"]([^'"]*)['"]|['"]([^'"]*)['"]\s*==\s*customer\.(\w+)|customer\.(\w+)\s+in\s+\[([^\]]*)\]/g,
      )) {
        const fact = (m[1] ?? m[4] ?? m[5]) as string
        const values = m[6]
          ? [...m[6].matchAll(/['"]([^'"]*)['"]/g)].map((x) => x[1] as string)
          : [(m[2] ?? m[3]) as string]
        const allowed = Object.hasOwn(policy.facts, fact) ? policy.facts[fact]?.enum : undefined
        const wrong = allowed ? values.filter((v) => !allowed.includes(v)) : []
        if (wrong.length) {
          warn(
            rule,
            'ENUM_VALUE_UNKNOWN',
            `"${wrong.join('", "')}" is not a value of customer.${fact}, so this comparison is never true`,
            `${fact} is one of: ${allowed?.join(', ')}`,
          )
        }
      }
    }
  }

  if (o.suppliedFacts) {
    const supplied = new Set(o.suppliedFacts)
    for (const rule of policy.rules) {
      const sources = [rule.when?.source, rule.sort === 'trigger' ? rule.until?.source : undefined].join(' ')
      const missing = [
        ...new Set([...sources.matchAll(/customer\.(\w+)/g)].map((m) => m[1] as string)),
      ].filter((f) => Object.hasOwn(policy.facts, f) && !supplied.has(f))
      if (missing.length) {
        warn(
          rule,
          'FACT_NOT_SUPPLIED',
          `reads ${missing.map((f) => `customer.${f}`).join(', ')}, which no provider supplies`,
          'map it in a provider (hubspot.yaml, the Salesforce context) or have callers send it; otherwise this rule fails closed',
        )
      }
    }
  }
  return issues.sort((x, y) => (x.position?.line ?? 0) - (y.position?.line ?? 0))
}
