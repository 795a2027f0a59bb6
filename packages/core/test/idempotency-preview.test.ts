import { describe, expect, it } from 'vitest'
import { ConflictError } from '../src/index.ts'
import { acme, at, engine } from './helpers.ts'

// An adapter that began sending a preview (HubSpot, Salesforce) retries, with the same key, a call
// it first made before it did — across an upgrade. That is the same request, not another one.
const ask = (preview?: { subject: string }, attributes: Record<string, unknown> = {}) => ({
  action: { kind: 'email.positioning', ...attributes },
  customer: acme,
  idempotencyKey: 'interview-0001',
  at: at(0),
  ...(preview ? { preview } : {}),
})

describe('an idempotency key and the preview', () => {
  it('asked first without a preview, retried with one: the first decision, replayed', async () => {
    const remit = await engine()
    const first = await remit.decide('marketing-agent', ask())
    const retry = await remit.decide('marketing-agent', ask({ subject: 'Renewal' }))
    expect(retry).toMatchObject({ id: first.id, replayed: true })
  })

  it('asked first with a preview, retried with another: another request, refused', async () => {
    const remit = await engine()
    await remit.decide('marketing-agent', ask({ subject: 'Renewal' }))
    const error = await remit.decide('marketing-agent', ask({ subject: 'Something else' })).catch((e) => e)
    expect(error).toBeInstanceOf(ConflictError)
    expect(error.code).toBe('IDEMPOTENCY_KEY_REUSED')
  })

  it('asked first without a preview, retried with one and another customer: refused', async () => {
    const remit = await engine()
    await remit.decide('marketing-agent', ask())
    const error = await remit
      .decide('marketing-agent', {
        ...ask({ subject: 'Renewal' }),
        customer: { ...acme, accountId: 'globex' },
      })
      .catch((e) => e)
    expect(error.code).toBe('IDEMPOTENCY_KEY_REUSED')
  })
})
