import { describe, expect, it } from 'vitest'
import { openRemit, openSqliteStore } from '../src/index.ts'
import { acme, at, seedPolicy } from './helpers.ts'

describe('the outbox: work a new flag owes a vendor (routeFlags)', () => {
  async function setup() {
    const remit = await openRemit({
      policy: seedPolicy,
      store: openSqliteStore(':memory:'),
      clock: () => new Date(at(1)),
    })
    remit.outbox.routeFlags('notify', (review, decision) => ({
      review: review.id,
      status: review.status,
      agent: decision.agent,
    }))
    return remit
  }

  it('a flag writes its message with the decision, for its pending review', async () => {
    const remit = await setup()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
    })
    expect(d.verdict).toBe('flag')
    expect(await remit.outbox.list({ channel: 'notify' })).toMatchObject([
      {
        status: 'pending',
        reviewId: d.reviewId,
        decisionId: d.id,
        payload: { review: d.reviewId, status: 'pending', agent: 'marketing-agent' },
      },
    ])
  })

  it('a go, a dry run and a replayed idempotency key write none', async () => {
    const remit = await setup()
    const go = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { accountId: 'plain', facts: { tier: 'smb', lifecycle: 'customer' } },
      at: at(0),
    })
    expect(go.verdict).toBe('go')
    const request = { action: { kind: 'email.positioning' }, customer: acme, at: at(0), idempotencyKey: 'k1' }
    await remit.decide('marketing-agent', { ...request, dryRun: true })
    await remit.decide('marketing-agent', request)
    await remit.decide('marketing-agent', request)
    expect(await remit.outbox.list({ channel: 'notify' })).toHaveLength(1)
  })

  it('a flag delivered by a running deliverer arrives once', async () => {
    const remit = await setup()
    const got: string[] = []
    const stop = remit.outbox.deliver('notify', async (m) => void got.push(m.id), { everyMs: 10 })
    await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
    })
    for (let i = 0; i < 100 && !got.length; i++) await new Promise((r) => setTimeout(r, 10))
    await new Promise((r) => setTimeout(r, 50))
    expect(got).toHaveLength(1)
    stop()
  })
})
