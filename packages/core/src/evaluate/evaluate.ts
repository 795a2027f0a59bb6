import type { Reason, Verdict } from '../decision/schema.ts'
import { personOf, samePerson } from '../ledger/identity.ts'
import type { Commitment, Identity, Suppression, Touch } from '../ledger/types.ts'
import {
  CelAction,
  CelAgent,
  CelCommitment,
  CelCustomer,
  CelSuppression,
  CelTouch,
  type CelVariables,
  type CompiledExpression,
  describeEvaluationError,
} from '../policy/cel.ts'
import { BAIL } from '../policy/lower.ts'
import {
  DECISION_BUDGET,
  decisionSteps,
  EVALUATION_BUDGET,
  EvaluationAbort,
  withinDecision,
} from '../policy/meter.ts'
import type {
  ActionKind,
  Agent,
  ApplicableRules,
  CompiledLimit,
  CompiledRule,
  CompiledWindow,
  Policy,
  Scope,
} from '../policy/model.ts'
import { periodBounds } from './calendar.ts'
import { isOpen, localLabel, nextOpening, windowZone } from './windows.ts'

/** Everything a decision depends on. Pure data: same input, same evaluation. */
export interface EvaluationInput {
  agent: Agent
  tool?: string
  action: ActionKind
  /** Validated, typed attributes (timestamps as Dates). */
  attributes: Record<string, unknown>
  customer: { accountId: string; contactId?: string; email?: string; facts: Record<string, unknown> }
  now: Date
  touches: readonly Touch[]
  commitments: readonly Commitment[]
  /** The account's suppressions: one covering this customer and channel stops any outbound action. */
  suppressions?: readonly Suppression[]
  /**
   * The links naming this customer's person (the ledger view's `identities`): a contact-scoped limit
   * and a suppression count what any linked contact id or address names.
   */
  identities?: readonly Identity[]
}

export interface Evaluation {
  verdict: Verdict
  reasons: Reason[]
  retryAfter?: Date
  notify: string[]
  /** Where a flag goes: the owning team, else the policy's default review team. */
  reviewTeam?: string
  /** The team that owns this customer's decisions, if an ownership rule matched. */
  owner?: string
  /**
   * Rules whose evaluation was cut off, each of which made the verdict stop: over budget
   * (`BUDGET_EXCEEDED`) or a pattern from data that RE2 refuses (`BAD_REGEX`). Absent when none was.
   */
  aborted?: AbortedRule[]
  /** Rules whose condition could not be evaluated (they failed closed), each as `rule: why`. Absent when none. */
  failed?: string[]
}

export interface AbortedRule {
  rule: string
  code: EvaluationAbort['code']
  message: string
}

const SEVERITY: Record<Verdict, number> = { go: 0, flag: 1, stop: 2 }

/** "Is this touch (or suppression) this customer's?": its contact id or address, or one linked to them. */
type Mine = (x: Pick<Touch, 'contactId' | 'email'>) => boolean

const mineOf = (input: EvaluationInput): Mine => samePerson(personOf(input.customer), input.identities)

/** Whether a suppression is this customer's: the whole account's, or the person's (id, address, link). */
const covers = (s: Suppression, mine: () => Mine) =>
  (s.contactId === undefined && s.email === undefined) || mine()(s)

/** The suppressions that cover this outbound action: its channel (or all), and this customer. */
function suppressing(input: EvaluationInput, mine: () => Mine): Suppression[] {
  if (!input.action.outbound || !input.suppressions?.length) return []
  return input.suppressions.filter(
    (s) =>
      // A vendor or a person may write the channel in any case ("EMAIL"): an unsubscribe still holds.
      (s.channel === undefined || s.channel.toLowerCase() === input.action.channel?.toLowerCase()) &&
      covers(s, mine),
  )
}

function suppressionMessage(s: Suppression, input: EvaluationInput): string {
  const who = s.email ?? s.contactId ?? `account ${input.customer.accountId}`
  const on = s.channel ? `${s.channel}` : 'every channel'
  return `${who} is suppressed on ${on} (${s.reason}, recorded by ${s.source} at ${s.at.toISOString()}): no outbound touch`
}

