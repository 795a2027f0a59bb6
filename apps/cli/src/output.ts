import { styleText } from 'node:util'
import {
  type Decision,
  formatIssue,
  InputError,
  NotFoundError,
  PolicyError,
  type PolicyIssue,
  ReviewStateError,
} from '@remit/core'

/** Where a command writes; tests pass their own. */
export interface Io {
  out: (line: string) => void
  err: (line: string) => void
  /** Colours only on a terminal, and never when NO_COLOR is set. */
  color: boolean
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
}

type Color = Exclude<Parameters<typeof styleText>[0], unknown[]>
type Style = Color | Color[]
export function paint(io: Io, style: Style, text: string): string {
  return io.color ? styleText(style, text, { validateStream: false }) : text
}

const VERDICT: Record<Decision['verdict'], Color> = { go: 'green', flag: 'yellow', stop: 'red' }

export function printDecision(io: Io, d: Decision): void {
  const head = paint(io, ['bold', VERDICT[d.verdict]], d.verdict.toUpperCase())
  const route = d.verdict === 'flag' ? ` → ${d.reviewTeam}'s review queue (review ${d.reviewId})` : ''
  const retry = d.retryAfter ? ` (retry after ${d.retryAfter.toISOString()})` : ''
  io.out(`${head}${route}${retry}`)
  for (const r of d.reasons) io.out(`  ${paint(io, 'bold', r.rule)} (${r.sort}): ${r.message}`)
  if (d.notify.length) io.out(`  notify: ${d.notify.join(', ')}`)
  io.out(
    paint(
      io,
      'dim',
      `  decision ${d.id}${d.dryRun ? ' (dry run, not logged)' : ''}, policy ${d.policyVersion}`,
    ),
  )
}

export function printIssue(io: Io, issue: PolicyIssue): void {
  const [first, ...rest] = formatIssue(issue).split('\n')
  const style: Color = issue.severity === 'error' ? 'red' : 'yellow'
  io.out(paint(io, style, first as string))
  for (const line of rest) io.out(paint(io, 'dim', line))
}

/**
 * Exit codes, the same for every command:
 * - 0: done (`decide` and `explain`: whatever the verdict).
 * - 1: the command ran and its check failed: `validate --strict` found warnings, `test` a failing case.
 * - 2: bad input, nothing was done: a missing or unreadable file, an unknown command or option, a bad
 *   value, a policy or keys.yaml with errors.
 * - 3: something outside the input failed: the database, the port, a vendor or its login, or a bug in
 *   Remit (`--debug` shows its stack).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, trouble: 3 } as const

/** What codes 2 and 3 mean, for every command's --help (after its own meaning of 0, and 1 if it has one). */
export const EXIT_HELP = [
  '2  bad input, nothing done: a missing or unreadable file, a bad option or value, a policy with errors',
  '3  something else failed: the database, the port, a vendor or its login, or a bug (--debug shows it)',
]

/** The hint for a file that is not there, by what it is. */
function missingFileHint(path: string): string {
  if (/(^|\/)keys\.ya?ml$/.test(path))
    return '`remit keys new --agent <id>` writes keys.yaml (or pass --keys <file>)'
  if (/(^|\/)remit\.ya?ml$/.test(path))
    return 'check the path; commands look for ./remit.yaml unless given a policy (--policy <file>)'
  return 'check the path'
}

