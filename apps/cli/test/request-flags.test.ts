import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openSqliteStore } from '@remit/core'
import { describe, expect, it } from 'vitest'
import { remit } from './remit.ts'

// --at, --idempotency-key and --dry-run hold for a --request body as for flags: a body is not a way
// around them (the probe's `decide --request body.json --dry-run` recorded the decision).

const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))

function files(body: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'remit-request-'))
  const request = join(dir, 'body.json')
  writeFileSync(request, JSON.stringify(body))
  return { request, store: join(dir, 'remit.db') }
}

const body = {
  action: { kind: 'offer.discount', discountPct: 10 },
  customer: { accountId: 'globex', facts: { lifecycle: 'customer' } },
}

async function logged(store: string) {
  const s = openSqliteStore(store)
  try {
    return await s.listDecisions()
  } finally {
    await s.close()
  }
}

const decide = (request: string, store: string, ...flags: string[]) =>
  remit(
    'decide',
    '--policy',
    seed,
    '--agent',
    'sales-agent',
    '--store',
    store,
    '--request',
    request,
    ...flags,
  )

describe('remit decide --request with --dry-run, --at and --idempotency-key', () => {
  it('--dry-run decides without logging, as it does with flags', async () => {
    const f = files(body)
    const r = await decide(f.request, f.store, '--dry-run', '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.out)).toMatchObject({ verdict: 'go', dryRun: true })
    expect(await logged(f.store)).toEqual([])
    // Without it, the same body is logged.
    expect((await decide(f.request, f.store)).code).toBe(0)
    expect(await logged(f.store)).toHaveLength(1)
  })

  it('--at and --idempotency-key reach the decision', async () => {
    const f = files(body)
    const r = await decide(
      f.request,
      f.store,
      '--at',
      '2026-04-10T12:00:00+02:00',
      '--idempotency-key',
      'k-1',
    )
    expect(r.code).toBe(0)
    const [d] = await logged(f.store)
    expect(d?.at.toISOString()).toBe('2026-04-10T10:00:00.000Z')
    // The same key again is the same decision.
    const again = await decide(f.request, f.store, '--at', '2026-04-10T10:00:00Z', '--idempotency-key', 'k-1')
    expect(again.code).toBe(0)
    expect(await logged(f.store)).toHaveLength(1)
    expect(again.out).toContain(d?.id as string)
  })

  it('a flag the body contradicts is a usage error naming both; the same value is fine', async () => {
    const f = files({ ...body, at: '2026-04-09T10:00:00Z', dryRun: false, idempotencyKey: 'a' })
    const at = await decide(f.request, f.store, '--at', '2026-04-10T10:00:00Z')
    expect(at.code).toBe(2)
    expect(at.err).toBe(
      `error: --at 2026-04-10T10:00:00Z conflicts with "at": "2026-04-09T10:00:00Z" in ${f.request}\n  hint: give one of them, or the same value in both`,
    )
    const dry = await decide(f.request, f.store, '--dry-run')
    expect(dry.code).toBe(2)
    expect(dry.err).toMatch(/^error: --dry-run conflicts with "dryRun": false in /)
    const key = await decide(f.request, f.store, '--idempotency-key', 'b')
    expect(key.code).toBe(2)
    expect(key.err).toMatch(/^error: --idempotency-key b conflicts with "idempotencyKey": "a" in /)
    expect(await logged(f.store)).toEqual([])
    expect((await decide(f.request, f.store, '--at', '2026-04-09T12:00:00+02:00')).code).toBe(0)
  })

  it('explain --request takes --at too', async () => {
    const f = files(body)
    const r = await remit(
      'explain',
      '--policy',
      seed,
      '--agent',
      'sales-agent',
      '--request',
      f.request,
      '--at',
      '2026-04-10T10:00:00Z',
    )
    expect(r.code).toBe(0)
    expect(r.out).toContain('sales-agent (sales) wants offer.discount for globex at 2026-04-10T10:00:00.000Z')
  })
})

describe('--at', () => {
  it('anything but an ISO 8601 time with an offset is a usage error (2), not a bug (3)', async () => {
    for (const at of ['yesterday', '2026-04-10T10:00', '2026-13-40T10:00:00Z']) {
      for (const command of ['decide', 'explain']) {
        const r = await remit(
          command,
          '--policy',
          seed,
          '--agent',
          'sales-agent',
          '--action',
          'offer.discount',
          '--attr',
          'discountPct=5',
          '--account',
          'a',
          '--at',
          at,
        )
        expect(r.code, `${command} --at ${at}`).toBe(2)
        expect(r.err).toBe(
          `error: --at wants an ISO 8601 time with an offset, e.g. 2026-04-10T10:00:00Z; got "${at}"`,
        )
      }
    }
  })
})
