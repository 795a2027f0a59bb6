import type { Reason } from '../decision/schema.ts'
import { describeEvaluationError } from '../policy/cel.ts'
import type { CompiledRule, Policy } from '../policy/model.ts'
import {
  celVariables,
  type Evaluation,
  type EvaluationInput,
  evaluate,
  Failure,
  test,
  windowShut,
} from './evaluate.ts'
import { localLabel, windowZone } from './windows.ts'

/** One rule as `remit explain` shows it. */
export interface RuleTrace {
  id: string
  sort: CompiledRule['sort']
  /** The condition, as written (for a window: when it is open, as written). */
  when?: string
  /**
   * matched: its condition held (for a limit: it counted; for a window: it is shut now); skipped:
   * it has no condition.
   */
  result: 'matched' | 'not matched' | 'unevaluable' | 'unconditional'
  /** What its condition read, with the values this decision had. */
  reads: { name: string; value: unknown }[]
  error?: string
}

export interface Explanation {
  agent: string
  team: string
  kind: string
  /** Rules in scope for this agent and action kind, in evaluation order. */
  applied: RuleTrace[]
  /** How many rules the scope index skipped without running any CEL. */
  outOfScope: number
  evaluation: Evaluation
  /** Why the verdict is what it is, in one sentence. */
  because: string
}

const READ = /\b(customer|action|agent)\.(\w+)|\b(touches|commitments|now)\b/g

/**
 * Re-runs each applicable rule's condition on its own and reports what it read and whether it held,
 * beside the real evaluation (kept off the hot path: `evaluate` itself does no tracing).
 */
export function explain(policy: Policy, input: EvaluationInput): Explanation {
  const rules = policy.applicable(input.agent.id, input.action.kind)
  const vars = celVariables(input, true)
  const values: Record<string, Record<string, unknown>> = {
    customer: vars.customer as Record<string, unknown>,
    action: vars.action as Record<string, unknown>,
    agent: vars.agent as unknown as Record<string, unknown>,
  }
  const applicable: CompiledRule[] = [
    ...rules.stops,
    ...rules.triggers,
    ...rules.windows,
    ...rules.limits,
    ...rules.ownership,
    ...rules.permissions,
  ]
  const applied = applicable.map((rule): RuleTrace => {
    if (rule.sort === 'window') return windowTrace(rule, input)
    const source = rule.when?.source
    const reads = new Map<string, unknown>()
    for (const m of (source ?? '').matchAll(READ)) {
      if (m[1]) reads.set(`${m[1]}.${m[2]}`, values[m[1]]?.[m[2] as string])
      else if (m[3] === 'touches') reads.set('touches', `${input.touches.length} in the ledger`)
      else if (m[3] === 'commitments') reads.set('commitments', `${input.commitments.length} outstanding`)
      else if (m[3] === 'now') reads.set('now', input.now.toISOString())
    }
    const trace: RuleTrace = {
      id: rule.id,
      sort: rule.sort,
      ...(source ? { when: source } : {}),
      result: 'unconditional',
      reads: [...reads].map(([name, value]) => ({
        name,
        value: value instanceof Date ? value.toISOString() : value,
      })),
    }
    if (rule.when) {
      const hit = test(rule.when, vars)
      if (hit instanceof Failure) {
        trace.result = 'unevaluable'
        trace.error = describeEvaluationError(hit.error).message
      } else trace.result = hit ? 'matched' : 'not matched'
    }
    return trace
  })
  const evaluation = evaluate(policy, input)
  return {
    agent: input.agent.id,
    team: input.agent.team,
    kind: input.action.kind,
    applied,
    outOfScope: policy.rules.length - applicable.length,
    evaluation,
    because: because(evaluation.reasons, evaluation.verdict),
  }
}

/** A window: the zone it read, the local time there, and whether it is shut. */
function windowTrace(rule: Extract<CompiledRule, { sort: 'window' }>, input: EvaluationInput): RuleTrace {
  const trace: RuleTrace = {
    id: rule.id,
    sort: rule.sort,
    when: rule.describe,
    result: 'not matched',
    reads: [],
  }
  if (rule.zoneFact)
    trace.reads.push({ name: `customer.${rule.zoneFact}`, value: input.customer.facts[rule.zoneFact] })
  const shut = windowShut(rule, input)
  if (shut instanceof Failure) {
    trace.result = 'unevaluable'
    trace.error = describeEvaluationError(shut.error).message
    return trace
  }
  const zone = windowZone(rule, input.customer.facts)
  trace.reads.push(
    { name: 'zone', value: zone },
    { name: 'now', value: `${input.now.toISOString()} (${localLabel(input.now.getTime(), zone)} there)` },
  )
  if (shut) {
    trace.result = 'matched'
    if (shut.retryAfter) trace.reads.push({ name: 'opens', value: shut.retryAfter.toISOString() })
  }
  return trace
}

function because(reasons: Reason[], verdict: Evaluation['verdict']): string {
  const by = (sorts: string[]) => reasons.filter((r) => sorts.includes(r.sort)).map((r) => r.rule)
  if (verdict === 'stop')
    return `stop, because ${by(['stop', 'trigger', 'window', 'limit', 'ownership']).join(', ') || 'a rule'} stopped it, and a stop wins over everything`
  if (verdict === 'flag') {
    const flags = reasons.filter((r) => r.sort !== 'permission').map((r) => r.rule)
    return `flag, because ${flags.join(', ')} ${flags.length === 1 ? 'routes' : 'route'} it to a human, and nothing stopped it`
  }
  return `go, because ${by(['permission']).join(', ')} ${by(['permission']).length === 1 ? 'grants' : 'grant'} it and no rule stopped or flagged it`
}
