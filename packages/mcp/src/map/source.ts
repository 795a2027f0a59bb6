import type { SourcePosition } from '@remit/core'
import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml'

// The few lines of @remit/core's PolicySource that mcp.yaml needs (core keeps that class internal):
// a parsed YAML file that can say where any path in it is, for file:line:col errors.

export type YamlPath = readonly (string | number)[]

export class YamlSource {
  readonly text: string
  readonly file: string
  readonly doc: Document
  private readonly lines = new LineCounter()

  constructor(text: string, file: string) {
    this.text = text
    this.file = file
    this.doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true, prettyErrors: false })
  }

  positionAt(offset: number): SourcePosition {
    const { line, col } = this.lines.linePos(offset)
    return { file: this.file, line, column: col }
  }

  /** Where the node at `path` starts, or its nearest ancestor that exists. */
  position(path: YamlPath): SourcePosition | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as Node | undefined
      if (node && typeof node === 'object' && 'range' in node && node.range)
        return this.positionAt(node.range[0])
    }
    return undefined
  }

  /** Where key `key` of the map at `path` is (for unknown keys). */
  keyPosition(path: YamlPath, key: string): SourcePosition | undefined {
    const node = this.doc.getIn(path, true)
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key) && pair.key.value === key && pair.key.range)
          return this.positionAt(pair.key.range[0])
      }
    }
    return this.position(path)
  }
}
