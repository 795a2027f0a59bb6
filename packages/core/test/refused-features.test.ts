import { expect, it } from 'vitest'
import { checkPolicy, formatIssue } from '../src/index.ts'

// cel-js declares optional values, which Remit's environment cannot run: they passed the load check
// and then failed closed on every decision. Refused at load, at the call, with what to write instead.

const policy = (when: string) => `version: 1
teams: { marketing: {}, sales: {} }
agents:
  mkt: { team: marketing }
facts:
  tier: { type: string, optional: true }
actions:
  email.positioning: { channel: email }
permissions:
  - { id: p, team: marketing, action: email.positioning, when: "${when}" }
review: { defaultTeam: sales }
`

it('a condition making an optional value is refused at load, with has() as the way', () => {
  for (const [when, call] of [
    ['optional.of(customer.tier).hasValue()', 'optional.of'],
    ["optional.none().orValue('smb') == 'smb'", 'optional.none'],
  ]) {
    const issues = checkPolicy(policy(when as string), { file: 'remit.yaml' }).issues
    expect(issues.map(formatIssue).join('\n')).toContain(
      `remit.yaml:10:65: error [p]: optional values are not available in conditions (${call})`,
    )
    expect(issues[0]?.hint).toMatch(/has\(customer\.tier\)/)
  }
})

it('has() and a ternary, the way to read a fact that may be absent, load as before', () => {
  const result = checkPolicy(policy("(has(customer.tier) ? customer.tier : 'smb') == 'smb'"), {
    file: 'remit.yaml',
  })
  expect(result.issues).toEqual([])
  expect(result.policy).toBeDefined()
})
