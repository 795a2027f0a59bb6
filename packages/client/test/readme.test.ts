import { expect, it } from 'vitest'
import { runReadme, savedFile, typecheckReadme } from '../../../tools/readme/check.ts'

// The README is what a new user follows, in an empty folder that holds the policy of @remit/core's
// README: its TypeScript compiles against the package, and its commands serve a Remit that its
// example then asks, as written.

const readme = new URL('../README.md', import.meta.url)
const policy = savedFile(new URL('../../core/README.md', import.meta.url), 'remit.yaml')

it("the README's TypeScript type-checks against the package, imported by its name", async () => {
  expect(await typecheckReadme(readme)).toBeGreaterThan(0)
}, 60_000)

it('the README works as written: it serves Remit with a new key, and its example gets go', async () => {
  const session = await runReadme(readme, { files: { 'remit.yaml': policy } })
  try {
    expect(session.done.map((b) => b.as)).toEqual(['install', 'ran', 'ran'])
    const example = session.done.find((b) => b.lang === 'ts')
    expect(session.output.get(example?.line ?? 0)).toMatch(/^go \[ 'sales-discount' \]/)
  } finally {
    await session.close()
  }
}, 60_000)
