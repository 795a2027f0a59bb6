import type { PolicyIssue } from '../errors.ts'
import type { CompiledRule, Policy } from './model.ts'
import { scopeMatches } from './scope.ts'
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
  }
  return issues
}
