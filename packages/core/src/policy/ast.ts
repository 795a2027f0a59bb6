import type { TypeDeclaration } from '@marcbachmann/cel-js'

// cel-js's parsed expression, as the passes over it (time functions, refused features) read it: its
// node shape is not part of cel-js's types.

export interface AstNode {
  op: string
  args: unknown
  start: number
  pos: number
  checkedType?: TypeDeclaration
  setMeta(key: string, value: unknown): AstNode
}

const isNode = (x: unknown): x is AstNode =>
  typeof x === 'object' && x !== null && typeof (x as AstNode).op === 'string' && 'args' in x

/** Every node of an expression as written, parents first. */
export function walk(node: AstNode, visit: (node: AstNode) => void): void {
  visit(node)
  if (node.op === 'value') return
  const inner = (x: unknown): void => {
    if (isNode(x)) walk(x, visit)
    else if (Array.isArray(x)) for (const y of x) inner(y)
  }
  inner(node.args)
}
