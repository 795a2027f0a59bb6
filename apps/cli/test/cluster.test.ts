import { afterEach, describe, expect, it } from 'vitest'
import {
  type Answer,
  clusterFiles,
  dropSchema,
  type Instance,
  ledgerGos,
  load,
  startInstance,
} from './cluster.ts'

// Two `remit serve` processes sharing one PostgreSQL database, under a policy whose limit allows one
// outbound touch per account per 72 h. They must never both answer go for one account.
let instances: Instance[] = []
let schema = ''
afterEach(async () => {
  for (const i of instances) i.process.kill('SIGKILL')
  instances = []
  if (schema) await dropSchema(schema)
})

function expectOneGoPerAccount(
  answers: Answer[],
  gos: { id: string; account_id: string; idempotency_key: string }[],
  accounts: number,
) {
  const byAccount = new Map<string, number>()
  for (const g of gos) byAccount.set(g.account_id, (byAccount.get(g.account_id) ?? 0) + 1)
  expect(byAccount.size).toBe(accounts)
  expect([...byAccount.values()].every((n) => n === 1)).toBe(true)
  // Every go a caller was answered is in the ledger, and every go in the ledger was answered.
  const answered = answers.filter((a) => a.verdict === 'go')
  expect(answered.map((a) => a.id).sort()).toEqual(gos.map((g) => g.id).sort())
}

describe('several instances on one PostgreSQL database', () => {
  // Load tests: bounded by their request counts; the time-out only stops a hang (CI shares two
  // cores with the other packages' tests).
  it('64 concurrent callers over 200 accounts under max: 1 per 72h: exactly one go per account', {
    timeout: 90_000,
  }, async () => {
    const files = clusterFiles()
    schema = files.schema
    instances = await Promise.all([startInstance(files), startInstance(files)])
    const { answers } = await load(instances, { key: files.key, callers: 64, total: 2000, accounts: 200 })
    expect(answers).toHaveLength(2000)
    const ledger = await ledgerGos(schema)
    expect(ledger.decisions).toBe(2000)
    expectOneGoPerAccount(answers, ledger.gos, 200)
  })

  it('kill -9 of one instance mid-load: no go lost, none that no caller could have received', {
    timeout: 90_000,
  }, async () => {
    const files = clusterFiles()
    schema = files.schema
    instances = await Promise.all([startInstance(files), startInstance(files)])
    const victim = instances[0] as Instance
    const { answers, connectionFailures } = await load(instances, {
      key: files.key,
      callers: 64,
      total: 2000,
      accounts: 200,
      at: 400,
      during: () => victim.process.kill('SIGKILL'),
    })
    expect(victim.process.signalCode).toBe('SIGKILL')
    expect(connectionFailures).toBeGreaterThan(0)
    // Calls cut off by the kill were retried on the survivor with their idempotency key: a go the
    // dead instance committed but never answered is answered by the survivor as a replay.
    expect(answers).toHaveLength(2000)
    const ledger = await ledgerGos(schema)
    expectOneGoPerAccount(answers, ledger.gos, 200)
    // Nothing half-written: each go has its one reserved touch, and no touch lacks its decision.
    expect(ledger.touches.map((t) => t.decision_id).sort()).toEqual(ledger.gos.map((g) => g.id).sort())
  })
})
