import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { run } from '../src/index.ts'

const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))

it('replay says what is wrong with each line it cannot replay, not "line: Invalid input"', async () => {
  const good = {
    at: '2026-04-06T09:00:00Z',
    agent: 'sales-agent',
    action: { kind: 'offer.discount', discountPct: 10 },
    customer: { accountId: 'initech', facts: { lifecycle: 'prospect' } },
  }
  const lines = [
    JSON.stringify(good),
    'not json',
    '[1]',
    '{"foo":1}',
    JSON.stringify({ ...good, at: undefined }),
    '{"at":"yesterday","touch":{"accountId":"a","kind":"call"}}',
    '{"at":"2026-04-07T09:00:00Z","touch":{"kind":"call"}}',
    JSON.stringify({ ...good, at: '2026-04-07T09:00:00Z', agent: undefined }),
    JSON.stringify({ ...good, at: '2026-04-07T09:00:00Z', extra: 1 }),
  ]
  const history = join(mkdtempSync(join(tmpdir(), 'remit-replay-')), 'history.ndjson')
  writeFileSync(history, `${lines.join('\n')}\n`)
  const out: string[] = []
  const code = await run(['replay', '--policy', seed, '--touches', history], {
    out: (l) => out.push(l),
    err: () => {},
    color: false,
  })
  expect(code).toBe(0)
  const errors = out.filter((l) => /^ {2}line \d+: /.test(l))
  expect(errors).toEqual([
    `  line 2: not JSON (Unexpected token 'o', "not json" is not valid JSON)`,
    '  line 3: not a JSON object (got an array)',
    '  line 4: neither an attempt ("agent" or "tool", "action", "customer") nor a touch ("touch")',
    '  line 5: an attempt needs "at"',
    '  line 6: "at" must be an ISO 8601 time with an offset, e.g. 2026-04-10T10:00:00Z; got "yesterday"',
    '  line 7: a touch needs "touch.accountId"',
    '  line 8: an attempt needs "agent" or "tool": who made it',
    '  line 9: an attempt has no field "extra"',
  ])
  expect(out.join('\n')).not.toContain('Invalid input')
})

it('replay reads a decision log with promotions and rollbacks in it: those lines are skipped and counted, not errors', async () => {
  const attempt = (at: string) => ({
    at,
    agent: 'sales-agent',
    action: { kind: 'offer.discount', discountPct: 10 },
    customer: { accountId: 'initech', facts: { lifecycle: 'prospect' } },
  })
  const change = { type: 'policy', version: 'v2', previousVersion: 'v1', by: 'ops' }
  const lines = [
    attempt('2026-04-06T09:00:00Z'),
    { at: '2026-04-06T10:00:00.000Z', ...change, event: 'promoted', override: true },
    { at: '2026-04-06T11:00:00.000Z', ...change, event: 'rolled-back', version: 'v1', previousVersion: 'v2' },
    attempt('2026-04-07T09:00:00Z'),
  ]
  const history = join(mkdtempSync(join(tmpdir(), 'remit-replay-')), 'decisions.ndjson')
  writeFileSync(history, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`)
  const out: string[] = []
  const io = { out: (l: string) => out.push(l), err: () => {}, color: false }
  expect(await run(['replay', '--policy', seed, '--touches', history, '--json'], io)).toBe(0)
  expect(JSON.parse(out.join('\n'))).toMatchObject({
    events: 2,
    attempts: 2,
    policyChanges: 2,
    errorCount: 0,
  })
  out.length = 0
  expect(await run(['replay', '--policy', seed, '--touches', history], io)).toBe(0)
  expect(out.join('\n')).toContain('2 policy change(s) seen in the log (promote, rollback): skipped')
  expect(out.join('\n')).not.toContain('could not be replayed')
})
