import { describe, expect, it } from 'vitest'
import { openRemit, openSqliteStore, ReviewStateError } from '../src/index.ts'
import { acme, at, engine, globex, rules, seedPolicy } from './helpers.ts'

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

describe('the outbox: work an answer owes a vendor', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
  async function setup() {
    let now = Date.parse(at(1))
    const remit = await openRemit({
      policy: seedPolicy,
      store: openSqliteStore(':memory:'),
      clock: () => new Date(now),
    })
    remit.outbox.route('vendor', (review) => ({ review: review.id, outcome: review.outcome }))
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
    })
    return { remit, reviewId: d.reviewId as string, advance: (ms: number) => (now += ms) }
  }

  it('names, before the answer, the channels an approval would owe work, and writes nothing', async () => {
    const { remit, reviewId } = await setup()
    remit.outbox.route('rejections', (review) => (review.status === 'rejected' ? {} : undefined))
    const review = await remit.reviews.get(reviewId)
    const decision = review && (await remit.decisions.get(review.decisionId))
    if (!review || !decision) throw new Error('the flag was not written')
    expect(remit.outbox.owedOnApproval(review, decision)).toEqual(['vendor'])
    expect(await remit.outbox.list({ channel: 'vendor' })).toEqual([])
    expect((await remit.reviews.get(reviewId))?.status).toBe('pending')
  })

  it('is delivered at least once, retried with backoff while the vendor is down, then never again', async () => {
    const { remit, reviewId, advance } = await setup()
    let up = false
    const got: string[] = []
    const stop = remit.outbox.deliver(
      'vendor',
      async (m) => {
        if (!up) throw new Error('vendor down')
        got.push(m.id)
      },
      { everyMs: 10, baseDelayMs: 1000 },
    )
    await remit.reviews.approve(reviewId)
    const [m] = await remit.outbox.list({ channel: 'vendor' })
    expect(m).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastError: 'vendor down',
      payload: { outcome: 'go' },
    })
    up = true
    await sleep(60)
    expect(got).toEqual([]) // not due: the backoff runs on Remit's clock
    advance(2000)
    for (let i = 0; i < 100 && !got.length; i++) await sleep(10)
    expect(got).toEqual([m?.id])
    advance(3600e3)
    await sleep(60)
    expect(got).toHaveLength(1)
    expect((await remit.outbox.list())[0]).toMatchObject({ status: 'delivered', attempts: 2 })
    stop()
  })

  it('is set aside as dead after its attempts, and an operator can put it back', async () => {
    const { remit, reviewId, advance } = await setup()
    let fail = true
    const got: string[] = []
    const stop = remit.outbox.deliver(
      'vendor',
      async (m) => {
        if (fail) throw new Error('401 Unauthorized')
        got.push(m.id)
      },
      { everyMs: 5, baseDelayMs: 1, maxDelayMs: 1, maxAttempts: 3 },
    )
    await remit.reviews.reject(reviewId)
    for (let i = 0; i < 100 && !(await remit.outbox.list({ status: 'dead' })).length; i++) {
      advance(10)
      await sleep(5)
    }
    const [dead] = await remit.outbox.list({ status: 'dead' })
    expect(dead).toMatchObject({ attempts: 3, lastError: '401 Unauthorized', payload: { outcome: 'stop' } })
    fail = false
    await remit.outbox.retry(dead?.id as string)
    for (let i = 0; i < 100 && !got.length; i++) await sleep(5)
    expect(got).toEqual([dead?.id])
    stop()
  })

  it('sends due messages in batches by group, and a failed batch is retried whole', async () => {
    const remit = await openRemit({
      policy: seedPolicy,
      store: openSqliteStore(':memory:'),
      // The seed's week, running as fast as the wall clock (backoff must come due).
      clock: () => new Date(Date.parse(at(1)) + performance.now()),
    })
    remit.outbox.route('vendor', (review, decision) => ({ review: review.id, portal: decision.accountId }))
    const reviewIds: string[] = []
    for (const accountId of ['acme', 'acme', 'globex'])
      reviewIds.push(
        (
          await remit.decide('marketing-agent', {
            action: { kind: 'email.positioning' },
            customer: { ...acme, accountId, contactId: `${accountId}-${reviewIds.length}` },
            at: at(0),
          })
        ).reviewId as string,
      )
    // Answered before anyone delivers: all three wait in the outbox.
    for (const id of reviewIds) await remit.reviews.approve(id)
    const calls: string[][] = []
    let failGlobex = true
    const stop = remit.outbox.deliverBatches(
      'vendor',
      async (messages) => {
        const portals = messages.map((m) => m.payload.portal as string)
        calls.push(portals)
        if (portals.includes('globex') && failGlobex) throw new Error('globex down')
      },
      { everyMs: 5, baseDelayMs: 1, maxDelayMs: 1, groupBy: (m) => m.payload.portal as string },
    )
    for (let i = 0; i < 100 && calls.length < 2; i++) await sleep(5)
    // Two groups, one call each; which goes first depends on ids made in the same millisecond.
    expect(calls.slice(0, 2)).toHaveLength(2)
    expect(calls.slice(0, 2)).toEqual(expect.arrayContaining([['acme', 'acme'], ['globex']]))
    failGlobex = false
    for (let i = 0; i < 200 && (await remit.outbox.list({ status: 'pending' })).length; i++) await sleep(5)
    stop()
    expect((await remit.outbox.list()).map((m) => m.status)).toEqual(['delivered', 'delivered', 'delivered'])
    // The acme pair went once; globex, failed as a batch, went again alone.
    expect(calls.filter((c) => c.includes('acme'))).toEqual([['acme', 'acme']])
    expect(calls.filter((c) => c.includes('globex')).length).toBeGreaterThanOrEqual(2)
  })

  // Waits on the one line in remit.ts's settle (outside this change): its pending `retryAt` is to be
  // `nextAttemptAt(at, backoff(m.attempts, o), error)` (../src/outbox/outbox.ts). Un-skip it with that.
  it("a vendor's Retry-After is honoured: no attempt before it, though the backoff is shorter; the attempt counts", async () => {
    const { RetryLaterError } = await import('../src/adapter/index.ts')
    const { remit, reviewId, advance } = await setup()
    let tries = 0
    const stop = remit.outbox.deliver(
      'vendor',
      async () => {
        tries++
        if (tries === 1) throw new RetryLaterError('vendor says 429, retry after 5 s', { afterMs: 5000 })
      },
      { everyMs: 5, baseDelayMs: 1, maxDelayMs: 1 },
    )
    await remit.reviews.approve(reviewId)
    const [m] = await remit.outbox.list({ channel: 'vendor' })
    expect(m).toMatchObject({ status: 'pending', attempts: 1, lastError: 'vendor says 429, retry after 5 s' })
    expect(m?.nextAt.getTime()).toBe(Date.parse(at(1)) + 5000) // not the 1 ms backoff
    advance(4999)
    await sleep(60)
    expect(tries).toBe(1)
    advance(1)
    for (let i = 0; i < 100 && tries < 2; i++) await sleep(5)
    expect(tries).toBe(2)
    expect((await remit.outbox.list())[0]).toMatchObject({ status: 'delivered', attempts: 2 })
    stop()
  })

  it('owes nothing to a channel whose route returns nothing, and nothing before the answer', async () => {
    const { remit, reviewId } = await setup()
    remit.outbox.route('other', () => undefined)
    expect(await remit.outbox.list()).toEqual([])
    await remit.reviews.approve(reviewId)
    expect((await remit.outbox.list()).map((m) => m.channel)).toEqual(['vendor'])
  })
})

