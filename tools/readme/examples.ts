import { readFileSync } from 'node:fs'

// A README's code is what users copy: its fenced blocks, read here, are type-checked and run by the
// packages' README tests (tools/readme/check.ts) and the CLI's (apps/cli/test/readme.test.ts).

/** A fenced code block of a Markdown file, as a reader sees it. */
export interface CodeBlock {
  /** The fence's language (`ts`, `sh`, `yaml`, …), '' when it names none. */
  lang: string
  /** The block's text, its fence's indentation removed (blocks may sit inside list items). */
  code: string
  /** 1-based line of the opening fence, for messages that point at the README. */
  line: number
  /**
   * Marked as a sketch: the fence says `sketch` after the language (```ts sketch) or the line
   * before it is `<!-- sketch -->`. Sketches are illustrations; every other block runs in CI.
   */
  sketch: boolean
  /** The nearest heading above the block (without its #s). */
  heading: string
  /**
   * The file the README has the reader save the block as, when its fence names one
   * (```yaml file=remit.yaml); renderers show only the language, so the prose names the file too.
   */
  file?: string
}

/** Every fenced code block in the Markdown file at `file`, in order. */
export function codeBlocks(file: URL): CodeBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n')
  const blocks: CodeBlock[] = []
  let heading = ''
  for (let i = 0; i < lines.length; i++) {
    const title = /^#{1,6}\s+(.*)$/.exec(lines[i] as string)
    if (title) heading = (title[1] as string).trim()
    const open = /^(\s*)```(\S*)(.*)$/.exec(lines[i] as string)
    if (!open) continue
    const indent = (open[1] as string).length
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j] as string); j++)
      body.push((lines[j] as string).slice(indent))
    const file = /(?:^|\s)file=(\S+)/.exec(open[3] as string)?.[1]
    blocks.push({
      lang: open[2] as string,
      code: `${body.join('\n')}\n`,
      line: i + 1,
      sketch: /\bsketch\b/.test(open[3] as string) || (lines[i - 1] ?? '').trim() === '<!-- sketch -->',
      heading,
      ...(file ? { file } : {}),
    })
    i = j
  }
  return blocks
}
