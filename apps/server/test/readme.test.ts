import { expect, it } from 'vitest'
import { runReadme, savedFile, typecheckReadme } from '../../../tools/readme/check.ts'

// The README is what a new user follows, in an empty folder that holds the policy of @remit/core's
// README: its TypeScript compiles against the package, and its server serves, answers the agent's
// request it shows, and stops on SIGTERM, as written.

const readme = new URL('../README.md', import.meta.url)
const policy = savedFile(new URL('../../../packages/core/README.md', import.meta.url), 'remit.yaml')

it("the README's TypeScript type-checks against the package, imported by its name", async () => {
  expect(await typecheckReadme(readme)).toBeGreaterThan(0)
}, 60_000)

it('the README works as written: its server answers the curl with a go, and stops on SIGTERM', async () => {
  const session = await runReadme(readme, { files: { 'remit.yaml': policy } })
  try {
    expect(session.done.map((b) => `${b.lang} ${b.as}`)).toEqual([
      'sh install',
      'sh ran',
      'ts served',
      'sh ran',
      'yaml sketch', // a webhooks file (its reading is tested in webhooks.test.ts)
      'ts sketch', // a receiver's check, as verifyWebhook does it (tested there)
    ])
    const curl = session.done.findLast((b) => b.as === 'ran')?.line ?? 0
    expect(JSON.parse(session.output.get(curl) ?? '')).toMatchObject({ verdict: 'go' })
  } finally {
    await session.close()
  }
}, 60_000)
