import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openSqliteStore } from '@remit/core'
import { describe, expect, it } from 'vitest'
import { remit } from './remit.ts'

// `remit suppress` and `remit touch` write to the store `remit serve` uses: what they record, the
// next decision sees. They never create a store: a mistyped path is bad input (exit 2).

const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))

/** An existing, empty SQLite store, as `remit serve` leaves one. */
async function storeFile(): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'remit-suppress-')), 'remit.db')
  await openSqliteStore(path).close()
  return path
}

/** A dry-run discount for this customer: its verdict, and the rule that decided it (the first reason). */
async function discountFor(
  store: string,
  customer: string[],
): Promise<{ verdict: string; rule: string | undefined }> {
  const r = await remit(
    'decide',
    '--policy',
    seed,
    '--store',
    store,
    '--agent',
    'sales-agent',
    '--action',
    'offer.discount',
    '--attr',
    'discountPct=5',
    ...customer,
    '--fact',
    'lifecycle=customer',
    '--fact',
    'tier=smb',
    '--dry-run',
    '--json',
  )
  expect(r.code, r.err).toBe(0)
  const d = JSON.parse(r.out) as { verdict: string; reasons: { rule: string }[] }
  return { verdict: d.verdict, rule: d.reasons[0]?.rule }
}

describe('remit suppress', () => {
  it('add stops the next decision for that address by `suppression`; lift lets it go; list shows both states', async () => {
    const store = await storeFile()
    const jane = ['--email', 'jane@acme.example']
    expect((await discountFor(store, jane)).verdict).toBe('go')
    const added = await remit(
      'suppress',
      'add',
      '--store',
      store,
      '--email',
      'Jane@Acme.example',
      '--channel',
      'email',
      '--reason',
      'unsubscribe',
    )
    expect(added.code, added.err).toBe(0)
    const id = /^(sup_\S+):/.exec(added.out)?.[1] as string
    expect(added.out).toMatch(/jane@acme\.example is suppressed on email \(unsubscribe\)/)
    expect(await discountFor(store, jane)).toEqual({ verdict: 'stop', rule: 'suppression' })

    const lifted = await remit('suppress', 'lift', id, '--store', store, '--note', 'resubscribed')
    expect(lifted.code, lifted.err).toBe(0)
    expect(lifted.out).toBe(`${id} lifted: jane@acme.example is no longer suppressed on email`)
    expect((await discountFor(store, jane)).verdict).toBe('go')
    // Lifted again: nothing changes, and it says so.
    expect((await remit('suppress', 'lift', id, '--store', store)).out).toMatch(/already lifted/)

    // Suppressed again later: a new one in force, the lifted one on record.
    await remit('suppress', 'add', '--store', store, '--email', 'jane@acme.example', '--reason', 'spamreport')
    expect(await discountFor(store, jane)).toEqual({ verdict: 'stop', rule: 'suppression' })
    const list = await remit('suppress', 'list', '--store', store, '--email', 'JANE@acme.example')
    expect(list.code).toBe(0)
    const lines = list.out.split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      new RegExp(
        `^lifted +${id} jane@acme\\.example, email: unsubscribe, .* — lifted .* \\(resubscribed\\)$`,
      ),
    )
    expect(lines[1]).toMatch(/^in force sup_\S+ jane@acme\.example, every channel: spamreport/)
    const json = JSON.parse((await remit('suppress', 'list', '--store', store, '--json')).out)
    expect(json).toMatchObject([
      { id, email: 'jane@acme.example', reason: 'unsubscribe', liftNote: 'resubscribed' },
      { reason: 'spamreport' },
    ])
    expect(json[0].liftedAt).toEqual(expect.any(String))
    expect(json[1].liftedAt).toBeUndefined()
    expect((await remit('suppress', 'list', '--store', store, '--account', 'globex')).out).toBe(
      'no suppressions (for this filter)',
    )
  })

  it('lifting an unknown id is bad input (exit 2), and remove is the same command as lift', async () => {
    const store = await storeFile()
    for (const verb of ['lift', 'remove']) {
      const r = await remit('suppress', verb, 'sup_none', '--store', store)
      expect(r.code, verb).toBe(2)
      expect(r.err, verb).toMatch(/suppression sup_none not found/)
    }
  })

  it('add without a customer or a reason is bad input (exit 2), and writes nothing', async () => {
    const store = await storeFile()
    const noOne = await remit('suppress', 'add', '--store', store, '--reason', 'manual')
    expect(noOne.code).toBe(2)
    expect(noOne.err).toMatch(/--email, --contact or --account/)
    const noReason = await remit('suppress', 'add', '--store', store, '--email', 'a@b.example')
    expect(noReason.code).toBe(2)
    expect(noReason.err).toMatch(/--reason/)
    expect((await remit('suppress', 'list', '--store', store)).out).toBe('no suppressions (for this filter)')
  })
})

describe('remit touch', () => {
  it('records a touch that happened elsewhere, and a limit counts it', async () => {
    const store = await storeFile()
    const acme = ['--account', 'acme']
    expect((await discountFor(store, acme)).verdict).toBe('go')
    const r = await remit(
      'touch',
      '--store',
      store,
      '--policy',
      seed,
      '--account',
      'acme',
      '--email',
      'jane@acme.example',
      '--kind',
      'call',
      '--channel',
      'phone',
      '--team',
      'sales',
      '--outbound',
      '--note',
      'renewal chat',
    )
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(
      /^tch_\S+: outbound call \(phone\) for account acme \(jane@acme\.example\), team sales, at /,
    )
    expect(await discountFor(store, acme)).toEqual({ verdict: 'stop', rule: 'one-touch-per-72h' })
  })

  it('an inbound touch counts toward no outbound limit; a team the policy lacks is bad input', async () => {
    const store = await storeFile()
    const base = ['touch', '--store', store, '--policy', seed, '--account', 'acme', '--kind', 'call']
    expect((await remit(...base, '--inbound', '--at', '2026-04-06T09:00:00Z')).code).toBe(0)
    expect((await discountFor(store, ['--account', 'acme'])).verdict).toBe('go')
    const unknown = await remit(...base, '--team', 'finance')
    expect(unknown.code).toBe(2)
    expect(unknown.err).toMatch(/unknown team "finance"/)
    const both = await remit(...base, '--inbound', '--outbound')
    expect(both.code).toBe(2)
    const badAt = await remit(...base, '--at', 'yesterday')
    expect(badAt.code).toBe(2)
    expect(badAt.err).toMatch(/--at wants an ISO 8601 time/)
  })
})

describe('a store that is not there', () => {
  it('suppress add, list, lift and touch refuse a missing SQLite path (exit 2) and create no file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'remit-suppress-')), 'nothere.db')
    for (const argv of [
      ['suppress', 'add', '--store', path, '--email', 'a@b.example', '--reason', 'manual'],
      ['suppress', 'list', '--store', path],
      ['suppress', 'lift', 'sup_1', '--store', path],
      ['touch', '--store', path, '--policy', seed, '--account', 'acme', '--kind', 'call'],
    ]) {
      const r = await remit(...argv)
      expect(r.code, argv.join(' ')).toBe(2)
      expect(r.err).toMatch(/^error: no store at .*nothere\.db/)
    }
    expect(existsSync(path)).toBe(false)
  })
})
