import { expect, it } from 'vitest'
import { runReadme, savedFile, typecheckReadme } from '../../../tools/readme/check.ts'

// The README is what a new user follows after the repository's own README, in a folder holding the
// policy of @remit/core's README and the key the tour made for sales-agent. Its example compiles
// against the package, imported by its name (it needs an org, so it is not run); its steps run as
// written up to what needs a Salesforce org: the flow's key gets a name of its own, the project is
// written, and `remit serve` takes the keys.yaml both made.

const readme = new URL('../README.md', import.meta.url)
const policy = savedFile(new URL('../../core/README.md', import.meta.url), 'remit.yaml')

it("the README's example type-checks against the package, imported by its name", async () => {
  expect(await typecheckReadme(readme)).toBe(1)
}, 60_000)

it("the README's steps work as written after the tour's key: a second key for sales-agent, the project", async () => {
  const session = await runReadme(readme, {
    files: { 'remit.yaml': policy },
    before: ['remit keys new --agent sales-agent'],
    after: [
      'test -n "$REMIT_KEY_SALES_AGENT"',
      'test -f remit-salesforce/force-app/main/default/flows/Renewal_Offer.flow-meta.xml',
      'remit serve --policy remit.yaml --keys keys.yaml',
    ],
    run: () => false,
  })
  try {
    expect(session.done.map((b) => `${b.lang} ${b.as}`)).toEqual([
      'sh install',
      'sh install',
      'sh ran',
      'sh sketch',
      'sh ran',
      'sh sketch',
      'ts type-checked',
      ' output',
    ])
  } finally {
    await session.close()
  }
}, 60_000)
