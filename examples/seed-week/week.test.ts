import { fileURLToPath } from 'node:url'
import { loadPolicyFile, openRemit, openSqliteStore } from '@remit/core'
import { describe, expect, it } from 'vitest'
import { runWeek, type Step } from './scenario.ts'

// The example week's scenarios (docs/concepts.md) are Remit's acceptance tests.
describe('the example week', async () => {
  const policy = await loadPolicyFile(fileURLToPath(new URL('remit.yaml', import.meta.url)))
  const remit = await openRemit({ policy, store: openSqliteStore(':memory:') })
  const steps = await runWeek(remit)
  const decisions = steps.filter((s): s is Extract<Step, { kind: 'decision' }> => s.kind === 'decision')
  const reviews = steps.filter((s): s is Extract<Step, { kind: 'review' }> => s.kind === 'review')
  const verdictOf = (at: string) => decisions.find((s) => s.event.at === at)?.decision
  const rulesOf = (at: string) => verdictOf(at)?.reasons.map((r) => r.rule)

  it("Monday: marketing's premium positioning e-mail to the renewal is flagged to sales, who approve it", () => {
    expect(verdictOf('2026-04-06T09:00:00Z')).toMatchObject({ verdict: 'flag', reviewTeam: 'sales' })
    expect(rulesOf('2026-04-06T09:00:00Z')).toEqual([
      'renewal-flag',
      'renewal-owned-by-sales',
      'mkt-positioning',
    ])
    expect(reviews[0]).toMatchObject({
      review: { status: 'approved', outcome: 'go' },
      touch: { status: 'sent' },
    })
  })

  it('Monday: the same e-mail to Globex, a plain customer, simply goes', () => {
    expect(verdictOf('2026-04-06T09:05:00Z')?.verdict).toBe('go')
  })

  it('Tuesday: sales asks 20% on a pipeline deal (over its 15%): flagged, rejected; 10% goes', () => {
    expect(verdictOf('2026-04-07T10:00:00Z')?.verdict).toBe('flag')
    expect(rulesOf('2026-04-07T10:00:00Z')).toEqual(['no-permission'])
    expect(reviews[1]?.review).toMatchObject({ status: 'rejected', outcome: 'stop' })
    expect(verdictOf('2026-04-07T10:30:00Z')?.verdict).toBe('go')
  })

  it("Wednesday: sales's discount to Acme is paused by the 72-hour limit until Monday's e-mail ages out", () => {
    const d = verdictOf('2026-04-08T09:00:00Z')
    expect(d?.verdict).toBe('stop')
    expect(rulesOf('2026-04-08T09:00:00Z')).toEqual(['renewal-flag', 'one-touch-per-72h', 'sales-discount'])
    expect(d?.retryAfter?.toISOString()).toBe('2026-04-09T11:30:00.000Z')
  })

  it('Thursday: the retried discount is flagged (renewal) and sales rejects it', () => {
    expect(verdictOf('2026-04-09T11:45:00Z')?.verdict).toBe('flag')
    expect(reviews[2]?.review).toMatchObject({ status: 'rejected', outcome: 'stop' })
  })

  it("Friday: support's win-back is stopped: sales spoke with them yesterday, and a ticket is open", () => {
    const d = verdictOf('2026-04-10T10:00:00Z')
    expect(d?.verdict).toBe('stop')
    expect(rulesOf('2026-04-10T10:00:00Z')).toEqual([
      'no-winback-after-sales',
      'renewal-flag',
      'ticket-pause',
      'renewal-owned-by-sales',
      'support-winback',
    ])
    expect(d?.retryAfter).toBeUndefined()
  })

  it("Friday: marketing's cold-prospect e-mail to an enterprise customer is a hard stop", () => {
    expect(verdictOf('2026-04-10T10:30:00Z')?.verdict).toBe('stop')
    expect(rulesOf('2026-04-10T10:30:00Z')?.[0]).toBe('no-cold-to-customers')
  })

  it('Acme received one coherent e-mail and a call, instead of four contradictory e-mails', async () => {
    const t = await remit.timeline('acme')
    const sent = t.touches.filter((x) => x.status === 'sent')
    expect(sent.map((x) => [x.kind, x.team])).toEqual([
      ['email.positioning', 'marketing'],
      ['call', 'sales'],
    ])
    expect(t.decisions).toHaveLength(5)
    expect(t.reviews.map((r) => r.status)).toEqual(['approved', 'rejected'])
    expect(t.commitments).toEqual([])
  })
})
