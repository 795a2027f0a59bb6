import { expect, it } from 'vitest'
import { runReadme, typecheckReadme } from '../../../tools/readme/check.ts'

// The README is what a new user follows, in an empty folder: its TypeScript compiles against the
// package, and its example runs as written on the policy it shows.

const readme = new URL('../README.md', import.meta.url)

it("the README's TypeScript type-checks against the package, imported by its name", async () => {
  expect(await typecheckReadme(readme)).toBeGreaterThan(0)
}, 60_000)

it('the README works as written: its policy is saved, and its example decides go on it', async () => {
  const session = await runReadme(readme)
  try {
    const example = session.done.find((b) => b.lang === 'ts')
    expect(example?.as).toBe('ran')
    expect(session.output.get(example?.line ?? 0)).toMatch(/^go \[ 'mkt-positioning' \]/)
    expect(session.done.filter((b) => b.as === 'sketch')).toEqual([])
  } finally {
    await session.close()
  }
}, 60_000)
