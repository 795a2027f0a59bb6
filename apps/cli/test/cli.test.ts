import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { remit } from './remit.ts'

const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))

function policyFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'remit-cli-')), 'remit.yaml')
  writeFileSync(path, text)
  return path
}

const broken = `version: 1
teams: { sales: {} }
agents:
  sales-agent: { team: sales }
facts:
  lifecycle: { type: string }
actions:
  offer.discount: { channel: email }
stops:
  - { id: s1, when: "customer.lifecyle == 'renewal'" }
review: { defaultTeam: sales }
`

describe('remit validate', () => {
  it('says a valid policy is valid, with what it holds, and exits 0', async () => {
    const r = await remit('validate', seed)
    expect(r.code).toBe(0)
    expect(r.out).toMatch(
      /remit\.yaml: valid \(9 rules, 3 agents, 3 teams, 4 action kinds; version [0-9a-f]{16}\)/,
    )
  })

  it('prints every error as file:line:col with the rule id and a hint, and exits 2', async () => {
    const path = policyFile(broken)
    const r = await remit('validate', path)
    expect(r.code).toBe(2)
    expect(r.out).toContain(
      `${path}:10:31: error [s1]: customer has no field "lifecyle": conditions read the facts declared under facts:`,
    )
    expect(r.out).toContain('hint: did you mean "lifecycle"?')
    expect(r.out).toContain('1 error(s), 0 warning(s)')
  })

  it('exits 1 on warnings only with --strict', async () => {
    const path = policyFile(
      broken
        .replace('lifecyle', 'lifecycle')
        .replace('stops:', 'permissions:\n  - { id: p1, team: sales, action: offer.discount }\nstops:')
        .replace('{ id: s1,', '{ id: s1, action: offer.discount,')
        .replace(', when: "customer.lifecycle == \'renewal\'"', ''),
    )
    expect((await remit('validate', path)).code).toBe(0)
    const strict = await remit('validate', path, '--strict')
    expect(strict.code).toBe(1)
    expect(strict.out).toContain('PERMISSION_OVERRIDDEN')
  })

  it('prints JSON for tools', async () => {
    const r = await remit('validate', policyFile(broken), '--json')
    const json = JSON.parse(r.out)
    expect(json.valid).toBe(false)
    expect(json.issues[0]).toMatchObject({
      code: 'CEL_INVALID',
      rule: 's1',
      position: { line: 10, column: 31 },
    })
  })

  it('a missing file is one line and a hint, not a stack trace, and exits 2 (bad input)', async () => {
    const r = await remit('validate', '/nonexistent/remit.yaml')
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      'error: no such file: /nonexistent/remit.yaml\n  hint: check the path; commands look for ./remit.yaml unless given a policy (--policy <file>)',
    )
  })
})

describe('remit decide', () => {
  const base = ['decide', '--policy', seed]

  it('decides from flags, typing values by the policy, and prints the verdict with its reasons', async () => {
    const r = await remit(
      ...base,
      '--agent',
      'sales-agent',
      '--action',
      'offer.discount',
      '--attr',
      'discountPct=20',
      '--account',
      'initech',
      '--fact',
      'lifecycle=prospect',
      '--fact',
      'tier=smb',
    )
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^FLAG → sales's review queue \(review rev_[0-9a-f]+\)/)
    expect(r.out).toContain(
      'no-permission (default): no permission lets sales-agent (sales) take offer.discount here on its own',
    )
  })

  it('prints the API response with --json, and identifies the agent by its tool', async () => {
    const r = await remit(
      ...base,
      '--tool',
      'hubspot:workflow/1001',
      '--action',
      'email.positioning',
      '--account',
      'globex',
      '--fact',
      'lifecycle=customer',
      '--fact',
      'tier=smb',
      '--json',
    )
    expect(JSON.parse(r.out)).toMatchObject({
      verdict: 'go',
      reasons: [{ rule: 'mkt-positioning', sort: 'permission' }],
      notify: [],
    })
  })

  it('keeps the ledger in a store file across runs', async () => {
    const store = join(mkdtempSync(join(tmpdir(), 'remit-cli-')), 'remit.db')
    const args = [
      ...base,
      '--store',
      store,
      '--agent',
      'marketing-agent',
      '--action',
      'email.positioning',
      '--account',
      'globex',
      '--fact',
      'lifecycle=customer',
      '--fact',
      'tier=smb',
      '--json',
    ]
    expect(JSON.parse((await remit(...args)).out).verdict).toBe('go')
    const second = JSON.parse((await remit(...args)).out)
    expect(second.verdict).toBe('stop')
    expect(second.reasons[0].rule).toBe('one-touch-per-72h')
  })

  it('names the field of a bad value, with exit 2', async () => {
    const r = await remit(
      ...base,
      '--agent',
      'sales-agent',
      '--action',
      'offer.discount',
      '--attr',
      'discountPct=lots',
      '--account',
      'initech',
    )
    expect(r.code).toBe(2)
    expect(r.err).toBe('error: action.discountPct: expected a number, got "lots" (BAD_TYPE)')
  })

  it('suggests the agent when it is misspelt', async () => {
    const r = await remit(
      ...base,
      '--agent',
      'sales-agnt',
      '--action',
      'offer.discount',
      '--attr',
      'discountPct=5',
      '--account',
      'initech',
    )
    expect(r.err).toContain('hint: did you mean "sales-agent"?')
  })

  it('says what is missing when called without an agent', async () => {
    const r = await remit(...base, '--action', 'offer.discount')
    expect(r.code).toBe(2)
    expect(r.err).toContain('error: say who is asking: --agent <id> or --tool <tool>')
  })

  it('refuses to decide on a broken policy, listing its errors', async () => {
    const r = await remit(
      'decide',
      '--policy',
      policyFile(broken),
      '--agent',
      'sales-agent',
      '--action',
      'offer.discount',
      '--account',
      'a',
    )
    expect(r.code).toBe(2)
    expect(r.err).toContain('nothing was decided')
  })
})

