import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Remit } from '@remit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { gatewayUnderTest, metaOf, textOf, type UnderTest } from './harness.ts'

const email = { account: 'acme', to: 'jane@acme.example', subject: 'The platform for the next five years' }
const offer = (pct: number) => ({ customer: { account: 'acme', lifecycle: 'customer' }, discount: { pct } })

let t: UnderTest
afterEach(async () => {
  await t?.close()
})

describe('the gateway, over stdio to a real upstream MCP server', () => {
  it('forwards a go once and records its touch as sent', async () => {
    t = await gatewayUnderTest()
    const result = await t.call('send_email', email)
    expect(result.isError).toBeFalsy()
    expect(textOf(result)).toBe('send_email done')
    expect(metaOf(result).verdict).toBe('go')
    expect(t.calls()).toEqual([{ tool: 'send_email', args: email }])
    const { touches } = await t.remit.timeline('acme')
    expect(touches.map((x) => [x.kind, x.status, x.email])).toEqual([
      ['email.positioning', 'sent', 'jane@acme.example'],
    ])
  })

  it('never lets a stop reach the upstream, and says why in plain words', async () => {
    t = await gatewayUnderTest()
    const result = await t.call('create_offer', offer(40))
    expect(result.isError).toBe(true)
    expect(textOf(result)).toContain('Remit stopped the call to create_offer: it was not sent.')
    expect(textOf(result)).toContain(
      'No discount deeper than 30% goes out, from any tool (no-deep-discounts)',
    )
    expect(t.calls()).toEqual([])
  })

  it('holds a flag; after approval the same call is forwarded exactly once', async () => {
    t = await gatewayUnderTest()
    const first = await t.call('create_offer', offer(20))
    expect(first.isError).toBe(true)
    const { reviewId } = metaOf(first)
    expect(textOf(first)).toContain(
      `Pending human approval: Remit flagged the call to create_offer for review ${reviewId}`,
    )

    // Asked again before anyone answers: the same review, still not sent.
    const again = await t.call('create_offer', offer(20))
    expect(metaOf(again)).toMatchObject({ verdict: 'flag', reviewId })
    expect(t.calls()).toEqual([])

    await t.remit.reviews.approve(reviewId as string, { by: 'sam' })
    // The same arguments in another key order are the same call.
    const released = await t.call('create_offer', {
      discount: { pct: 20 },
      customer: { lifecycle: 'customer', account: 'acme' },
    })
    expect(released.isError).toBeFalsy()
    expect(metaOf(released)).toMatchObject({ verdict: 'go', reviewId })
    expect(t.calls()).toHaveLength(1)
    const review = await t.remit.reviews.get(reviewId as string)
    const touch = (await t.remit.timeline('acme')).touches.find((x) => x.id === review?.touchId)
    expect(touch?.status).toBe('sent')

    // The approval is spent: a third identical call is a new request (a new flag), not a second send.
    const third = await t.call('create_offer', offer(20))
    expect(metaOf(third).verdict).toBe('flag')
    expect(metaOf(third).reviewId).not.toBe(reviewId)
    expect(t.calls()).toHaveLength(1)
  })

  it('approved with changes (20% lowered to 15%): the repeated call is forwarded once, with 15 where mcp.yaml reads it', async () => {
    t = await gatewayUnderTest()
    const first = await t.call('create_offer', offer(20))
    const { reviewId } = metaOf(first)
    const approved = await t.remit.reviews.approve(reviewId as string, {
      by: 'sam',
      changes: { attributes: { discountPct: 15 } },
    })
    expect(approved.outcome).toBe('go')
    const released = await t.call('create_offer', offer(20))
    expect(released.isError).toBeFalsy()
    // The agent is told what went: its result's _meta says the reviewer's changes.
    expect(metaOf(released)).toMatchObject({ verdict: 'go', reviewId, changes: { discountPct: 15 } })
    expect(t.calls()).toEqual([{ tool: 'create_offer', args: offer(15) }])
    const touch = (await t.remit.timeline('acme')).touches.find((x) => x.id === approved.touchId)
    expect([touch?.status, touch?.attributes]).toEqual(['sent', { discountPct: 15 }])
    const again = await t.call('create_offer', offer(20))
    expect(metaOf(again).verdict).toBe('flag')
    expect(t.calls()).toHaveLength(1)
  })

  it('approved with changes that would also change the customer (mcp.yaml reads it from the same argument): not sent, cancelled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remit-mcp-overlap-'))
    const mapFile = join(dir, 'mcp.yaml')
    writeFileSync(
      mapFile,
      'version: 1\ntools:\n  create_offer:\n    action: offer.discount\n    customer: { accountId: $.discount.pct }\n    attributes: { discountPct: $.discount.pct }\n',
    )
    t = await gatewayUnderTest({ mapFile })
    const args = { discount: { pct: 20 } }
    const { reviewId } = metaOf(await t.call('create_offer', args))
    const approved = await t.remit.reviews.approve(reviewId as string, {
      by: 'sam',
      changes: { attributes: { discountPct: 15 } },
    })
    expect(approved.outcome).toBe('go')
    const released = await t.call('create_offer', args)
    expect(released.isError).toBe(true)
    expect(textOf(released)).toContain('the call would be another request than the one approved')
    expect(t.calls()).toEqual([])
    const touch = (await t.remit.timeline('20')).touches.find((x) => x.id === approved.touchId)
    expect(touch?.status).toBe('cancelled')
  })

  it('re-checks stops when an approved call is repeated: a suppression recorded since stops it', async () => {
    t = await gatewayUnderTest()
    const { reviewId, decisionId } = metaOf(await t.call('create_offer', offer(20)))
    const approved = await t.remit.reviews.approve(reviewId as string, { by: 'sam' })
    expect(approved.outcome).toBe('go')
    // Between approval and the repeat, the customer unsubscribes.
    await t.remit.recordSuppression({ accountId: 'acme', reason: 'unsubscribe', source: 'esp' })

    const released = await t.call('create_offer', offer(20))
    expect(released.isError).toBe(true)
    expect(metaOf(released)).toMatchObject({ verdict: 'stop', reviewId, decisionId })
    expect(textOf(released)).toContain(
      `Remit stopped the call to create_offer: its review ${reviewId} was approved, but a stop holds now. It was not sent, and its reserved touch was cancelled.`,
    )
    expect(textOf(released)).toMatch(
      /- approved, but a stop now holds: .*suppressed.*unsubscribe.* \(suppression\)/,
    )
    expect(t.calls()).toEqual([])
    const touch = (await t.remit.timeline('acme')).touches.find((x) => x.id === approved.touchId)
    expect(touch?.status).toBe('cancelled')

    // The approval is spent: the same call again is a new decision, which meets the suppression.
    const again = await t.call('create_offer', offer(20))
    expect(metaOf(again).verdict).toBe('stop')
    expect(metaOf(again).decisionId).not.toBe(decisionId)
    expect(textOf(again)).toContain('Remit stopped the call to create_offer: it was not sent.')
    expect(t.calls()).toEqual([])
  })

  it('denies a repeat it cannot re-check (Remit unreachable), and keeps the approval for later', async () => {
    let down = false
    t = await gatewayUnderTest({
      // The engine, but its re-check fails while `down`, as a Remit that cannot be reached.
      target: (remit) => {
        const flaky = Object.create(remit) as Remit
        Object.defineProperty(flaky, 'reviews', {
          value: {
            ...remit.reviews,
            recheck: async (id: string) => {
              if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:8787')
              return remit.reviews.recheck(id)
            },
          },
        })
        return { remit: flaky, agent: 'crm-agent' }
      },
    })
    const { reviewId } = metaOf(await t.call('create_offer', offer(20)))
    await t.remit.reviews.approve(reviewId as string)
    down = true
    const denied = await t.call('create_offer', offer(20))
    expect(denied.isError).toBe(true)
    expect(metaOf(denied).verdict).toBe('denied')
    expect(textOf(denied)).toContain('so it was not sent (the gateway fails closed)')
    expect(t.calls()).toEqual([])

    down = false
    const released = await t.call('create_offer', offer(20))
    expect(metaOf(released)).toMatchObject({ verdict: 'go', reviewId })
    expect(t.calls()).toHaveLength(1)
  })

  it('sends an approved call once when its repeats race', async () => {
    t = await gatewayUnderTest()
    const { reviewId } = metaOf(await t.call('create_offer', offer(20)))
    await t.remit.reviews.approve(reviewId as string)
    const results = await Promise.all([1, 2, 3, 4].map(() => t.call('create_offer', offer(20))))
    expect(results.filter((r) => !r.isError)).toHaveLength(1)
    expect(t.calls()).toHaveLength(1)
  })

  it('makes changed arguments after an approval a new review', async () => {
    t = await gatewayUnderTest()
    const { reviewId } = metaOf(await t.call('create_offer', offer(20)))
    await t.remit.reviews.approve(reviewId as string)
    const changed = await t.call('create_offer', offer(25))
    expect(metaOf(changed).verdict).toBe('flag')
    expect(metaOf(changed).reviewId).not.toBe(reviewId)
    expect(t.calls()).toEqual([])
    // The approved call itself still goes, once.
    expect((await t.call('create_offer', offer(20))).isError).toBeFalsy()
    expect(t.calls()).toHaveLength(1)
  })

  it('keeps a rejected call stopped, with the reviewer’s words', async () => {
    t = await gatewayUnderTest()
    const { reviewId } = metaOf(await t.call('create_offer', offer(20)))
    await t.remit.reviews.reject(reviewId as string, { by: 'sam', note: 'not during the renewal' })
    const result = await t.call('create_offer', offer(20))
    expect(result.isError).toBe(true)
    expect(textOf(result)).toContain(`its review ${reviewId} was rejected`)
    expect(textOf(result)).toContain('rejected by sam: not during the renewal')
    expect(t.calls()).toEqual([])
  })

  it('holds a flagged call open with a wait, and sends it when approved within it', async () => {
    t = await gatewayUnderTest({ waitMs: 5000 })
    const pending = t.call('create_offer', offer(20))
    let review: string | undefined
    while (!review) {
      await new Promise((r) => setTimeout(r, 50))
      review = (await t.remit.reviews.list({ status: 'pending' }))[0]?.id
    }
    await t.remit.reviews.approve(review)
    const result = await pending
    expect(result.isError).toBeFalsy()
    expect(metaOf(result)).toMatchObject({ verdict: 'go', reviewId: review })
    expect(t.calls()).toHaveLength(1)
  })

  it('denies tools mcp.yaml does not map, and passes through those it marks passthrough', async () => {
    t = await gatewayUnderTest()
    const denied = await t.call('delete_contact', { id: 'c1' })
    expect(denied.isError).toBe(true)
    expect(textOf(denied)).toContain(
      'does not map this tool, and unmapped tools are denied. It was not sent.',
    )
    const through = await t.call('search_contacts', { query: 'jane' })
    expect(through.isError).toBeFalsy()
    expect(metaOf(through).verdict).toBe('passthrough')
    expect(t.calls().map((c) => c.tool)).toEqual(['search_contacts'])
  })

  it('denies a call whose arguments name no customer', async () => {
    t = await gatewayUnderTest()
    const result = await t.call('create_offer', { customer: {}, discount: { pct: 5 } })
    expect(result.isError).toBe(true)
    expect(textOf(result)).toContain('names no customer')
    expect(t.calls()).toEqual([])
  })

  it('denies every gated call when Remit cannot answer (a closed store), and forwards nothing', async () => {
    t = await gatewayUnderTest()
    await t.remit.close()
    const result = await t.call('send_email', email)
    expect(result.isError).toBe(true)
    expect(textOf(result)).toContain(
      'Remit could not decide the call to send_email, so it was not sent (the gateway fails closed)',
    )
    expect(t.calls()).toEqual([])
  })

  it('notes each tool’s gate in tools/list', async () => {
    t = await gatewayUnderTest()
    const { tools } = await t.client.listTools()
    const described = Object.fromEntries(tools.map((x) => [x.name, x.description]))
    expect(described.create_offer).toContain('[Remit: gated as "offer.discount"')
    expect(described.search_contacts).toContain('[Remit: passthrough: not gated]')
    expect(described.delete_contact).toContain('[Remit: denied: not in mcp.yaml')
  })
})