/**
 * Runs the rules that apply to this agent and action kind (resolved at load, no CEL spent on the
 * rest): stops, triggers, limits, ownership, permissions. The most severe result wins; no
 * permission means flag. A stop or trigger whose condition cannot be evaluated fails closed: flag.
 * Any rule whose evaluation is aborted (over budget, a pattern RE2 refuses) fails closed harder:
 * stop, since its author never saw what it would have said.
 */
export function evaluate(
  policy: Policy,
  input: EvaluationInput,
  mode: 'decide' | 'approve' = 'decide',
): Evaluation {
  // Every rule's conditions share one budget per decision, besides each condition's own.
  const evaluation = withinDecision(() => {
    try {
      return evaluateRules(policy, input, mode, compiled)
    } catch (error) {
      if (error === REINTERPRET) return undefined
      throw error
    }
  })
  // Near a budget only cel-js's own step count can say which rule it cuts off: ask it from the start.
  return evaluation ?? evaluateInterpreted(policy, input, mode)
}

/**
 * The reference evaluation: every condition by cel-js's interpreter on CEL objects built from the
 * input, every limit counted on its own. `evaluate` must always agree with it (the compiled
 * evaluator's property test compares the two); it is what `evaluate` falls back to near a budget.
 * @internal
 */
export function evaluateInterpreted(
  policy: Policy,
  input: EvaluationInput,
  mode: 'decide' | 'approve' = 'decide',
): Evaluation {
  return withinDecision(() => evaluateRules(policy, input, mode, interpreted))
}

/** How a decision's rules read their conditions and limits, one per decision. */
interface Conditions {
  /** Whether the condition holds (absent: it does); a Failure when it cannot be evaluated. */
  test(expr: CompiledExpression | undefined): boolean | Failure
  /** The expression's value; undefined if it cannot be evaluated, the abort if it was cut off. */
  value(expr: CompiledExpression): unknown
  /** Whether the limit is full for this action, and what to say; undefined when it is not. */
  limit(rule: CompiledLimit): LimitHit | undefined
}

type Engine = (policy: Policy, input: EvaluationInput, rules: ApplicableRules, mine: () => Mine) => Conditions

/** cel-js on CEL objects built up front, and a pass over the ledger per limit: the reference. */
const interpreted: Engine = (policy, input, rules, mine) => {
  const vars = celVariables(input, rules.readsLedger, mine)
  return {
    test: (expr) => test(expr, vars),
    value: (expr) => value(expr, vars),
    limit: (rule) => limitHit(rule, input, mine, policy.attributes),
  }
}

/** Thrown out of a compiled evaluation that might have come near a budget: `evaluate` reinterprets it. */
const REINTERPRET: unique symbol = Symbol('reinterpret')

/**
 * The lowered closures where a condition has them (policy/lower.ts), cel-js for the rest and for
 * whatever a closure is unsure of (BAIL), its CEL objects built only then; every limit counted in one
 * pass over the ledger, worded by `limitHit` only when full.
 *
 * Budgets: a lowered condition is not metered step by step, so each adds an upper bound of what
 * cel-js would have spent on it. While the bounds and the metered steps together stay within the
 * budgets, cel-js could not have aborted anything either, and the verdict is the interpreter's; past
 * that (a runaway rule, a ledger of hundreds of thousands), the decision is reinterpreted.
 */
const compiled: Engine = (policy, input, rules, mine) => new CompiledConditions(policy, input, rules, mine)

// A class, not closures: one object per decision on the hot path.
class CompiledConditions implements Conditions {
  private vars: CelVariables | undefined
  /** The upper bounds of the lowered conditions run so far, in cel-js's steps. */
  private lowered = 0
  private counts: Map<CompiledLimit, number> | undefined
  private readonly policy: Policy
  private readonly input: EvaluationInput
  private readonly rules: ApplicableRules
  private readonly mine: () => Mine

