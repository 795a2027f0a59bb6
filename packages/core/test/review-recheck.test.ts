import { describe, expect, it } from 'vitest'
import { NotFoundError, ReviewStateError } from '../src/index.ts'
import { acme, at, engine, globex } from './helpers.ts'

// An approved action released later than its approval (a gateway's held call) is re-checked as
// approval checked it, against the ledger as it is at release.

async function approved() {
  const remit = await engine()
  const d = await remit.decide('marketing-agent', {
    action: { kind: 'email.positioning' },
    customer: acme,
    at: at(0),
  })
  const reviewId = d.reviewId as string
  const review = await remit.reviews.approve(reviewId, { by: 'dana', at: at(1) })
  expect(review.outcome).toBe('go')
  return { remit, d, reviewId }
}

describe('re-checking an approved review', () => {
  it('is ok when no stop became true, and its own reserved touch does not count against it', async () => {
    const { remit, d, reviewId } = await approved()
    // The seed policy allows one touch per 72 h: the approval's own touch is in the window.
    expect(await remit.reviews.recheck(reviewId, { at: at(5) })).toEqual({ ok: true, reasons: [] })
    const [touch] = (await remit.timeline('acme')).touches
    expect(touch).toMatchObject({ decisionId: d.id, status: 'reserved' })
  })

  it('stops when a suppression was recorded after approval, with the suppression as the reason', async () => {
    const { remit, d, reviewId } = await approved()
    await remit.recordSuppression({ accountId: 'acme', reason: 'unsubscribe', source: 'sendgrid' })
    const check = await remit.reviews.recheck(reviewId, { at: at(5) })
    expect(check.ok).toBe(false)
    expect(check.reasons.map((r) => r.rule)).toEqual(['suppression'])
    expect(check.reasons[0]?.message).toMatch(/^approved, but a stop now holds: .*suppressed.*unsubscribe/)
    // It writes nothing: the touch stays reserved until its caller reports it cancelled.
    const touches = (await remit.timeline('acme')).touches
    expect(touches.map((t) => [t.decisionId, t.status])).toEqual([[d.id, 'reserved']])
  })

  it('stops when another touch filled a limit after approval', async () => {
    const { remit, reviewId } = await approved()
    await remit.recordTouch({ accountId: 'acme', kind: 'email.manual', team: 'sales', at: at(2) })
    const check = await remit.reviews.recheck(reviewId, { at: at(3) })
    expect(check).toMatchObject({ ok: false, reasons: [{ rule: 'one-touch-per-72h' }] })
  })

  it('refuses a review that was not approved with outcome go, and an unknown one', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { ...globex, facts: acme.facts },
      at: at(0),
    })
    const pending = remit.reviews.recheck(d.reviewId as string, { at: at(1) })
    await expect(pending).rejects.toBeInstanceOf(ReviewStateError)
    await expect(pending).rejects.toMatchObject({ code: 'REVIEW_NOT_APPROVED' })
    await expect(remit.reviews.recheck('rev_nope')).rejects.toBeInstanceOf(NotFoundError)
  })
})
