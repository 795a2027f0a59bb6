import { randomUUID } from 'node:crypto'
import { expect, it } from 'vitest'
import { candidateReport } from '../src/candidate/report.ts'
import type { Decision } from '../src/decision/decision.ts'
import { loadPolicy, openSqliteStore } from '../src/index.ts'

// The candidate report pages through live decisions by time. Decisions decided together share
// their millisecond, so a page cut inside one must not skip the rest of it.

const policy = loadPolicy(
  `version: 1
teams: { marketing: {} }
agents: { m: { team: marketing } }
actions: { email.news: { channel: email, outbound: true } }
permissions: [{ id: may, team: marketing, action: email.news }]
review: { defaultTeam: marketing, expiresAfter: 72h, onExpiry: stop }
`,
  { file: 'p.yaml' },
)

it('counts every live decision when a page ends inside a millisecond many of them share', async () => {
  const store = openSqliteStore(':memory:')
  const at = new Date('2026-04-06T09:00:00Z')
  const decision = (i: number): Decision => ({
    id: `dec_${randomUUID()}`,
    // 900 newer, each its own millisecond; 300 in one (the first page ends inside it); 100 older.
    at: i < 900 ? new Date(at.getTime() + 1 + i) : i < 1200 ? at : new Date(at.getTime() - 1 - i),
    agent: 'm',
    team: 'marketing',
    accountId: `a${i}`,
    action: { kind: 'email.news', attributes: {} },
    facts: {},
    verdict: i % 2 ? 'go' : 'stop',
    reasons: [],
    notify: [],
    policyVersion: policy.version,
    dryRun: false,
  })
  await Promise.all(
    Array.from({ length: 1300 }, (_, i) =>
      store.decide({ accountId: `a${i}`, agent: 'm', since: new Date(0), now: at }, () => ({
        decision: decision(i),
      })),
    ),
  )
  const report = await candidateReport(store, policy, {
    since: new Date(at.getTime() - 86400e3),
    until: new Date(at.getTime() + 1000),
  })
  expect(report.decisions).toBe(1300)
  expect(report.baseline.verdicts).toEqual({ go: 650, flag: 0, stop: 650 })
  await store.close()
})
