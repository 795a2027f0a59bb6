import { expect, it } from 'vitest'
import { runReadme, savedFile, typecheckReadme } from '../../../tools/readme/check.ts'
import { codeBlocks } from '../../../tools/readme/examples.ts'

// The README is what a new user follows. Its examples are compiled against the real @sendgrid/mail
// and @sendgrid/client types, importing this package by its name (a cast in them would hide exactly
// what this checks); they send through SendGrid, so they are not run. Its commands run as written in
// an empty folder holding the policy of @remit/core's README.

const readme = new URL('../README.md', import.meta.url)
const policy = savedFile(new URL('../../core/README.md', import.meta.url), 'remit.yaml')

it("the README's examples type-check against the real SDK types, with no cast", async () => {
  for (const block of codeBlocks(readme).filter((b) => b.lang === 'ts'))
    expect(block.code, `README.md:${block.line}`).not.toMatch(/\bas (unknown|any|never)\b/)
  expect(await typecheckReadme(readme)).toBe(3)
}, 60_000)

it("the README's commands work as written: the sender's keys are in its environment", async () => {
  const session = await runReadme(readme, {
    files: { 'remit.yaml': policy },
    run: () => false,
    after: ['test -n "$REMIT_KEY" && test -n "$SENDGRID_API_KEY" && test -n "$SENDGRID_WEBHOOK_KEY"'],
  })
  try {
    expect(session.done.map((b) => `${b.lang} ${b.as}`)).toEqual([
      'sh install',
      'sh ran',
      'ts type-checked',
      'ts type-checked',
      'sh ran',
      'ts type-checked',
    ])
  } finally {
    await session.close()
  }
}, 60_000)
