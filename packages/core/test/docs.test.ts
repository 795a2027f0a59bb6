import { readFileSync } from 'node:fs'
import { expect, it } from 'vitest'
import { z } from 'zod'
import { policySchema } from '../src/policy/schema.ts'

// docs/policy.md lists every key of the policy file, section by section: read from the schema, so a
// key added to the schema and not to the reference fails here.
it('the policy reference names every key of the schema, in its section', () => {
  const text = readFileSync(new URL('../../../docs/policy.md', import.meta.url), 'utf8')
  const section = (title: string) => {
    const start = text.indexOf(`\n## ${title}\n`)
    expect(start, `docs/policy.md has a "## ${title}" section`).toBeGreaterThan(-1)
    const end = text.indexOf('\n## ', start + 1)
    return text.slice(start, end < 0 ? undefined : end)
  }
  // A JSON Schema, walked by hand: objects (maybe inside anyOf), maps and arrays.
  interface Node {
    type?: string
    properties?: Record<string, Node>
    anyOf?: Node[]
    additionalProperties?: Node
    items?: Node
  }
  const json = z.toJSONSchema(policySchema, { io: 'input', unrepresentable: 'any' }) as Node
  const keys = (node: Node | undefined): string[] => {
    const n = node?.anyOf ? node.anyOf.find((x) => x.properties) : node
    return Object.keys(n?.properties ?? {})
  }
  const entry = (node: Node) => node.additionalProperties ?? node.items
  const sections: Record<string, string[]> = { 'top level': keys(json) }
  for (const [title, child] of Object.entries(json.properties ?? {})) {
    const inner = child.type === 'object' && child.properties ? child : entry(child)
    const found = keys(inner)
    if (found.length) sections[title] = found
  }
  expect(Object.keys(sections)).toEqual(
    expect.arrayContaining(['teams', 'agents', 'facts', 'actions', 'limits']),
  )
  for (const [title, names] of Object.entries(sections)) {
    const body = section(title)
    for (const name of names)
      expect(body, `docs/policy.md ## ${title} names \`${name}\``).toContain(`\`${name}\``)
  }
})
