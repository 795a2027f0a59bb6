import { readFile, writeFile } from 'node:fs/promises'
import { basename } from 'node:path'
import type { CandidateReport } from '@remit/core/internal'
import { EXIT, type Io, paint, UsageError } from '../output.ts'
import { printBaseline } from './replay.ts'

// `remit candidate set | clear | show | sign-off | report`, `remit promote`, `remit rollback`: a
// running server's admin API (docs/candidates.md). The server checks the key's role: an admin's for
// everything, a reviewer's to sign off for its team and read; every instance on the store follows.

export interface ApiOptions {
  /** The server's base URL. */
  server: string
  /** The key to present (default: $REMIT_KEY). */
  key?: string
}

/** An answer of the API that is not a success: its error, as the server words it. */
export class ApiError extends Error {
  readonly code: string
  readonly hint: string | undefined
  readonly status: number
  constructor(status: number, error: { code?: string; message?: string; hint?: string; teams?: string[] }) {
    super(`${error.message ?? `HTTP ${status}`} (${error.code ?? status})`)
    this.name = 'ApiError'
    this.status = status
    this.code = error.code ?? String(status)
    this.hint = error.hint
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the API's JSON, read by field
type Json = any

async function api(o: ApiOptions, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Json> {
  const key = o.key ?? process.env.REMIT_KEY
  if (!key)
    throw new UsageError('present a key: --key <key> or REMIT_KEY', 'an admin key (remit keys new --admin)')
  let res: Response
  try {
    res = await fetch(new URL(path, o.server), {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
  } catch (error) {
    throw new UsageError(
      `cannot reach ${o.server}: ${(error as Error).message}`,
      'is remit serve running? --server <url>',
    )
  }
  const json = (await res.json().catch(() => ({}))) as Json
  if (!res.ok) throw new ApiError(res.status, json.error ?? {})
  return json
}

/** Prints an API refusal as the server worded it; exit 1 (the command ran, the server said no). */
async function refused(io: Io, run: () => Promise<number>): Promise<number> {
  try {
    return await run()
  } catch (error) {
    if (!(error instanceof ApiError)) throw error
    io.err(paint(io, 'red', `error: ${error.message}`))
    if (error.hint) io.err(`hint: ${error.hint}`)
    return error.status === 400 || error.status === 422 ? EXIT.usage : EXIT.failed
  }
}

function printState(io: Io, state: Json): void {
  io.out(
    `live: ${state.live.version}${state.live.promoted ? ` (promoted by ${state.live.by} at ${state.live.at})` : ' (the policy file)'}`,
  )
  const c = state.candidate
  if (!c) io.out('candidate: none')
  else {
    io.out(`candidate: ${c.version} (${c.file}, set by ${c.by} at ${c.at}), in shadow on every instance`)
    io.out(`  sign-off needed from: ${c.required.join(', ') || 'no team'}`)
    for (const s of c.signOffs)
      io.out(`  signed: ${s.team} by ${s.by} at ${s.at}${s.note ? ` — ${s.note}` : ''}`)
    if (c.missing.length) io.out(paint(io, 'yellow', `  missing: ${c.missing.join(', ')}`))
  }
  if (state.previous.length) io.out(`rollback returns to: ${state.previous.at(-1)}`)
}

export async function candidateSet(io: Io, file: string, o: ApiOptions): Promise<number> {
  let source: string
  try {
    source = await readFile(file, 'utf8')
  } catch (error) {
    throw new UsageError(
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    )
  }
  return refused(io, async () => {
    printState(io, await api(o, 'POST', '/v1/admin/candidate', { source, file: basename(file) }))
    return EXIT.ok
  })
}

export async function candidateClear(io: Io, o: ApiOptions): Promise<number> {
  return refused(io, async () => {
    printState(io, await api(o, 'POST', '/v1/admin/candidate/clear', {}))
    return EXIT.ok
  })
}

export async function candidateShow(io: Io, o: ApiOptions & { json?: boolean }): Promise<number> {
  return refused(io, async () => {
    const state = await api(o, 'GET', '/v1/admin/candidate')
    if (o.json) io.out(JSON.stringify(state, null, 2))
    else {
      printState(io, state)
      for (const h of state.history.slice(-10))
        io.out(
          paint(
            io,
            'dim',
            `  ${h.at} ${h.event} ${h.version} by ${h.by}${h.team ? ` for ${h.team}` : ''}${h.override ? ' (override)' : ''}${h.note ? ` — ${h.note}` : ''}`,
          ),
        )
    }
    return EXIT.ok
  })
}

export async function candidateSignOff(
  io: Io,
  o: ApiOptions & { team?: string; note?: string; version?: string },
): Promise<number> {
  return refused(io, async () => {
    const body = {
      ...(o.team ? { team: o.team } : {}),
      ...(o.note ? { note: o.note } : {}),
      ...(o.version ? { version: o.version } : {}),
    }
    printState(io, await api(o, 'POST', '/v1/admin/candidate/sign-offs', body))
    return EXIT.ok
  })
}

export async function candidateReportCommand(
  io: Io,
  o: ApiOptions & { since: string; json?: boolean; html?: string },
): Promise<number> {
  return refused(io, async () => {
    const r = (await api(
      o,
      'GET',
      `/v1/admin/candidate/report?since=${encodeURIComponent(o.since)}`,
    )) as CandidateReport
    if (o.json) {
      io.out(JSON.stringify(r, null, 2))
      return EXIT.ok
    }
    printCandidateReport(io, r)
    if (o.html) {
      await writeFile(o.html, htmlOf(r))
      io.out(`\nreport: ${o.html}`)
    }
    return EXIT.ok
  })
}

export function printCandidateReport(io: Io, r: CandidateReport): void {
  io.out(
    paint(
      io,
      'bold',
      `Candidate ${r.candidateVersion} in shadow, ${r.since.slice(0, 16)} to ${r.until.slice(0, 16)}`,
    ),
  )
  io.out(`${r.decisions} live decisions; the candidate would have answered ${r.differences} otherwise`)
  const flips = Object.entries(r.flips).sort((a, b) => b[1] - a[1])
  io.out(`  flips: ${flips.map(([kind, n]) => `${kind} ${n}`).join(', ') || 'none'}`)
  io.out(`  same verdict, other rules or team: ${r.rulesOnly}; could not evaluate: ${r.errors}`)
  io.out(paint(io, 'bold', 'Top rules causing flips'))
  for (const { rule, flips: n } of r.topRules.slice(0, 10))
    io.out(`  ${rule.padEnd(28)} ${String(n).padStart(6)}`)
  if (!r.topRules.length) io.out('  none')
  io.out(
    paint(io, 'bold', 'Review load: flags per reviewing team per day, live → candidate, against capacity'),
  )
  const teams = new Set([...Object.keys(r.flagsPerDay.live), ...Object.keys(r.flagsPerDay.candidate)])
  for (const team of [...teams].sort()) {
    const days = new Set([
      ...Object.keys(r.flagsPerDay.live[team] ?? {}),
      ...Object.keys(r.flagsPerDay.candidate[team] ?? {}),
    ])
    for (const day of [...days].sort())
      io.out(
        `  ${team.padEnd(12)} ${day}  ${r.flagsPerDay.live[team]?.[day] ?? 0} → ${r.flagsPerDay.candidate[team]?.[day] ?? 0}  (capacity ${r.capacity[team] ?? 'not set'})`,
      )
  }
  for (const o of r.overCapacity)
    io.out(paint(io, 'red', `  over: ${o.team} on ${o.day} (${o.flags} > ${o.capacity})`))
  printBaseline(io, r.baseline)
}

const escapeHtml = (s: unknown) =>
  String(s).replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string,
  )

function htmlOf(r: CandidateReport): string {
  const rows = (cells: unknown[][]) =>
    cells.map((c) => `<tr>${c.map((x) => `<td>${escapeHtml(x)}</td>`).join('')}</tr>`).join('')
  return `<!doctype html><meta charset="utf-8"><title>Candidate ${escapeHtml(r.candidateVersion)}</title>
<h1>Candidate ${escapeHtml(r.candidateVersion)} in shadow</h1>
<p>${r.decisions} live decisions from ${escapeHtml(r.since)} to ${escapeHtml(r.until)}; ${r.differences} answered otherwise.</p>
<h2>Flips</h2><table>${rows(Object.entries(r.flips))}</table>
<h2>Top rules</h2><table>${rows(r.topRules.map((t) => [t.rule, t.flips]))}</table>
<h2>Over capacity</h2><table>${rows(r.overCapacity.map((o) => [o.team, o.day, o.flags, o.capacity]))}</table>
<h2>Examples</h2><table>${rows(r.baseline.examples.map((e) => [e.decisionId, e.at, e.agent, e.kind, e.accountId, `${e.before} → ${e.now}`, e.rules.join(', ')]))}</table>
`
}

export async function promoteCommand(
  io: Io,
  o: ApiOptions & { override?: boolean; note?: string },
): Promise<number> {
  return refused(io, async () => {
    const body = { ...(o.override ? { override: true } : {}), ...(o.note ? { note: o.note } : {}) }
    printState(io, await api(o, 'POST', '/v1/admin/policy/promote', body))
    return EXIT.ok
  })
}

export async function rollbackCommand(io: Io, o: ApiOptions & { note?: string }): Promise<number> {
  return refused(io, async () => {
    printState(io, await api(o, 'POST', '/v1/admin/policy/rollback', o.note ? { note: o.note } : {}))
    return EXIT.ok
  })
}