describe('the outbox when a vendor hangs or refuses', () => {
  it('an attempt with no answer fails after its timeout, and the channel goes on with the next', async () => {
    const remit = await openRemit({ policy: seedPolicy, store: openSqliteStore(':memory:') })
    remit.outbox.route('vendor', (review) => ({ review: review.id }))
    const sent: string[] = []
    let hang = true
    const stop = remit.outbox.deliver(
      'vendor',
      async (m) => {
        if (hang) {
          hang = false
          return new Promise<void>(() => {}) // never answers
        }
        sent.push(m.id)
      },
      { everyMs: 10, sendTimeoutMs: 50, baseDelayMs: 1, maxDelayMs: 1 },
    )
    const flag = async (account: string) =>
      (
        await remit.decide('marketing-agent', {
          action: { kind: 'email.positioning' },
          customer: { ...acme, accountId: account },
        })
      ).reviewId as string
    await remit.reviews.reject(await flag('a1'))
    await remit.reviews.reject(await flag('a2'))
    for (let i = 0; i < 100 && sent.length < 2; i++) await new Promise((r) => setTimeout(r, 20))
    expect(sent).toHaveLength(2)
    expect((await remit.outbox.list()).map((m) => m.status)).toEqual(['delivered', 'delivered'])
    stop()
  })

  it("RetryLaterError: the next attempt is the later of the backoff and the vendor's afterMs", async () => {
    const { PermanentDeliveryError, RetryLaterError } = await import('../src/adapter/index.ts')
    const { nextAttemptAt } = await import('../src/outbox/outbox.ts')
    const failedAt = new Date(Date.parse(at(1)))
    const later = (error: unknown, backoffMs: number) =>
      nextAttemptAt(failedAt, backoffMs, error).getTime() - failedAt.getTime()
    const limited = new RetryLaterError('429, Retry-After: 2', { afterMs: 2000, cause: 'http' })
    expect(limited).toBeInstanceOf(Error)
    expect(limited).toMatchObject({ name: 'RetryLaterError', afterMs: 2000, cause: 'http' })
    expect(later(limited, 50)).toBe(2000) // the vendor's wait, not the shorter backoff
    expect(later(limited, 8000)).toBe(8000) // the backoff, when it is the longer
    expect(later(new Error('503'), 50)).toBe(50)
    expect(later(new PermanentDeliveryError('400'), 50)).toBe(50)
    expect(new RetryLaterError('x', { afterMs: -5 }).afterMs).toBe(0)
    expect(new RetryLaterError('x', { afterMs: Number.NaN }).afterMs).toBe(0)
  })

  it('a refusal the vendor will repeat is dead after one attempt', async () => {
    const { PermanentDeliveryError } = await import('../src/adapter/index.ts')
    const remit = await openRemit({ policy: seedPolicy, store: openSqliteStore(':memory:') })
    remit.outbox.route('vendor', (review) => ({ review: review.id }))
    const stop = remit.outbox.deliver('vendor', async () => {
      throw new PermanentDeliveryError('vendor says 400')
    })
    const d = await remit.decide('marketing-agent', { action: { kind: 'email.positioning' }, customer: acme })
    await remit.reviews.reject(d.reviewId as string)
    expect(await remit.outbox.list()).toMatchObject([
      { status: 'dead', attempts: 1, lastError: 'vendor says 400' },
    ])
    stop()
  })
})