/** Errors users can act on become one line and a hint; anything else is a bug, shown with --debug. */
export function printError(io: Io, error: unknown, debug: boolean): number {
  if (error instanceof PolicyError) {
    for (const issue of error.issues) printIssue(io, issue)
    io.err(
      paint(
        io,
        'red',
        `error: the policy has ${error.issues.filter((i) => i.severity === 'error').length} error(s); nothing was decided`,
      ),
    )
    return EXIT.usage
  }
  if (error instanceof InputError) {
    io.err(paint(io, 'red', `error: ${error.message} (${error.code})`))
    if (error.hint) io.err(`  hint: ${error.hint}`)
    return EXIT.usage
  }
  if (error instanceof NotFoundError || error instanceof ReviewStateError || error instanceof UsageError) {
    io.err(paint(io, 'red', `error: ${error.message}`))
    if (error instanceof UsageError && error.hint) io.err(`  hint: ${error.hint}`)
    return EXIT.usage
  }
  const e = error as NodeJS.ErrnoException & { hint?: unknown }
  if (e?.name === 'KeysError') {
    const absent = /^(.*): ENOENT\b/.exec(e.message)?.[1]
    if (absent) {
      io.err(paint(io, 'red', `error: no such file: ${absent}`))
      io.err(`  hint: ${missingFileHint(absent)}`)
      return EXIT.usage
    }
    io.err(paint(io, 'red', `error: ${e.message}`))
    io.err(
      '  hint: each line of keys.yaml is { name, sha256, agent | reviewer | admin }; `remit keys new` writes one',
    )
    return EXIT.usage
  }
  // A vendor's problem a person can act on (no login for the org, an expired session, a refused
  // deploy): its code and hint, no stack.
  if (e?.name === 'SalesforceError' && typeof e.hint === 'string') {
    io.err(paint(io, 'red', `error: ${e.message} (${e.code})`))
    io.err(`  hint: ${e.hint}`)
    return EXIT.trouble
  }
  if (e?.code === 'EADDRINUSE') {
    io.err(paint(io, 'red', `error: ${e.message}`))
    io.err('  hint: another process listens there; pick another --port')
    return EXIT.trouble
  }
  if (e?.code === 'EADDRNOTAVAIL') {
    io.err(paint(io, 'red', `error: ${e.message}`))
    io.err(
      "  hint: that address is not one of this machine's; pick --host 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)",
    )
    return EXIT.trouble
  }
  // PostgreSQL refusing what the --store URL names (SQLSTATEs): the database, or who logs in.
  if (e?.code === '3D000') {
    const name = /database "(.*)" does not exist/.exec(e.message)?.[1] ?? '<name>'
    io.err(paint(io, 'red', `error: ${e.message}`))
    io.err(
      `  hint: create it (createdb ${name}, or CREATE DATABASE ${name}), or fix the database in the --store URL`,
    )
    return EXIT.trouble
  }
  if (e?.code === '28P01' || e?.code === '28000') {
    io.err(paint(io, 'red', `error: ${e.message}`))
    io.err(
      '  hint: check the user and password in the --store URL (postgres://user:password@host:5432/db), and that the role exists and may log in from here',
    )
    return EXIT.trouble
  }
  // fetch() says only "fetch failed"; what failed is its cause (no DNS, refused, a TLS problem).
  const cause = e?.cause as (NodeJS.ErrnoException & { hostname?: string }) | undefined
  if (e instanceof TypeError && e.message === 'fetch failed' && cause) {
    io.err(paint(io, 'red', `error: could not reach the server: ${cause.message ?? String(cause)}`))
    io.err(
      /CERT|SSL|TLS/i.test(`${cause.code} ${cause.message}`)
        ? '  hint: a TLS problem; behind a TLS-inspecting proxy, point NODE_EXTRA_CA_CERTS at its CA file'
        : '  hint: check the network (is this machine online, does the name resolve?); behind a proxy, set HTTPS_PROXY and NODE_USE_ENV_PROXY=1',
    )
    if (debug && e.stack) io.err(e.stack)
    return EXIT.trouble
  }
  if (e?.code === 'ECONNREFUSED') {
    io.err(paint(io, 'red', `error: cannot reach the database (${e.message})`))
    io.err('  hint: is PostgreSQL running, and is the --store URL right?')
    return EXIT.trouble
  }
  if (e?.code === 'ENOENT' && e.path) {
    io.err(paint(io, 'red', `error: no such file: ${e.path}`))
    io.err(`  hint: ${missingFileHint(e.path)}`)
    return EXIT.usage
  }
  if (e?.code === 'EACCES' || e?.code === 'EPERM' || e?.code === 'EISDIR' || e?.code === 'ENOTDIR') {
    const what = {
      EACCES: 'permission denied',
      EPERM: 'not permitted',
      EISDIR: 'it is a folder',
      ENOTDIR: 'a part of the path is not a folder',
    }[e.code]
    io.err(paint(io, 'red', `error: cannot read or write ${e.path ?? 'a file it was given'}: ${what}`))
    io.err('  hint: check the path and its permissions')
    return EXIT.usage
  }
  io.err(paint(io, 'red', `error: ${e?.message ?? String(error)}`))
  if (debug && e?.stack) {
    io.err(e.stack)
    // The causes, which a wrapping error's stack leaves out.
    for (let c = e.cause as Error | undefined, depth = 0; c && depth < 5; c = c.cause as Error, depth++)
      io.err(`caused by: ${c.stack ?? String(c)}`)
  } else io.err('  hint: run again with --debug for the stack trace, and report it')
  return EXIT.trouble
}

/** A mistake in how a command was called. */
export class UsageError extends Error {
  readonly hint: string | undefined
  constructor(message: string, hint?: string) {
    super(message)
    this.name = 'UsageError'
    this.hint = hint
  }
}
