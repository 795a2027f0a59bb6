import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, vi } from 'vitest'
import { run } from '../src/index.ts'

// One scheme for every command: 0 done, 1 the command's check failed (validate --strict, test),
// 2 bad input and nothing done, 3 something outside the input failed (database, port, vendor, bug).

const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))

async function remit(...argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l), color: false })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

const tmp = () => mkdtempSync(join(tmpdir(), 'remit-exit-'))
const missing = '/nonexistent/remit.yaml'

describe('exit codes', () => {
  it('a missing input file is bad input (2) for every command that reads one, not a failed check (1)', async () => {
    const runs = {
      validate: await remit('validate', missing),
      decide: await remit('decide', '--policy', missing, '--agent', 'a', '--action', 'k', '--account', 'x'),
      explain: await remit('explain', '--policy', missing, '--agent', 'a', '--action', 'k', '--account', 'x'),
      replay: await remit('replay', '--policy', seed, '--touches', '/nonexistent/history.ndjson'),
      keys: await remit('keys', 'new', '--agent', 'a', '--policy', missing, '--no-file'),
      hubspot: await remit('hubspot', 'register', '--print', '--config', '/nonexistent/hubspot.yaml'),
      salesforce: await remit(
        'salesforce',
        'package',
        '--server-url',
        'https://x.example',
        '--policy',
        missing,
      ),
    }
    for (const [command, r] of Object.entries(runs)) {
      expect(r.code, command).toBe(2)
      expect(r.err, command).toMatch(/^error: (no such file: )?\/nonexistent\/\S+/)
      expect(r.err, command).not.toMatch(/--debug|stack/)
    }
  })

  it('an unreadable file (a folder, say) is bad input too', async () => {
    const r = await remit('validate', tmp())
    expect(r.code).toBe(2)
    expect(r.err).toContain('it is a folder')
  })

  it('a request body that is not JSON is bad input, named by its file', async () => {
    const body = join(tmp(), 'body.json')
    writeFileSync(body, '{ action: ')
    const r = await remit('decide', '--policy', seed, '--agent', 'sales-agent', '--request', body)
    expect(r.code).toBe(2)
    expect(r.err).toMatch(new RegExp(`^error: ${body} is not JSON: `))
  })

  it('unknown options, missing required options and bad values are bad input', async () => {
    expect((await remit('validate', '--bogus')).code).toBe(2)
    expect((await remit('replay', '--policy', seed)).code).toBe(2)
    expect((await remit('serve', '--port', 'x')).code).toBe(2)
    expect((await remit('outbox', 'list', '--status', 'lost')).code).toBe(2)
  })

  it('a history none of whose lines can be replayed is bad input; a failing policy test is a failed check', async () => {
    const dir = tmp()
    writeFileSync(join(dir, 'history.ndjson'), 'not json\n')
    expect((await remit('replay', '--policy', seed, '--touches', join(dir, 'history.ndjson'))).code).toBe(2)
    mkdirSync(join(dir, 'tests'))
    writeFileSync(
      join(dir, 'tests', 'remit.test.yaml'),
      `policy: ${seed}\ntests:\n  - name: wrong on purpose\n    agent: sales-agent\n    action: { kind: offer.discount, discountPct: 10 }\n    customer: { accountId: a, facts: { lifecycle: prospect, tier: smb } }\n    expect: { verdict: stop }\n`,
    )
    expect((await remit('test', join(dir, 'tests'))).code).toBe(1)
    expect((await remit('test', join(dir, 'nothing-here'))).code).toBe(2)
  })

  it('a port in use is something outside the input (3)', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const dir = tmp()
      writeFileSync(join(dir, 'keys.yaml'), '[]\n')
      const r = await remit(
        'serve',
        '--policy',
        seed,
        '--store',
        join(dir, 'remit.db'),
        '--keys',
        join(dir, 'keys.yaml'),
        '--port',
        String(port),
        '--no-watch',
        '--no-console',
        '--log-level',
        'error',
      )
      expect(r.code).toBe(3)
      expect(r.err).toContain('hint: another process listens there; pick another --port')
    } finally {
      taken.close()
    }
  })
})

describe('remit serve --salesforce-org', () => {
  it('without a Salesforce login: NO_ORG, how to log in, exit 3, no stack, and nothing opened', async () => {
    const dir = tmp()
    const store = join(dir, 'remit.db')
    writeFileSync(join(dir, 'keys.yaml'), '[]\n')
    const r = await remit(
      'serve',
      '--policy',
      seed,
      '--store',
      store,
      '--keys',
      join(dir, 'keys.yaml'),
      '--port',
      '0',
      '--no-watch',
      '--no-console',
      '--salesforce-org',
      'no-such-org',
    )
    expect(r.code).toBe(3)
    const [error, hint, ...rest] = r.err.split('\n')
    expect(error).toMatch(/^error: no usable Salesforce login for "no-such-org": .* \(NO_ORG\)$/)
    expect(hint).toBe('  hint: run: sf org login web --alias no-such-org')
    expect(rest).toEqual([])
    expect(existsSync(store)).toBe(false)
  })
})

describe('remit serve with HubSpot', () => {
  it('a hubspot.yaml whose owners name a team the policy lacks is bad input (2) with a hint, not a bug', async () => {
    const dir = tmp()
    writeFileSync(join(dir, 'keys.yaml'), '[]\n')
    writeFileSync(
      join(dir, 'hubspot.yaml'),
      'appId: 4242\npublicUrl: https://remit.example.com\naccount: account_id\nactivity:\n  owners: { "901": finance }\n',
    )
    vi.stubEnv('REMIT_HUBSPOT_CLIENT_SECRET', 'test-secret')
    vi.stubEnv('REMIT_HUBSPOT_CLIENT_ID', 'test-client')
    vi.stubEnv('REMIT_SECRET_KEY', Buffer.alloc(32, 7).toString('base64'))
    try {
      const r = await remit(
        'serve',
        '--policy',
        seed,
        '--store',
        join(dir, 'remit.db'),
        '--keys',
        join(dir, 'keys.yaml'),
        '--hubspot-config',
        join(dir, 'hubspot.yaml'),
        '--port',
        '0',
        '--no-watch',
        '--no-console',
        '--log-level',
        'error',
      )
      expect(r.err).toMatch(
        /^error: hubspot.yaml activity.owners: owner 901's team "finance" is not a team of the policy/,
      )
      expect(r.err).not.toMatch(/--debug|report it/)
      expect(r.code).toBe(2)
    } finally {
      vi.unstubAllEnvs()
    }
  })
})
