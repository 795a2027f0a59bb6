import type { PolicyIssue, SourcePosition } from '../errors.ts'
import type { CompiledExpression } from './cel.ts'
import type { ActionKindDocument, PolicyDocument, RuleSort, TypedValue } from './schema.ts'

export interface Agent {
  id: string
  team: string
  tools: string[]
}

export interface ActionKind extends ActionKindDocument {
  kind: string
  commitmentLastsMs?: number
}

/** A rule's scope, resolved: an absent selector matches anything. */
export interface Scope {
  agents?: ReadonlySet<string>
  teams?: ReadonlySet<string>
  actions?: ReadonlySet<string>
  channels?: ReadonlySet<string>
  outbound?: boolean
}

interface RuleBase {
  id: string
  sort: RuleSort
  message: string | undefined
  scope: Scope
  when: CompiledExpression | undefined
  /** Whether `when` reads `touches` or `commitments`, so the evaluator builds them only if needed. */
  readsLedger: boolean
  position: SourcePosition | undefined
}
export interface CompiledStop extends RuleBase {
  sort: 'stop'
}
export interface CompiledTrigger extends RuleBase {
  sort: 'trigger'
  when: CompiledExpression
  then: 'flag' | 'stop'
  until: CompiledExpression | undefined
  notify: string[]
}
export interface CompiledLimit extends RuleBase {
  sort: 'limit'
  max: number
  perMs: number
  per: string
  limitScope: 'account' | 'contact'
  then: 'flag' | 'stop'
  /** The actions it neither applies to nor counts; absent when it exempts none. */
  except?: Scope
  /**
   * A calendar period (`per: calendar-week`) in `zone`: it counts since the period's start, and
   * `perMs` is then only the longest such period (how far back the ledger must reach).
   */
  calendar?: { period: 'day' | 'week' | 'month' | 'quarter'; zone: string }
  /** Count the distinct values of this action attribute among the counted touches. */
  distinct?: string
  /** A budget: the sum of this number attribute over the counted touches, plus the action's. */
  sum?: string
  /** Its last `slots` of `max` go only to actions of priority ≥ `minPriority`. */
  reserve?: { slots: number; minPriority: number }
}
/** Local minutes from midnight, [start, end); end <= start runs past midnight into the next day. */
export interface MinuteRange {
  start: number
  end: number
}
export interface CompiledWindow extends RuleBase {
  sort: 'window'
  when: undefined
  /** Open days, 0 = Sunday. */
  days: ReadonlySet<number>
  /** Open hours on those days (a range past midnight belongs to the day it starts); absent: all day. */
  hours?: MinuteRange[]
  /** Shut hours, every day; absent: none. Never given with `hours`. */
  quiet?: MinuteRange[]
  /** The string fact holding the customer's zone. */
  zoneFact?: string
  /** The zone when the fact is absent (or when there is no fact). */
  defaultZone?: string
  /** The window as written, for reasons: `mon-fri 08:00-20:00`. */
  describe: string
  /** The actions it does not hold back; absent when it exempts none. */
  except?: Scope
}
export interface CompiledOwnership extends RuleBase {
  sort: 'ownership'
  when: CompiledExpression
  owner: string
  then: 'flag' | 'stop'
}
export interface CompiledPermission extends RuleBase {
  sort: 'permission'
}
export type CompiledRule =
  | CompiledStop
  | CompiledTrigger
  | CompiledLimit
  | CompiledWindow
  | CompiledOwnership
  | CompiledPermission

/** The rules that can apply to one agent doing one kind of action, in evaluation order. */
export interface ApplicableRules {
  stops: CompiledStop[]
  triggers: CompiledTrigger[]
  limits: CompiledLimit[]
  windows: CompiledWindow[]
  ownership: CompiledOwnership[]
  permissions: CompiledPermission[]
  readsLedger: boolean
}

/** A loaded, checked and indexed policy. Immutable; a reload makes a new one. */
export interface Policy {
  /** Content hash of the source: what each decision records as its policy version. */
  version: string
  file: string
  source: string
  document: PolicyDocument
  teams: ReadonlyMap<string, { id: string; reviewCapacityPerDay?: number }>
  agents: ReadonlyMap<string, Agent>
  /** tool → agent id */
  tools: ReadonlyMap<string, string>
  actions: ReadonlyMap<string, ActionKind>
  facts: Readonly<Record<string, TypedValue>>
  /** Every declared action attribute, across kinds (a name has one type policy-wide). */
  attributes: Readonly<Record<string, TypedValue>>
  rules: readonly CompiledRule[]
  warnings: readonly PolicyIssue[]
  lookbackMs: number
  review: { defaultTeam: string; expiresAfterMs: number; onExpiry: 'stop' }
  /** Rules by scope, resolved once at load: evaluation runs only what applies. */
  applicable(agentId: string, kind: string): ApplicableRules
}
