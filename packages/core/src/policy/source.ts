import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml'
import type { PolicyIssue, SourcePosition } from '../errors.ts'

/** A parsed YAML policy that can say where any path in it is, for error messages. */
export class PolicySource {
  readonly file: string
  readonly text: string
  readonly doc: Document
  private readonly lines = new LineCounter()

  constructor(text: string, file: string) {
    this.file = file
    this.text = text
    this.doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true, prettyErrors: false })
  }

  /** YAML syntax errors, positioned. */
  syntaxIssues(): PolicyIssue[] {
    return [...this.doc.errors, ...this.doc.warnings].map((e) => ({
      severity: e.name === 'YAMLWarning' ? 'warning' : 'error',
      code: e.name === 'YAMLWarning' ? 'YAML_WARNING' : 'YAML_SYNTAX',
      message: e.message.split('\n')[0] as string,
      path: [],
      position: this.positionAt(e.pos[0]),
      hint: 'check indentation and quoting; a CEL expression containing ": " or "#" must be quoted',
    }))
  }

  positionAt(offset: number): SourcePosition {
    const { line, col } = this.lines.linePos(offset)
    return { file: this.file, line, column: col }
  }

  /** The node at `path`, or the nearest ancestor that exists. */
  nodeAt(path: readonly (string | number)[]): Node | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true)
      if (node && typeof node === 'object' && 'range' in node) return node as Node
    }
    return undefined
  }

  position(path: readonly (string | number)[]): SourcePosition | undefined {
    const range = this.nodeAt(path)?.range
    return range ? this.positionAt(range[0]) : undefined
  }

  /** Position of a key inside the map at `path` (for unknown or duplicate keys). */
  keyPosition(path: readonly (string | number)[], key: string): SourcePosition | undefined {
    const node = this.doc.getIn(path, true)
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key) && pair.key.value === key && pair.key.range) {
          return this.positionAt(pair.key.range[0])
        }
      }
    }
    return this.position(path)
  }

  /** Position of character `offset` of the string value at `path` (a CEL expression). */
  positionInValue(
    path: readonly (string | number)[],
    value: string,
    offset: number,
  ): SourcePosition | undefined {
    const node = this.nodeAt(path)
    if (!node?.range) return undefined
    const [start, end] = node.range
    const at = this.text.slice(start, end).indexOf(value)
    // Escapes or folding can make the source differ from the value; then the node's start is the best we can say.
    return this.positionAt(at >= 0 ? start + at + offset : start)
  }
}
