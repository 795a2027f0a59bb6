import { loadPolicy } from '@remit/core'
import { expect, it } from 'vitest'
import { savedFile, typecheckReadme } from '../../../tools/readme/check.ts'
import { loadToolMap } from '../src/index.ts'

// The README's example compiles against the package, imported by its name (it starts an upstream
// server the reader has, so it is not run); its mcp.yaml loads against the policy of @remit/core's
// README, which the reader has beside it.

const readme = new URL('../README.md', import.meta.url)

it("the README's examples type-check against the package and the real SDKs' types, imported by their names", async () => {
  expect(await typecheckReadme(readme)).toBe(4)
}, 60_000)

it("the README's mcp.yaml is valid against @remit/core's README policy", () => {
  const policy = loadPolicy(savedFile(new URL('../../core/README.md', import.meta.url), 'remit.yaml'))
  const map = loadToolMap(savedFile(readme, 'mcp.yaml'), { file: 'mcp.yaml', policy })
  expect([...map.tools.keys()]).toEqual(['send_email', 'create_offer', 'search_contacts'])
})