  constructor(policy: Policy, input: EvaluationInput, rules: ApplicableRules, mine: () => Mine) {
    this.policy = policy
    this.input = input
    this.rules = rules
    this.mine = mine
  }

  test(expr: CompiledExpression | undefined): boolean | Failure {
    if (!expr) return true
    try {
      return this.run(expr) === true
    } catch (error) {
      if (error === REINTERPRET) throw error
      return new Failure(error)
    }
  }

  value(expr: CompiledExpression): unknown {
    try {
      return this.run(expr)
    } catch (error) {
      if (error === REINTERPRET) throw error
      return error instanceof EvaluationAbort ? error : undefined
    }
  }

  limit(rule: CompiledLimit): LimitHit | undefined {
    const input = this.input
    // Under its cap a plain count decides nothing: no need to collect, sort or word anything. A
    // ledger shorter than the cap cannot fill it, read or not.
    if (rule.distinct === undefined && rule.sum === undefined) {
      const cap = limitCap(rule, input)
      if (input.touches.length < cap) return undefined
      this.counts ??= countLimits(this.rules.limits, input, this.mine)
      if ((this.counts.get(rule) ?? 0) < cap) return undefined
    }
    return limitHit(rule, input, this.mine, this.policy.attributes)
  }

  /** The expression's value as cel-js would give it; throws as `expr.run` does, or REINTERPRET. */
  private run(expr: CompiledExpression): unknown {
    const lowered = expr.lowered
    if (lowered) {
      let out: unknown
      try {
        out = lowered.run(this.input)
      } catch (error) {
        if (error !== BAIL) throw error
      }
      if (out !== undefined) {
        const steps = lowered.maxSteps(this.input)
        if (steps > EVALUATION_BUDGET) throw REINTERPRET
        this.lowered += steps
        this.withinBudget()
        return out
      }
    }
    this.vars ??= celVariables(this.input, this.rules.readsLedger, this.mine)
    try {
      return expr.run(this.vars)
    } catch (error) {
      if (error instanceof EvaluationAbort && error.code === 'BUDGET_EXCEEDED') throw REINTERPRET
      throw error
    } finally {
      this.withinBudget()
    }
  }

  private withinBudget(): void {
    if (decisionSteps() + this.lowered > DECISION_BUDGET) throw REINTERPRET
  }
}