describe('remit', () => {
  it('has help with examples', async () => {
    const r = await remit('decide', '--help')
    expect(r.code).toBe(0)
    expect(r.out).toContain('Examples:')
  })

  it('an unknown command exits 2 with a suggestion', async () => {
    const r = await remit('validat')
    expect(r.code).toBe(2)
    expect(r.err).toContain('(Did you mean validate?)')
  })
})

describe('remit hubspot register', () => {
  const seedHubSpot = fileURLToPath(new URL('../../../examples/seed-week/hubspot.yaml', import.meta.url))

  it('creates the action in the app, then updates it, with URLs under --base-url', async () => {
    const { fakeHubSpot } = await import('../../../packages/hubspot/test/fake-hubspot.ts')
    const fake = await fakeHubSpot()
    process.env.REMIT_HUBSPOT_DEVELOPER_KEY = 'dev-key'
    try {
      const args = [
        'hubspot',
        'register',
        '--app-id',
        '4242',
        '--base-url',
        'https://remit.example.com/',
        '--policy',
        seed,
        '--config',
        seedHubSpot,
        '--hubspot-api',
        fake.url,
      ]
      const first = await remit(...args)
      expect(first.code).toBe(0)
      expect(first.out).toMatch(/^created the "Check with Remit" action 1000 in app 4242/)
      expect((await remit(...args)).out).toMatch(/^updated/)
      expect(fake.definitions[0]).toMatchObject({ actionUrl: 'https://remit.example.com/hubspot/action' })
    } finally {
      delete process.env.REMIT_HUBSPOT_DEVELOPER_KEY
      await fake.close()
    }
  })

  it('--print shows the definition it would register, from remit.yaml and hubspot.yaml where it runs', async () => {
    const { execFileSync } = await import('node:child_process')
    const { schemaErrors } = await import('../../../packages/hubspot/test/fake-hubspot.ts')
    const printed = execFileSync(
      process.execPath,
      [fileURLToPath(new URL('../src/bin.ts', import.meta.url)), 'hubspot', 'register', '--print'],
      { cwd: fileURLToPath(new URL('../../../examples/seed-week/', import.meta.url)), encoding: 'utf8' },
    )
    const definition = JSON.parse(printed)
    expect(schemaErrors('PublicActionDefinitionEgg', definition)).toBeUndefined()
    expect(definition.actionUrl).toBe('https://remit.example.com/hubspot/action')
    expect(definition.objectRequestOptions.properties).toContain('lifecyclestage')
  })

  it('asks for the developer key in the environment, not on the command line', async () => {
    const r = await remit(
      'hubspot',
      'register',
      '--app-id',
      '1',
      '--base-url',
      'https://x.example',
      '--policy',
      seed,
      '--config',
      seedHubSpot,
    )
    expect(r.code).toBe(2)
    expect(r.err).toContain('REMIT_HUBSPOT_DEVELOPER_KEY')
  })
})

