import type { ASTNode } from '@marcbachmann/cel-js'
import { parseCelDuration } from '../time/duration.ts'
import type { AstNode as Node } from './ast.ts'
import type { TimeFunctions } from './time.ts'

// Our own lowering of a checked cel-js expression into JavaScript closures, for the shapes rules
// mostly have: fields of the agent, action, customer and a touch compared with constants or with
// each other, `in` a list of constants, `has()`, `!`, `&&`, `||`, `?:`, time arithmetic with
// constant durations and timestamps, and `touches.exists`/`touches.all` over such a body.
//
// Why our own and not cel-js's compiled form: cel-js 8.0 has none. `env.parse()` hands back its AST,
// and evaluating it walks every node through the evaluator (the meter's hook), re-checks each value's
// runtime type, and reads fields of objects we first copy the request into. A lowered condition reads
// the request as it is, with the fields resolved and the constants computed once, at load.
//
// Why it cannot differ from cel-js: a closure returns a value only where it is certain of cel-js's
// answer (both sides of the types the checker gave them, no error anywhere). Anything else — a
// missing fact, a value of another type, an error that CEL's `&&` might absorb, a duration too long
// for cel-js's float arithmetic to be exact — throws BAIL, and the caller runs the same expression
// through cel-js, which says what it always said. An expression with any other shape is not lowered.

/** Thrown by a lowered condition that cannot be sure of cel-js's answer: run cel-js instead. */
export const BAIL: unique symbol = Symbol('bail')

/** A recorded touch as a lowered `touches.exists(t, …)` reads it. */
interface LoweredTouch {
  agent?: string
  team?: string
  tool?: string
  kind: string
  channel?: string
  outbound: boolean
  status: string
  contactId?: string
  email?: string
  at: Date
}

/** What a lowered condition reads: the evaluation's input, as it is (no CEL objects built). */
export interface LoweredInput {
  agent: { id: string; team: string }
  tool?: string
  action: { kind: string; channel?: string; outbound: boolean; commitment?: string }
  attributes: Record<string, unknown>
  customer: { accountId: string; contactId?: string; email?: string; facts: Record<string, unknown> }
  now: Date
  touches: readonly LoweredTouch[]
}

export interface LoweredExpression {
  /** The condition's value (a boolean); throws BAIL when cel-js must say. */
  run(input: LoweredInput): unknown
  /**
   * At least the steps cel-js's metered evaluation of the same expression would have taken on this
   * input (each node at most 4 runs, plus what strings and lists add): the evaluator reruns a decision
   * in cel-js whenever this could have reached a budget, so budgets abort exactly what they did.
   */
  maxSteps(input: LoweredInput): number
}

/**
 * A lowered node. It returns a value of the node's checked type, as lowered code represents it (a
 * string, a number for double, timestamp and duration, a bigint for int, a boolean): guards at every
 * field read hold that, so operators compare what they get without checking it again.
 */
type Fn = (input: LoweredInput, touch: LoweredTouch | undefined) => unknown

const TS = 'google.protobuf.Timestamp'
const DURATION = 'google.protobuf.Duration'

/** Steps one node may cost in the metered interpreter, strings aside: macros expand into a few runs. */
const NODE_STEPS = 4
/** Beyond this many milliseconds, cel-js's `Duration.fromMilliseconds` (ms × 1e6 in floating point) may round. */
const EXACT_DURATION_MS = 2 ** 53 / 1e6

// Steps of the strings the running lowered evaluation read (cel-js charges 1 per 16 characters).
let stringSteps = 0

const bail = (): never => {
  throw BAIL
}

interface Context {
  time: TimeFunctions
  /** The comprehension's variable, inside `touches.exists(t, …)`. */
  touchVar?: string
  /** Static step bound of the nodes outside / inside the comprehension. */
  outer: number
  inner: number
  iterates: boolean
  /** Each object type's declared fields (cel.ts's `types`): what `has()` checks a value against. */
  types: Record<string, Record<string, string>>
  /** Evaluates a constant expression such as `timestamp('…')` with cel-js, at load. */
  evaluate: (source: string) => unknown
}