function evaluateRules(
  policy: Policy,
  input: EvaluationInput,
  mode: 'decide' | 'approve',
  engine: Engine,
): Evaluation {
  const rules = policy.applicable(input.agent.id, input.action.kind)
  // Built once per decision, and only when a contact-scoped limit or a suppression asks.
  let matcher: Mine | undefined
  const mine = () => (matcher ??= mineOf(input))
  const conditions = engine(policy, input, rules, mine)
  const reasons: Reason[] = []
  // What each reason raised the verdict to: those that raised it to the final verdict caused it.
  const raised = new Map<Reason, Verdict>()
  const matched = (reason: Reason, v: Verdict) => {
    raised.set(reason, v)
    reasons.push(reason)
  }
  // Most decisions notify no one.
  let notify: Set<string> | undefined
  let verdict = 'go' as Verdict
  let retryAfter: Date | undefined
  let owner: string | undefined
  // A stop with no time it lifts (a hard stop, a limit that never frees) means no retryAfter at all.
  let lasting = false
  const raise = (v: Verdict) => {
    if (SEVERITY[v] > SEVERITY[verdict]) verdict = v
  }
  const pause = (until: Date | undefined) => {
    if (until && (!retryAfter || until > retryAfter)) retryAfter = until
  }
  const aborted: AbortedRule[] = []
  const abort = (rule: CompiledRule, error: EvaluationAbort) => {
    raise('stop')
    lasting = true
    const message = `${abortMessage(error)}; stopped (fail closed)`
    aborted.push({ rule: rule.id, code: error.code, message })
    matched({ rule: rule.id, sort: rule.sort, message }, 'stop')
  }
  const unevaluated: string[] = []
  const failClosed = (rule: CompiledRule, error: unknown) => {
    if (error instanceof EvaluationAbort) return abort(rule, error)
    const why = describeEvaluationError(error)
    unevaluated.push(`${rule.id}: ${why.message}`)
    raise('flag')
    matched(
      {
        rule: rule.id,
        sort: rule.sort,
        message: `could not evaluate (${why.message}), so a human decides: ${messageOf(rule)}`,
      },
      'flag',
    )
  }

  // Before any rule, and in every mode (an approval cannot send to someone who unsubscribed since).
  for (const s of suppressing(input, mine)) {
    raise('stop')
    lasting = true
    matched({ rule: 'suppression', sort: 'stop', message: suppressionMessage(s, input) }, 'stop')
  }
  for (const rule of rules.stops) {
    const hit = conditions.test(rule.when)
    if (hit instanceof Failure) failClosed(rule, hit.error)
    else if (hit) {
      raise('stop')
      lasting = true
      matched({ rule: rule.id, sort: 'stop', message: messageOf(rule) }, 'stop')
    }
  }
  // Send windows hold an action back until they open, in every mode: an approval sends now.
  for (const rule of rules.windows) {
    const shut = windowShut(rule, input)
    if (shut instanceof Failure) failClosed(rule, shut.error)
    else if (shut) {
      raise('stop')
      if (shut.retryAfter) pause(shut.retryAfter)
      else lasting = true
      matched({ rule: rule.id, sort: 'window', message: shut.message }, 'stop')
    }
  }
  for (const rule of rules.triggers) {
    if (mode === 'approve' && rule.then === 'flag') continue
    const hit = conditions.test(rule.when)
    if (hit instanceof Failure) failClosed(rule, hit.error)
    else if (hit) {
      raise(rule.then)
      if (rule.notify.length) {
        notify ??= new Set()
        for (const team of rule.notify) notify.add(team)
      }
      let message = messageOf(rule)
      if (rule.then === 'stop') {
        const until = rule.until ? conditions.value(rule.until) : undefined
        if (until instanceof EvaluationAbort) abort(rule, until)
        else if (until instanceof Date) {
          pause(until)
          message += ` (paused until ${until.toISOString()})`
        } else lasting = true
      }
      matched({ rule: rule.id, sort: 'trigger', message }, rule.then)
    }
  }
  for (const rule of rules.limits) {
    if (mode === 'approve' && rule.then === 'flag') continue
    const applies = rule.when ? conditions.test(rule.when) : true
    if (applies instanceof Failure) {
      failClosed(rule, applies.error)
      continue
    }
    if (!applies) continue
    const hit = conditions.limit(rule)
    if (hit) {
      raise(rule.then)
      if (rule.then === 'stop') {
        if (hit.retryAfter) pause(hit.retryAfter)
        else lasting = true
      }
      matched({ rule: rule.id, sort: 'limit', message: hit.message }, rule.then)
    }
  }
  for (const rule of rules.ownership) {
    const hit = conditions.test(rule.when)
    if (hit instanceof Failure) {
      if (mode === 'decide' || hit.error instanceof EvaluationAbort) failClosed(rule, hit.error)
      continue
    }
    if (!hit || owner !== undefined) continue
    owner = rule.owner
    if (rule.owner === input.agent.team || (mode === 'approve' && rule.then === 'flag')) continue
    raise(rule.then)
    if (rule.then === 'stop') lasting = true
    matched(
      {
        rule: rule.id,
        sort: 'ownership',
        message:
          rule.message ??
          `${rule.owner} owns this customer's decisions; ${input.agent.team}'s ${input.agent.id} needs ${rule.owner}'s approval`,
      },
      rule.then,
    )
  }
  if (mode === 'decide') {
    const failed: string[] = []
    const granted: CompiledRule[] = []
    for (const rule of rules.permissions) {
      const hit = conditions.test(rule.when)
      if (hit instanceof Failure && hit.error instanceof EvaluationAbort) abort(rule, hit.error)
      else if (hit instanceof Failure) {
        failed.push(`${rule.id}: ${describeEvaluationError(hit.error).message}`)
        unevaluated.push(failed.at(-1) as string)
      } else if (hit) granted.push(rule)
    }
    for (const rule of granted) {
      reasons.push({ rule: rule.id, sort: 'permission', message: messageOf(rule) })
    }
    if (granted.length === 0) {
      raise('flag')
      const tried = failed.length ? ` (could not evaluate ${failed.join('; ')})` : ''
      matched(
        {
          rule: 'no-permission',
          sort: 'default',
          message: `no permission lets ${input.agent.id} (${input.agent.team}) take ${input.action.kind} here on its own${tried}: a human decides`,
        },
        'flag',
      )
    }
  }

  // A permission only matched; a flag under a stop did not decide it either.
  if (verdict !== 'go') for (const reason of reasons) if (raised.get(reason) === verdict) reason.cause = true
  const evaluation: Evaluation = { verdict, reasons, notify: notify ? [...notify] : [] }
  if (verdict === 'stop' && retryAfter && !lasting) evaluation.retryAfter = retryAfter
  if (owner) evaluation.owner = owner
  if (aborted.length) evaluation.aborted = aborted
  if (unevaluated.length) evaluation.failed = unevaluated
  if (verdict === 'flag') evaluation.reviewTeam = owner ?? policy.review.defaultTeam
  // Reasons read best most-severe first; within a severity, in rule order.
  return evaluation
}

