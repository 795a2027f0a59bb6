import { describe, expect, it } from 'vitest'
import { approvalDigest, ConflictError } from '../src/index.ts'
import { decisionRecordToWire, reviewToWire } from '../src/internal.ts'
import { acme, at, engine } from './helpers.ts'

async function flagged() {
  const remit = await engine()
  const d = await remit.decide('marketing-agent', {
    action: { kind: 'email.positioning' },
    customer: acme,
    at: at(0),
  })
  expect(d.verdict).toBe('flag')
  return { remit, d, reviewId: d.reviewId as string }
}

describe('an approval is bound to the request it was shown', () => {
  it("a flag's decision and review carry the digest of agent, action, attributes and customer ids", async () => {
    const { remit, d, reviewId } = await flagged()
    const review = await remit.reviews.get(reviewId)
    const expected = approvalDigest({
      agent: 'marketing-agent',
      action: { kind: 'email.positioning', attributes: {} },
      accountId: 'acme',
      contactId: 'acme-jane',
      email: 'jane@acme.example',
    })
    expect(expected).toMatch(/^[0-9a-f]{64}$/)
    expect(review?.digest).toBe(expected)
    expect(reviewToWire(review as NonNullable<typeof review>).digest).toBe(expected)
    const decision = await remit.store.getDecision(d.id)
    expect(decisionRecordToWire(decision as NonNullable<typeof decision>).digest).toBe(expected)
  })

  it('the digest ignores key order and the case of the address, and changes with any attribute', () => {
    const base = { agent: 'a', accountId: 'acme', email: 'Jane@Acme.example ' }
    const one = approvalDigest({
      ...base,
      action: { kind: 'k', attributes: { pct: 20, offer: { b: 1, a: 2 } } },
    })
    const same = approvalDigest({
      ...base,
      email: 'jane@acme.example',
      action: { kind: 'k', attributes: { offer: { a: 2, b: 1 }, pct: 20 } },
    })
    const other = approvalDigest({
      ...base,
      action: { kind: 'k', attributes: { pct: 15, offer: { b: 1, a: 2 } } },
    })
    expect(same).toBe(one)
    expect(other).not.toBe(one)
  })

  it('an approval naming the review’s digest goes', async () => {
    const { remit, reviewId } = await flagged()
    const digest = (await remit.reviews.get(reviewId))?.digest
    const review = await remit.reviews.approve(reviewId, { by: 'dana', digest, at: at(1) })
    expect(review).toMatchObject({ status: 'approved', outcome: 'go' })
  })

  it('an approval naming another digest is refused and changes nothing', async () => {
    const { remit, reviewId } = await flagged()
    const error = await remit.reviews
      .approve(reviewId, { by: 'dana', digest: 'f'.repeat(64), at: at(1) })
      .catch((e) => e)
    expect(error).toBeInstanceOf(ConflictError)
    expect(error.code).toBe('REVIEW_DIGEST_MISMATCH')
    expect((await remit.reviews.get(reviewId))?.status).toBe('pending')
    expect((await remit.timeline('acme')).touches).toEqual([])
  })
})
