import { InputError, type Store, type Touch } from '@remit/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../src/index.ts'
import { schemas, url } from './database.ts'
import { AT, goWrite, request } from './writes.ts'

// PostgreSQL holds times from 4713 BC to 294276 AD; JavaScript's Date reaches 271821 BC. A time
// outside PostgreSQL's range, or no time at all, is the caller's to fix (400), never a 500.

const fresh = schemas()
let store: Store
beforeEach(async () => {
  store = await openPostgresStore(url, { schema: fresh() })
})
afterEach(() => store.close())

const day = 86400e3
const tooEarly = new Date(-8.64e15) // 20 April 271821 BC
const invalid = new Date(Number.NaN)

async function refused(call: () => Promise<unknown>) {
  const error = await call().catch((e: unknown) => e)
  expect(error).toBeInstanceOf(InputError)
  expect(error).toMatchObject({ code: 'AT_OUT_OF_RANGE', path: ['at'] })
}

function recorded(at: Date): Touch {
  return {
    id: `tch_${at.getTime()}`,
    accountId: 'acme',
    kind: 'call',
    outbound: false,
    at,
    status: 'sent',
    source: 'recorded',
  }
}

describe('times PostgreSQL cannot hold', () => {
  it('are refused as the caller’s error on every path, and nothing is written', async () => {
    for (const bad of [tooEarly, invalid]) {
      await refused(() => store.decide(request('acme', { now: bad }), () => goWrite('acme')))
      await refused(() => store.decide(request('acme'), () => goWrite('acme', { at: bad })))
      await refused(() =>
        store.decide(request('acme', { idempotencyKey: 'k', since: bad }), () => goWrite('acme')),
      )
      await refused(() => store.ledger('acme', bad, AT))
      await refused(() => store.listDecisions({ since: bad }))
      await refused(() => store.listDecisions({ before: bad }))
      await refused(() => store.expiringReviews(bad))
      await refused(() => store.recordTouch(recorded(bad)))
    }
    expect(await store.timeline('acme')).toEqual({
      accountId: 'acme',
      touches: [],
      decisions: [],
      reviews: [],
      commitments: [],
    })
    expect((await store.decide(request('acme'), () => goWrite('acme'))).verdict).toBe('go')
  })

  it('are kept and read back exactly when PostgreSQL can hold them: year 1, BC, after 9999', async () => {
    for (const [account, at] of [
      ['year-1', new Date('0001-01-01T00:00:00.000Z')],
      ['bc', new Date('-000099-06-15T12:30:00.250Z')],
      ['far', new Date('+020000-01-01T00:00:00.000Z')],
    ] as const) {
      const write = goWrite(account, { at })
      await store.decide(request(account, { now: at }), () => write)
      await store.recordTouch({ ...recorded(at), accountId: account })
      const ledger = await store.ledger(account, new Date(at.getTime() - day), at)
      expect(ledger.touches.map((t) => t.at)).toEqual([at, at])
      expect(await store.getDecision(write.decision.id)).toEqual(write.decision)
      expect((await store.timeline(account)).touches.map((t) => t.at)).toEqual([at, at])
      expect(await store.listDecisions({ accountId: account, since: at })).toEqual([write.decision])
    }
  })
})
