import { readFileSync } from 'node:fs'
import { SpanStatusCode, trace } from '@opentelemetry/api'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { openRemit, openSqliteStore } from '../src/index.ts'
import { at, MON, seedPolicy } from './helpers.ts'

// Spans through @opentelemetry/api, seen by an SDK registered as an application registers one.
const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
beforeAll(() => {
  trace.setGlobalTracerProvider(provider)
})
afterAll(async () => {
  trace.disable()
  await provider.shutdown()
})
beforeEach(() => exporter.reset())

const spans = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name)
/** Everything a span tells an exporter besides timing: its attributes, events and status. */
const told = (list: ReadableSpan[]) =>
  JSON.stringify(list.map((s) => ({ attributes: s.attributes, events: s.events, status: s.status })))

// A customer whose every identifier and value is distinctive, so its appearing anywhere is visible.
const pat = {
  accountId: 'acct-7QX',
  contactId: 'contact-9ZK',
  email: 'pat.quill@customer-example.test',
  facts: {
    lifecycle: 'customer',
    tier: 'smb',
    renewalValue: 987654.32,
    lastTicketOpenedAt: '2026-01-02T03:04:05Z',
  },
}
const piiOfPat = [
  'acct-7QX',
  'contact-9ZK',
  'pat.quill',
  'customer-example',
  '987654',
  '2026-01-02',
  'smb',
  // No attribute name or value speaks of the customer at all.
  'customer',
]

async function engine() {
  return openRemit({ policy: seedPolicy, store: openSqliteStore(':memory:'), clock: () => new Date(MON) })
}

