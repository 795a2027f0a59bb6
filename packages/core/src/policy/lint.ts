import type { PolicyIssue } from '../errors.ts'
import type { CompiledRule, Policy } from './model.ts'
import { ruleApplies, scopeMatches } from './scope.ts'
import type { PolicySource } from './source.ts'

/** Rules that load but can never change a decision: warnings, not errors. */
export function lintPolicy(policy: Policy, src: PolicySource): PolicyIssue[] {
  const issues: PolicyIssue[] = []
  const pairs = [...policy.agents.values()].flatMap((agent) =>
    [...policy.actions.values()].map((action) => ({ agent, action })),
  )
  const pathOf = (rule: CompiledRule): (string | number)[] => {
    const list = {
      stop: 'stops',
      trigger: 'triggers',
      limit: 'limits',
      window: 'windows',
      ownership: 'ownership',
      permission: 'permissions',
    }[rule.sort]
    const index = policy.document[list as 'stops'].findIndex((r) => r.id === rule.id)
    return [list, index]
  }
  const warn = (rule: CompiledRule, code: string, message: string, hint: string) =>
    issues.push({
      severity: 'warning',
      code,
      message,
      path: pathOf(rule),
      rule: rule.id,
      position: rule.position ?? src.position(pathOf(rule)),
      hint,
    })

  for (const rule of policy.rules) {
    if (rule.sort === 'ownership') continue
    const applies = pairs.filter(({ agent, action }) => scopeMatches(rule.scope, agent, action))
    if (applies.length === 0) {
      warn(
        rule,
        'NEVER_APPLIES',
        `${rule.sort} "${rule.id}" applies to no agent: no agent of its scope can take any action of its scope`,
        "check the rule's agent/team/action/channel/outbound against the agents and their teams",
      )
      continue
    }
    if (rule.sort === 'permission') {
      const overridden = applies.every(({ agent, action }) =>
        policy.rules.some((s) => s.sort === 'stop' && !s.when && scopeMatches(s.scope, agent, action)),
      )
      if (overridden) {
        warn(
          rule,
          'PERMISSION_OVERRIDDEN',
          `permission "${rule.id}" is always overridden by a stop with no condition`,
          'remove the permission, or give the stop a `when:` condition',
        )
      }
    }
    if (rule.sort === 'trigger' && rule.then === 'flag' && rule.until) {
      warn(
        rule,
        'UNTIL_IGNORED',
        `trigger "${rule.id}" has \`until:\` but \`then: flag\`; only a stop is a pause`,
        'use `then: stop` for a pause with a retry time, or drop `until:`',
      )
    }
    if (rule.sort === 'limit' && rule.reserve) {
      const min = rule.reserve.minPriority
      if (!applies.some(({ agent, action }) => ruleApplies(rule, agent, action) && action.priority >= min)) {
        const path = [...pathOf(rule), 'reserve']
        issues.push({
          severity: 'warning',
          code: 'RESERVE_UNUSED',
          message: `limit "${rule.id}" keeps ${rule.reserve.slots} for priority ≥ ${min}, but no action kind it applies to has that priority: the kept headroom is never used`,
          path,
          rule: rule.id,
          position: src.position(path) ?? rule.position,
          hint: `give the action kinds that matter more \`priority: ${min}\` (or more) under actions:, or lower reserve.minPriority`,
        })
      }
    }
    if (rule.sort === 'limit' && rule.when) {
      const tested = scopeTestedBy(rule.when.source)
      if (tested.length) {
        const path = [...pathOf(rule), 'when']
        issues.push({
          severity: 'warning',
          code: 'LIMIT_WHEN_SCOPES',
          message: `limit "${rule.id}" tests ${tested.join(', ')} in \`when:\`: this limit still counts those touches; to exempt them, use except:`,
          path,
          rule: rule.id,
          position: src.position(path) ?? rule.position,
          hint: `\`when:\` only decides whether the limit applies to this action; write e.g. \`except: { action: [receipt] }\` (agent, team, action, channel or outbound) so those actions are neither limited nor counted`,
        })
      }
    }
  }
  return issues
}

/** What a limit's scope or `except` would say, read in a condition: the action's kind, channel, agent, team. */
const SCOPE_FIELDS = new Set(['action.kind', 'action.channel', 'action.outbound', 'agent.id', 'agent.team'])
/** Besides those, what a conjunct that only selects actions may contain. */
const LITERALS = new Set(['in', 'true', 'false'])

/**
 * The scope fields a condition tests in a top-level conjunct that reads nothing else (such as
 * `action.kind != 'receipt'`, `agent.team in ['a', 'b']`): a selection of actions written as a
 * condition. Conjuncts that also read the customer, the ledger or attributes are left alone.
 */
function scopeTestedBy(source: string): string[] {
  const tested = new Set<string>()
  for (const conjunct of topLevelConjuncts(source)) {
    const bare = conjunct.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''")
    const names = [...bare.matchAll(/[A-Za-z_][\w]*(?:\s*\.\s*[A-Za-z_]\w*)*/g)].map((m) =>
      m[0].replace(/\s+/g, ''),
    )
    const fields = names.filter((n) => SCOPE_FIELDS.has(n))
    if (fields.length && names.every((n) => SCOPE_FIELDS.has(n) || LITERALS.has(n))) {
      for (const f of fields) tested.add(f)
    }
  }
  return [...tested]
}

/** The condition split at `&&` outside parentheses, brackets and strings. */
function topLevelConjuncts(source: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quote: string | undefined
  let start = 0
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string
    if (quote) {
      if (c === '\\') i++
      else if (c === quote) quote = undefined
    } else if (c === "'" || c === '"') quote = c
    else if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ')' || c === ']' || c === '}') depth--
    else if (depth === 0 && c === '&' && source[i + 1] === '&') {
      parts.push(source.slice(start, i))
      start = i + 2
      i++
    }
  }
  parts.push(source.slice(start))
  return parts.map((p) => p.trim())
}
