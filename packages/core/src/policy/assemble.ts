import { createHash } from 'node:crypto'
import { parseDuration } from '../time/duration.ts'
import type { Attributes } from './load-model.ts'
import type { ActionKind, Agent, ApplicableRules, CompiledRule, Policy } from './model.ts'
import type { PolicyDocument, RuleSort } from './schema.ts'
import { ruleApplies } from './scope.ts'

/** The checked document and its compiled rules in the form decisions read: maps by id, rules by scope. */
export function assemblePolicy(
  text: string,
  file: string,
  doc: PolicyDocument,
  attributes: Attributes,
  rules: CompiledRule[],
): Policy {
  const { agents, tools } = agentsAndTools(doc)
  const actions = actionKinds(doc)
  const index = indexRules(agents, actions, rules)
  const maxPer = Math.max(0, ...rules.map((r) => (r.sort === 'limit' ? r.perMs : 0)))
  return {
    version: createHash('sha256').update(text).digest('hex').slice(0, 16),
    file,
    source: text,
    document: doc,
    teams: new Map(Object.entries(doc.teams).map(([id, t]) => [id, { id, ...t }])),
    agents,
    tools,
    actions,
    // Without a prototype (as `attributes`), `policy.facts[name]` is undefined for any undeclared name.
    facts: Object.assign(Object.create(null), doc.facts),
    attributes,
    rules,
    warnings: [],
    lookbackMs: Math.max(parseDuration(doc.ledger.lookback) as number, maxPer),
    review: {
      defaultTeam: doc.review.defaultTeam,
      expiresAfterMs: parseDuration(doc.review.expiresAfter) as number,
      onExpiry: doc.review.onExpiry,
    },
    applicable(agentId, kind) {
      const found = index.get(agentId)?.get(kind)
      if (!found) throw new Error(`no index for agent ${agentId} and action ${kind}: validate inputs first`)
      return found
    },
  }
}

function agentsAndTools(doc: PolicyDocument): { agents: Map<string, Agent>; tools: Map<string, string> } {
  const agents = new Map<string, Agent>()
  const tools = new Map<string, string>()
  for (const [id, a] of Object.entries(doc.agents)) {
    agents.set(id, { id, team: a.team, tools: a.tools })
    for (const tool of a.tools) tools.set(tool, id)
  }
  return { agents, tools }
}

function actionKinds(doc: PolicyDocument): Map<string, ActionKind> {
  const actions = new Map<string, ActionKind>()
  for (const [kind, a] of Object.entries(doc.actions)) {
    actions.set(kind, {
      ...a,
      kind,
      ...(a.commitmentLasts ? { commitmentLastsMs: parseDuration(a.commitmentLasts) as number } : {}),
    })
  }
  return actions
}

/**
 * Scope is a function of (agent, kind) alone, so the index is built once for every pair: by agent,
 * then kind (two lookups cost less than building a joint key on every decision).
 */
function indexRules(
  agents: ReadonlyMap<string, Agent>,
  actions: ReadonlyMap<string, ActionKind>,
  rules: readonly CompiledRule[],
): Map<string, Map<string, ApplicableRules>> {
  const index = new Map<string, Map<string, ApplicableRules>>()
  for (const agent of agents.values()) {
    const byKind = new Map<string, ApplicableRules>()
    for (const action of actions.values()) byKind.set(action.kind, applicableRules(agent, action, rules))
    index.set(agent.id, byKind)
  }
  return index
}

/** Ownership rules have no scope, so every pair gets all of them. */
function applicableRules(agent: Agent, action: ActionKind, rules: readonly CompiledRule[]): ApplicableRules {
  const fits = (r: CompiledRule) => ruleApplies(r, agent, action)
  const applicable = {
    stops: ofSort(rules, 'stop').filter(fits),
    triggers: ofSort(rules, 'trigger').filter(fits),
    limits: ofSort(rules, 'limit').filter(fits),
    windows: ofSort(rules, 'window').filter(fits),
    ownership: ofSort(rules, 'ownership'),
    permissions: ofSort(rules, 'permission').filter(fits),
  }
  const readsLedger = Object.values(applicable).some((list: CompiledRule[]) =>
    list.some((r) => r.readsLedger),
  )
  return { ...applicable, readsLedger }
}

function ofSort<S extends RuleSort>(
  rules: readonly CompiledRule[],
  sort: S,
): Extract<CompiledRule, { sort: S }>[] {
  return rules.filter((r): r is Extract<CompiledRule, { sort: S }> => r.sort === sort)
}