export class Failure {
  readonly error: unknown
  constructor(error: unknown) {
    this.error = error
  }
}

export function test(expr: CompiledExpression | undefined, vars: CelVariables): boolean | Failure {
  if (!expr) return true
  try {
    const out = expr.run(vars)
    return out === true
  } catch (error) {
    return new Failure(error)
  }
}

/** The expression's value; undefined if it cannot be evaluated, the abort if it was cut off. */
function value(expr: CompiledExpression, vars: CelVariables): unknown {
  try {
    return expr.run(vars)
  } catch (error) {
    return error instanceof EvaluationAbort ? error : undefined
  }
}

function abortMessage(error: EvaluationAbort): string {
  return error.code === 'BUDGET_EXCEEDED' ? 'evaluation exceeded its budget' : error.message
}

type LimitHit = { message: string; retryAfter?: Date }

function limitHit(
  rule: CompiledLimit,
  input: EvaluationInput,
  mine: () => Mine,
  attributes: Policy['attributes'],
): LimitHit | undefined {
  const now = input.now.getTime()
  // A calendar period counts since its start in its zone, and frees at the next one's; a rolling
  // window counts what is younger than `per`, and frees as the touches age out.
  const period = rule.calendar && periodBounds(now, rule.calendar.period, rule.calendar.zone)
  const since = period ? period.start : now - rule.perMs
  const contact = rule.limitScope === 'contact' ? mine() : undefined
  const counted: Touch[] = []
  for (const t of input.touches) {
    // A touch reserved after this decision's `now` still counts: another decider got the account's
    // lock first, so its touch is as real as an older one.
    const at = t.at.getTime()
    if (period ? at < since : at <= since) continue
    // Per contact: the touches of this person, named by its contact id or its address.
    if (contact && !contact(t)) continue
    if (!touchInScope(rule, t)) continue
    counted.push(t)
  }
  // Headroom: below the reserve's priority, the limit is full `slots` early, and frees when a
  // touch's ageing out brings the count below that lower cap (a non-reserved slot frees).
  const priority = input.action.priority ?? 0
  const reserved = reservedSlots(rule, priority)
  const cap = rule.max - reserved
  // The common case first: a count under its cap decides nothing — nothing sorted, nothing worded
  // (this runs for every limit in scope of every decision).
  if (rule.distinct === undefined && rule.sum === undefined && counted.length < cap) return undefined
  counted.sort((a, b) => a.at.getTime() - b.at.getTime())
  const per = rule.calendar ? `${rule.per} (${rule.calendar.zone})` : rule.per
  const frees = (oldest: Touch | undefined): LimitHit['retryAfter'] =>
    period ? new Date(period.next) : oldest && new Date(oldest.at.getTime() + rule.perMs)
  // The reason says so, after the policy's own message too.
  const keptFor = (unit: string): string => {
    if (!reserved || !rule.reserve) return ''
    const last = reserved === 1 ? `the last ${unit} is` : `the last ${reserved} ${unit}s are`
    return `; ${last} kept for priority ≥ ${rule.reserve.minPriority} (${input.action.kind} has ${priority})`
  }
  const hit = (message: string, retryAfter: Date | undefined, unit = 'slot'): LimitHit => {
    const text = `${rule.message ?? message}${keptFor(unit)}`
    return retryAfter ? { message: text, retryAfter } : { message: text }
  }
  const who = `per ${rule.limitScope} per ${per}`

  if (rule.distinct !== undefined) {
    const name = rule.distinct
    const key = attributeKey(attributes[name]?.type)
    const own = input.attributes[name]
    // Each value's newest touch: a value leaves the window when its newest touch does.
    const newest = new Map<string, Touch>()
    for (const t of counted) {
      const v = t.attributes?.[name]
      if (v !== undefined && v !== null) newest.set(key(v), t)
    }
    // The action's own value counts once: one already counted adds nothing; none adds nothing.
    if (own === undefined || own === null || newest.has(key(own)) || newest.size < cap) return undefined
    const byAge = [...newest.values()].sort((a, b) => a.at.getTime() - b.at.getTime())
    const values = [...newest.keys()].map((k) => JSON.parse(k))
    return hit(
      `at most ${rule.max} distinct ${name} ${who}: ${newest.size} already in the window (${values.join(', ')}); ${name} ${JSON.stringify(own)} would be one more`,
      cap === 0 ? undefined : frees(byAge[newest.size - cap]),
      `distinct ${name}`,
    )
  }

  if (rule.sum !== undefined) {
    const name = rule.sum
    const own = numberOf(input.attributes[name])
    const amounts = counted.map((t) => numberOf(t.attributes?.[name]))
    const spent = amounts.reduce((a, b) => a + b, 0)
    if (spent + own <= rule.max) return undefined
    // The touch whose ageing out leaves room for this action; none when the action alone is over.
    let freeing: Touch | undefined
    if (own <= rule.max) {
      let left = spent
      for (const [i, t] of counted.entries()) {
        left -= amounts[i] as number
        if (left + own <= rule.max) {
          freeing = t
          break
        }
      }
    }
    return hit(
      `at most ${rule.max} ${name} ${who}: ${spent} already in the window, and ${own} more would make ${spent + own}`,
      own > rule.max ? undefined : frees(freeing),
    )
  }

  if (counted.length < cap) return undefined
  const what = describeScope(rule)
  return hit(
    `at most ${rule.max} ${what} ${who}: ${counted.length} already in the window`,
    // The touch whose ageing out brings the count below the cap this action sees.
    cap === 0 ? undefined : frees(counted[counted.length - cap]),
  )
}