describe('spans', () => {
  it('a decision makes one remit.decide span with who, what, the verdict and its rules — and nothing of the customer', async () => {
    const remit = await engine()
    const d = await remit.decide(
      { tool: 'salesforce:flow/Renewal_Offer' },
      {
        action: { kind: 'offer.discount', discountPct: 13.37 },
        customer: pat,
        idempotencyKey: 'offer-for-acct-7QX',
        preview: { subject: 'A private offer', text: 'Dear Pat, 13.37% off' },
      },
    )
    expect(d.verdict).toBe('go')
    const [span, ...more] = spans('remit.decide')
    expect(more).toEqual([])
    expect(span?.instrumentationScope).toEqual({
      name: '@remit/core',
      version: JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version,
    })
    expect(span?.attributes).toEqual({
      'remit.decision.id': d.id,
      'remit.agent': 'sales-agent',
      'remit.team': 'sales',
      'remit.tool': 'salesforce:flow/Renewal_Offer',
      'remit.action.kind': 'offer.discount',
      'remit.verdict': 'go',
      'remit.rule_ids': ['sales-discount'],
      'remit.policy.version': seedPolicy.version,
      'remit.decision.dry_run': false,
    })
    expect(span?.status.code).toBe(SpanStatusCode.UNSET)
    const text = told(exporter.getFinishedSpans())
    for (const value of [...piiOfPat, '13.37', 'A private offer', 'Dear Pat', 'offer-for-acct'])
      expect(text).not.toContain(value)
  })

  it('a flag names its review and the team whose queue it went to', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { ...pat, facts: { lifecycle: 'renewal', tier: 'enterprise' } },
    })
    expect(spans('remit.decide')[0]?.attributes).toMatchObject({
      'remit.verdict': 'flag',
      'remit.rule_ids': ['renewal-flag', 'renewal-owned-by-sales', 'mkt-positioning'],
      'remit.review.id': d.reviewId,
      'remit.review.team': 'sales',
    })
  })

  it('a refused decision is recorded on its span with status ERROR, by its code, without the value sent', async () => {
    const remit = await engine()
    await expect(
      remit.decide('sales-agent', {
        action: { kind: 'offer.discount', discountPct: 'lots-and-lots' },
        customer: pat,
      }),
    ).rejects.toMatchObject({ code: 'BAD_TYPE' })
    const [span] = spans('remit.decide')
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'InputError BAD_TYPE' })
    expect(span?.attributes['error.type']).toBe('BAD_TYPE')
    expect(span?.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([
      ['exception', 'InputError BAD_TYPE'],
    ])
    const text = told([span as ReadableSpan])
    for (const value of [...piiOfPat, 'lots-and-lots']) expect(text).not.toContain(value)
  })

  it('approving, rejecting and expiring a flag each make a remit.review.resolve span with the outcome', async () => {
    const remit = await engine()
    let n = 0
    const flag = async () =>
      (
        await remit.decide('marketing-agent', {
          action: { kind: 'email.positioning' },
          customer: {
            ...pat,
            accountId: `acct-${++n}`,
            facts: { lifecycle: 'renewal', tier: 'smb' },
          },
          at: at(0),
        })
      ).reviewId as string
    const [approved, rejected, expired] = [await flag(), await flag(), await flag()]
    await remit.reviews.approve(approved, { by: 'dana', at: at(1) })
    await remit.reviews.reject(rejected, { by: 'dana', note: 'not for Pat', at: at(1) })
    await remit.reviews.expire(at(80))
    const byReview = new Map(spans('remit.review.resolve').map((s) => [s.attributes['remit.review.id'], s]))
    expect(byReview.get(approved)?.attributes).toMatchObject({
      'remit.review.status': 'approved',
      'remit.review.team': 'sales',
      'remit.verdict': 'go',
      'remit.rule_ids': ['review-approved'],
      'remit.agent': 'marketing-agent',
      'remit.team': 'marketing',
      'remit.action.kind': 'email.positioning',
      'remit.policy.version': seedPolicy.version,
    })
    expect(byReview.get(rejected)?.attributes).toMatchObject({
      'remit.review.status': 'rejected',
      'remit.verdict': 'stop',
      'remit.rule_ids': ['review-rejected'],
    })
    expect(byReview.get(expired)?.attributes).toMatchObject({
      'remit.review.status': 'expired',
      'remit.verdict': 'stop',
      'remit.rule_ids': ['review-expired'],
    })
    // The reviewer's note and name stay in the review, not in the trace.
    const text = told(spans('remit.review.resolve'))
    for (const value of ['dana', 'not for Pat', 'acct-']) expect(text).not.toContain(value)
  })

  it('answering a review twice is an ERROR span naming the review and the code', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { ...pat, facts: { lifecycle: 'renewal', tier: 'smb' } },
      at: at(0),
    })
    await remit.reviews.approve(d.reviewId as string, { at: at(1) })
    await expect(remit.reviews.reject(d.reviewId as string, { at: at(2) })).rejects.toThrow()
    const failed = spans('remit.review.resolve').find((s) => s.status.code === SpanStatusCode.ERROR)
    expect(failed?.attributes).toMatchObject({
      'remit.review.id': d.reviewId,
      'remit.review.status': 'rejected',
      'error.type': 'REVIEW_RESOLVED',
    })
  })

  it('each delivery attempt makes a remit.outbox.deliver span with its channel, attempt and outcome', async () => {
    let now = Date.parse(at(1))
    const remit = await openRemit({
      policy: seedPolicy,
      store: openSqliteStore(':memory:'),
      clock: () => new Date(now),
    })
    remit.outbox.route('vendor', (review) => ({
      review: review.id,
      email: 'pat.quill@customer-example.test',
    }))
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { ...pat, facts: { lifecycle: 'renewal', tier: 'smb' } },
      at: at(0),
    })
    let up = false
    const stop = remit.outbox.deliver(
      'vendor',
      async () => {
        if (!up) throw new Error('vendor down for pat.quill@customer-example.test')
      },
      { everyMs: 5, baseDelayMs: 1, maxDelayMs: 1 },
    )
    await remit.reviews.approve(d.reviewId as string)
    up = true
    now += 10
    for (let i = 0; i < 200 && !spans('remit.outbox.deliver').some(delivered); i++)
      await new Promise((r) => setTimeout(r, 5))
    stop()
    const [first, second] = spans('remit.outbox.deliver')
    const [message] = await remit.outbox.list()
    expect(first?.attributes).toEqual({
      'remit.outbox.channel': 'vendor',
      'remit.outbox.messages': 1,
      'remit.outbox.attempt': 1,
      'remit.outbox.message_id': message?.id,
      'remit.review.id': d.reviewId,
      'remit.decision.id': d.id,
      'remit.outbox.outcome': 'retry',
      'error.type': 'Error',
    })
    expect(first?.status.code).toBe(SpanStatusCode.ERROR)
    expect(second?.attributes).toMatchObject({
      'remit.outbox.attempt': 2,
      'remit.outbox.outcome': 'delivered',
    })
    expect(second?.status.code).toBe(SpanStatusCode.UNSET)
    // Neither the payload nor the vendor's words about the customer reach the trace.
    expect(told(spans('remit.outbox.deliver'))).not.toContain('pat.quill')
  })
})

const delivered = (s: ReadableSpan) => s.attributes['remit.outbox.outcome'] === 'delivered'
