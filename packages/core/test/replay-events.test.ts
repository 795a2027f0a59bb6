import { describe, expect, it } from 'vitest'
import { AGENTS, benchPolicy, KINDS } from '../bench/policy.ts'
import { loadPolicy, replay } from '../src/index.ts'

// Replay reads a plainly valid event as it is and anything else through its schema: both readings
// must come to the same report.

const policy = loadPolicy(`${benchPolicy()}ledger: { lookback: 72h }\n`)
const baseline = loadPolicy(`${benchPolicy().replace('max: 500, per: 72h', 'max: 3, per: 48h')}`)

/** A day and a half of attempts and recorded touches; `extra` adds a field replay does not read. */
async function* history(extra: boolean) {
  let seed = 5
  const rand = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    return seed / 2 ** 32
  }
  const start = Date.parse('2026-01-01T00:00:00Z')
  for (let i = 0; i < 3000; i++) {
    const at = new Date(start + i * 45_000).toISOString()
    const accountId = `acct-${(i * 7) % 40}`
    const kind = KINDS[Math.floor(rand() * KINDS.length)] as string
    const event =
      i % 10 === 9
        ? { at, touch: { accountId, kind: 'call', team: 'sales', outbound: false, channel: 'phone' } }
        : {
            at,
            agent: AGENTS[Math.floor(rand() * AGENTS.length)],
            action: kind.startsWith('offer.') ? { kind, discountPct: i % 30 } : { kind },
            customer: {
              accountId,
              ...(i % 3 === 0 ? { contactId: `${accountId}-c${i % 2}` } : {}),
              facts: {
                lifecycle: 'customer',
                tier: i % 5 ? 'smb' : 'enterprise',
                region: `r${i % 12}`,
                score: i % 100,
              },
              // The schema drops a customer field it does not know; the attempt is replayed without it.
              ...(extra ? { crmOwner: 'someone' } : {}),
            },
            ...(i % 4 === 0 ? { ref: `crm-${i}` } : {}),
          }
    yield { line: i + 1, event }
  }
}

describe('replay reading events', () => {
  it('comes to the same report for events read as they are and events read through the schema', async () => {
    for (const o of [{}, { baseline }, { baseline, assumeApproved: true }]) {
      const plain = await replay(policy, history(false), o)
      const parsed = await replay(policy, history(true), o)
      expect(plain.attempts).toBe(2700)
      // The ledger matters here: touches held some attempts back.
      expect(plain.verdicts.go).toBeGreaterThan(0)
      expect(plain.verdicts.stop).toBeGreaterThan(0)
      expect(parsed).toEqual(plain)
    }
  })

  it('reports what is wrong with an event it cannot read plainly, as the schema words it', async () => {
    async function* odd() {
      const at = '2026-01-01T00:00:00Z'
      yield { line: 1, event: { at, touch: { accountId: 'a', kind: 'call', outbound: 'no' } } }
      yield { line: 2, event: { at, agent: null, action: { kind: 'x' }, customer: {} } }
      yield { line: 3, event: { at: '2026-01-01T00:00:00', agent: 'a', action: { kind: 'x' }, customer: {} } }
      yield { line: 4, event: { at, agent: AGENTS[0], action: { kind: KINDS[0] }, customer: { facts: [] } } }
    }
    const report = await replay(policy, odd())
    expect(report.errors).toEqual([
      { line: 1, message: '"touch.outbound": Invalid input: expected boolean, received string' },
      { line: 2, message: '"agent": Invalid input: expected string, received null' },
      {
        line: 3,
        message:
          '"at" must be an ISO 8601 time with an offset, e.g. 2026-04-10T10:00:00Z; got "2026-01-01T00:00:00"',
      },
      { line: 4, message: '"customer.facts": Invalid input: expected record, received array' },
    ])
  })
})