function reservedSlots(rule: CompiledLimit, priority: number): number {
  return rule.reserve && priority < rule.reserve.minPriority ? rule.reserve.slots : 0
}

/** The count at which the limit is full for this action (its reserved slots taken off below their priority). */
function limitCap(rule: CompiledLimit, input: EvaluationInput): number {
  return rule.max - reservedSlots(rule, input.action.priority ?? 0)
}

/**
 * What each limit counts (`limitHit`'s window, person and scope), in one pass over the ledger for all
 * of them: each touch's time read once, and whether it is this person's asked once.
 */
function countLimits(
  limits: readonly CompiledLimit[],
  input: EvaluationInput,
  mine: () => Mine,
): Map<CompiledLimit, number> {
  const now = input.now.getTime()
  const since: number[] = []
  const calendar: boolean[] = []
  // Older than every window: counted by none (most of a ledger, read for the longest window of all).
  let oldest = Number.POSITIVE_INFINITY
  for (const rule of limits) {
    const period = rule.calendar && periodBounds(now, rule.calendar.period, rule.calendar.zone)
    const from = period ? period.start - 1 : now - rule.perMs
    since.push(period ? period.start : from)
    calendar.push(Boolean(period))
    if (from < oldest) oldest = from
  }
  const counts = limits.map(() => 0)
  const contact = limits.some((rule) => rule.limitScope === 'contact') ? mine() : undefined
  for (const t of input.touches) {
    const at = t.at.getTime()
    if (at <= oldest) continue
    let own: boolean | undefined
    for (let i = 0; i < limits.length; i++) {
      const rule = limits[i] as CompiledLimit
      const from = since[i] as number
      if (calendar[i] ? at < from : at <= from) continue
      if (contact && rule.limitScope === 'contact') {
        own ??= contact(t)
        if (!own) continue
      }
      if (!touchInScope(rule, t)) continue
      counts[i] = (counts[i] as number) + 1
    }
  }
  return new Map(limits.map((rule, i) => [rule, counts[i] as number]))
}

