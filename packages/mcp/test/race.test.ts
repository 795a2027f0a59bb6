import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadPolicyFile, openRemit, openSqliteStore } from '@remit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { CallHold, Gate, loadToolMapFile, remitSeam } from '../src/index.ts'
import { fixture, gatewayUnderTest, metaOf, type UnderTest } from './harness.ts'

// Identical first calls racing each other ask Remit once: one review, which every one of them waits
// for, and whose approval sends the call once.

const offer = { customer: { account: 'acme', lifecycle: 'customer' }, discount: { pct: 20 } }
let t: UnderTest | undefined
afterEach(async () => {
  await t?.close()
  t = undefined
})

describe('identical first calls racing', () => {
  it('create one review, which all of them are told of, and its approval sends the call once', async () => {
    t = await gatewayUnderTest()
    const under = t
    const results = await Promise.all(Array.from({ length: 8 }, () => under.call('create_offer', offer)))
    const reviewIds = new Set(results.map((r) => metaOf(r).reviewId))
    expect(results.map((r) => metaOf(r).verdict)).toEqual(Array(8).fill('flag'))
    expect(reviewIds.size).toBe(1)
    expect(await t.remit.reviews.list({ status: 'pending' })).toHaveLength(1)

    await t.remit.reviews.approve([...reviewIds][0] as string)
    const again = await Promise.all(Array.from({ length: 8 }, () => under.call('create_offer', offer)))
    expect(again.filter((r) => !r.isError)).toHaveLength(1)
    expect(t.calls()).toHaveLength(1)
  })

  it('in two gateways sharing one hold file, too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remit-mcp-race-'))
    const policy = await loadPolicyFile(fixture('remit.yaml'))
    const remit = await openRemit({ policy, store: openSqliteStore(join(dir, 'remit.db')) })
    const map = await loadToolMapFile(fixture('mcp.yaml'), policy)
    const holds = [0, 1].map(() => new CallHold(join(dir, 'remit-mcp.db')))
    try {
      const gates = holds.map(
        (hold) => new Gate({ map, remit: remitSeam({ remit, agent: 'crm-agent' }), hold }),
      )
      const admissions = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (gates[i % 2] as Gate).admit('create_offer', offer)),
      )
      expect(new Set(admissions.map((a) => a.meta.reviewId)).size).toBe(1)
      expect(await remit.reviews.list({})).toHaveLength(1)
    } finally {
      for (const hold of holds) hold.close()
      await remit.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a go is not held: each identical call after it is decided on its own', async () => {
    t = await gatewayUnderTest()
    const under = t
    const email = { account: 'acme', to: 'jane@acme.example', subject: 'Hi' }
    const results = await Promise.all(Array.from({ length: 3 }, () => under.call('send_email', email)))
    expect(new Set(results.map((r) => metaOf(r).decisionId)).size).toBe(3)
    expect(results.every((r) => metaOf(r).verdict === 'go')).toBe(true)
  })
})
