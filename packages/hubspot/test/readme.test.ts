import { expect, it } from 'vitest'
import { compileExamples, readmeBlock } from '../../../tools/readme/examples.ts'

// The README's "In code" example is what users copy: it is compiled against the package's public
// types, imported by the package's name.

const pkg = new URL('../', import.meta.url)

it("the README's example compiles against the package's public types", () => {
  const example = readmeBlock(pkg, '## In code')
  expect(example, 'a ```ts block under "## In code"').toBeTruthy()
  expect(compileExamples(pkg, '@remit/hubspot', { 'example.ts': example as string })).toBe('')
}, 60_000)
