import { fileURLToPath } from 'node:url'
import { loadPolicyFile, openRemit, openSqliteStore } from '@remit/core'
import { runWeek } from '@remit/example-seed-week/scenario'
import { describe, expect, it } from 'vitest'
import { playWeek } from './week.ts'

// Through MCP tool calls and the gateway, the week's verdicts are the seed week's own (runWeek on
// the engine directly), and the CRM receives exactly what Remit let go: each go once, each approved
// flag once, on the agent's repeat after the approval.
describe('the example week through the MCP gateway', async () => {
  const policy = await loadPolicyFile(fileURLToPath(new URL('../seed-week/remit.yaml', import.meta.url)))
  const engine = await openRemit({ policy, store: openSqliteStore(':memory:') })
  const steps = await runWeek(engine)
  await engine.close()
  const { calls, received } = await playWeek()

  it("gives each attempt the verdict the seed week's engine gives it", () => {
    const direct = steps.flatMap((s) => (s.kind === 'decision' ? [[s.event.at, s.decision.verdict]] : []))
    expect(calls.filter((c) => !c.repeat).map((c) => [c.attempt, c.verdict])).toEqual(direct)
    expect(direct.map(([, verdict]) => verdict)).toEqual(expect.arrayContaining(['go', 'flag', 'stop']))
  })

  it('sends an approved flag once when the agent calls again, and a rejected one never', () => {
    const answered = steps.flatMap((s) => (s.kind === 'review' ? [[s.event.at, s.review.outcome]] : []))
    expect(calls.filter((c) => c.repeat).map((c) => [c.attempt, c.verdict])).toEqual(answered)
  })

  it('the CRM receives exactly the calls that got go', () => {
    expect(received.map((r) => r.tool)).toEqual(calls.filter((c) => c.verdict === 'go').map((c) => c.tool))
  })
})
