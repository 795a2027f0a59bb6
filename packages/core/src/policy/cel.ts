import { Environment } from '@marcbachmann/cel-js'
import { celErrorProblem } from './cel-hints.ts'
import type { CelEnvironment, CelProblem } from './cel-model.ts'
import { registerListMath } from './list-math.ts'
import { type LoweredExpression, lowerExpression } from './lower.ts'
import { EvaluationAbort, Meter } from './meter.ts'
import { refusedFeature } from './refused.ts'
import { RegexSyntaxError, registerMatches } from './regex.ts'
import type { PolicyDocument, TypedValue, ValueType } from './schema.ts'
import { CelLiteralError, overrideTimeCalls, registerTime, timeFieldProblem } from './time.ts'

// CEL is the condition language (see this package's README). @marcbachmann/cel-js: zero dependencies, a type checker
// that takes declared variables and object types (so `customer.lifecyle` and `'a' < 1` fail at load
// time), and fast evaluation of a pre-parsed expression. @bufbuild/cel needs protobuf descriptors
// for every object type, which a YAML-declared fact list does not have.

const CEL_TYPE: Record<ValueType, string> = {
  string: 'string',
  number: 'double',
  boolean: 'bool',
  timestamp: 'google.protobuf.Timestamp',
  list: 'list<string>',
}

/** The objects rules read. Instances of these classes are what CEL sees at evaluation time. */
export class CelAgent {
  readonly id: string
  readonly team: string
  readonly tool: string
  constructor(id: string, team: string, tool: string) {
    this.id = id
    this.team = team
    this.tool = tool
  }
}
export class CelAction {}
export class CelCustomer {}
export class CelTouch {}
export class CelCommitment {}
export class CelSuppression {}

export interface CompiledExpression {
  source: string
  /**
   * Evaluates against the CEL variables; throws on a missing field or a runtime type error, and
   * `EvaluationAbort` when it runs out of budget or meets a pattern RE2 refuses.
   */
  run: (vars: CelVariables) => unknown
  /**
   * The same expression as closures over the request's own fields (lower.ts), when it has a shape we
   * lower; it throws BAIL wherever it cannot be sure of `run`'s answer.
   */
  lowered?: LoweredExpression
}

export type { CelEnvironment, CelProblem } from './cel-model.ts'

export interface CelVariables {
  agent: CelAgent
  action: CelAction
  customer: CelCustomer
  touches: CelTouch[]
  commitments: CelCommitment[]
  suppressions: CelSuppression[]
  now: Date
}

/** Longest condition, in characters: a rule is a sentence, not a program. */
export const MAX_EXPRESSION_LENGTH = 4096
/**
 * How deep a condition may nest (parentheses, calls, selections). cel-js's own limits default to
 * the CEL specification's minimums (250 levels, 100,000 nodes), far beyond a rule one can review.
 */
const LIMITS = { maxDepth: 32, maxAstNodes: 2000 }

export function celType(value: TypedValue): string {
  return CEL_TYPE[value.type]
}

/** One environment per policy: the declared facts and action attributes become typed fields. */
export function buildEnvironment(
  doc: Pick<PolicyDocument, 'facts'>,
  attributes: Record<string, TypedValue>,
): CelEnvironment {
  const customerFields: Record<string, string> = {
    id: 'string',
    accountId: 'string',
    contactId: 'string',
    email: 'string',
  }
  for (const [name, fact] of Object.entries(doc.facts)) customerFields[name] = celType(fact)
  const actionFields: Record<string, string> = {
    kind: 'string',
    channel: 'string',
    outbound: 'bool',
    commitment: 'string',
  }
  for (const [name, attr] of Object.entries(attributes)) actionFields[name] = celType(attr)

  const types: Record<string, Record<string, string>> = {
    Agent: { id: 'string', team: 'string', tool: 'string' },
    Action: actionFields,
    Customer: customerFields,
    Touch: {
      agent: 'string',
      team: 'string',
      tool: 'string',
      kind: 'string',
      channel: 'string',
      outbound: 'bool',
      status: 'string',
      contactId: 'string',
      email: 'string',
      at: 'google.protobuf.Timestamp',
      attributes: 'map<string, dyn>',
    },
    Commitment: {
      kind: 'string',
      team: 'string',
      agent: 'string',
      value: 'dyn',
      at: 'google.protobuf.Timestamp',
      expiresAt: 'google.protobuf.Timestamp',
    },
    Suppression: {
      channel: 'string',
      reason: 'string',
      source: 'string',
      contactId: 'string',
      email: 'string',
      at: 'google.protobuf.Timestamp',
    },
  }
  const env = new Environment({
    unlistedVariablesAreDyn: false,
    homogeneousAggregateLiterals: false,
    limits: LIMITS,
  })
    .registerType('Agent', { ctor: CelAgent, fields: types.Agent })
    .registerType('Action', { ctor: CelAction, fields: actionFields })
    .registerType('Customer', { ctor: CelCustomer, fields: customerFields })
    .registerType('Touch', { ctor: CelTouch, fields: types.Touch })
    .registerType('Commitment', { ctor: CelCommitment, fields: types.Commitment })
    .registerType('Suppression', { ctor: CelSuppression, fields: types.Suppression })
    .registerVariable('agent', 'Agent')
    .registerVariable('action', 'Action')
    .registerVariable('customer', 'Customer')
    .registerVariable('touches', 'list<Touch>')
    .registerVariable('commitments', 'list<Commitment>')
    .registerVariable('suppressions', 'list<Suppression>')
    .registerVariable('now', 'google.protobuf.Timestamp')
  const meter = new Meter()
  registerMatches(env, meter)
  const time = registerTime(env)
  registerListMath(env, meter)
  meter.attachThrough(env, '"".matches("")')
  const declared = { facts: Object.keys(doc.facts), attributes: Object.keys(attributes) }
  return { env, meter, time, types, declared }
}