/** One key per value of an attribute, whether read from a request (typed) or a touch (as sent). */
function attributeKey(type: string | undefined): (v: unknown) => string {
  return (v) => {
    if (type === 'timestamp' && (typeof v === 'string' || v instanceof Date)) {
      const t = new Date(v).getTime()
      if (!Number.isNaN(t)) return JSON.stringify(new Date(t).toISOString())
    }
    return JSON.stringify(v)
  }
}

/** A budget's amount: a finite number, else nothing. */
function numberOf(v: unknown): number {
  // Nothing counted against a budget gives some back, whatever a recorded touch carries.
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0
}

/** Undefined when the window is open now; else why it is shut and when it opens; a Failure when the zone cannot be read. */
export function windowShut(
  rule: CompiledWindow,
  input: EvaluationInput,
): { message: string; retryAfter?: Date } | Failure | undefined {
  let zone: string
  try {
    zone = windowZone(rule, input.customer.facts)
  } catch (error) {
    return new Failure(error)
  }
  const now = input.now.getTime()
  if (isOpen(rule, now, zone)) return undefined
  const opens = nextOpening(rule, now, zone)
  const retryAfter = opens === undefined ? undefined : new Date(opens)
  const when = retryAfter ? `; opens ${localLabel(opens as number, zone)} (${retryAfter.toISOString()})` : ''
  const message = rule.message
    ? `${rule.message} (paused until ${retryAfter?.toISOString() ?? 'it opens'})`
    : `outside window ${rule.id} (${rule.describe}, ${zone}): it is ${localLabel(now, zone)} there${when}`
  return retryAfter ? { message, retryAfter } : { message }
}

/** Whether the limit counts this touch: its scope selects it and its `except` does not. */
function touchInScope(rule: CompiledLimit, t: Touch): boolean {
  return touchMatches(rule.scope, t) && !(rule.except && touchMatches(rule.except, t))
}

/** Whether a scope selects a recorded touch; a touch missing a field the scope names is not selected. */
function touchMatches(s: Scope, t: Touch): boolean {
  return (
    (!s.agents || (t.agent !== undefined && s.agents.has(t.agent))) &&
    (!s.teams || (t.team !== undefined && s.teams.has(t.team))) &&
    (!s.actions || s.actions.has(t.kind)) &&
    (!s.channels || (t.channel !== undefined && s.channels.has(t.channel))) &&
    (s.outbound === undefined || s.outbound === t.outbound)
  )
}

function describeScope(rule: CompiledLimit): string {
  const parts: string[] = []
  if (rule.scope.outbound) parts.push('outbound')
  if (rule.scope.channels) parts.push([...rule.scope.channels].join('/'))
  if (rule.scope.actions) parts.push([...rule.scope.actions].join('/'))
  parts.push(rule.max === 1 ? 'touch' : 'touches')
  if (rule.scope.teams) parts.push(`from ${[...rule.scope.teams].join('/')}`)
  const e = rule.except
  const except = e && [e.actions, e.channels, e.teams, e.agents].flatMap((set) => [...(set ?? [])])
  if (except?.length) parts.push(`(not counting ${except.join('/')})`)
  return parts.join(' ')
}

