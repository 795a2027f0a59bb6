import { describe, expect, it } from 'vitest'
import { printError } from '../src/output.ts'

// printError words errors from outside the input by what they are, not as bugs: no "report it" for
// a database the URL names wrongly, or a network fetch() could not reach.

function printed(error: unknown, debug = false) {
  const err: string[] = []
  const code = printError(io(err), error, debug)
  return { code, err: err.join('\n') }
}
const io = (err: string[]) => ({ out: () => {}, err: (l: string) => err.push(l), color: false })

/** An error as pg rejects with: PostgreSQL's message and its SQLSTATE as `code`. */
const pgError = (message: string, code: string) =>
  Object.assign(new Error(message), { code, severity: 'FATAL' })

describe('printError', () => {
  it('fetch failed: prints its cause and what to check, exit 3, no report-it', () => {
    const cause = Object.assign(new Error('getaddrinfo ENOTFOUND api.hubapi.com'), {
      code: 'ENOTFOUND',
      hostname: 'api.hubapi.com',
    })
    const r = printed(new TypeError('fetch failed', { cause }))
    expect(r.code).toBe(3)
    expect(r.err).toBe(
      'error: could not reach the server: getaddrinfo ENOTFOUND api.hubapi.com\n  hint: check the network (is this machine online, does the name resolve?); behind a proxy, set HTTPS_PROXY and NODE_USE_ENV_PROXY=1',
    )
  })

  it('fetch failed on a certificate: the hint is about the CA, not the network', () => {
    const cause = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    })
    const r = printed(new TypeError('fetch failed', { cause }))
    expect(r.code).toBe(3)
    expect(r.err).toContain('NODE_EXTRA_CA_CERTS')
  })

  it('a PostgreSQL database that does not exist: how to create it', () => {
    const r = printed(pgError('database "nodb" does not exist', '3D000'))
    expect(r.code).toBe(3)
    expect(r.err).toBe(
      'error: database "nodb" does not exist\n  hint: create it (createdb nodb, or CREATE DATABASE nodb), or fix the database in the --store URL',
    )
  })

  it('a password or role PostgreSQL refuses: check the URL', () => {
    for (const [message, code] of [
      ['password authentication failed for user "remit"', '28P01'],
      ['role "remit" does not exist', '28000'],
    ] as const) {
      const r = printed(pgError(message, code))
      expect(r.code, code).toBe(3)
      expect(r.err, code).toBe(
        `error: ${message}\n  hint: check the user and password in the --store URL (postgres://user:password@host:5432/db), and that the role exists and may log in from here`,
      )
    }
  })

  it('a bug still says report it, and with --debug shows its causes too', () => {
    const bug = new Error('outer', { cause: new Error('inner') })
    expect(printed(bug).err).toBe(
      'error: outer\n  hint: run again with --debug for the stack trace, and report it',
    )
    const debug = printed(bug, true)
    expect(debug.code).toBe(3)
    expect(debug.err).toMatch(/^error: outer\nError: outer\n/)
    expect(debug.err).toContain('caused by: Error: inner')
  })
})