/** Where a lowering needs cel-js: its Duration class, declared fields, and constant evaluation. */
export type LoweringEnvironment = Pick<Context, 'time' | 'types' | 'evaluate'>

class Unsupported {}
const UNSUPPORTED = new Unsupported()
const unsupported = (): never => {
  throw UNSUPPORTED
}

/** The closure for a checked expression; undefined when it has a shape we do not lower. */
export function lowerExpression(ast: ASTNode, env: LoweringEnvironment): LoweredExpression | undefined {
  const ctx: Context = { ...env, outer: 0, inner: 0, iterates: false }
  let fn: Fn
  try {
    fn = lower(ast as unknown as Node, ctx)
  } catch {
    // UNSUPPORTED, or a shape this lowering trips on: either way cel-js runs it, as it always did.
    return undefined
  }
  const { outer, inner, iterates } = ctx
  return {
    run(input) {
      stringSteps = 0
      const out = fn(input, undefined)
      return typeof out === 'boolean' ? out : bail()
    },
    maxSteps(input) {
      const n = iterates ? input.touches.length : 0
      return outer + (iterates ? 1 + n + n * (inner + NODE_STEPS) : 0) + stringSteps
    },
  }
}

function charge(ctx: Context, steps: number): void {
  if (ctx.touchVar) ctx.inner += steps
  else ctx.outer += steps
}

const typeOf = (node: Node): string | undefined => node.checkedType?.name

function lower(node: Node, ctx: Context): Fn {
  charge(ctx, NODE_STEPS)
  switch (node.op) {
    case 'value':
      return lowerValue(node, ctx)
    case 'id':
      return lowerVariable(node, ctx)
    case '.':
      return lowerField(node, ctx)
    case '!_': {
      const operand = lower(node.args as Node, ctx)
      return (input, t) => !operand(input, t)
    }
    case '&&':
    case '||':
      return lowerLogic(node, ctx)
    case '?:': {
      const [condition, then, otherwise] = (node.args as Node[]).map((n) => lower(n, ctx)) as [Fn, Fn, Fn]
      return (input, t) => (condition(input, t) ? then(input, t) : otherwise(input, t))
    }
    case '==':
    case '!=':
    case '<':
    case '<=':
    case '>':
    case '>=':
      return lowerComparison(node, ctx)
    case 'in':
      return lowerIn(node, ctx)
    case '-':
    case '+':
      return lowerTimeArithmetic(node, ctx)
    case 'call':
      return lowerCall(node, ctx)
    case 'rcall':
      return lowerQuantifier(node, ctx)
    default:
      return unsupported()
  }
}

function lowerValue(node: Node, ctx: Context): Fn {
  const v = node.args
  if (typeof v === 'string') charge(ctx, v.length >> 4)
  else if (typeof v !== 'boolean' && typeof v !== 'bigint' && typeof v !== 'number') return unsupported()
  return () => v
}

/** A checked type's runtime guard: the value as the lowered code represents it, or BAIL. */
function guard(type: string | undefined): (v: unknown) => unknown {
  switch (type) {
    case 'string':
      return (v) => {
        if (typeof v !== 'string') return bail()
        stringSteps += v.length >> 4
        return v
      }
    case 'double':
      return (v) => (typeof v === 'number' ? v : bail())
    case 'bool':
      return (v) => (typeof v === 'boolean' ? v : bail())
    // Timestamps as their milliseconds (NaN for an invalid date, as cel-js's comparisons see it).
    case TS:
      // cel-js matches a Date by its constructor exactly: a subclass is an error there.
      return (v) => (v instanceof Date && v.constructor === Date ? v.getTime() : bail())
    default:
      return unsupported()
  }
}

function lowerVariable(node: Node, ctx: Context): Fn {
  // The comprehension's variable first: it shadows (`touches.exists(now, now.kind == 'x')`). It is
  // read only through its fields (lowerField).
  if (ctx.touchVar !== undefined && node.args === ctx.touchVar) return unsupported()
  if (node.args === 'now') {
    const now = guard(TS)
    return (input) => now(input.now)
  }
  // Objects (agent, action, customer) are read only through their fields, in lowerField.
  return unsupported()
}

