import type { CompiledExpression } from './cel.ts'
import type { scopeKeys, TypedValue } from './schema.ts'

// What the loader's steps hand one another. They import it from here rather than from load.ts,
// which imports every step: that would be a cycle.

/** Where a value is in the policy file: keys and list indexes from the top. */
export type PolicyPath = (string | number)[]

/** What every rule has, whichever list it is in: ownership rules simply have no scope keys. */
export type RuleDoc = { id: string; when?: string; message?: string } & Partial<
  Record<(typeof scopeKeys)[number], string | string[] | boolean>
>

/** Every declared action attribute by name: CEL gives them one namespace across action kinds. */
export type Attributes = Record<string, TypedValue>

/**
 * Compiles the expression at `path` of rule `rule`; undefined when it does not compile, the
 * reason having been recorded as an issue by whoever made the function.
 */
export type CompileExpression = (
  path: PolicyPath,
  rule: string,
  source: string,
  expected: 'bool' | 'google.protobuf.Timestamp',
) => CompiledExpression | undefined