describe('remit salesforce', () => {
  it('package writes the project for the agents with salesforce: tools', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'remit-sf-cli-')), 'pkg')
    const r = await remit(
      'salesforce',
      'package',
      '--server-url',
      'https://remit.example.com',
      '--out',
      out,
      '--policy',
      seed,
    )
    expect(r.code).toBe(0)
    // 12 for the credentials, registration, permission set and event; 6 for the example flows.
    expect(r.out).toMatch(/^wrote 18 files to .* for sales-agent/)
    // The check flow is the agent's tool (salesforce:flow/Renewal_Offer), asking about its team's action.
    const check = readFileSync(join(out, 'force-app/main/default/flows/Renewal_Offer.flow-meta.xml'), 'utf8')
    expect(check).toContain('<stringValue>offer.discount</stringValue>')
    expect(check).toContain('<actionName>Remit_sales_agent.checkWithRemit</actionName>')
    expect(check).toContain('<pathType>AsyncAfterCommit</pathType>')
    expect(
      readFileSync(
        join(out, 'force-app/main/default/namedCredentials/Remit_sales_agent.namedCredential-meta.xml'),
        'utf8',
      ),
    ).toContain('https://remit.example.com')
  })

  it('package wants an https server URL', async () => {
    const r = await remit(
      'salesforce',
      'package',
      '--server-url',
      'http://remit.example.com',
      '--policy',
      seed,
    )
    expect(r.code).toBe(2)
    expect(r.err).toContain('--server-url must be the https:// URL')
  })

  it('deploy without a login for the org says how to log in (NO_ORG, exit 3)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'remit-sf-cli-')), 'pkg')
    await remit(
      'salesforce',
      'package',
      '--server-url',
      'https://remit.example.com',
      '--out',
      out,
      '--policy',
      seed,
    )
    const r = await remit('salesforce', 'deploy', '--dir', out, '--target-org', 'no-such-org')
    expect(r.code).toBe(3)
    expect(r.err).toContain('no usable Salesforce login for "no-such-org"')
    expect(r.err).toContain('(NO_ORG)')
    expect(r.err).toContain('hint: run: sf org login web --alias no-such-org')
  })
})

describe('remit outbox', () => {
  it('lists what Remit owes vendors, shows the dead, and puts one back', async () => {
    const { openRemit, openSqliteStore } = await import('@remit/core')
    const db = join(mkdtempSync(join(tmpdir(), 'remit-outbox-cli-')), 'remit.db')
    const engine = await openRemit({ policy: seed, store: openSqliteStore(db) })
    engine.outbox.route('hubspot', (review) => ({ callbackId: `cb-${review.id}` }))
    const stop = engine.outbox.deliver(
      'hubspot',
      async () => {
        throw new Error('HubSpot 401')
      },
      { maxAttempts: 1 },
    )
    const d = await engine.decide('marketing-agent', {
      action: { kind: 'email.positioning' },
      customer: { accountId: 'acme', facts: { lifecycle: 'renewal', tier: 'enterprise' } },
    })
    await engine.reviews.reject(d.reviewId as string)
    stop()
    await engine.close()
    const listed = await remit('outbox', 'list', '--store', db, '--status', 'dead')
    expect(listed.code).toBe(0)
    expect(listed.out).toMatch(
      /^dead +obx_\S+ hubspot review rev_\S+, 1 attempt\(s\), gave up .* last error: HubSpot 401$/,
    )
    const id = /obx_\S+/.exec(listed.out)?.[0] as string
    expect((await remit('outbox', 'retry', id, '--store', db)).code).toBe(0)
    const json = JSON.parse((await remit('outbox', 'list', '--store', db, '--json')).out)
    expect(json).toMatchObject([{ id, status: 'pending', attempts: 0 }])
    const bad = await remit('outbox', 'list', '--store', db, '--status', 'lost')
    expect(bad.code).not.toBe(0)
    expect(bad.err).toContain('--status must be one of pending, delivered, dead')
    expect((await remit('outbox', 'retry', 'obx_missing', '--store', db)).code).not.toBe(0)
    const typo = await remit('outbox', 'list', '--store', `${db}x`)
    expect(typo.code).not.toBe(0)
    expect(typo.err).toContain(`no store at ${db}x`)
    expect(existsSync(`${db}x`)).toBe(false)
  })
})

describe('finding your way', () => {
  it('--version prints the version in package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    const r = await remit('--version')
    expect(r.code).toBe(0)
    expect(r.out.trim()).toBe(version)
  })

  it('an unknown command is an error with a suggestion, also with --help', async () => {
    for (const argv of [['valdate'], ['valdate', '--help']]) {
      const r = await remit(...argv)
      expect(r.code).toBe(2)
      expect(r.err).toContain(`unknown command 'valdate'\n(Did you mean validate?)`)
    }
    expect((await remit('help', 'validate')).code).toBe(0)
  })
})
