import { describe, expect, it } from 'vitest'
import { AGENTS, benchPolicy, KINDS } from '../bench/policy.ts'
import { loadPolicy, replay } from '../src/index.ts'

// The bench policy with a 72h ledger: its rules read touches of the last 24h to 72h, so a history of
// three weeks is pruned many times over.
const policy = loadPolicy(`${benchPolicy()}ledger: { lookback: 72h }\n`)
const baseline = loadPolicy(`${benchPolicy().replace('max: 500, per: 72h', 'max: 3, per: 48h')}`)

async function* history(events: number, cycle = 5000) {
  let seed = 11
  const rand = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    return seed / 2 ** 32
  }
  const start = Date.parse('2026-01-01T00:00:00Z')
  for (let i = 0; i < events; i++) {
    // One event a minute, over 300 accounts: some go quiet for days, then come back.
    const at = new Date(start + i * 60_000).toISOString()
    const accountId = `acct-${Math.floor(rand() * (i % cycle < cycle / 2 ? 300 : 30))}`
    const kind = KINDS[i % KINDS.length] as string
    const event =
      i % 10 === 9
        ? { at, touch: { accountId, kind: 'call', team: 'sales', outbound: false } }
        : {
            at,
            agent: AGENTS[Math.floor(rand() * AGENTS.length)],
            action: kind.startsWith('offer.') ? { kind, discountPct: Math.floor(rand() * 30) } : { kind },
            customer: {
              accountId,
              facts: {
                lifecycle: rand() < 0.1 ? 'renewal' : 'customer',
                tier: rand() < 0.2 ? 'enterprise' : 'smb',
                region: `r${i % 12}`,
                score: Math.floor(rand() * 100),
              },
            },
          }
    yield { line: i + 1, event }
  }
}

describe('replay over a long history', () => {
  it('reaches the same verdicts whether it prunes touches older than the lookback or keeps them all', async () => {
    const events = 30_000 // about three weeks, seven lookbacks
    for (const o of [{}, { baseline }, { baseline, assumeApproved: true }]) {
      const pruned = await replay(policy, history(events), o)
      const kept = await replay(policy, history(events), { ...o, prune: false })
      expect(pruned.attempts).toBeGreaterThan(25_000)
      // The ledger matters here: touches held some attempts back.
      expect(pruned.verdicts.stop).toBeGreaterThan(0)
      expect(pruned.verdicts.go).toBeGreaterThan(0)
      expect(pruned).toEqual(kept)
    }
  }, 60_000)

  it('keeps going when every touch of an account has aged out of its ledger (a quiet account)', async () => {
    // Past 50,000 touches the old ledger swept itself and met the empty list a quiet account left
    // behind: "Cannot read properties of undefined (reading 'at')". Here most accounts go quiet for
    // three and a half days at a time, longer than the 72h lookback.
    const report = await replay(policy, history(250_000, 10_000))
    expect(report.attempts).toBeGreaterThan(200_000)
    expect(report.errors ?? []).toEqual([])
  }, 120_000)
})
