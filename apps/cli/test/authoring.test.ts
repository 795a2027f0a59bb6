import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { remit } from './remit.ts'

const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))

function files(entries: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'remit-authoring-'))
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(dir, name), text)
  return dir
}

const base = `version: 1
teams: { marketing: {}, sales: {}, support: {} }
agents:
  mkt: { team: marketing, tools: ["hubspot:workflow/1"] }
  sls: { team: sales }
facts:
  lifecycle: { type: string, enum: [prospect, customer, renewal] }
  region: { type: string }
actions:
  email.positioning: { channel: email }
  offer.discount: { channel: email, attributes: { discountPct: number } }
permissions:
  - { id: mkt-positioning, team: marketing, action: email.positioning }
review: { defaultTeam: sales }
`

describe('remit validate: conflict analysis', () => {
  it('two ownership rules that can both hold with different owners', async () => {
    const dir = files({
      'remit.yaml': `${base}ownership:\n  - { id: renewals, when: "customer.lifecycle == 'renewal'", owner: sales }\n  - { id: emea, when: "customer.region == 'emea'", owner: support }\n  - { id: prospects, when: "customer.lifecycle == 'prospect'", owner: marketing }\n`,
    })
    const r = await remit('validate', join(dir, 'remit.yaml'), '--strict')
    expect(r.code).toBe(1)
    expect(r.out).toContain(
      'warning [emea]: ownership "renewals" (sales) and "emea" (support) can both hold for one customer',
    )
    // renewals and prospects need different lifecycles: exclusive, no warning.
    expect(r.out).not.toContain('"renewals" (sales) and "prospects" (marketing)')
  })

  it('a permission a stop always overrides', async () => {
    const r = await remit(
      'validate',
      join(
        files({ 'remit.yaml': `${base}stops:\n  - { id: never, action: email.positioning }\n` }),
        'remit.yaml',
      ),
    )
    expect(r.out).toContain('PERMISSION_OVERRIDDEN')
    expect(r.code).toBe(0)
  })

  it('a limit that can never be reached', async () => {
    const r = await remit(
      'validate',
      join(
        files({
          'remit.yaml': `${base}stops:\n  - { id: no-offers, action: offer.discount }\nlimits:\n  - { id: offers-per-week, action: offer.discount, max: 2, per: 7d }\n`,
        }),
        'remit.yaml',
      ),
    )
    expect(r.out).toContain('warning [offers-per-week]: limit "offers-per-week" can never be reached')
  })

  it('a comparison with a value the fact never has', async () => {
    const r = await remit(
      'validate',
      join(
        files({
          'remit.yaml': `${base}triggers:\n  - { id: t, when: "customer.lifecycle == 'renewl'", then: flag }\n`,
        }),
        'remit.yaml',
      ),
    )
    expect(r.out).toContain(
      '"renewl" is not a value of customer.lifecycle, so this comparison is never true (ENUM_VALUE_UNKNOWN)',
    )
  })

  it('rules that read facts no provider supplies', async () => {
    const dir = files({
      'remit.yaml': `${base}triggers:\n  - { id: emea-flag, when: "customer.region == 'emea'", then: flag }\n  - { id: renewal-flag, when: "customer.lifecycle == 'renewal'", then: flag }\n`,
      'hubspot.yaml': 'properties: { lifecycle: lifecyclestage }\n',
    })
    const r = await remit('validate', join(dir, 'remit.yaml'), '--supplied-by', join(dir, 'hubspot.yaml'))
    expect(r.out).toContain('warning [emea-flag]: reads customer.region, which no provider supplies')
    expect(r.out).not.toContain('[renewal-flag]: reads')
    const withCaller = await remit(
      'validate',
      join(dir, 'remit.yaml'),
      '--supplied-by',
      join(dir, 'hubspot.yaml'),
      '--facts',
      'region',
    )
    expect(withCaller.out).not.toContain('FACT_NOT_SUPPLIED')
  })
})

describe('remit test', () => {
  const tests = `tests:
  - name: positioning to a renewal is flagged to sales
    tool: hubspot:workflow/1001
    action: { kind: email.positioning }
    customer: { accountId: acme, facts: { lifecycle: renewal, tier: enterprise } }
    at: "2026-04-06T09:00:00Z"
    expect: { verdict: flag, rules: [renewal-flag, renewal-owned-by-sales] }
  - name: no win-back the day after a sales call
    agent: support-agent
    action: { kind: sequence.winback }
    customer: { accountId: globex, facts: { lifecycle: customer, tier: smb } }
    touches: [{ kind: call, team: sales, at: "2026-04-09T15:00:00Z", outbound: false }]
    at: "2026-04-10T10:00:00Z"
    expect: { verdict: stop, rules: [no-winback-after-sales] }
`
  it('runs each case and says ✓, exit 0', async () => {
    const dir = files({
      'remit.yaml': (await import('node:fs')).readFileSync(seed, 'utf8'),
      'remit.test.yaml': tests,
    })
    const r = await remit('test', dir)
    expect(r.code).toBe(0)
    expect(r.out).toContain('  ✓ positioning to a renewal is flagged to sales')
    expect(r.out).toContain('  ✓ no win-back the day after a sales call')
    expect(r.out).toContain('2 passed, 0 failed')
  })

  it('shows expected against actual, with the reasons, and exits 1', async () => {
    const dir = files({
      'remit.yaml': (await import('node:fs')).readFileSync(seed, 'utf8'),
      'remit.test.yaml': tests.replace('verdict: stop', 'verdict: go'),
    })
    const r = await remit('test', dir)
    expect(r.code).toBe(1)
    expect(r.out).toContain('  ✗ no win-back the day after a sales call')
    expect(r.out).toContain('      expected go, got stop')
    expect(r.out).toContain('no-winback-after-sales (stop): Support does not fire a win-back')
    expect(r.out).toContain('1 passed, 1 failed')
  })

  it('says where to put tests when there are none', async () => {
    const r = await remit('test', files({ 'remit.yaml': base }))
    expect(r.code).toBe(2)
    expect(r.err).toContain('no *.test.yaml files')
  })
})

