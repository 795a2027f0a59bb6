import type { ASTNode, Environment, TypeDeclaration } from '@marcbachmann/cel-js'
import { RE2JS, RE2JSSyntaxException } from 're2js'
import { EvaluationAbort, type Meter } from './meter.ts'

// CEL's `matches` is RE2: linear in the text. cel-js (8.0) runs it on V8's backtracking RegExp,
// where `'a'*34 + '!'` against `^(a+)+$` holds the event loop for a minute. re2js is a pure-JS port
// of RE2 (Go's regexp): the same syntax and linear-time guarantee, no native build, no dependencies.
//
// cel-js cannot replace a built-in overload (`string.matches(string)` collides with itself), so both
// forms are macros instead: its parser expands a macro for every call of that name and arity,
// whatever the receiver (as it does for `exists`), and the macro type-checks and evaluates the call
// itself. A macro's receiver type only names it; `bytes`, for which CEL defines no `matches`, keeps it
// clear of the built-in. A macro also sees its arguments as written, so a literal pattern is
// compiled, and refused, when the policy loads.

/** A literal pattern RE2 refuses, found while parsing; `offset` is where it starts in the expression. */
export class RegexSyntaxError extends Error {
  readonly code = 'BAD_REGEX'
  readonly offset: number
  readonly hint: string
  constructor(pattern: string, error: unknown, offset: number) {
    super(`invalid regular expression ${JSON.stringify(pattern)}: ${describe(error)}`)
    this.name = 'RegexSyntaxError'
    this.offset = offset
    this.hint = regexHint(error)
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
interface MatchesCall {
  call: ASTNode
  text: ASTNode
  pattern: ASTNode
  /** The compiled pattern, when it is a literal. */
  compiled: RE2JS | undefined
  typeCheck(checker: Checker, macro: MatchesCall, ctx: unknown): TypeDeclaration
  evaluate(evaluator: Evaluator, macro: MatchesCall, ctx: unknown): boolean
}

/** `text.matches(pattern)` and `matches(text, pattern)`, on RE2, metered by `meter`. */
export function registerMatches(env: Environment, meter: Meter): void {
  const macro = (call: ASTNode, text: ASTNode, pattern: ASTNode): MatchesCall => ({
    call,
    text,
    pattern,
    compiled: literal(pattern),
    typeCheck,
    evaluate: (evaluator, m, ctx) => evaluate(meter, evaluator, m, ctx),
  })
  env.registerFunction(
    'bytes.matches(ast): bool',
    ({ ast, receiver, args }: { ast: ASTNode; receiver: ASTNode; args: ASTNode[] }) =>
      macro(ast, receiver, args[0] as ASTNode),
  )
  env.registerFunction('matches(ast, ast): bool', ({ ast, args }: { ast: ASTNode; args: ASTNode[] }) =>
    macro(ast, args[0] as ASTNode, args[1] as ASTNode),
  )
}

function literal(pattern: ASTNode): RE2JS | undefined {
  if (pattern.op !== 'value' || typeof pattern.args !== 'string') return undefined
  try {
    return RE2JS.compile(pattern.args)
  } catch (error) {
    throw new RegexSyntaxError(pattern.args, error, pattern.start)
  }
}

function typeCheck(checker: Checker, m: MatchesCall, ctx: unknown): TypeDeclaration {
  const text = checker.check(m.text, ctx)
  const pattern = checker.check(m.pattern, ctx)
  const fits = (t: TypeDeclaration) => t.kind === 'dyn' || t.name === 'string'
  if (!fits(text) || !fits(pattern)) {
    throw checker.createError(
      'no_matching_overload',
      `found no matching overload for '${text.name}.matches(${pattern.name})'`,
      m.call,
    )
  }
  return checker.getType('bool')
}

function evaluate(meter: Meter, evaluator: Evaluator, m: MatchesCall, ctx: unknown): boolean {
  meter.attach(evaluator)
  const text = evaluator.run(m.text, ctx)
  const pattern = m.compiled ?? evaluator.run(m.pattern, ctx)
  if (typeof text !== 'string' || !(pattern instanceof RE2JS || typeof pattern === 'string')) {
    throw evaluator.createError('no_such_overload', 'no such overload: matches needs two strings', m.call)
  }
  const regex = pattern instanceof RE2JS ? pattern : compiled(meter, pattern)
  // Linear in the text, but each character may step every instruction of the pattern (`\pL{1000}`
  // over 4,000 letters takes ~90 ms): charged at that worst case, before it runs.
  meter.charge(text.length * regex.programSize())
  return regex.test(text)
}

/** Patterns read from data, compiled once each; a rule seldom has more than a few. */
const cache = new Map<string, RE2JS | EvaluationAbort>()
const CACHE_SIZE = 256

function compiled(meter: Meter, pattern: string): RE2JS {
  let found = cache.get(pattern)
  if (!found) {
    found = compile(pattern)
    if (cache.size >= CACHE_SIZE) cache.clear()
    cache.set(pattern, found)
    if (found instanceof RE2JS) meter.charge(found.programSize())
  }
  if (found instanceof EvaluationAbort) throw meter.abort(found)
  return found
}

function compile(pattern: string): RE2JS | EvaluationAbort {
  try {
    return RE2JS.compile(pattern)
  } catch (error) {
    return new EvaluationAbort(
      'BAD_REGEX',
      `invalid regular expression ${JSON.stringify(pattern)}: ${describe(error)}`,
    )
  }
}

function describe(error: unknown): string {
  if (error instanceof RE2JSSyntaxException) {
    const at = error.getPattern()
    return at ? `${error.getDescription()} at \`${at}\`` : error.getDescription()
  }
  return error instanceof Error ? error.message : String(error)
}

function regexHint(error: unknown): string {
  const at = error instanceof RE2JSSyntaxException ? (error.getPattern() ?? '') : ''
  if (/^\\[1-9]/.test(at)) {
    return 'patterns are RE2, which matches in linear time and has no backreferences (\\1); match the repeated part explicitly'
  }
  if (/^\(\?<?[=!]/.test(at)) {
    return 'patterns are RE2, which matches in linear time and has no lookahead or lookbehind; combine several matches() calls with && and !'
  }
  return 'patterns are RE2 syntax (as in Go): character classes, groups, alternation, repetition up to {1000}; no backreferences or lookaround'
}
