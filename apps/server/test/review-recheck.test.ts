import { afterEach, describe, expect, it } from 'vitest'
import { acme, type Harness, harness } from './helpers.ts'

let h: Harness
afterEach(async () => h?.server.close())

/** A flag of the marketing agent's, approved by sales: its review id and decision id. */
async function approvedFlag() {
  const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
    action: { kind: 'email.positioning' },
    customer: acme,
  })
  expect(d.body).toMatchObject({ verdict: 'flag', reviewTeam: 'sales' })
  const approved = await h.call('POST', `/v1/reviews/${d.body.reviewId}/approve`, h.key.salesReviewer, {})
  expect(approved.body).toMatchObject({ status: 'approved', outcome: 'go' })
  return { reviewId: d.body.reviewId as string, decisionId: d.body.id as string }
}

describe("GET /v1/reviews/{id}/recheck: an approved review's stops, now", () => {
  it('is ok for the flag’s own agent, its team’s reviewers and admins while no stop holds', async () => {
    h = await harness()
    const { reviewId } = await approvedFlag()
    for (const key of [h.key.marketing, h.key.salesReviewer, h.key.admin]) {
      const check = await h.call('GET', `/v1/reviews/${reviewId}/recheck`, key)
      expect(check.status).toBe(200)
      expect(check.body).toEqual({ ok: true, reasons: [] })
    }
  })

  it('says which stop holds once a suppression is recorded, and writes nothing', async () => {
    h = await harness()
    const { reviewId, decisionId } = await approvedFlag()
    await h.server.remit.recordSuppression({ accountId: 'acme', reason: 'unsubscribe', source: 'sendgrid' })
    const check = await h.call('GET', `/v1/reviews/${reviewId}/recheck`, h.key.marketing)
    expect(check.status).toBe(200)
    expect(check.body).toMatchObject({ ok: false, reasons: [{ rule: 'suppression', sort: 'stop' }] })
    const touch = (await h.server.remit.timeline('acme')).touches.find((t) => t.decisionId === decisionId)
    expect(touch?.status).toBe('reserved')
  })

  it("is not found for another agent, another team's reviewer, or an unknown review", async () => {
    h = await harness()
    const { reviewId } = await approvedFlag()
    for (const key of [h.key.sales, h.key.supportReviewer])
      expect((await h.call('GET', `/v1/reviews/${reviewId}/recheck`, key)).status).toBe(404)
    const unknown = await h.call('GET', '/v1/reviews/rev_nope/recheck', h.key.admin)
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe('NOT_FOUND')
    expect((await h.call('GET', `/v1/reviews/${reviewId}/recheck`)).status).toBe(401)
  })

  it('is a 409 for a review that is not approved with outcome go', async () => {
    h = await harness()
    const d = await h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: acme,
    })
    const pending = await h.call('GET', `/v1/reviews/${d.body.reviewId}/recheck`, h.key.marketing)
    expect(pending.status).toBe(409)
    expect(pending.body.error.code).toBe('REVIEW_NOT_APPROVED')
  })
})
