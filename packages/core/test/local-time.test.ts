import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { type ActionKind, type Agent, evaluate, loadPolicy } from '../src/index.ts'
import { LOCAL_TIME_CASES, localTimePolicy } from './local-time.cases.ts'

// `now.getHours('Asia/Tokyo')` is the customer's local hour, whatever zone the server runs in. Each
// child process runs every case under its own TZ; all must read every case's local time exactly.
// The zones are picked so that some cases fall in the server's own daylight-saving gap or overlap.

const run = promisify(execFile)
const SERVER_ZONES = ['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Tokyo', 'Australia/Sydney']

describe('local time in conditions does not depend on the server zone', () => {
  it('this process reads every case right', () => {
    const policy = loadPolicy(localTimePolicy())
    const wrong: string[] = []
    LOCAL_TIME_CASES.forEach((c, i) => {
      const evaluation = evaluate(policy, {
        agent: policy.agents.get('mkt') as Agent,
        action: policy.actions.get('email.positioning') as ActionKind,
        attributes: {},
        customer: { accountId: 'acme', facts: {} },
        now: new Date(c.instant),
        touches: [],
        commitments: [],
      })
      for (const r of evaluation.reasons)
        if (r.rule.startsWith(`c${i}-`)) wrong.push(`${c.instant} ${c.zone}: ${r.message}`)
    })
    expect(wrong).toEqual([])
  })

  it.each(SERVER_ZONES)('a server in %s reads every case right', { timeout: 60_000 }, async (tz) => {
    const child = new URL('./local-time.child.ts', import.meta.url).pathname
    const { stdout } = await run(process.execPath, [child], { env: { ...process.env, TZ: tz } })
    const out = JSON.parse(stdout) as { tz: string; zone: string; wrong: string[] }
    // The child really ran in that zone (a TZ Node ignored would prove nothing).
    expect(out.zone).toBe(tz)
    expect(out.wrong).toEqual([])
  })
})
