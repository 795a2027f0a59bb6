import { expect, it } from 'vitest'
import { runReadme, savedFile, typecheckReadme } from '../../../tools/readme/check.ts'

// The README is what a new user follows, in an empty folder holding the policy of @remit/core's
// README. Its example compiles against the package's public types, imported by its name (it runs a
// HubSpot app, so it is not run). Its set-up runs as written up to what needs a real HubSpot app:
// hubspot.yaml fits the policy, `remit serve` serves it, `remit hubspot register --print` prints the
// action's definition.

const readme = new URL('../README.md', import.meta.url)
const policy = savedFile(new URL('../../core/README.md', import.meta.url), 'remit.yaml')

it("the README's example type-checks against the package's public types", async () => {
  expect(await typecheckReadme(readme)).toBe(1)
}, 60_000)

it("the README's set-up works as written: it serves the action and prints its definition", async () => {
  const session = await runReadme(readme, { files: { 'remit.yaml': policy }, run: () => false })
  try {
    expect(session.done.map((b) => `${b.lang} ${b.as}`)).toEqual([
      'sh install',
      'yaml saved',
      'sh ran',
      'sh ran',
      'sh sketch',
      ' output',
      'ts type-checked',
    ])
    const print = session.done[3]?.line ?? 0
    expect(JSON.parse(session.output.get(print) ?? '')).toMatchObject({
      actionUrl: 'https://remit.example.com/hubspot/action',
    })
  } finally {
    await session.close()
  }
}, 60_000)
