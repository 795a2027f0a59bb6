import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { type Decision, openSqliteStore, type Touch } from '../src/index.ts'

// Two connections to one file: each keeps accounts' ledgers in memory between decisions, and checks
// once per write transaction whether the other has committed since.

const at = new Date('2026-04-06T09:00:00Z')
const since = new Date(at.getTime() - 30 * 86400e3)

function decision(accountId: string): Decision {
  return {
    id: `dec_${randomUUID()}`,
    at,
    agent: 'marketing-agent',
    team: 'marketing',
    accountId,
    action: { kind: 'email.positioning', attributes: {} },
    facts: {},
    verdict: 'stop',
    reasons: [],
    notify: [],
    policyVersion: 'v1',
    dryRun: false,
  }
}

function call(accountId: string): Touch {
  return {
    id: `tch_${randomUUID()}`,
    accountId,
    kind: 'call',
    outbound: true,
    at,
    status: 'sent',
    source: 'recorded',
  }
}

it("a decision sees touches another connection recorded since this one last read the account's ledger", async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'remit-shared-')), 'remit.db')
  const deciding = openSqliteStore(path)
  const recording = openSqliteStore(path)
  const seen: number[] = []
  const decide = () =>
    deciding.decide({ accountId: 'acme', agent: 'marketing-agent', since, now: at }, (ledger) => {
      seen.push(ledger.touches.length)
      return { decision: decision('acme') }
    })
  await decide()
  await recording.recordTouch(call('acme'))
  // Several decisions in one batch (one transaction): the first of them already sees the touch.
  await Promise.all([decide(), decide(), decide()])
  await recording.recordTouch(call('acme'))
  await decide()
  expect(seen).toEqual([0, 1, 1, 1, 2])
  await Promise.all([deciding.close(), recording.close()])
})