const TOUCH_TEXT = new Set(['agent', 'team', 'tool', 'channel', 'contactId', 'email'])

/** A field, read where `celVariables` would have copied it from (the same precedence), then guarded. */
function lowerField(node: Node, ctx: Context): Fn {
  const [on, name] = node.args as [Node, string]
  if (on.op !== 'id' || typeof name !== 'string') return unsupported()
  const type = typeOf(node)
  const check = guard(type)
  charge(ctx, NODE_STEPS)
  const variable = on.args as string
  // The common reads in one closure each: a customer's fact, a touch's text.
  if (variable === 'customer' && !CUSTOMER_OWN.has(name) && ctx.touchVar !== 'customer') {
    return factReader(name, type)
  }
  if (variable === ctx.touchVar && type === 'string' && TOUCH_TEXT.has(name)) {
    return (_input, t) => {
      const v = (t as LoweredTouch)[name as 'team'] ?? ''
      if (typeof v !== 'string') return bail()
      stringSteps += v.length >> 4
      return v
    }
  }
  const read = fieldReader(variable, name, ctx)
  return (input, t) => {
    const v = read(input, t)
    return v === undefined ? bail() : check(v)
  }
}

/** The fields `celVariables` sets on the customer over its facts. */
const CUSTOMER_OWN = new Set(['id', 'accountId', 'contactId', 'email'])

function factReader(name: string, type: string | undefined): Fn {
  switch (type) {
    case 'string':
      return (input) => {
        const v = input.customer.facts[name]
        if (typeof v !== 'string') return bail()
        stringSteps += v.length >> 4
        return v
      }
    case 'double':
      return (input) => {
        const v = input.customer.facts[name]
        return typeof v === 'number' ? v : bail()
      }
    case 'bool':
      return (input) => {
        const v = input.customer.facts[name]
        return typeof v === 'boolean' ? v : bail()
      }
    default: {
      const check = guard(type)
      return (input) => {
        const v = input.customer.facts[name]
        return v === undefined ? bail() : check(v)
      }
    }
  }
}

function fieldReader(variable: string, name: string, ctx: Context): Fn {
  if (ctx.touchVar !== undefined && variable === ctx.touchVar) {
    if (TOUCH_TEXT.has(name)) return (_input, t) => (t as LoweredTouch)[name as 'team'] ?? ''
    if (name === 'kind' || name === 'outbound' || name === 'status' || name === 'at') {
      return (_input, t) => (t as LoweredTouch)[name]
    }
    return unsupported()
  }
  switch (variable) {
    case 'agent':
      if (name === 'id' || name === 'team') return (input) => input.agent[name]
      if (name === 'tool') return (input) => input.tool ?? ''
      return unsupported()
    case 'action':
      if (name === 'kind' || name === 'channel' || name === 'outbound') return (input) => input.action[name]
      if (name === 'commitment') {
        return (input) => (input.action.commitment ? input.action.commitment : input.attributes.commitment)
      }
      return (input) => input.attributes[name]
    case 'customer':
      switch (name) {
        case 'id':
          return (input) => input.customer.contactId ?? input.customer.accountId
        case 'accountId':
          return (input) => input.customer.accountId
        case 'contactId':
        case 'email':
          return (input) => input.customer[name] || input.customer.facts[name]
        default:
          return (input) => input.customer.facts[name]
      }
    default:
      return unsupported()
  }
}

function lowerLogic(node: Node, ctx: Context): Fn {
  const [left, right] = (node.args as Node[]).map((n) => lower(n, ctx)) as [Fn, Fn]
  // An error on either side is CEL's to resolve (`error || true` is true): BAIL propagates. Both
  // sides are booleans (the checker's type, held by every lowered value).
  return node.op === '||'
    ? (input, t) => left(input, t) || right(input, t)
    : (input, t) => left(input, t) && right(input, t)
}

const COMPARABLE = new Set(['string', 'double', 'bool', 'int', TS, DURATION])