const messages = new WeakMap<CompiledRule, string>()

/** A rule's own message, else its default: worded once per rule, not on every decision. */
function messageOf(rule: CompiledRule): string {
  let message = messages.get(rule)
  if (message === undefined) {
    message = rule.message ?? defaultMessage(rule)
    messages.set(rule, message)
  }
  return message
}

function defaultMessage(rule: CompiledRule): string {
  switch (rule.sort) {
    case 'stop':
      return `hard stop ${rule.id}${rule.when ? `: ${rule.when.source}` : ''}`
    case 'trigger':
      return `trigger ${rule.id}: ${rule.when.source}`
    case 'permission':
      return `permitted by ${rule.id}${rule.when ? `: ${rule.when.source}` : ''}`
    case 'ownership':
      return `owned by ${rule.owner}: ${rule.when.source}`
    case 'limit':
      return `limit ${rule.id}`
    case 'window':
      return `window ${rule.id} (${rule.describe})`
  }
}

export function celVariables(
  input: EvaluationInput,
  withLedger: boolean,
  mine: () => Mine = () => mineOf(input),
): CelVariables {
  const action = Object.assign(new CelAction(), input.attributes, {
    kind: input.action.kind,
    channel: input.action.channel,
    outbound: input.action.outbound,
    ...(input.action.commitment ? { commitment: input.action.commitment } : {}),
  })
  const c = input.customer
  const customer = Object.assign(new CelCustomer(), input.customer.facts, {
    id: c.contactId ?? c.accountId,
    accountId: c.accountId,
    ...(c.contactId ? { contactId: c.contactId } : {}),
    ...(c.email ? { email: c.email } : {}),
  })
  return {
    agent: new CelAgent(input.agent.id, input.agent.team, input.tool ?? ''),
    action,
    customer,
    touches: withLedger ? input.touches.map(celTouch) : [],
    commitments: withLedger ? input.commitments.map(celCommitment) : [],
    suppressions: withLedger ? celSuppressions(input, mine) : [],
    now: input.now,
  }
}

// Ledger touches live on in the store's cache between decisions: convert each one once.
const celTouches = new WeakMap<Touch, CelTouch>()

function celTouch(t: Touch): CelTouch {
  let cel = celTouches.get(t)
  if (!cel) {
    cel = toCelTouch(t)
    celTouches.set(t, cel)
  }
  return cel
}

function toCelTouch(t: Touch): CelTouch {
  return Object.assign(new CelTouch(), {
    agent: t.agent ?? '',
    team: t.team ?? '',
    tool: t.tool ?? '',
    kind: t.kind,
    channel: t.channel ?? '',
    outbound: t.outbound,
    status: t.status,
    contactId: t.contactId ?? '',
    email: t.email ?? '',
    at: t.at,
    attributes: t.attributes ?? {},
  })
}

/**
 * The suppressions in force for this customer, any channel: the person's (by id or address, or one
 * linked to them) and the account's own. Rules read them as `suppressions`.
 */
function celSuppressions(input: EvaluationInput, mine: () => Mine): CelSuppression[] {
  if (!input.suppressions?.length) return []
  return input.suppressions
    .filter((s) => covers(s, mine))
    .map((s) =>
      Object.assign(new CelSuppression(), {
        channel: s.channel ?? '',
        reason: s.reason,
        source: s.source,
        contactId: s.contactId ?? '',
        email: s.email ?? '',
        at: s.at,
      }),
    )
}

function celCommitment(c: Commitment): CelCommitment {
  return Object.assign(new CelCommitment(), {
    kind: c.kind,
    team: c.team,
    agent: c.agent,
    value: c.value,
    at: c.at,
    ...(c.expiresAt ? { expiresAt: c.expiresAt } : {}),
  })
}
