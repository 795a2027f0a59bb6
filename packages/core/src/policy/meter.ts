import type { ASTNode, Environment } from '@marcbachmann/cel-js'

// cel-js (8.0) bounds an expression's shape when it parses it (`limits`: AST nodes, depth, literal
// sizes) but not the work of evaluating it: `touches.exists(a, touches.exists(b, …))` is quadratic in
// the ledger, and `cel.bind` can double a list per level. So each evaluation gets a budget, counted
// where cel-js evaluates every sub-expression and every comprehension step: its evaluator's `run`.

/**
 * Work one evaluation of one condition may do, in steps: one per sub-expression evaluated, plus one
 * per item of each list and per 16 characters of each string a sub-expression yields (what the next
 * operation may have to walk or copy), plus the length of each string a regular expression scans.
 * Spending it all takes 15–35 ms on this machine; a rule scanning a 1,000-touch ledger spends ~10,000.
 */
export const EVALUATION_BUDGET = 1_000_000

/**
 * Work one decision may do across all its rules, in the same steps: a policy of many expensive rules
 * cannot hold the event loop longer than about twice one rule's budget (~30–70 ms here). Past it,
 * every rule still to run is aborted, and the decision stops.
 */
export const DECISION_BUDGET = 2_000_000

// Evaluation is synchronous, so one decision runs at a time in a thread: its running total is here.
let decisionSpent = 0
let inDecision = false

/**
 * Runs `fn` (one decision's evaluation) under DECISION_BUDGET: the conditions evaluated inside it
 * share that total besides each having its own EVALUATION_BUDGET.
 */
export function withinDecision<T>(fn: () => T): T {
  if (inDecision) return fn()
  inDecision = true
  decisionSpent = 0
  try {
    return fn()
  } finally {
    inDecision = false
  }
}

/** The steps the running decision's metered evaluations have taken so far. */
export const decisionSteps = (): number => decisionSpent

const overDecision = (spent: number) => inDecision && decisionSpent + spent > DECISION_BUDGET

/**
 * An evaluation whose result cannot be trusted, whatever CEL made of it: it ran out of budget, or
 * compiled a pattern RE2 refuses. The rule fails closed to **stop**.
 */
export class EvaluationAbort extends Error {
  readonly code: 'BUDGET_EXCEEDED' | 'BAD_REGEX'
  constructor(code: EvaluationAbort['code'], message: string) {
    super(message)
    this.name = 'EvaluationAbort'
    this.code = code
  }
}

type Run = (node: ASTNode, ctx: unknown) => unknown

/** The budget of one environment's evaluations. Evaluation is synchronous: one runs at a time. */
export class Meter {
  private spent = 0
  private failure: EvaluationAbort | undefined
  private evaluator: { run: Run } | undefined

  /** Runs one evaluation within the budget; throws its abort even if CEL swallowed it (`x || true`). */
  measure<A, T>(evaluate: (arg: A) => T, arg: A): T {
    this.spent = 0
    this.failure = undefined
    if (overDecision(0)) throw this.exhausted()
    let out: T
    try {
      out = evaluate(arg)
    } catch (error) {
      throw this.failure ?? error
    } finally {
      if (inDecision) decisionSpent += this.spent
    }
    if (this.failure) throw this.failure
    return out
  }

  /** Spends `steps`; throws once the budget is gone. */
  charge(steps: number): void {
    this.spent += steps
    if (this.spent > EVALUATION_BUDGET || overDecision(this.spent)) throw this.exhausted()
  }

  /** Records an abort so that no later part of the evaluation can hide it, and returns it to throw. */
  abort(error: EvaluationAbort): EvaluationAbort {
    this.failure ??= error
    return this.failure
  }

  private exhausted(): EvaluationAbort {
    // Once over, every further step throws while CEL unwinds (`||`, `exists` absorb errors): one error.
    const decision = this.spent <= EVALUATION_BUDGET
    return (
      this.failure ??
      this.abort(
        new EvaluationAbort(
          'BUDGET_EXCEEDED',
          decision
            ? `the decision's rules together exceeded their budget of ${DECISION_BUDGET.toLocaleString('en')} steps`
            : `evaluation exceeded its budget of ${EVALUATION_BUDGET.toLocaleString('en')} steps`,
        ),
      )
    )
  }

  /**
   * Counts the work of `evaluator`, the object cel-js hands to macros and functions as the one that
   * evaluates. Its `run(node, ctx)` is the single path by which cel-js evaluates a sub-expression or a
   * comprehension step, so shadowing it on this instance meters everything this environment runs.
   */
  attach(evaluator: { run: Run }): void {
    if (this.evaluator === evaluator) return
    this.evaluator = evaluator
    const run = evaluator.run
    const meter = this
    // A comprehension's accumulator (map, filter) is one list cel-js grows in place, handed back at
    // every step: it is charged for what each step added, not for its whole length again (which made
    // mapping n items cost n²/2 steps: 2,000 commitments exceeded the budget).
    const grown = new WeakMap<unknown[], number>()
    evaluator.run = function metered(this: unknown, node, ctx) {
      if (meter.spent > EVALUATION_BUDGET || overDecision(meter.spent)) throw meter.exhausted()
      const value = run.call(this, node, ctx)
      if (typeof value === 'string') meter.spent += 1 + (value.length >> 4)
      else if (!Array.isArray(value)) meter.spent += 1
      else if (value !== (ctx as { accuValue?: unknown } | undefined)?.accuValue)
        meter.spent += 1 + value.length
      else {
        meter.spent += 1 + Math.max(0, value.length - (grown.get(value) ?? 0))
        grown.set(value, value.length)
      }
      return value
    }
  }

  /**
   * Attaches to `env`'s evaluator through `probe`, an expression whose evaluation hands it over (our
   * own `matches` does), and proves the budget is enforced: a cel-js that evaluated some other way
   * would leave policies unmetered, so that fails the load instead.
   */
  attachThrough(env: Environment, probe: string): void {
    this.measure(env.evaluate.bind(env), probe)
    if (!this.evaluator || this.spent === 0) {
      throw new Error('cannot meter CEL evaluation: @marcbachmann/cel-js no longer evaluates through run()')
    }
  }
}
