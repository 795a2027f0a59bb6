import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, harness } from './helpers.ts'

// The console's bulk answer: every approval bound to the digest the reviewer was shown, each item
// answered and reported on its own, and the batch bounded.

let h: Harness
afterEach(async () => h?.server.close())

/** A flag for `accountId`, routed to sales; its review id and digest. */
async function flag(accountId: string): Promise<{ id: string; digest: string }> {
  const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
    action: { kind: 'email.positioning' },
    customer: { accountId, facts: { lifecycle: 'renewal', tier: 'smb' } },
  })
  expect(d.body.verdict).toBe('flag')
  const review = await h.call('GET', `/v1/reviews/${d.body.reviewId}`, h.key.salesReviewer)
  return { id: review.body.id, digest: review.body.digest }
}

const bulk = (body: unknown) => h.call('POST', '/v1/console/reviews/bulk', h.key.salesReviewer, body)
const status = async (id: string) =>
  (await h.call('GET', `/v1/reviews/${id}`, h.key.salesReviewer)).body.status

describe('POST /v1/console/reviews/bulk', () => {
  it("refuses, item by item, an approval naming a changed request's digest; the others are approved", async () => {
    h = await harness()
    const a = await flag('acme-bulk')
    const b = await flag('globex-bulk')
    const c = await flag('initech-bulk')
    // b was shown as another request (c's): its approval must not go through.
    const out = await bulk({
      action: 'approve',
      note: 'one batch',
      items: [a, { id: b.id, digest: c.digest }, c],
    })
    expect(out.status).toBe(200)
    expect(out.body.results).toMatchObject([
      { id: a.id, ok: true, review: { status: 'approved', outcome: 'go', note: 'one batch' } },
      { id: b.id, ok: false, code: 'REVIEW_DIGEST_MISMATCH' },
      { id: c.id, ok: true, review: { status: 'approved', outcome: 'go' } },
    ])
    expect(out.body.results[1].error).toMatch(/another request/)
    expect(await status(b.id)).toBe('pending')
    // Answered already: refused for that item, not the batch; b with its own digest is approved.
    const again = await bulk({ action: 'approve', items: [a, b] })
    expect(again.status).toBe(200)
    expect(again.body.results).toMatchObject([
      { id: a.id, ok: false, code: 'REVIEW_RESOLVED' },
      { id: b.id, ok: true, review: { status: 'approved' } },
    ])
    // Another team's review, or none, is "not found" for that item.
    const unknown = await bulk({ action: 'reject', items: [{ id: 'rev_nope' }] })
    expect(unknown.body.results).toMatchObject([{ id: 'rev_nope', ok: false, code: 'NOT_FOUND' }])
  })

  it('an approval without a digest, the old ids shape, duplicates and more than 200 items are 400s naming the field', async () => {
    h = await harness()
    const a = await flag('acme-bulk')
    const refused = async (body: unknown, path: unknown[], message: RegExp) => {
      const r = await bulk(body)
      expect(r.status).toBe(400)
      expect(r.body.error.path).toEqual(path)
      expect(r.body.error.message).toMatch(message)
    }
    await refused({ action: 'approve', items: [a, { id: 'rev_2' }] }, ['items', 1, 'digest'], /digest/)
    await refused({ action: 'approve', ids: [a.id] }, ['items'], /items/)
    await refused({ action: 'reject', items: [{ id: a.id }, { id: a.id }] }, ['items', 1, 'id'], /twice/)
    await refused({ action: 'approve', items: [{ id: a.id, digest: 'abc' }] }, ['items', 0, 'digest'], /hex/)
    const many = Array.from({ length: 201 }, (_, i) => ({ id: `rev_${i}`, digest: a.digest }))
    await refused({ action: 'approve', items: many }, ['items'], /at most 200/)
    await refused({ action: 'approve', items: [] }, ['items'], /at least one/)
    expect(await status(a.id)).toBe('pending')
    // Rejecting needs no digest; 200 items is within the bound.
    const within = await bulk({
      action: 'reject',
      items: [{ id: a.id }, ...Array.from({ length: 199 }, (_, i) => ({ id: `rev_${i}` }))],
    })
    expect(within.status).toBe(200)
    expect(within.body.results).toHaveLength(200)
    expect(within.body.results[0]).toMatchObject({ id: a.id, ok: true, review: { status: 'rejected' } })
  })
})
