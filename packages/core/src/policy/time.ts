import type { ASTNode, Environment, TypeDeclaration } from '@marcbachmann/cel-js'
import { CEL_DURATION_UNITS, parseCelDuration } from '../time/duration.ts'
import { isTimeZone, timeZoneHint, utcDayOfYear, type ZonedTime, zonedTime } from '../time/zone.ts'
import { type AstNode as Node, walk } from './ast.ts'

// Time in conditions, on cel-js 8.0, made to agree with the policy file and with itself on every
// server:
//
// - `duration('14d')`: the policy file's units (`d`, `w`) besides CEL's. cel-js's `duration(string)`
//   takes only Go's units, and a macro `duration(ast)` would collide with it (it cannot replace a
//   built-in overload, and a receiverless macro cannot hide behind another receiver type as
//   `matches` does in regex.ts). So `overrideTimeCalls` walks each parsed expression and hands
//   every `duration(…)` call to our implementation, the way cel-js's parser hands a call to a macro
//   (`setMeta('macro', …)`). A constant string is parsed there, once: a bad one is a load error at
//   the string, and a good one costs nothing per evaluation.
// - `ts.getHours('Asia/Tokyo')` and the other accessors taking a zone: cel-js formats the instant in
//   that zone, then parses the text back as a time in the process's zone, so a wall time that does
//   not exist there (its spring-forward hour) moves by an hour, and the day of the year counts the
//   process's DST. These are macros (the documented API, `bytes.getHours(ast)` as for `matches`),
//   computed from the instant and the zone with Intl only (../time/zone.ts). A constant zone is
//   checked at load; one read from data that is not a zone is an evaluation error.
// - `ts.getDayOfYear()` (UTC) also goes through the process's zone in cel-js: a macro cannot take
//   no argument, so the walk hands it over too. The other accessors without a zone read UTC already.
// - `now.hour`: cel-js declares Timestamp and Duration as object types without fields, and its
//   checker types a field of such an object as `dyn` rather than refusing it; there is no API to
//   declare their (absent) fields. `timeFieldProblem` reads the checked types after checking and
//   refuses a field or index on a timestamp or duration, naming the functions that exist.

const TS = 'google.protobuf.Timestamp'
const DURATION = 'google.protobuf.Duration'

/** The accessors that take a zone; each also has a form without one, which reads UTC. */
const ZONED: Record<string, (t: ZonedTime) => number> = {
  getFullYear: (t) => t.year,
  getMonth: (t) => t.month,
  getDate: (t) => t.date,
  getDayOfMonth: (t) => t.date - 1,
  getDayOfWeek: (t) => t.dayOfWeek,
  getDayOfYear: (t) => t.dayOfYear,
  getHours: (t) => t.hours,
  getMinutes: (t) => t.minutes,
  getSeconds: (t) => t.seconds,
  getMilliseconds: (t) => t.milliseconds,
}

/** A constant in a condition that cannot be what its function needs, found while parsing. */
export class CelLiteralError extends Error {
  readonly code = 'CEL_INVALID'
  readonly offset: number
  readonly hint: string
  constructor(message: string, offset: number, hint: string) {
    super(message)
    this.name = 'CelLiteralError'
    this.offset = offset
    this.hint = hint
  }
}

interface Checker {
  check(node: ASTNode, ctx: unknown): TypeDeclaration
  getType(name: string): TypeDeclaration
  createError(code: string, message: string, node: ASTNode): Error
}
interface Evaluator {
  run(node: ASTNode, ctx: unknown): unknown
  createError(code: string, message: string, node: ASTNode): Error
}
/** What cel-js calls for a call handed to a macro: the same shape its own macros have. */
interface TimeCall {
  async: false
  typeCheck(checker: Checker, call: TimeCall, ctx: unknown): TypeDeclaration
  evaluate(evaluator: Evaluator, call: TimeCall, ctx: unknown): unknown
}
/** An AST node as cel-js builds it: `setMeta` is how its parser attaches a macro to a call. */
type DurationCtor = new (seconds: bigint, nanos: number) => unknown

/** Per environment: cel-js's own Duration class, so that our durations meet its operators. */
export interface TimeFunctions {
  duration: DurationCtor
}

