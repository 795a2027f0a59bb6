import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, vi } from 'vitest'
import { postgresUrl } from './cluster.ts'
import { remit } from './remit.ts'

// One scheme for every command: 0 done, 1 the command's check failed (validate --strict, test),
// 2 bad input and nothing done, 3 something outside the input failed (database, port, vendor, bug).

const seed = fileURLToPath(new URL('../../../examples/seed-week/remit.yaml', import.meta.url))

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

/** `remit serve` with what a test needs and these flags; it stops before listening, or is a failed test. */
function serveWith(...flags: string[]) {
  const dir = tmp()
  writeFileSync(join(dir, 'keys.yaml'), '[]\n')
  return remit(
    'serve',
    '--policy',
    seed,
    '--store',
    join(dir, 'remit.db'),
    '--keys',
    join(dir, 'keys.yaml'),
    '--port',
    '0',
    '--no-watch',
    '--log-level',
    'error',
    ...flags,
  )
}

const body = () => {
  const path = join(tmp(), 'body.json')
  writeFileSync(
    path,
    JSON.stringify({
      action: { kind: 'offer.discount', discountPct: 10 },
      customer: { accountId: 'globex', facts: { lifecycle: 'customer' } },
    }),
  )
  return path
}

describe('what a new user gets wrong is bad input (2), named, without "report it"', () => {
  it('a SQLite --store in a folder that does not exist, or a file that is not a database', async () => {
    const request = body()
    const nofolder = await remit(
      'decide',
      '--policy',
      seed,
      '--agent',
      'sales-agent',
      '--request',
      request,
      '--store',
      '/nonexistent/dir/x.db',
    )
    expect(nofolder.code).toBe(2)
    expect(nofolder.err).toBe(
      'error: --store /nonexistent/dir/x.db: the folder /nonexistent/dir does not exist\n  hint: create the folder first, or name a file in one that exists',
    )
    const notdb = join(tmp(), 'remit.test.yaml')
    writeFileSync(notdb, 'tests:\n  - name: not a database\n'.repeat(50))
    const yaml = await remit(
      'decide',
      '--policy',
      seed,
      '--agent',
      'sales-agent',
      '--request',
      request,
      '--store',
      notdb,
    )
    expect(yaml.code).toBe(2)
    expect(yaml.err).toMatch(new RegExp(`^error: --store ${notdb}: not a SQLite database`))
    const serve = await serveWith('--no-console', '--store', '/nonexistent/dir/x.db')
    expect(serve.code).toBe(2)
    expect(serve.err).toMatch(
      /^error: --store \/nonexistent\/dir\/x\.db: the folder \/nonexistent\/dir does not exist/,
    )
    for (const r of [nofolder, yaml, serve]) expect(r.err).not.toMatch(/--debug|report it/)
  })

  it('serve --console with a folder that is not a console build', async () => {
    const missing = await serveWith('--console', '/nonexistent/console')
    expect(missing.code).toBe(2)
    expect(missing.err).toMatch(/^error: --console \/nonexistent\/console: no such folder\n {2}hint: /)
    expect(missing.err).not.toContain('console at')
    const empty = await serveWith('--console', tmp())
    expect(empty.code).toBe(2)
    expect(empty.err).toMatch(/no index\.html in it/)
  })

  it('a missing --hubspot-config is "no such file", as for any other file', async () => {
    vi.stubEnv('REMIT_HUBSPOT_CLIENT_SECRET', 'test-secret')
    vi.stubEnv('REMIT_HUBSPOT_CLIENT_ID', 'test-client')
    vi.stubEnv('REMIT_SECRET_KEY', Buffer.alloc(32, 7).toString('base64'))
    try {
      const r = await serveWith('--no-console', '--hubspot-config', '/nonexistent/hubspot.yaml')
      expect(r.code).toBe(2)
      expect(r.err).toBe(
        'error: no such file: /nonexistent/hubspot.yaml\n  hint: check the path given to --hubspot-config',
      )
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it('a hubspot.yaml with several problems lists every one', async () => {
    const config = join(tmp(), 'hubspot.yaml')
    writeFileSync(config, 'appId: x\npublicUrl: 3\nbogus: 1\n')
    const r = await remit('hubspot', 'register', '--print', '--policy', seed, '--config', config)
    expect(r.code).toBe(2)
    const lines = r.err.split('\n')
    expect(lines.filter((l) => l.includes(`${config}: `))).toHaveLength(3)
    expect(r.err).toContain(`${config}: appId: `)
    expect(r.err).toContain(`${config}: publicUrl: `)
    expect(r.err).toContain('Unrecognized key: "bogus"')
  })

  it('replay --from hubspot on a file that is not CSV names the file and line', async () => {
    const history = join(tmp(), 'history.txt')
    writeFileSync(history, 'Activity date,Activity type\nnope "quoted" x,CALL\n')
    const r = await remit('replay', '--policy', seed, '--touches', history, '--from', 'hubspot')
    expect(r.code).toBe(2)
    expect(r.err).toMatch(new RegExp(`^error: ${history} line 2: not a CSV export \\(Invalid Opening Quote`))
    expect(r.err).not.toMatch(/--debug|report it/)
  })

  it('remit help <unknown> is an unknown command with a suggestion, as remit <unknown> --help is', async () => {
    const help = await remit('help', 'decid')
    const flag = await remit('decid', '--help')
    expect(help).toEqual(flag)
    expect(help.code).toBe(2)
    expect(help.err).toBe("error: unknown command 'decid'\n(Did you mean decide?)")
    expect(help.out).toBe('')
    expect((await remit('help', 'nope')).err).toBe("error: unknown command 'nope'")
    expect((await remit('help', 'decide')).code).toBe(0)
  })

  it('remit test without the policy a test file names points at its policy: key (test has no --policy)', async () => {
    const dir = tmp()
    writeFileSync(
      join(dir, 'remit.test.yaml'),
      'tests:\n  - name: x\n    agent: a\n    action: { kind: k }\n    customer: { accountId: a }\n    expect: { verdict: go }\n',
    )
    const r = await remit('test', dir)
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      `error: no such file: ${join(dir, 'remit.yaml')}\n  hint: ${join(dir, 'remit.test.yaml')} names no policy, so it looks for remit.yaml beside itself: add \`policy: <file>\` to it`,
    )
    expect(r.err).not.toContain('--policy')
  })
})

describe('what fails outside the input is 3, with a hint and without "report it"', () => {
  it('serve --host with an address that is not one of this machine’s', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address.
    const r = await serveWith('--no-console', '--host', '192.0.2.1')
    expect(r.code).toBe(3)
    expect(r.err).toMatch(/^error: listen EADDRNOTAVAIL/)
    expect(r.err).toContain('hint: that address is not one of this machine')
    expect(r.err).not.toMatch(/report it/)
  })

  it('PostgreSQL: a database that does not exist, a role it refuses', async () => {
    const url = new URL(postgresUrl)
    url.pathname = `/nodb_${process.pid}`
    const nodb = await serveWith('--no-console', '--store', url.toString())
    expect(nodb.code).toBe(3)
    expect(nodb.err).toBe(
      `error: database "nodb_${process.pid}" does not exist\n  hint: create it (createdb nodb_${process.pid}, or CREATE DATABASE nodb_${process.pid}), or fix the database in the --store URL`,
    )
    const role = new URL(postgresUrl)
    role.username = `nobody_${process.pid}`
    role.password = 'wrong'
    const refused = await serveWith('--no-console', '--store', role.toString())
    expect(refused.code).toBe(3)
    expect(refused.err).toMatch(/hint: check the user and password in the --store URL/)
    expect(refused.err).not.toContain('wrong')
  })

  it('a vendor that cannot be reached: fetch’s cause, and what to check', async () => {
    // A port nothing listens on: the connection is refused at once.
    const closedPort = async () => {
      const s = createServer()
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
      const port = (s.address() as { port: number }).port
      await new Promise((resolve) => s.close(resolve))
      return port
    }
    const config = join(tmp(), 'hubspot.yaml')
    writeFileSync(config, 'appId: 4242\npublicUrl: https://remit.example.com\n')
    vi.stubEnv('REMIT_HUBSPOT_DEVELOPER_KEY', 'fake')
    try {
      const r = await remit(
        'hubspot',
        'register',
        '--policy',
        seed,
        '--config',
        config,
        '--hubspot-api',
        `http://127.0.0.1:${await closedPort()}`,
      )
      expect(r.code).toBe(3)
      expect(r.err).toMatch(/^error: could not reach the server: .*ECONNREFUSED/)
      expect(r.err).toMatch(/hint: check the network/)
      expect(r.err).not.toMatch(/report it/)
    } finally {
      vi.unstubAllEnvs()
    }
  })
})