function lowerComparison(node: Node, ctx: Context): Fn {
  const [leftNode, rightNode] = node.args as [Node, Node]
  const type = typeOf(leftNode)
  if (type === undefined || type !== typeOf(rightNode) || !COMPARABLE.has(type)) return unsupported()
  const equality = node.op === '==' || node.op === '!='
  // cel-js compares durations by seconds and nanos for ==, and by their float milliseconds for <.
  if (equality && type === DURATION) return unsupported()
  if (!equality && type === 'bool') return unsupported()
  // Every lowered value is already of its checked type (guard() saw to it), so the two sides are
  // of one JavaScript type and compare as cel-js's overloads do (`===`, `<` on numbers or strings).
  const left = lower(leftNode, ctx) as (input: LoweredInput, t: LoweredTouch | undefined) => number
  if (rightNode.op === 'value') {
    lower(rightNode, ctx)
    const c = rightNode.args as number
    switch (node.op) {
      case '==':
        return (input, t) => left(input, t) === c
      case '!=':
        return (input, t) => left(input, t) !== c
      case '<':
        return (input, t) => left(input, t) < c
      case '<=':
        return (input, t) => left(input, t) <= c
      case '>':
        return (input, t) => left(input, t) > c
      default:
        return (input, t) => left(input, t) >= c
    }
  }
  const right = lower(rightNode, ctx) as typeof left
  switch (node.op) {
    case '==':
      return (input, t) => left(input, t) === right(input, t)
    case '!=':
      return (input, t) => left(input, t) !== right(input, t)
    case '<':
      return (input, t) => left(input, t) < right(input, t)
    case '<=':
      return (input, t) => left(input, t) <= right(input, t)
    case '>':
      return (input, t) => left(input, t) > right(input, t)
    default:
      return (input, t) => left(input, t) >= right(input, t)
  }
}

/** `x in [constants]`: a set lookup, for a list literal of constants of x's own type. */
function lowerIn(node: Node, ctx: Context): Fn {
  const [leftNode, listNode] = node.args as [Node, Node]
  const type = typeOf(leftNode)
  if (listNode.op !== 'list' || (type !== 'string' && type !== 'double' && type !== 'int')) {
    return unsupported()
  }
  const items = listNode.args as Node[]
  const runtime = type === 'string' ? 'string' : type === 'double' ? 'number' : 'bigint'
  const values = items.map((item) => item.args)
  // cel-js's equality: only a value of the same JavaScript type is equal; NaN equals nothing.
  if (!items.every((item) => item.op === 'value' && typeof item.args === runtime)) return unsupported()
  if (values.some((v) => Number.isNaN(v))) return unsupported()
  for (const v of values) charge(ctx, NODE_STEPS + (typeof v === 'string' ? v.length >> 4 : 0))
  charge(ctx, NODE_STEPS + items.length)
  const set = new Set(values)
  const left = lower(leftNode, ctx)
  return (input, t) => set.has(left(input, t))
}

/**
 * `ts - ts` (a duration, as cel-js's float milliseconds), `ts ± duration` (a timestamp, as its
 * milliseconds). A duration is lowered only as a constant or a difference of timestamps.
 */
function lowerTimeArithmetic(node: Node, ctx: Context): Fn {
  const [leftNode, rightNode] = node.args as [Node, Node]
  const l = typeOf(leftNode)
  const r = typeOf(rightNode)
  if (node.op === '-' && l === TS && r === TS) {
    const left = lower(leftNode, ctx)
    const right = lower(rightNode, ctx)
    const { duration } = ctx.time
    const fromMilliseconds = (duration as unknown as { fromMilliseconds(ms: number): object })
      .fromMilliseconds
    return (input, t) => {
      const ms = (left(input, t) as number) - (right(input, t) as number)
      if (Number.isNaN(ms)) return bail()
      if (Math.abs(ms) < EXACT_DURATION_MS) return ms
      // Long spans: cel-js's own rounding, so that a comparison at the boundary agrees.
      return Number(fromMilliseconds(ms).valueOf())
    }
  }
  if (l === TS && r === DURATION && rightNode.op === 'call') {
    const left = lower(leftNode, ctx)
    const offset = durationOffset(rightNode, ctx)
    const sign = node.op === '+' ? 1 : -1
    return (input, t) => timeClip((left(input, t) as number) + sign * offset)
  }
  return unsupported()
}