/** The zone-taking accessors as macros; returns what `overrideTimeCalls` needs for this environment. */
export function registerTime(env: Environment): TimeFunctions {
  for (const [name, read] of Object.entries(ZONED)) {
    env.registerFunction(
      `bytes.${name}(ast): int`,
      ({ ast, receiver, args }: { ast: ASTNode; receiver: ASTNode; args: ASTNode[] }) =>
        zonedCall(name, read, ast, receiver, args[0] as ASTNode),
    )
  }
  const fns = { duration: (env.evaluate("duration('1s')") as object).constructor as DurationCtor }
  // Prove the hand-over works on this cel-js: one that checked or evaluated calls some other way
  // would read `d` as an error again, and the process's zone, so that fails the load instead.
  const probe = env.parse(
    "duration('1d') == duration('24h') && timestamp('2026-07-01T12:00:00Z').getDayOfYear() == 181",
  )
  overrideTimeCalls(probe.ast, fns)
  if (!probe.check().valid || probe() !== true) {
    throw new Error(
      'cannot extend CEL time functions: @marcbachmann/cel-js no longer runs a call as its macro',
    )
  }
  return fns
}

function zonedCall(
  name: string,
  read: (t: ZonedTime) => number,
  call: ASTNode,
  receiver: ASTNode,
  zoneArg: ASTNode,
): TimeCall {
  const constant = zoneArg.op === 'value' && typeof zoneArg.args === 'string' ? zoneArg.args : undefined
  if (constant !== undefined && !isTimeZone(constant)) {
    throw new CelLiteralError(`unknown time zone "${constant}"`, zoneArg.start, timeZoneHint(constant))
  }
  return {
    async: false,
    typeCheck(checker, _call, ctx) {
      const on = checker.check(receiver, ctx)
      const zone = checker.check(zoneArg, ctx)
      if ((on.kind !== 'dyn' && on.name !== TS) || (zone.kind !== 'dyn' && zone.name !== 'string')) {
        throw checker.createError(
          'no_matching_overload',
          `found no matching overload for '${on.name}.${name}(${zone.name})'`,
          call,
        )
      }
      return checker.getType('int')
    },
    evaluate(evaluator, _call, ctx) {
      const instant = evaluator.run(receiver, ctx)
      const zone = constant ?? evaluator.run(zoneArg, ctx)
      if (!(instant instanceof Date) || typeof zone !== 'string') {
        throw evaluator.createError(
          'no_such_overload',
          `no such overload: ${name} needs a timestamp and a zone`,
          call,
        )
      }
      const local = zonedTime(instant, zone)
      if (!local) throw evaluator.createError('invalid_argument', `unknown time zone "${zone}"`, zoneArg)
      return BigInt(read(local))
    },
  }
}

/**
 * Hands the `duration(…)` and `ts.getDayOfYear()` calls of a freshly parsed expression to our
 * implementations. Throws `CelLiteralError` for a constant duration that is not one.
 */
export function overrideTimeCalls(ast: ASTNode, fns: TimeFunctions): void {
  walk(ast as unknown as Node, (node) => {
    if (node.op === 'call') {
      const [name, args] = node.args as [string, Node[]]
      if (name === 'duration' && args.length === 1) attach(node, durationCall(node, args[0] as Node, fns))
    } else if (node.op === 'rcall') {
      const [name, receiver, args] = node.args as [string, Node, Node[]]
      if (name === 'getDayOfYear' && args.length === 0) attach(node, dayOfYearCall(node, receiver))
    }
  })
}

function attach(node: Node, call: TimeCall): void {
  if (typeof node.setMeta !== 'function') {
    throw new Error('cannot extend CEL time functions: @marcbachmann/cel-js no longer has setMeta on its AST')
  }
  node.setMeta('macro', call).setMeta('async', false)
}

