import { describe, expect, it } from 'vitest'
import {
  approvalDigest,
  ConflictError,
  InputError,
  loadPolicy,
  PolicyError,
  type Remit,
  releasedAction,
} from '../src/index.ts'
import { reviewToWire } from '../src/internal.ts'
import { at, engine } from './helpers.ts'

// A reviewer lowers a discount before approving it: the changed request is decided again and, if it
// goes, it is what is reserved, committed and released.
const POLICY = `
version: 1
teams: { sales: {}, finance: {} }
agents:
  sales-agent: { team: sales }
facts:
  lifecycle: { type: string }
actions:
  offer.discount:
    channel: email
    commitment: discount
    attributes: { discountPct: number, plan: { type: string, optional: true } }
    reviewerMayChange: [discountPct]
  email.followup: { channel: email, attributes: { discountPct: { type: number, optional: true } } }
permissions:
  - { id: small-discounts, action: offer.discount, when: "action.discountPct <= 10.0" }
  - { id: followups, action: email.followup }
triggers:
  - { id: big-discount-to-finance, action: offer.discount, when: "action.discountPct > 25.0", then: flag,
      notify: [finance], message: "Over 25% needs finance" }
stops:
  - { id: never-over-30, action: offer.discount, when: "action.discountPct > 30.0", message: "Never more than 30%" }
limits:
  - { id: discount-budget, action: offer.discount, sum: discountPct, max: 40, per: 30d }
review: { defaultTeam: sales, expiresAfter: 72h, onExpiry: stop }
`
const customer = { accountId: 'acme', contactId: 'acme-jane', facts: { lifecycle: 'customer' } }

async function flaggedAt(pct: number, remit?: Remit, hour = 0, acceptsChanges = ['discountPct']) {
  const r = remit ?? (await engine(loadPolicy(POLICY, { file: 'remit.yaml' })))
  const d = await r.decide('sales-agent', {
    action: { kind: 'offer.discount', discountPct: pct },
    customer,
    at: at(hour),
    // The caller says it can send the offer with a reviewer's discount (the SendGrid gate's applyChanges…).
    acceptsChanges,
  })
  expect(d.verdict).toBe('flag')
  return { remit: r, d, reviewId: d.reviewId as string }
}

