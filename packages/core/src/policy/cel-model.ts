import type { Environment } from '@marcbachmann/cel-js'
import type { Meter } from './meter.ts'
import type { TimeFunctions } from './time.ts'

// The shapes cel.ts builds and its hints (cel-hints.ts) read: here, so neither imports the other.

/** A policy's CEL environment and the budget its evaluations run under. */
export interface CelEnvironment {
  env: Environment
  meter: Meter
  /** `duration()` with the policy's units, and time accessors that never read the process's zone. */
  time: TimeFunctions
  /** Each object type's fields, as declared to CEL: what hints name when a field is unknown. */
  types: Record<string, Record<string, string>>
  /** The names the policy declares: facts (on `customer`) and action attributes (on `action`). */
  declared: { facts: string[]; attributes: string[] }
}

export interface CelProblem {
  /** `CEL_INVALID`, `CEL_TOO_LARGE` or `BAD_REGEX`. */
  code: string
  message: string
  /** Offset of the problem within the expression's text. */
  offset: number
  hint?: string
}