function durationCall(call: Node, arg: Node, { duration }: TimeFunctions): TimeCall {
  const make = (text: string): unknown => {
    const nanos = parseCelDuration(text)
    if (nanos === undefined) return undefined
    return new duration(nanos / 1_000_000_000n, Number(nanos % 1_000_000_000n))
  }
  let constant: unknown
  if (arg.op === 'value' && typeof arg.args === 'string') {
    constant = make(arg.args)
    if (constant === undefined) {
      throw new CelLiteralError(
        `invalid duration ${JSON.stringify(arg.args)}`,
        arg.start,
        `a duration is numbers with units, e.g. '14d', '1h30m', '90s'; the units are ${CEL_DURATION_UNITS}`,
      )
    }
  }
  return {
    async: false,
    typeCheck(checker, _call, ctx) {
      const type = checker.check(arg as unknown as ASTNode, ctx)
      if (type.kind !== 'dyn' && type.name !== 'string') {
        throw checker.createError(
          'no_matching_overload',
          `found no matching overload for 'duration(${type.name})'`,
          call as unknown as ASTNode,
        )
      }
      return checker.getType(DURATION)
    },
    evaluate(evaluator, _call, ctx) {
      if (constant !== undefined) return constant
      const text = evaluator.run(arg as unknown as ASTNode, ctx)
      if (typeof text !== 'string') {
        throw evaluator.createError(
          'no_such_overload',
          'no such overload: duration needs a string',
          call as unknown as ASTNode,
        )
      }
      const value = make(text)
      if (value === undefined) {
        throw evaluator.createError(
          'invalid_duration',
          `invalid duration ${JSON.stringify(text)}`,
          arg as unknown as ASTNode,
        )
      }
      return value
    },
  }
}

function dayOfYearCall(call: Node, receiver: Node): TimeCall {
  return {
    async: false,
    typeCheck(checker, _call, ctx) {
      const on = checker.check(receiver as unknown as ASTNode, ctx)
      if (on.kind !== 'dyn' && on.name !== TS) {
        throw checker.createError(
          'no_matching_overload',
          `found no matching overload for '${on.name}.getDayOfYear()'`,
          call as unknown as ASTNode,
        )
      }
      return checker.getType('int')
    },
    evaluate(evaluator, _call, ctx) {
      const instant = evaluator.run(receiver as unknown as ASTNode, ctx)
      if (!(instant instanceof Date)) {
        throw evaluator.createError(
          'no_such_overload',
          'no such overload: getDayOfYear needs a timestamp',
          call as unknown as ASTNode,
        )
      }
      return BigInt(utcDayOfYear(instant))
    },
  }
}

export interface TimeFieldProblem {
  message: string
  offset: number
  hint: string
}

const TIMESTAMP_HINT =
  "read a timestamp with functions and the customer's IANA zone: now.getHours('Europe/Paris'), " +
  'getMinutes, getSeconds, getDayOfWeek (0 = Sunday), getDate (from 1), getDayOfMonth (from 0), ' +
  'getMonth (0 = January), getFullYear, getDayOfYear (from 0); without a zone they read UTC. ' +
  "Compare times directly: now - t.at < duration('14d')"
const DURATION_HINT =
  "a duration's length in whole units is getHours(), getMinutes(), getSeconds() or getMilliseconds(); " +
  "or compare it with another: now - t.at < duration('14d')"

/**
 * A field or index read on a timestamp or a duration, in an expression that type-checked (cel-js
 * types it `dyn`, so it fails on every evaluation instead).
 */
export function timeFieldProblem(ast: ASTNode): TimeFieldProblem | undefined {
  let found: TimeFieldProblem | undefined
  walk(ast as unknown as Node, (node) => {
    if (found) return
    const access = node.op === '.' || node.op === '.?' || node.op === '[]' || node.op === '[?]'
    if (!access) return
    const [on, key] = node.args as [Node, Node | string]
    const type = on.checkedType?.name
    if (type !== TS && type !== DURATION) return
    const name = typeof key === 'string' ? key : key.op === 'value' ? String(key.args) : undefined
    const what = type === TS ? 'a timestamp' : 'a duration'
    found = {
      message: name === undefined ? `${what} cannot be indexed` : `${what} has no field "${name}"`,
      offset: typeof key === 'string' ? node.pos : key.start,
      hint: type === TS ? TIMESTAMP_HINT : DURATION_HINT,
    }
  })
  return found
}