describe('remit explain --decision', () => {
  it('explains a logged decision as it was asked, against the ledger as it stood, and says when the policy differs', async () => {
    const dir = files({ 'remit.yaml': readFileSync(seed, 'utf8') })
    const db = join(dir, 'remit.db')
    const ask = (account: string, at: string) =>
      remit(
        'decide',
        '--policy',
        join(dir, 'remit.yaml'),
        '--store',
        db,
        '--json',
        '--agent',
        'marketing-agent',
        '--action',
        'email.positioning',
        '--account',
        account,
        '--fact',
        'lifecycle=customer',
        '--fact',
        'tier=smb',
        '--at',
        at,
      )
    const first = JSON.parse((await ask('acme', '2026-04-06T09:00:00Z')).out) as {
      id: string
      verdict: string
    }
    const second = JSON.parse((await ask('acme', '2026-04-06T10:00:00Z')).out) as {
      id: string
      verdict: string
    }
    expect([first.verdict, second.verdict]).toEqual(['go', 'stop'])
    // The second, as it was decided: the first's touch was in the ledger then.
    const r = await remit(
      'explain',
      '--policy',
      join(dir, 'remit.yaml'),
      '--store',
      db,
      '--decision',
      second.id,
    )
    expect(r.code).toBe(0)
    expect(r.out).toContain(`decision ${second.id}: STOP when it was decided`)
    expect(r.out).toContain(
      'marketing-agent (marketing) wants email.positioning for acme at 2026-04-06T10:00:00.000Z',
    )
    expect(r.out).toMatch(/STOP: .*one-touch-per-72h/)
    // The first, as it was decided: its own touch does not count against it.
    expect(
      (await remit('explain', '--policy', join(dir, 'remit.yaml'), '--store', db, '--decision', first.id))
        .out,
    ).toMatch(/\nGO: /)
    // Another policy: said, and its trace is that policy's.
    writeFileSync(
      join(dir, 'next.yaml'),
      readFileSync(seed, 'utf8').replace('max: 1, per: 72h', 'max: 2, per: 72h'),
    )
    const other = await remit(
      'explain',
      '--policy',
      join(dir, 'next.yaml'),
      '--store',
      db,
      '--decision',
      second.id,
    )
    expect(other.out).toContain('not the one that decided it')
    expect(other.out).toMatch(/\nGO: /)
  })

  it('is a usage error without a store, for an unknown id, or with the flags of a new request', async () => {
    const dir = files({ 'remit.yaml': readFileSync(seed, 'utf8') })
    const db = join(dir, 'remit.db')
    await remit(
      'decide',
      '--policy',
      join(dir, 'remit.yaml'),
      '--store',
      db,
      '--agent',
      'marketing-agent',
      '--action',
      'email.positioning',
      '--account',
      'acme',
    )
    const noStore = await remit('explain', '--policy', join(dir, 'remit.yaml'), '--decision', 'dec_x')
    expect([noStore.code, noStore.err]).toEqual([2, expect.stringContaining('pass --store')])
    const unknown = await remit(
      'explain',
      '--policy',
      join(dir, 'remit.yaml'),
      '--store',
      db,
      '--decision',
      'dec_nothere',
    )
    expect([unknown.code, unknown.err]).toEqual([2, expect.stringContaining('no decision dec_nothere')])
    const mixed = await remit(
      'explain',
      '--policy',
      join(dir, 'remit.yaml'),
      '--store',
      db,
      '--decision',
      'dec_x',
      '--account',
      'acme',
    )
    expect([mixed.code, mixed.err]).toEqual([2, expect.stringContaining('leave out --account')])
  })
})

