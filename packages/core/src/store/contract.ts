import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Decision } from '../decision/decision.ts'
import type { Verdict } from '../decision/schema.ts'
import type { Commitment, Touch } from '../ledger/types.ts'
import { outboxMessage } from '../outbox/outbox.ts'
import type { Review } from '../review/review.ts'
import type { DecisionWrite, Store } from './store.ts'

/**
 * The one contract test suite every `Store` runs (SQLite here, PostgreSQL in @remit/store-postgres).
 * `open` makes a fresh, empty store; `reopen`, when given, opens the same data again (for durability).
 */
export function storeContract(
  name: string,
  factory: { open: () => Promise<Store>; reopen?: (store: Store) => Promise<Store> },
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store
    const opened: Store[] = []
    beforeEach(async () => {
      store = await factory.open()
      opened.push(store)
    })
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close()
    })

    const T0 = new Date('2026-04-06T09:00:00Z')
    const hours = (h: number) => new Date(T0.getTime() + h * 3600e3)

    it('persists a go with its touch and commitment in one decide', async () => {
      const write = goWrite('acme', hours(0), { commitment: true })
      const d = await store.decide(request('acme', hours(0)), () => write)
      expect(d.id).toBe(write.decision.id)
      expect(await store.getDecision(d.id)).toEqual(write.decision)
      const ledger = await store.ledger('acme', hours(-1), hours(1))
      expect(ledger.touches).toEqual([write.touch])
      expect(ledger.commitments).toEqual([write.commitment])
    })

    it("keeps a touch's action attributes: through decide, recorded touches, approvals, the ledger and the timeline", async () => {
      const attributes = { campaign: 'spring', discountUsd: 120.5, tags: ['a', 'b'], urgent: true }
      const write = goWrite('acme', hours(0))
      write.touch = { ...(write.touch as Touch), attributes }
      await store.decide(request('acme', hours(0)), () => write)
      const call = { ...recorded('acme', hours(1)), attributes: { campaign: 'renewal' } }
      await store.recordTouch(call)
      const plain = recorded('acme', hours(1.5))
      await store.recordTouch(plain)
      const flagged = flagWrite('acme', hours(0), 'sales')
      await store.decide(request('acme', hours(0)), () => flagged)
      const review = flagged.review as Review
      const approved = { ...touchFor(flagged.decision, hours(2)), attributes: { campaign: 'summer' } }
      await store.resolveReview(review.id, { since: hours(-1), now: hours(2) }, (r) => ({
        review: { ...r, status: 'approved', outcome: 'go', resolvedAt: hours(2), touchId: approved.id },
        touch: approved,
      }))
      const expected = [write.touch, call, plain, approved]
      expect((await store.ledger('acme', hours(-1), hours(3))).touches).toEqual(expected)
      expect((await store.timeline('acme')).touches).toEqual(expected)
      expect(plain).not.toHaveProperty('attributes')
    })

    it('hands the plan the ledger as it stands: counting touches since the window, outstanding commitments', async () => {
      await store.decide(request('acme', hours(0)), () =>
        goWrite('acme', hours(0), { commitment: true, lastsH: 2 }),
      )
      await store.decide(request('acme', hours(1)), () => goWrite('acme', hours(1)))
      await store.recordTouch(recorded('acme', hours(2)))
      await store.recordTouch(recorded('other', hours(2)))
      let seen: { touches: Touch[]; commitments: Commitment[] } | undefined
      await store.decide(request('acme', hours(3), hours(0.5)), (ledger) => {
        seen = ledger
        return stopWrite('acme', hours(3))
      })
      expect(seen?.touches.map((t) => t.at)).toEqual([hours(1), hours(2)])
      // The commitment made at 0h lasted 2h: at 3h it is no longer outstanding.
      expect(seen?.commitments).toEqual([])
    })

    it('answers a repeated idempotency key with the first decision and writes nothing', async () => {
      const first = await store.decide(request('acme', hours(0), undefined, 'key-1'), () =>
        goWrite('acme', hours(0), { key: 'key-1' }),
      )
      let planned = false
      const again = await store.decide(request('acme', hours(1), undefined, 'key-1'), () => {
        planned = true
        return goWrite('acme', hours(1), { key: 'key-1' })
      })
      expect(planned).toBe(false)
      expect(again).toEqual({ ...first, replayed: true })
      expect((await store.ledger('acme', hours(-1), hours(2))).touches).toHaveLength(1)
    })

    it('refuses an idempotency key sent again with another request, and writes nothing', async () => {
      const first = await store.decide(
        request('acme', hours(0), undefined, 'key-2', undefined, 'hash-a'),
        () => goWrite('acme', hours(0), { key: 'key-2' }),
      )
      const same = await store.decide(
        request('acme', hours(0), undefined, 'key-2', undefined, 'hash-a'),
        () => goWrite('acme', hours(0), { key: 'key-2' }),
      )
      expect(same).toEqual({ ...first, replayed: true })
      let planned = false
      await expect(
        store.decide(request('globex', hours(0), undefined, 'key-2', undefined, 'hash-b'), () => {
          planned = true
          return goWrite('globex', hours(0), { key: 'key-2' })
        }),
      ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' })
      expect(planned).toBe(false)
      expect((await store.ledger('globex', hours(-1), hours(1))).touches).toEqual([])
      expect(await store.listDecisions()).toHaveLength(1)
    })

    it('gives one key raced for two accounts to one request: the other is refused, never decided', async () => {
      const results = await Promise.allSettled(
        ['acme', 'globex', 'initech', 'umbrella'].map((account, i) =>
          store.decide(request(account, hours(0), undefined, 'raced', undefined, `hash-${i}`), () =>
            goWrite(account, hours(0), { key: 'raced' }),
          ),
        ),
      )
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      for (const r of results.filter((r) => r.status === 'rejected'))
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' })
      expect(await store.listDecisions()).toHaveLength(1)
    })

    it('scopes idempotency keys per agent', async () => {
      await store.decide(request('acme', hours(0), undefined, 'k', 'agent-a'), () =>
        goWrite('acme', hours(0), { key: 'k', agent: 'agent-a' }),
      )
      const other = await store.decide(request('acme', hours(0), undefined, 'k', 'agent-b'), () =>
        goWrite('acme', hours(0), { key: 'k', agent: 'agent-b' }),
      )
      expect(other.replayed).toBeUndefined()
      expect((await store.ledger('acme', hours(-1), hours(1))).touches).toHaveLength(2)
    })

    it('writes nothing when the plan throws', async () => {
      await expect(
        store.decide(request('acme', hours(0)), () => {
          throw new Error('policy exploded')
        }),
      ).rejects.toThrow('policy exploded')
      expect(await store.listDecisions()).toEqual([])
    })

    it('undoes only the write whose plan throws when writes arrive together', async () => {
      const results = await Promise.allSettled([
        store.decide(request('acme', hours(0)), () => goWrite('acme', hours(0))),
        store.decide(request('acme', hours(0)), () => {
          throw new Error('this one fails')
        }),
        store.decide(request('globex', hours(0)), () => goWrite('globex', hours(0))),
      ])
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect(await store.listDecisions()).toHaveLength(2)
      expect((await store.ledger('acme', hours(-1), hours(1))).touches).toHaveLength(1)
    })

    it('serializes decide-and-reserve per account: concurrent deciders see each other', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.decide(request('acme', hours(0)), (ledger) =>
            ledger.touches.length === 0 ? goWrite('acme', hours(0)) : stopWrite('acme', hours(0), `n${i}`),
          ),
        ),
      )
      expect(results.filter((d) => d.verdict === 'go')).toHaveLength(1)
      expect((await store.ledger('acme', hours(-1), hours(1))).touches).toHaveLength(1)
    })

    it('stops counting a failed or cancelled touch, and withdraws its commitment', async () => {
      const a = await store.decide(request('acme', hours(0)), () =>
        goWrite('acme', hours(0), { commitment: true }),
      )
      const b = await store.decide(request('acme', hours(0)), () => goWrite('acme', hours(0)))
      const c = await store.decide(request('acme', hours(0)), () => goWrite('acme', hours(0)))
      expect((await store.setTouchStatus(a.id, 'failed'))?.status).toBe('failed')
      expect((await store.setTouchStatus(b.id, 'cancelled'))?.status).toBe('cancelled')
      expect((await store.setTouchStatus(c.id, 'sent'))?.status).toBe('sent')
      const ledger = await store.ledger('acme', hours(-1), hours(1))
      expect(ledger.touches.map((t) => [t.decisionId, t.status])).toEqual([[c.id, 'sent']])
      expect(ledger.commitments).toEqual([])
    })

    it('says when a decision reserved no touch', async () => {
      const d = await store.decide(request('acme', hours(0)), () => stopWrite('acme', hours(0)))
      expect(await store.setTouchStatus(d.id, 'sent')).toBeUndefined()
      expect(await store.setTouchStatus('dec_missing', 'sent')).toBeUndefined()
    })

    it("keeps a flag's review and resolves it in the account's transaction", async () => {
      const write = flagWrite('acme', hours(0), 'sales')
      await store.decide(request('acme', hours(0)), () => write)
      const review = write.review as Review
      expect(await store.getReview(review.id)).toEqual(review)
      expect(await store.listReviews({ status: 'pending', team: 'sales' })).toEqual([review])
      expect(await store.listReviews({ team: 'support' })).toEqual([])

      const touch = touchFor(write.decision, hours(1))
      const resolved = await store.resolveReview(
        review.id,
        { since: hours(-1), now: hours(1) },
        (r, d, ledger) => {
          expect(r).toEqual(review)
          expect(d).toEqual(write.decision)
          expect(ledger.touches).toEqual([])
          return {
            review: { ...r, status: 'approved', outcome: 'go', resolvedAt: hours(1), touchId: touch.id },
            touch,
          }
        },
      )
      expect(resolved.status).toBe('approved')
      expect(await store.getReview(review.id)).toEqual(resolved)
      expect(await store.listReviews({ status: 'pending' })).toEqual([])
      expect((await store.ledger('acme', hours(-1), hours(2))).touches).toEqual([touch])
    })

    it('leaves a review as it was when resolving it throws', async () => {
      const write = flagWrite('acme', hours(0), 'sales')
      await store.decide(request('acme', hours(0)), () => write)
      const id = (write.review as Review).id
      await expect(
        store.resolveReview(id, { since: hours(-1), now: hours(1) }, () => {
          throw new Error('refused')
        }),
      ).rejects.toThrow('refused')
      expect((await store.getReview(id))?.status).toBe('pending')
      await expect(
        store.resolveReview('rev_missing', { since: hours(0), now: hours(0) }, (r) => ({ review: r })),
      ).rejects.toThrow(/not found/)
    })

    it('keeps outcomes a state machine: sent is final, failed and cancelled release once', async () => {
      const w = goWrite('acme', hours(0), { commitment: true })
      await store.decide(request('acme', hours(0)), () => w)
      const id = w.decision.id
      expect((await store.setTouchStatus(id, 'sent'))?.status).toBe('sent')
      // A retried report of the same outcome is answered, and changes nothing.
      expect((await store.setTouchStatus(id, 'sent'))?.status).toBe('sent')
      await expect(store.setTouchStatus(id, 'cancelled')).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
      })
      await expect(store.setTouchStatus(id, 'failed')).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' })
      expect((await store.ledger('acme', hours(-1), hours(1))).touches.map((t) => t.status)).toEqual(['sent'])
      expect((await store.ledger('acme', hours(-1), hours(1))).commitments).toHaveLength(1)

      const v = goWrite('globex', hours(0), { commitment: true })
      await store.decide(request('globex', hours(0)), () => v)
      expect((await store.setTouchStatus(v.decision.id, 'failed'))?.status).toBe('failed')
      await expect(store.setTouchStatus(v.decision.id, 'sent')).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
      })
      await expect(store.setTouchStatus(v.decision.id, 'reserved')).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
      })
      expect(await store.ledger('globex', hours(-1), hours(1))).toEqual({
        touches: [],
        commitments: [],
        suppressions: [],
      })
    })

    it('counts for limits exactly the touches the ledger holds as counting, after any sequence of outcomes', async () => {
      // A property test with a fixed seed: random outcome reports, legal or not, in random order.
      const random = seeded(12)
      const statuses = ['sent', 'failed', 'cancelled', 'reserved'] as const
      for (let round = 0; round < 8; round++) {
        const account = `prop-${round}`
        const ids: string[] = []
        for (let i = 0; i < 6; i++) {
          const w = goWrite(account, hours(i / 10))
          await store.decide(request(account, hours(i / 10)), () => w)
          ids.push(w.decision.id)
        }
        const expected = new Map(ids.map((id) => [id, 'reserved' as string]))
        for (let step = 0; step < 20; step++) {
          const id = ids[Math.floor(random() * ids.length)] as string
          const status = statuses[Math.floor(random() * statuses.length)] as (typeof statuses)[number]
          const from = expected.get(id) as string
          const legal = from === status || (from === 'reserved' && status !== 'reserved')
          const outcome = store.setTouchStatus(id, status)
          if (legal) {
            expect((await outcome)?.status).toBe(status)
            expected.set(id, status)
          } else await expect(outcome).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' })
          // Read it back the way deciders do (what limits count), and from the record.
          const counted = (await store.ledger(account, hours(-1), hours(1))).touches.map((t) => t.decisionId)
          const recorded = (await store.timeline(account)).touches
            .filter((t) => t.status === 'reserved' || t.status === 'sent')
            .map((t) => t.decisionId)
          const want = ids.filter((d) => ['reserved', 'sent'].includes(expected.get(d) as string))
          expect(counted.sort()).toEqual(want.sort())
          expect(recorded.sort()).toEqual(want.sort())
        }
      }
    })

    it("reads an account's timeline as its newest entries of each kind, oldest first", async () => {
      for (let i = 0; i < 5; i++) await store.recordTouch(recorded('acme', hours(i)))
      const all = await store.timeline('acme')
      expect(all.touches.map((t) => t.at)).toEqual([0, 1, 2, 3, 4].map(hours))
      const newest = await store.timeline('acme', 3)
      expect(newest.touches.map((t) => t.at)).toEqual([2, 3, 4].map(hours))
    })

    it('lists pending reviews due to expire', async () => {
      const early = flagWrite('acme', hours(0), 'sales', 10)
      const late = flagWrite('globex', hours(0), 'sales', 100)
      await store.decide(request('acme', hours(0)), () => early)
      await store.decide(request('globex', hours(0)), () => late)
      expect((await store.expiringReviews(hours(50))).map((r) => r.id)).toEqual([early.review?.id])
      expect(await store.expiringReviews(hours(5))).toEqual([])
    })

    it('filters the decision log by account, agent, team, verdict, rule and time, newest first', async () => {
      await store.decide(request('acme', hours(0)), () => goWrite('acme', hours(0)))
      await store.decide(request('acme', hours(1)), () => stopWrite('acme', hours(1), 'no-cold'))
      await store.decide(request('globex', hours(2)), () =>
        goWrite('globex', hours(2), { agent: 'sales-agent', team: 'sales' }),
      )
      const ids = async (f: Parameters<Store['listDecisions']>[0]) =>
        (await store.listDecisions(f)).map((d) => d.at)
      expect(await ids({})).toEqual([hours(2), hours(1), hours(0)])
      expect(await ids({ accountId: 'acme' })).toEqual([hours(1), hours(0)])
      expect(await ids({ verdict: 'stop' })).toEqual([hours(1)])
      expect(await ids({ rule: 'no-cold' })).toEqual([hours(1)])
      expect(await ids({ agent: 'sales-agent' })).toEqual([hours(2)])
      expect(await ids({ team: 'sales' })).toEqual([hours(2)])
      expect(await ids({ since: hours(1), until: hours(2) })).toEqual([hours(1)])
      expect(await ids({ limit: 1 })).toEqual([hours(2)])
      expect(await ids({ before: hours(2), limit: 1 })).toEqual([hours(1)])
      expect(await ids({ contactId: 'globex-c1' })).toEqual([hours(2)])
      expect(await ids({ email: 'nobody@x.example' })).toEqual([])
    })

    it("gives an account's whole timeline across agents", async () => {
      const go = goWrite('acme', hours(0), { commitment: true })
      await store.decide(request('acme', hours(0)), () => go)
      const flag = flagWrite('acme', hours(1), 'sales')
      await store.decide(request('acme', hours(1)), () => flag)
      await store.recordTouch(recorded('acme', hours(2)))
      await store.decide(request('globex', hours(0)), () => goWrite('globex', hours(0)))
      const t = await store.timeline('acme')
      expect(t.accountId).toBe('acme')
      expect(t.decisions.map((d) => d.verdict)).toEqual(['go', 'flag'])
      expect(t.touches.map((x) => x.source)).toEqual(['decision', 'recorded'])
      expect(t.reviews.map((r) => r.id)).toEqual([flag.review?.id])
      expect(t.commitments).toEqual([go.commitment])
    })

    it('records a touch named by its source once: the same external id again returns the first', async () => {
      const first = { ...recorded('acme', hours(2)), externalId: 'hubspot:call:1' }
      expect(await store.recordTouch(first)).toEqual(first)
      // Reported again (a poll that overlaps, a webhook retried), even with other details.
      const again = { ...recorded('globex', hours(3)), externalId: 'hubspot:call:1' }
      expect(await store.recordTouch(again)).toEqual(first)
      await Promise.all(
        [1, 2, 3].map(() => store.recordTouch({ ...recorded('acme', hours(4)), externalId: 'x:2' })),
      )
      expect((await store.timeline('acme')).touches.map((t) => t.externalId)).toEqual([
        'hubspot:call:1',
        'x:2',
      ])
      expect((await store.timeline('globex')).touches).toEqual([])
      // Touches without one are never merged.
      await store.recordTouch(recorded('acme', hours(5)))
      await store.recordTouch(recorded('acme', hours(5)))
      expect((await store.timeline('acme')).touches).toHaveLength(4)
    })

    it('holds suppressions in the ledger view with no window, each external id once', async () => {
      const s = (id: string, at: Date, externalId?: string) => ({
        id,
        accountId: 'acme',
        email: 'jane@acme.example',
        channel: 'email',
        reason: 'unsubscribe',
        source: 'sendgrid',
        at,
        ...(externalId ? { externalId } : {}),
      })
      const first = s('sup_1', hours(-24 * 400), 'sg:1')
      expect(await store.recordSuppression(first)).toEqual(first)
      expect(await store.recordSuppression(s('sup_2', hours(0), 'sg:1'))).toEqual(first)
      await store.recordSuppression({ ...s('sup_3', hours(1)), accountId: 'globex' })
      // A year old, far outside the touches' window: still there, in the deciding transaction too.
      const view = await store.ledger('acme', hours(-1), hours(2))
      expect(view.suppressions).toEqual([first])
      let seen: unknown
      await store.decide(request('acme', hours(2)), (ledger) => {
        seen = ledger.suppressions
        return goWrite('acme', hours(2))
      })
      expect(seen).toEqual([first])
    })

    it('lifts a suppression: the ledger no longer carries it, the record keeps who lifted it, and suppressing again works', async () => {
      const s = (id: string, at: Date) => ({
        id,
        accountId: 'acme',
        email: 'jane@acme.example',
        channel: 'email',
        reason: 'unsubscribe',
        source: 'sendgrid',
        at,
      })
      const first = await store.recordSuppression(s('sup_1', hours(0)))
      const other = await store.recordSuppression({ ...s('sup_2', hours(0)), accountId: 'globex' })
      const lift = { at: hours(1), by: 'admin', note: 'asked to hear from us again' }
      const lifted = await store.liftSuppression('sup_1', lift)
      expect(lifted).toEqual({ ...first, liftedAt: hours(1), liftedBy: 'admin', liftNote: lift.note })
      expect((await store.ledger('acme', hours(-1), hours(2))).suppressions).toEqual([])
      let seen: unknown
      await store.decide(request('acme', hours(2)), (ledger) => {
        seen = ledger.suppressions
        return goWrite('acme', hours(2))
      })
      expect(seen).toEqual([])
      expect((await store.ledger('globex', hours(-1), hours(2))).suppressions).toEqual([other])
      // Lifted again: nothing written, the first lift kept.
      expect(await store.liftSuppression('sup_1', { at: hours(3), by: 'someone-else' })).toEqual(lifted)
      await expect(store.liftSuppression('sup_none', lift)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      // Suppressed again later: a new one in force; the lifted one stays on record.
      const again = await store.recordSuppression({ ...s('sup_3', hours(4)), reason: 'spamreport' })
      expect((await store.ledger('acme', hours(-1), hours(5))).suppressions).toEqual([again])
      expect(await store.listSuppressions({ accountId: 'acme' })).toEqual([lifted, again])
      expect(await store.listSuppressions({ email: 'Jane@ACME.example', lifted: true })).toEqual([lifted])
      expect(await store.listSuppressions({ lifted: false })).toEqual([other, again])
      expect(await store.listSuppressions({ contactId: 'c9' })).toEqual([])
      expect(await store.listSuppressions({ limit: 1 })).toHaveLength(1)
    })

    it('keeps the address a touch went to, in the ledger view and the timeline', async () => {
      const go = goWrite('acme', hours(0))
      const sent = { ...(go.touch as Touch), email: 'jane@acme.example' }
      await store.decide(request('acme', hours(0)), () => ({ ...go, touch: sent }))
      const call = { ...recorded('acme', hours(1)), email: 'omar@acme.example' }
      await store.recordTouch(call)
      expect((await store.ledger('acme', hours(-1), hours(2))).touches).toEqual([sent, call])
      expect((await store.timeline('acme')).touches.map((t) => t.email)).toEqual([
        'jane@acme.example',
        'omar@acme.example',
      ])
    })

    it("links a contact id and an address for good, per account: the view read for either holds the person's links", async () => {
      const jane = { contactId: 'c1', email: 'jane@acme.example' }
      const view = (person?: { contactId?: string; email?: string }, account = 'acme') =>
        store.ledger(account, hours(-1), hours(24), person)
      // Read (and cached, where a store caches) before any link exists.
      expect((await view({ contactId: 'c1' })).identities).toEqual([])
      // Linked by a decision whatever its verdict: a stop links as a go does.
      await store.decide({ ...request('acme', hours(0)), person: jane }, () => ({
        ...stopWrite('acme', hours(0)),
        identity: jane,
      }))
      expect((await view({ contactId: 'c1' })).identities).toEqual([jane])
      expect((await view({ email: 'jane@acme.example' })).identities).toEqual([jane])
      expect((await view({ contactId: 'c9', email: 'jane@acme.example' })).identities).toEqual([jane])
      expect((await view({ contactId: 'c9' })).identities).toEqual([])
      expect((await view({ contactId: 'c1' }, 'globex')).identities).toEqual([])
      // Read for no one, the view has none.
      expect((await view()).identities).toBeUndefined()
      // Kept once however often it is made.
      await store.decide({ ...request('acme', hours(1)), person: jane }, () => ({
        ...stopWrite('acme', hours(1)),
        identity: jane,
      }))
      expect((await view({ contactId: 'c1' })).identities).toEqual([jane])
      // A recorded touch naming both links them too; links chain: c1 ~ jane@ ~ c2 ~ jane.work@.
      const c2 = { contactId: 'c2', email: 'jane@acme.example' }
      await store.recordTouch({ ...recorded('acme', hours(2)), ...c2 })
      const work = { contactId: 'c2', email: 'jane.work@acme.example' }
      await store.decide(request('acme', hours(3)), () => ({
        ...stopWrite('acme', hours(3)),
        identity: work,
      }))
      // In contact id then address order ('.' before '@').
      const person = [jane, work, c2]
      expect((await view({ contactId: 'c1' })).identities).toEqual(person)
      expect((await view({ email: 'jane.work@acme.example' })).identities).toEqual(person)
      // …and the deciding transaction sees them for the person the request names.
      let seen: unknown
      await store.decide(
        { ...request('acme', hours(4)), person: { email: 'jane.work@acme.example' } },
        (l) => {
          seen = l.identities
          return stopWrite('acme', hours(4))
        },
      )
      expect(seen).toEqual(person)
    })

    it("hands a review's plan the links of the person its decision named", async () => {
      const jane = { contactId: 'acme-c1', email: 'jane@acme.example' }
      await store.decide(request('acme', hours(0)), () => ({
        ...stopWrite('acme', hours(0)),
        identity: jane,
      }))
      // The decision keeps the address as sent; the links are read for it normalized.
      const write = flagWrite('acme', hours(1), 'sales')
      write.decision.email = ' Jane@Acme.example'
      await store.decide(request('acme', hours(1)), () => write)
      let seen: unknown
      await store.resolveReview(
        (write.review as Review).id,
        { since: hours(-1), now: hours(2) },
        (r, _d, ledger) => {
          seen = ledger.identities
          return { review: { ...r, status: 'rejected', resolvedAt: hours(2) } }
        },
      )
      expect(seen).toEqual([jane])
    })

    it('prunes touches past the window and decisions past retention, keeping pending reviews and outstanding commitments', async () => {
      const day = 24
      // Old: a go with a commitment that lasts for good, a go with one that expired, a flag still
      // pending, a flag answered; a recorded touch. New: a go.
      const forever = goWrite('acme', hours(-100 * day), { commitment: true })
      const expired = goWrite('acme', hours(-90 * day), { commitment: true, lastsH: 24 })
      const pending = flagWrite('acme', hours(-80 * day), 'sales', 200 * 24)
      const answered = flagWrite('acme', hours(-79 * day), 'sales')
      for (const w of [forever, expired, pending, answered])
        await store.decide(request('acme', w.decision.at), () => w)
      await store.resolveReview(
        (answered.review as Review).id,
        { since: hours(-120 * day), now: hours(-78 * day) },
        (r) => ({
          review: { ...r, status: 'rejected', outcome: 'stop', resolvedAt: hours(-78 * day) },
        }),
      )
      const call = { ...recorded('acme', hours(-70 * day)), externalId: 'crm:call:1' }
      await store.recordTouch(call)
      const fresh = goWrite('acme', hours(-1))
      await store.decide(request('acme', hours(-1)), () => fresh)
      const cut = { touchesBefore: hours(-30 * day), decisionsBefore: hours(-60 * day), now: hours(0) }

      const counted = await store.prune({ ...cut, dryRun: true })
      expect(counted).toMatchObject({ touches: 3, decisions: 3, reviews: 1, commitments: 1 })
      expect((await store.timeline('acme')).decisions).toHaveLength(5)

      const pruned = await store.prune(cut)
      expect(pruned).toMatchObject({ touches: 3, decisions: 3, reviews: 1, commitments: 1 })
      const after = await store.timeline('acme')
      expect(after.touches.map((t) => t.id)).toEqual([fresh.touch?.id])
      expect(after.decisions.map((d) => d.id).sort()).toEqual([pending.decision.id, fresh.decision.id].sort())
      expect(after.reviews.map((r) => r.id)).toEqual([(pending.review as Review).id])
      expect(after.commitments.map((c) => c.id)).toEqual([forever.commitment?.id])
      // What the ledger reads is as it was: the window's touches, the commitment still outstanding.
      const ledger = await store.ledger('acme', hours(-30 * day), hours(0))
      expect(ledger.touches).toEqual([fresh.touch])
      expect(ledger.commitments).toEqual([forever.commitment])
      // The review left pending can still be answered.
      await store.resolveReview(
        (pending.review as Review).id,
        { since: hours(-30 * day), now: hours(0) },
        (r) => ({
          review: { ...r, status: 'rejected', outcome: 'stop', resolvedAt: hours(0) },
        }),
      )
      // Answered, it goes at the next prune; then there is nothing more. An external id whose touch
      // was pruned may be recorded anew.
      expect(await store.prune(cut)).toMatchObject({ touches: 0, decisions: 1, reviews: 1, commitments: 0 })
      expect(await store.prune(cut)).toMatchObject({ touches: 0, decisions: 0, reviews: 0, commitments: 0 })
      const again = { ...recorded('acme', hours(-2)), externalId: 'crm:call:1' }
      expect(await store.recordTouch(again)).toEqual(again)
    })

    it("keeps an adapter's state by key, replaced on write", async () => {
      expect(await store.readState('hubspot:cursor')).toBeUndefined()
      await store.writeState('hubspot:cursor', '1')
      await store.writeState('hubspot:cursor', '2')
      await store.writeState('other', 'x')
      expect(await store.readState('hubspot:cursor')).toBe('2')
      expect(await store.readState('other')).toBe('x')
    })

    it('changes a state key atomically: concurrent updates all count, a refused one writes nothing', async () => {
      const bump = () => store.updateState('counter', (v) => String(Number(v ?? 0) + 1))
      await Promise.all(Array.from({ length: 20 }, bump))
      expect(await store.readState('counter')).toBe('20')
      await expect(
        store.updateState('counter', () => {
          throw new Error('refused')
        }),
      ).rejects.toThrow('refused')
      expect(await store.readState('counter')).toBe('20')
    })

    it("writes a candidate's diff with its decision, and lists them by candidate version, newest first", async () => {
      const diffOf = (write: DecisionWrite, candidateVersion: string): DecisionWrite => ({
        ...write,
        candidateDiff: {
          decisionId: write.decision.id,
          at: write.decision.at,
          accountId: write.decision.accountId,
          agent: write.decision.agent,
          team: write.decision.team,
          kind: write.decision.action.kind,
          policyVersion: 'v1',
          candidateVersion,
          diff: 'flip',
          live: write.decision.verdict,
          candidate: 'flag',
          candidateReviewTeam: 'sales',
          added: ['renewal-review'],
          removed: [],
        },
      })
      const first = diffOf(goWrite('acme', hours(0)), 'v2')
      const second = diffOf(goWrite('globex', hours(1)), 'v2')
      const other = diffOf(goWrite('acme', hours(2)), 'v3')
      for (const w of [first, second, other])
        await store.decide(request(w.decision.accountId, w.decision.at), () => w)
      await store.decide(request('acme', hours(3)), () => goWrite('acme', hours(3)))
      expect(await store.listCandidateDiffs({ candidateVersion: 'v2' })).toEqual([
        second.candidateDiff,
        first.candidateDiff,
      ])
      expect(await store.listCandidateDiffs({ since: hours(1) })).toEqual([
        other.candidateDiff,
        second.candidateDiff,
      ])
      expect(await store.listCandidateDiffs({ limit: 1, before: hours(2) })).toEqual([second.candidateDiff])
    })

    it("prunes a candidate's diffs with the decisions they were written with, keeping a kept decision's", async () => {
      const day = 24
      const diffOf = (write: DecisionWrite): DecisionWrite => ({
        ...write,
        candidateDiff: {
          decisionId: write.decision.id,
          at: write.decision.at,
          accountId: write.decision.accountId,
          agent: write.decision.agent,
          team: write.decision.team,
          kind: write.decision.action.kind,
          policyVersion: 'v1',
          candidateVersion: 'v2',
          diff: 'flip',
          live: write.decision.verdict,
          candidate: 'stop',
          added: ['no-discount'],
          removed: [],
        },
      })
      // Past retention: a go (its diff goes) and a flag still pending (kept, with its diff). New: a go.
      const old = diffOf(goWrite('acme', hours(-90 * day)))
      const pending = diffOf(flagWrite('globex', hours(-80 * day), 'sales', 200 * 24))
      const fresh = diffOf(goWrite('initech', hours(-1)))
      for (const w of [old, pending, fresh])
        await store.decide(request(w.decision.accountId, w.decision.at), () => w)
      const cut = { touchesBefore: hours(-30 * day), decisionsBefore: hours(-60 * day), now: hours(0) }
      expect(await store.prune({ ...cut, dryRun: true })).toMatchObject({ decisions: 1, candidateDiffs: 1 })
      expect(await store.listCandidateDiffs({})).toHaveLength(3)
      expect(await store.prune(cut)).toMatchObject({ decisions: 1, candidateDiffs: 1 })
      expect(await store.listCandidateDiffs({})).toEqual([fresh.candidateDiff, pending.candidateDiff])
      expect(await store.prune(cut)).toMatchObject({ decisions: 0, candidateDiffs: 0 })
    })

    describe('the outbox', () => {
      /** A flag answered with a message owed to `channel`, written with the answer. */
      const answered = async (account: string, channel: string, payload: Record<string, unknown> = {}) => {
        const w = flagWrite(account, hours(0), 'sales')
        await store.decide(request(account, hours(0)), () => w)
        const id = `obx_${randomUUID()}`
        await store.resolveReview((w.review as Review).id, { since: hours(-1), now: hours(1) }, (r) => ({
          review: { ...r, status: 'rejected', outcome: 'stop', resolvedAt: hours(1) },
          outbox: [
            outboxMessage(id, channel, payload, hours(1), { reviewId: r.id, decisionId: r.decisionId }),
          ],
        }))
        return id
      }

      it('keeps a message written with a review answer, in the same transaction', async () => {
        const id = await answered('acme', 'hubspot', { callbackId: 'cb-1' })
        const [m] = await store.listOutbox({ channel: 'hubspot' })
        expect(m).toMatchObject({
          id,
          channel: 'hubspot',
          payload: { callbackId: 'cb-1' },
          status: 'pending',
          attempts: 0,
        })
        expect(m?.nextAt).toEqual(hours(1))
      })

      it('writes no message when the answer is refused', async () => {
        const w = flagWrite('acme', hours(0), 'sales')
        await store.decide(request('acme', hours(0)), () => w)
        await expect(
          store.resolveReview((w.review as Review).id, { since: hours(-1), now: hours(1) }, () => {
            throw new Error('no longer pending')
          }),
        ).rejects.toThrow('no longer pending')
        expect(await store.listOutbox()).toEqual([])
      })

      it('gives a due message to one claim at a time, until its lease runs out', async () => {
        const id = await answered('acme', 'hubspot')
        await answered('globex', 'salesforce')
        const lease = 60_000
        const claims = await Promise.all(
          [1, 2, 3].map(() => store.claimOutbox('hubspot', hours(2), lease, 10)),
        )
        expect(claims.flat().map((m) => m.id)).toEqual([id])
        expect(claims.flat()[0]).toMatchObject({ attempts: 1, nextAt: new Date(hours(2).getTime() + lease) })
        expect(
          await store.claimOutbox('hubspot', new Date(hours(2).getTime() + lease - 1), lease, 10),
        ).toEqual([])
        const again = await store.claimOutbox('hubspot', new Date(hours(2).getTime() + lease), lease, 10)
        expect(again.map((m) => [m.id, m.attempts])).toEqual([[id, 2]])
        // Not yet due: nothing.
        expect(await store.claimOutbox('salesforce', hours(0), lease, 10)).toEqual([])
      })

      it('settles a message as delivered, to be retried, or dead; a dead one can be retried', async () => {
        const a = await answered('acme', 'hubspot')
        const b = await answered('globex', 'hubspot')
        const c = await answered('initech', 'hubspot')
        await store.claimOutbox('hubspot', hours(2), 1000, 10)
        expect(await store.settleOutbox(a, { status: 'delivered', at: hours(2) })).toMatchObject({
          status: 'delivered',
          deliveredAt: hours(2),
        })
        // A late failure report cannot undo a delivery.
        expect(
          await store.settleOutbox(a, { status: 'pending', error: 'late', retryAt: hours(2) }),
        ).toMatchObject({ status: 'delivered' })
        await store.settleOutbox(b, { status: 'pending', error: 'HubSpot 503', retryAt: hours(3) })
        await store.settleOutbox(c, { status: 'dead', error: 'HubSpot 401', at: hours(2) })
        expect(await store.claimOutbox('hubspot', hours(2.5), 1000, 10)).toEqual([])
        // Claimed again with a long lease, so it is not due when c is retried below.
        expect(
          (await store.claimOutbox('hubspot', hours(3), 10 * 3600e3, 10)).map((m) => [m.id, m.lastError]),
        ).toEqual([[b, 'HubSpot 503']])
        expect((await store.listOutbox({ status: 'dead' })).map((m) => m.id)).toEqual([c])
        expect(await store.retryOutbox(c, hours(4))).toMatchObject({ status: 'pending', attempts: 0 })
        expect((await store.claimOutbox('hubspot', hours(4), 1000, 10)).map((m) => m.id)).toEqual([c])
        // A delivered message is never put back: the vendor would get it twice.
        await expect(store.retryOutbox(a, hours(4))).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' })
        await expect(
          store.settleOutbox('obx_missing', { status: 'delivered', at: hours(4) }),
        ).rejects.toThrow(/not found/)
      })
    })

    if (factory.reopen) {
      const reopen = factory.reopen
      it("keeps an adapter's state across a reopen", async () => {
        await store.writeState('hubspot:cursor', '2')
        const again = await reopen(store)
        opened.push(again)
        expect(await again.readState('hubspot:cursor')).toBe('2')
      })

      it('keeps a pending message across a reopen, due as it was', async () => {
        const w = flagWrite('acme', hours(0), 'sales')
        await store.decide(request('acme', hours(0)), () => w)
        await store.resolveReview((w.review as Review).id, { since: hours(-1), now: hours(1) }, (r) => ({
          review: { ...r, status: 'approved', outcome: 'stop', resolvedAt: hours(1) },
          outbox: [outboxMessage('obx_durable', 'hubspot', { callbackId: 'cb' }, hours(1))],
        }))
        const again = await reopen(store)
        opened.push(again)
        expect((await again.claimOutbox('hubspot', hours(1), 1000, 10)).map((m) => m.id)).toEqual([
          'obx_durable',
        ])
      })

      it('has every go on disk once decide resolves', async () => {
        const write = goWrite('acme', hours(0))
        await store.decide(request('acme', hours(0)), () => write)
        const again = await reopen(store)
        opened.push(again)
        expect(await again.getDecision(write.decision.id)).toEqual(write.decision)
        expect((await again.ledger('acme', hours(-1), hours(1))).touches).toEqual([write.touch])
      })
    }
  })
}