/** What `Date` makes of a time in milliseconds, as cel-js's `new Date(…)` does. */
const timeClip = (ms: number) => (Math.abs(ms) > 8.64e15 ? Number.NaN : Math.trunc(ms) + 0)

/** A constant duration's milliseconds, as cel-js's extendTimestamp adds them. */
function durationOffset(node: Node, ctx: Context): number {
  const d = constantDuration(node, ctx)
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1_000_000)
}

function constantDuration(node: Node, ctx: Context): { seconds: bigint; nanos: number } {
  const [name, args] = node.args as [string, Node[]]
  const arg = args[0]
  if (name !== 'duration' || args.length !== 1 || arg?.op !== 'value' || typeof arg.args !== 'string') {
    return unsupported()
  }
  charge(ctx, 2 * NODE_STEPS)
  // As time.ts's `duration()` makes it (it has already refused a constant that is not a duration).
  const nanos = parseCelDuration(arg.args)
  if (nanos === undefined) return unsupported()
  return new ctx.time.duration(nanos / 1_000_000_000n, Number(nanos % 1_000_000_000n)) as {
    seconds: bigint
    nanos: number
  }
}

function lowerCall(node: Node, ctx: Context): Fn {
  const [name, args] = node.args as [string, Node[]]
  if (name === 'duration') {
    // Its float milliseconds: what cel-js's `<` on two durations compares.
    const ms = Number((constantDuration(node, ctx) as object).valueOf())
    return () => ms
  }
  const text = args[0]?.args
  if (name === 'timestamp' && args.length === 1 && args[0]?.op === 'value' && typeof text === 'string') {
    charge(ctx, NODE_STEPS)
    let value: unknown
    try {
      value = ctx.evaluate(`timestamp(${JSON.stringify(text)})`)
    } catch {
      // Not a timestamp: cel-js raises its error on every evaluation.
      return unsupported()
    }
    if (!(value instanceof Date)) return unsupported()
    const ms = value.getTime()
    return () => ms
  }
  if (name === 'has' && args.length === 1) return lowerHas(args[0] as Node, ctx)
  return unsupported()
}

/** `has(customer.x)`: whether the field is set; a value of another type is cel-js's error to raise. */
function lowerHas(field: Node, ctx: Context): Fn {
  if (field.op !== '.') return unsupported()
  const [on, name] = field.args as [Node, string]
  const object = on.args
  if (on.op !== 'id' || object === ctx.touchVar || (object !== 'customer' && object !== 'action')) {
    return unsupported()
  }
  // cel-js leaves has()'s argument unchecked: the field's type is the one its object declares.
  const check = guard(ctx.types[on.args === 'customer' ? 'Customer' : 'Action']?.[name])
  charge(ctx, 2 * NODE_STEPS)
  const read = fieldReader(on.args as string, name, ctx)
  return (input, t) => {
    const v = read(input, t)
    if (v === undefined) return false
    check(v)
    return true
  }
}

/** `touches.exists(t, body)` and `touches.all(t, body)`, the body lowered; not nested. */
function lowerQuantifier(node: Node, ctx: Context): Fn {
  const [name, receiver, args] = node.args as [string, Node, Node[]]
  if ((name !== 'exists' && name !== 'all') || ctx.touchVar !== undefined || ctx.iterates)
    return unsupported()
  if (receiver.op !== 'id' || receiver.args !== 'touches' || args.length !== 2) return unsupported()
  const [variable, bodyNode] = args as [Node, Node]
  if (variable.op !== 'id' || typeof variable.args !== 'string') return unsupported()
  ctx.touchVar = variable.args
  ctx.iterates = true
  const body = lower(bodyNode, ctx)
  ctx.touchVar = undefined
  const exists = name === 'exists'
  return (input) => {
    for (const t of input.touches) if (body(input, t) === exists) return exists
    return !exists
  }
}