const TYPE_NAMES: Record<string, string> = {
  bool: 'a boolean',
  'google.protobuf.Timestamp': 'a timestamp',
}

/** Parses and type-checks one expression; it must yield `expected` ('bool' or a timestamp). */
export function compileExpression(
  celEnv: CelEnvironment,
  source: string,
  expected: 'bool' | 'google.protobuf.Timestamp',
): CompiledExpression | CelProblem {
  const { env, meter, time } = celEnv
  if (source.length > MAX_EXPRESSION_LENGTH) {
    return {
      code: 'CEL_TOO_LARGE',
      message: `expression is ${source.length} characters long; at most ${MAX_EXPRESSION_LENGTH} are allowed`,
      offset: 0,
      hint: 'split the condition into several rules',
    }
  }
  let parsed: ReturnType<Environment['parse']>
  try {
    parsed = env.parse(source)
    overrideTimeCalls(parsed.ast, time)
  } catch (error) {
    return celProblem(error, celEnv)
  }
  const checked = parsed.check()
  if (!checked.valid) return celProblem(checked.error, celEnv)
  const field = timeFieldProblem(parsed.ast) ?? refusedFeature(parsed.ast)
  if (field) return { code: 'CEL_INVALID', ...field }
  if (checked.type !== expected && checked.type !== 'dyn') {
    return {
      code: 'CEL_INVALID',
      message: `expected ${TYPE_NAMES[expected]} expression, but this one yields ${checked.type}`,
      offset: 0,
    }
  }
  const run = (vars: CelVariables) => meter.measure(parsed, vars)
  const lowered = lowerExpression(parsed.ast, {
    time,
    types: celEnv.types,
    evaluate: (constant) => env.evaluate(constant),
  })
  return lowered ? { source, run, lowered } : { source, run }
}

function celProblem(error: unknown, celEnv: CelEnvironment): CelProblem {
  if (error instanceof RegexSyntaxError || error instanceof CelLiteralError) {
    return { code: error.code, message: error.message, offset: error.offset, hint: error.hint }
  }
  const e = error as { code?: string; summary?: string; message?: string; range?: { start: number } }
  const message = (e.summary ?? e.message ?? String(error)).split('\n')[0] as string
  const offset = e.range?.start ?? 0
  if (e.code === 'limit_exceeded') {
    const limit = /^Exceeded (maxDepth|maxAstNodes)/.exec(message)?.[1]
    return {
      code: 'CEL_TOO_LARGE',
      message:
        limit === 'maxDepth'
          ? `expression nests more than ${LIMITS.maxDepth} levels deep`
          : limit === 'maxAstNodes'
            ? `expression has more than ${LIMITS.maxAstNodes} parts`
            : message,
      offset,
      hint: 'split the condition into several rules',
    }
  }
  return celErrorProblem(error, celEnv) ?? { code: 'CEL_INVALID', message, offset }
}

export function isProblem(x: CompiledExpression | CelProblem): x is CelProblem {
  return 'message' in x
}

/** What went wrong evaluating an expression, in words a policy author can act on. */
export function describeEvaluationError(error: unknown): { message: string; missing?: string } {
  if (error instanceof EvaluationAbort) return { message: error.message }
  const e = error as { summary?: string; message?: string }
  const message = (e.summary ?? e.message ?? String(error)).split('\n')[0] as string
  const key = /^No such key: (.+)$/.exec(message)
  if (key) return { message: `fact or attribute "${key[1]}" was missing`, missing: key[1] as string }
  return { message }
}
