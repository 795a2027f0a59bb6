import { expect, it } from 'vitest'
import { typecheckReadme } from '../../../tools/readme/check.ts'
import { codeBlocks } from '../../../tools/readme/examples.ts'

// The README's example compiles against the package's public types, imported by its name (it posts
// to a real Slack workspace, so it is not run; the tests run the same wiring against the fake).

const readme = new URL('../README.md', import.meta.url)

it("the README's example type-checks against the package's public types, with no cast", async () => {
  for (const block of codeBlocks(readme).filter((b) => b.lang === 'ts'))
    expect(block.code, `README.md:${block.line}`).not.toMatch(/\bas (unknown|any|never)\b/)
  expect(await typecheckReadme(readme)).toBe(1)
}, 60_000)

it('slack.yaml as the README has it reads and checks', async () => {
  const { parse } = await import('yaml')
  const { parseSlackConfig } = await import('../src/index.ts')
  const block = codeBlocks(readme).find((b) => b.file === 'slack.yaml')
  expect(parseSlackConfig(parse(block?.code ?? ''))).toMatchObject({
    teams: { sales: { channel: 'C0123456789' } },
  })
})