describe('approve with changes', () => {
  it('lowered from 20% to 15%: the changed request goes, and it is what is reserved and committed', async () => {
    const { remit, d, reviewId } = await flaggedAt(20)
    const review = await remit.reviews.approve(reviewId, {
      by: 'dana',
      digest: d.digest as string,
      changes: { attributes: { discountPct: 15 } },
      at: at(1),
    })
    expect(review).toMatchObject({
      status: 'approved',
      outcome: 'go',
      changes: { attributes: { discountPct: 15 } },
    })
    expect(review.outcomeReasons?.[0]?.message).toBe('approved by dana with changes (discountPct 20 → 15)')
    expect(review.releasedDigest).toBe(
      approvalDigest({
        ...d,
        action: { kind: 'offer.discount', attributes: { discountPct: 15 } },
        accountId: 'acme',
        contactId: 'acme-jane',
      }),
    )
    expect(releasedAction(review, { kind: 'offer.discount', attributes: { discountPct: 20 } })).toEqual({
      kind: 'offer.discount',
      attributes: { discountPct: 15 },
    })
    const timeline = await remit.timeline('acme')
    expect(timeline.touches).toHaveLength(1)
    expect(timeline.touches[0]?.attributes).toEqual({ discountPct: 15 })
    expect(timeline.commitments[0]?.value).toEqual({ discountPct: 15 })
    // The decision stays as the agent asked it: the log is what was asked, the review what was released.
    expect((await remit.decisions.get(d.id))?.action.attributes).toEqual({ discountPct: 20 })
    expect(reviewToWire(review)).toMatchObject({ changes: { attributes: { discountPct: 15 } } })
  })

  it('the budget counts what was released: after 15 of 40, a second ask may be raised to 25, not 26', async () => {
    const { remit, reviewId } = await flaggedAt(20)
    await remit.reviews.approve(reviewId, {
      by: 'dana',
      changes: { attributes: { discountPct: 15 } },
      at: at(1),
    })
    const second = await flaggedAt(24, remit, 2)
    // Had the first counted as asked (20), 25 would not fit either: 20 + 25 > 40.
    const over = await remit.reviews
      .approve(second.reviewId, { by: 'dana', changes: { attributes: { discountPct: 26 } }, at: at(3) })
      .catch((e) => e)
    expect(over).toBeInstanceOf(ConflictError)
    expect(over.code).toBe('CHANGED_REQUEST_STOPPED')
    expect(over.message).toContain('discount-budget')
    const fits = await remit.reviews.approve(second.reviewId, {
      by: 'dana',
      changes: { attributes: { discountPct: 25 } },
      at: at(3),
    })
    expect(fits).toMatchObject({ outcome: 'go', changes: { attributes: { discountPct: 25 } } })
  })

  it('a change that a stop refuses leaves the review pending, with nothing reserved', async () => {
    const { remit, reviewId } = await flaggedAt(20)
    const error = await remit.reviews
      .approve(reviewId, { by: 'dana', changes: { attributes: { discountPct: 35 } }, at: at(1) })
      .catch((e) => e)
    expect(error).toBeInstanceOf(ConflictError)
    expect(error.code).toBe('CHANGED_REQUEST_STOPPED')
    expect(error.message).toContain('never-over-30')
    expect((await remit.reviews.get(reviewId))?.status).toBe('pending')
    expect((await remit.timeline('acme')).touches).toEqual([])
  })

  it('a change into a flag for another reason (finance over 25%) is refused: that is not this review', async () => {
    const { remit, reviewId } = await flaggedAt(20)
    const error = await remit.reviews
      .approve(reviewId, { by: 'dana', changes: { attributes: { discountPct: 28 } }, at: at(1) })
      .catch((e) => e)
    expect(error).toBeInstanceOf(ConflictError)
    expect(error.code).toBe('CHANGED_REQUEST_FLAGGED')
    expect(error.message).toContain('big-discount-to-finance')
    expect((await remit.reviews.get(reviewId))?.status).toBe('pending')
  })

  it('a change to an attribute the policy does not list, or of the wrong type, is an input error naming it', async () => {
    const { remit, reviewId } = await flaggedAt(20)
    const notListed = await remit.reviews
      .approve(reviewId, { by: 'dana', changes: { attributes: { plan: 'gold' } }, at: at(1) })
      .catch((e) => e)
    expect(notListed).toBeInstanceOf(InputError)
    expect(notListed).toMatchObject({ code: 'CHANGE_NOT_ALLOWED', path: ['changes', 'attributes', 'plan'] })
    expect(notListed.hint).toContain('discountPct')
    const wrongType = await remit.reviews
      .approve(reviewId, { by: 'dana', changes: { attributes: { discountPct: '15' } }, at: at(1) })
      .catch((e) => e)
    expect(wrongType).toMatchObject({ code: 'BAD_TYPE', path: ['changes', 'attributes', 'discountPct'] })
    const onReject = await remit.reviews
      .reject(reviewId, { by: 'dana', changes: { attributes: { discountPct: 15 } }, at: at(1) })
      .catch((e) => e)
    expect(onReject).toMatchObject({ code: 'BAD_REQUEST', path: ['changes'] })
    expect((await remit.reviews.get(reviewId))?.status).toBe('pending')
  })

  it('an action without reviewerMayChange takes no changes', async () => {
    const remit = await engine(
      loadPolicy(POLICY.replace('    reviewerMayChange: [discountPct]\n', ''), { file: 'remit.yaml' }),
    )
    const { reviewId } = await flaggedAt(20, remit)
    const error = await remit.reviews
      .approve(reviewId, { by: 'dana', changes: { attributes: { discountPct: 15 } }, at: at(1) })
      .catch((e) => e)
    expect(error).toMatchObject({ code: 'CHANGE_NOT_ALLOWED' })
    expect(error.hint).toContain('reviewerMayChange')
  })

  it('changes equal to the request are a plain approval', async () => {
    const { remit, reviewId } = await flaggedAt(20)
    const review = await remit.reviews.approve(reviewId, {
      by: 'dana',
      changes: { attributes: { discountPct: 20 } },
      at: at(1),
    })
    expect(review.outcome).toBe('go')
    expect(review.changes).toBeUndefined()
    expect((await remit.timeline('acme')).touches[0]?.attributes).toEqual({ discountPct: 20 })
  })

  it('a changed request a stop refuses for any reason (a suppression since the flag) is refused, never a stop', async () => {
    const { remit, reviewId } = await flaggedAt(20)
    await remit.recordSuppression({ accountId: 'acme', reason: 'unsubscribed', source: 'test' })
    const error = await remit.reviews
      .approve(reviewId, { by: 'dana', changes: { attributes: { discountPct: 15 } }, at: at(1) })
      .catch((e) => e)
    expect(error.code).toBe('CHANGED_REQUEST_STOPPED')
    expect((await remit.reviews.get(reviewId))?.status).toBe('pending')
    // As asked, the approval is answered as ever: the stop wins.
    const plain = await remit.reviews.approve(reviewId, { by: 'dana', at: at(1) })
    expect(plain.outcome).toBe('stop')
    expect((await remit.timeline('acme')).touches).toEqual([])
  })

  it("releasing later re-checks the changed request's stops, not the one asked", async () => {
    const { remit, reviewId } = await flaggedAt(20)
    await remit.reviews.approve(reviewId, {
      by: 'dana',
      changes: { attributes: { discountPct: 15 } },
      at: at(1),
    })
    // 25 more of the budget of 40 spent since: the 15 released still fits (40), the 20 asked would not.
    for (const [pct, hour] of [
      [10, 2],
      [10, 2.1],
      [5, 2.2],
    ] as const) {
      const d = await remit.decide('sales-agent', {
        action: { kind: 'offer.discount', discountPct: pct },
        customer,
        at: at(hour),
      })
      expect(d.verdict).toBe('go')
    }
    expect(await remit.reviews.recheck(reviewId, { at: at(3) })).toEqual({ ok: true, reasons: [] })
  })

  it('a caller that did not say it can send the request changed (acceptsChanges) gets no changes: the review stays pending', async () => {
    const { remit, reviewId } = await flaggedAt(20, undefined, 0, [])
    const error = await remit.reviews
      .approve(reviewId, { by: 'dana', changes: { attributes: { discountPct: 15 } }, at: at(1) })
      .catch((e) => e)
    expect(error).toBeInstanceOf(ConflictError)
    expect(error.code).toBe('CHANGES_NOT_CARRIED')
    expect(error.message).toContain('did not say it can send offer.discount with discountPct changed')
    expect((await remit.reviews.get(reviewId))?.status).toBe('pending')
    // Approved as asked, it goes as asked.
    expect((await remit.reviews.approve(reviewId, { by: 'dana', at: at(1) })).outcome).toBe('go')
  })

  it("another team's reviewer asking with changes learns nothing: not found, before anything about changes", async () => {
    const { remit, reviewId } = await flaggedAt(20, undefined, 0, [])
    const error = await remit.reviews
      .approve(reviewId, {
        by: 'eve',
        team: 'finance',
        changes: { attributes: { discountPct: 15 } },
        at: at(1),
      })
      .catch((e) => e)
    expect(error.code).toBe('NOT_FOUND')
  })

  it('acceptsChanges naming an attribute the action lacks is a 400 naming it, with the nearest name', async () => {
    const remit = await engine(loadPolicy(POLICY, { file: 'remit.yaml' }))
    const error = await remit
      .decide('sales-agent', {
        action: { kind: 'offer.discount', discountPct: 20 },
        customer,
        acceptsChanges: ['discountPc'],
      })
      .catch((e) => e)
    expect(error).toBeInstanceOf(InputError)
    expect(error).toMatchObject({ code: 'UNKNOWN_ATTRIBUTE', path: ['acceptsChanges', 0] })
    expect(error.hint).toContain('discountPct')
  })

  it('a negative amount of a budget is refused, naming the change', async () => {
    const { remit, reviewId } = await flaggedAt(20)
    const error = await remit.reviews
      .approve(reviewId, { by: 'dana', changes: { attributes: { discountPct: -5 } }, at: at(1) })
      .catch((e) => e)
    expect(error).toMatchObject({ code: 'BAD_VALUE', path: ['changes', 'attributes', 'discountPct'] })
  })

  it('reviewerMayChange naming an attribute the action lacks is a load error with its position', () => {
    const bad = POLICY.replace('reviewerMayChange: [discountPct]', 'reviewerMayChange: [discountPc]')
    const error = (() => {
      try {
        loadPolicy(bad, { file: 'remit.yaml' })
      } catch (e) {
        return e
      }
    })() as PolicyError
    expect(error).toBeInstanceOf(PolicyError)
    const issue = error.issues.find((i) => i.code === 'UNKNOWN_ATTRIBUTE')
    expect(issue?.message).toContain('"discountPc"')
    expect(issue?.hint).toContain('discountPct')
    expect(issue?.position).toMatchObject({ file: 'remit.yaml', line: 13 })
  })
})
