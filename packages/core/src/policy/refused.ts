import type { ASTNode } from '@marcbachmann/cel-js'
import { walk } from './ast.ts'

// What cel-js declares but Remit's environment cannot run: it passes the type check and then fails on
// every evaluation (the rule failing closed, decision after decision). Refused at load instead.

const OPTIONAL_CONSTRUCTORS = new Set(['of', 'none', 'ofNonZeroValue'])

export interface RefusedFeature {
  message: string
  offset: number
  hint: string
}

/** The first use of a feature conditions cannot run, or undefined. */
export function refusedFeature(ast: ASTNode): RefusedFeature | undefined {
  let found: RefusedFeature | undefined
  walk(ast as never, (node) => {
    if (found || node.op !== 'rcall') return
    const [name, receiver] = node.args as [string, { op: string; args: unknown; start: number }]
    if (receiver?.op === 'id' && receiver.args === 'optional' && OPTIONAL_CONSTRUCTORS.has(name)) {
      found = {
        message: `optional values are not available in conditions (optional.${name})`,
        offset: receiver.start,
        hint: "test presence with has(): has(customer.tier) ? customer.tier : 'smb'",
      }
    }
  })
  return found
}