describe('remit explain', () => {
  it('prints the trace: scope, each rule with what it read, and why the verdict', async () => {
    const r = await remit(
      'explain',
      '--policy',
      seed,
      '--agent',
      'support-agent',
      '--action',
      'sequence.winback',
      '--account',
      'acme',
      '--fact',
      'lifecycle=renewal',
      '--fact',
      'tier=enterprise',
      '--at',
      '2026-04-10T10:00:00Z',
    )
    expect(r.code).toBe(0)
    expect(r.out).toContain(
      'support-agent (support) wants sequence.winback for acme at 2026-04-10T10:00:00.000Z',
    )
    expect(r.out).toMatch(
      /6 rule\(s\) apply to this agent and action kind; 3 others are out of scope and did not run/,
    )
    expect(r.out).toContain('○ no-winback-after-sales: not matched')
    expect(r.out).toContain('touches = "0 in the ledger"')
    expect(r.out).toContain('● renewal-flag: matched')
    expect(r.out).toContain('customer.lifecycle = "renewal"')
    expect(r.out).toContain('○ ticket-pause: not matched')
    expect(r.out).toContain('customer.lastTicketOpenedAt = missing')
    expect(r.out).toMatch(/FLAG: flag, because renewal-flag, renewal-owned-by-sales route it to a human/)
  })

  it('reads a decision from a JSON file, with touches for the ledger', async () => {
    const dir = files({
      'd.json': JSON.stringify({
        agent: 'support-agent',
        action: { kind: 'sequence.winback' },
        customer: { accountId: 'globex', facts: { lifecycle: 'customer', tier: 'smb' } },
        at: '2026-04-10T10:00:00Z',
        touches: [{ kind: 'call', team: 'sales', at: '2026-04-09T15:00:00Z', outbound: false }],
      }),
    })
    const r = await remit('explain', '--policy', seed, '--request', join(dir, 'd.json'))
    expect(r.out).toContain('● no-winback-after-sales: matched')
    expect(r.out).toContain('STOP: stop, because no-winback-after-sales stopped it')
  })
})

describe('remit replay', () => {
  const history = [
    {
      at: '2026-04-06T09:00:00Z',
      tool: 'hubspot:workflow/1001',
      action: { kind: 'email.positioning' },
      customer: { accountId: 'acme', facts: { lifecycle: 'renewal', tier: 'enterprise' } },
    },
    {
      at: '2026-04-06T10:00:00Z',
      agent: 'marketing-agent',
      action: { kind: 'email.positioning' },
      customer: { accountId: 'globex', facts: { lifecycle: 'customer', tier: 'smb' } },
    },
    {
      at: '2026-04-06T11:00:00Z',
      touch: { accountId: 'globex', kind: 'call', team: 'sales', outbound: false },
    },
    {
      at: '2026-04-06T12:00:00Z',
      agent: 'support-agent',
      action: { kind: 'sequence.winback' },
      customer: { accountId: 'globex', facts: { lifecycle: 'customer', tier: 'smb' } },
    },
    {
      at: '2026-04-06T13:00:00Z',
      agent: 'nobody',
      action: { kind: 'email.positioning' },
      customer: { accountId: 'x', facts: {} },
    },
  ]
  it('reports verdicts per team and rule, review load, and lines it could not replay', async () => {
    const dir = files({ 'h.ndjson': `${history.map((h) => JSON.stringify(h)).join('\n')}\nnot json\n` })
    const r = await remit('replay', '--policy', seed, '--touches', join(dir, 'h.ndjson'), '--json')
    const report = JSON.parse(r.out)
    expect(report).toMatchObject({
      attempts: 3,
      recorded: 1,
      verdicts: { go: 1, flag: 1, stop: 1 },
      errorCount: 2,
    })
    expect(report.byTeam.marketing).toEqual({ go: 1, flag: 1, stop: 0 })
    expect(report.byRule['no-winback-after-sales']).toBe(1)
    expect(report.flagsPerDay).toEqual({ sales: { '2026-04-06': 1 } })
    expect(report.errors.map((e: { line: number }) => e.line)).toEqual([5, 6])
  })

  it('refuses a history out of time order, line by line', async () => {
    const dir = files({ 'h.ndjson': [history[1], history[0]].map((h) => JSON.stringify(h)).join('\n') })
    const r = await remit('replay', '--policy', seed, '--touches', join(dir, 'h.ndjson'), '--json')
    expect(JSON.parse(r.out).errors[0].message).toContain('out of time order')
  })

  it('imports a HubSpot activity CSV export with a column map', async () => {
    const dir = files({
      'a.csv':
        'Activity date,Activity type,Associated Company IDs,Activity assigned to\n2026-04-06 09:00,EMAIL,acme,Marketing Bot\n2026-04-06 10:00,EMAIL,globex,Marketing Bot\n',
      'map.yaml':
        'agent: { column: Activity assigned to, values: { Marketing Bot: marketing-agent } }\nfacts: {}\n',
    })
    const r = await remit(
      'replay',
      '--policy',
      seed,
      '--touches',
      join(dir, 'a.csv'),
      '--from',
      'hubspot',
      '--map',
      join(dir, 'map.yaml'),
      '--json',
    )
    const report = JSON.parse(r.out)
    expect(report.attempts).toBe(2)
    expect(report.byTeam.marketing).toBeDefined()
  })

  it('asks which export a CSV is', async () => {
    const dir = files({ 'a.csv': 'x\n1\n' })
    const r = await remit('replay', '--policy', seed, '--touches', join(dir, 'a.csv'))
    expect(r.code).toBe(2)
    expect(r.err).toContain('--from hubspot or --from salesforce')
  })
})
