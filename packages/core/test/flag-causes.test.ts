import { describe, expect, it } from 'vitest'
import { decisionRecordToWire } from '../src/api/convert.ts'
import { decisionRecordSchema, decisionSchema } from '../src/api/index.ts'
import { decisionToWire } from '../src/decision/decision.ts'
import { acme, at, engine, globex } from './helpers.ts'

const causes = (d: { reasons: { rule: string; cause?: true }[] }) =>
  d.reasons.filter((r) => r.cause).map((r) => r.rule)

describe('why it was flagged: the rules that caused the verdict, apart from those that only matched', () => {
  it('a flag names its trigger and ownership as causes; the permission that matched is not one', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
    })
    expect(d.verdict).toBe('flag')
    expect(causes(d)).toEqual(['renewal-flag', 'renewal-owned-by-sales'])
    expect(d.reasons.find((r) => r.rule === 'mkt-positioning')).toEqual({
      rule: 'mkt-positioning',
      sort: 'permission',
      message: expect.any(String),
    })
  })

  it('a stop is caused by the stop alone: the flags it outweighed only matched', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.cold_prospect' },
      customer: acme,
      at: at(0),
    })
    expect(d.verdict).toBe('stop')
    expect(causes(d)).toEqual(['no-cold-to-customers'])
  })

  it('a go has no cause', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: globex,
      at: at(0),
    })
    expect(d.verdict).toBe('go')
    expect(causes(d)).toEqual([])
  })

  it('the log keeps the causes, and the API carries them; a reason logged before them still reads', async () => {
    const remit = await engine()
    const d = await remit.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: acme,
      at: at(0),
    })
    const logged = await remit.decisions.get(d.id)
    if (!logged) throw new Error('the decision was not logged')
    const wire = decisionRecordSchema.parse(decisionRecordToWire(logged))
    expect(causes(wire)).toEqual(['renewal-flag', 'renewal-owned-by-sales'])
    expect(causes(decisionSchema.parse(decisionToWire(logged)))).toEqual(causes(wire))
    const before = { ...wire, reasons: wire.reasons.map(({ cause: _, ...reason }) => reason) }
    expect(decisionRecordSchema.parse(before).reasons.every((r) => r.cause === undefined)).toBe(true)
  })
})
