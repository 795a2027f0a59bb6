import type { ActionKind, Agent, CompiledRule, Scope } from './model.ts'

/** Whether a rule's scope selects this agent taking this kind of action. */
export function scopeMatches(scope: Scope, agent: Agent, action: ActionKind): boolean {
  return (
    (!scope.agents || scope.agents.has(agent.id)) &&
    (!scope.teams || scope.teams.has(agent.team)) &&
    (!scope.actions || scope.actions.has(action.kind)) &&
    (!scope.channels || scope.channels.has(action.channel)) &&
    (scope.outbound === undefined || scope.outbound === action.outbound)
  )
}

/** Whether a rule applies to this agent taking this kind of action: its scope, less a limit's or window's `except`. */
export function ruleApplies(rule: CompiledRule, agent: Agent, action: ActionKind): boolean {
  if (!scopeMatches(rule.scope, agent, action)) return false
  const except = rule.sort === 'limit' || rule.sort === 'window' ? rule.except : undefined
  return !(except && scopeMatches(except, agent, action))
}
