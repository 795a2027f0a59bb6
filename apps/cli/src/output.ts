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
    return 2
  }
  if (error instanceof InputError) {
    io.err(paint(io, 'red', `error: ${error.message} (${error.code})`))
    if (error.hint) io.err(`  hint: ${error.hint}`)
    return 1
  }
  if (error instanceof NotFoundError || error instanceof ReviewStateError || error instanceof UsageError) {
    io.err(paint(io, 'red', `error: ${error.message}`))
    if (error instanceof UsageError && error.hint) io.err(`  hint: ${error.hint}`)
    return 1
  }
  const e = error as NodeJS.ErrnoException
  if (e?.name === 'KeysError') {
    io.err(paint(io, 'red', `error: ${e.message}`))
    io.err(
      '  hint: each line of keys.yaml is { name, sha256, agent | reviewer | admin }; `remit keys new` writes one',
    )
    return 1
  }
  if (e?.code === 'EADDRINUSE') {
    io.err(paint(io, 'red', `error: ${e.message}`))
    io.err('  hint: another process listens there; pick another --port')
    return 1
  }
  if (e?.code === 'ECONNREFUSED') {
    io.err(paint(io, 'red', `error: cannot reach the database (${e.message})`))
    io.err('  hint: is PostgreSQL running, and is the --store URL right?')
    return 1
  }
  if (e?.code === 'ENOENT' && e.path) {
    io.err(paint(io, 'red', `error: no such file: ${e.path}`))
    io.err('  hint: check the path; `remit validate` looks for ./remit.yaml by default')
    return 1
  }
  io.err(paint(io, 'red', `error: ${e?.message ?? String(error)}`))
  if (debug && e?.stack) io.err(e.stack)
  else io.err('  hint: run again with --debug for the stack trace, and report it')
  return 1
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