function request(
  accountId: string,
  now: Date,
  since?: Date,
  idempotencyKey?: string,
  agent = 'marketing-agent',
  requestHash?: string,
) {
  return {
    accountId,
    agent,
    since: since ?? new Date(now.getTime() - 30 * 86400e3),
    now,
    ...(idempotencyKey ? { idempotencyKey } : {}),
    ...(requestHash ? { requestHash } : {}),
  }
}

/** A small deterministic PRNG (mulberry32), so a failing sequence is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function decision(accountId: string, at: Date, verdict: Verdict, over: Partial<Decision> = {}): Decision {
  return {
    id: `dec_${randomUUID()}`,
    at,
    agent: 'marketing-agent',
    team: 'marketing',
    tool: 'hubspot:workflow/1001',
    accountId,
    contactId: `${accountId}-c1`,
    action: { kind: 'email.positioning', attributes: {} },
    facts: { lifecycle: 'customer' },
    verdict,
    reasons:
      verdict === 'stop' ? [] : [{ rule: 'mkt-positioning', sort: 'permission', message: 'permitted' }],
    notify: [],
    policyVersion: 'v1',
    dryRun: false,
    ...over,
  }
}

function touchFor(d: Decision, at: Date): Touch {
  return {
    id: `tch_${randomUUID()}`,
    accountId: d.accountId,
    contactId: d.contactId as string,
    agent: d.agent,
    team: d.team,
    tool: d.tool as string,
    kind: d.action.kind,
    channel: 'email',
    outbound: true,
    at,
    status: 'reserved',
    decisionId: d.id,
    source: 'decision',
  }
}

function goWrite(
  accountId: string,
  at: Date,
  o: { commitment?: boolean; lastsH?: number; key?: string; agent?: string; team?: string } = {},
): DecisionWrite {
  const d = decision(accountId, at, 'go', {
    ...(o.key ? { idempotencyKey: o.key } : {}),
    ...(o.agent ? { agent: o.agent } : {}),
    ...(o.team ? { team: o.team } : {}),
  })
  const write: DecisionWrite = { decision: d, touch: touchFor(d, at) }
  if (o.commitment) {
    write.commitment = {
      id: `cmt_${randomUUID()}`,
      accountId,
      kind: 'discount',
      value: { discountPct: 10 },
      team: d.team,
      agent: d.agent,
      at,
      decisionId: d.id,
      ...(o.lastsH ? { expiresAt: new Date(at.getTime() + o.lastsH * 3600e3) } : {}),
    }
  }
  return write
}

function stopWrite(accountId: string, at: Date, rule = 'a-stop'): DecisionWrite {
  return {
    decision: decision(accountId, at, 'stop', { reasons: [{ rule, sort: 'stop', message: 'stopped' }] }),
  }
}

function flagWrite(accountId: string, at: Date, team: string, expiresInH = 72): DecisionWrite {
  const reviewId = `rev_${randomUUID()}`
  const d = decision(accountId, at, 'flag', { reviewId, reviewTeam: team })
  return {
    decision: d,
    review: {
      id: reviewId,
      decisionId: d.id,
      accountId,
      agent: d.agent,
      team,
      status: 'pending',
      createdAt: at,
      expiresAt: new Date(at.getTime() + expiresInH * 3600e3),
    },
  }
}

function recorded(accountId: string, at: Date): Touch {
  return {
    id: `tch_${randomUUID()}`,
    accountId,
    team: 'sales',
    kind: 'call',
    channel: 'phone',
    outbound: false,
    at,
    status: 'sent',
    source: 'recorded',
    note: 'renewal call',
  }
}
