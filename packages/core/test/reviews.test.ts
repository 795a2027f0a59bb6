import { describe, expect, it } from 'vitest'
import { ReviewStateError } from '../src/index.ts'
import { acme, at, engine, globex, rules } from './helpers.ts'

async function flagged(customer = acme, kind = 'email.positioning', agent = 'marketing-agent') {
  const remit = await engine()
  const d = await remit.decide(agent, { action: { kind }, customer, at: at(0) })
  expect(d.verdict).toBe('flag')
  return { remit, d, reviewId: d.reviewId as string }
}

describe('reviews', () => {
  it('an approved flag reserves the touch at approval time', async () => {
    const { remit, d, reviewId } = await flagged()
    const review = await remit.reviews.approve(reviewId, {
      by: 'dana',
      note: 'fits the renewal',
      at: at(2),
      team: 'sales',
    })
    expect(review).toMatchObject({
      status: 'approved',
      outcome: 'go',
      resolvedBy: 'dana',
      note: 'fits the renewal',
    })
    expect(review.resolvedAt?.toISOString()).toBe(at(2))
    const t = await remit.timeline('acme')
    expect(t.touches).toMatchObject([
      { decisionId: d.id, status: 'reserved', at: new Date(at(2)), agent: 'marketing-agent' },
    ])
    expect(review.touchId).toBe(t.touches[0]?.id)
    // The tool reports the send like any go.
    expect((await remit.outcome(d.id, 'sent')).status).toBe('sent')
  })

  it('a rejected flag is stopped for good and reserves nothing', async () => {
    const { remit, reviewId } = await flagged()
    const review = await remit.reviews.reject(reviewId, { by: 'dana', note: 'not now', at: at(1) })
    expect(review).toMatchObject({ status: 'rejected', outcome: 'stop' })
    expect(review.outcomeReasons?.[0]?.message).toBe('rejected by dana: not now')
    expect((await remit.timeline('acme')).touches).toEqual([])
  })

  it('expiry stops every pending review whose time is up, and only those', async () => {
    const { remit, reviewId } = await flagged()
    expect(await remit.reviews.expire(at(71))).toEqual([])
    const expired = await remit.reviews.expire(at(72))
    expect(expired.map((r) => [r.id, r.status, r.outcome])).toEqual([[reviewId, 'expired', 'stop']])
    expect(await remit.reviews.list({ status: 'pending' })).toEqual([])
  })

  it('an expired review can no longer be approved', async () => {
    const { remit, reviewId } = await flagged()
    const error = await remit.reviews.approve(reviewId, { at: at(80) }).catch((e) => e)
    expect(error).toBeInstanceOf(ReviewStateError)
    expect(error.code).toBe('REVIEW_EXPIRED')
  })

  it('a review is answered once', async () => {
    const { remit, reviewId } = await flagged()
    await remit.reviews.approve(reviewId, { at: at(1) })
    await expect(remit.reviews.reject(reviewId, { at: at(2) })).rejects.toMatchObject({
      code: 'REVIEW_RESOLVED',
    })
  })

  it("a reviewer acts only on its own team's reviews: another team's is not found", async () => {
    const { remit, reviewId } = await flagged()
    await expect(remit.reviews.approve(reviewId, { team: 'support', at: at(1) })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    expect((await remit.reviews.get(reviewId))?.status).toBe('pending')
  })

  it('a hard stop that became true while the flag waited still wins, and the reason says so', async () => {
    const { remit, reviewId } = await flagged(acme, 'sequence.winback', 'support-agent')
    // While the win-back waits for sales, the customer talks to sales.
    await remit.recordTouch({ accountId: 'acme', kind: 'call', team: 'sales', outbound: false, at: at(3) })
    const review = await remit.reviews.approve(reviewId, { by: 'dana', at: at(4) })
    expect(review).toMatchObject({ status: 'approved', outcome: 'stop' })
    expect(review.outcomeReasons?.map((r) => r.rule)).toEqual(['no-winback-after-sales'])
    expect(review.outcomeReasons?.[0]?.message).toMatch(
      /^approved, but a stop now holds: Support does not fire a win-back/,
    )
    expect((await remit.timeline('acme')).touches.filter((t) => t.source === 'decision')).toEqual([])
  })

  it('a limit filled while the flag waited still wins', async () => {
    const { remit, reviewId } = await flagged()
    const other = await remit.decide('sales-agent', {
      action: { kind: 'offer.discount', discountPct: 5 },
      customer: { ...globex, accountId: 'acme' },
      at: at(1),
    })
    expect(other.verdict).toBe('go')
    const review = await remit.reviews.approve(reviewId, { at: at(2) })
    expect(review.outcome).toBe('stop')
    expect(review.outcomeReasons?.map((r) => r.rule)).toEqual(['one-touch-per-72h'])
  })

  it('tells listeners of every resolution, and a failing listener undoes nothing', async () => {
    const { remit, d, reviewId } = await flagged()
    const heard: string[] = []
    remit.onReview(() => {
      throw new Error('listener broke')
    })
    remit.onReview((review, decision) => {
      heard.push(`${review.status}:${review.outcome}:${decision.id === d.id}`)
    })
    const review = await remit.reviews.approve(reviewId, { at: at(1) })
    expect(review.status).toBe('approved')
    expect(heard).toEqual(['approved:go:true'])
  })

  it("a flag is in its team's queue until answered", async () => {
    const { remit, d } = await flagged()
    const queue = await remit.reviews.list({ status: 'pending', team: 'sales' })
    expect(queue.map((r) => r.decisionId)).toEqual([d.id])
    expect(await remit.reviews.list({ status: 'pending', team: 'marketing' })).toEqual([])
    expect(rules(d)).toContain('renewal-flag')
  })
})
