import { createReadStream, statSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { type BaselineDiff, loadPolicyFile, type ReplayReport, replay } from '@remit/core'
import { CsvError, parse as parseCsv } from 'csv-parse'
import { parse as parseYaml } from 'yaml'
import { EXIT, type Io, paint, UsageError } from '../output.ts'
import { htmlReport } from '../report/html.ts'

export interface ReplayCommandOptions {
  policy: string
  touches: string
  baseline?: string
  from?: 'ndjson' | 'hubspot' | 'salesforce'
  map?: string
  json?: boolean
  html?: string
  assumeApproved?: boolean
}

/** NDJSON, one event per line, streamed: memory does not grow with the file. */
export async function* ndjson(
  path: string,
  onBytes: (n: number) => void,
): AsyncGenerator<{ line: number; event: unknown; error?: string }> {
  const stream = createReadStream(path)
  stream.on('data', (chunk) => onBytes(chunk.length))
  let line = 0
  for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++
    if (!text.trim()) continue
    let event: unknown
    try {
      event = JSON.parse(text)
    } catch (error) {
      yield { line, event: undefined, error: `not JSON (${(error as Error).message})` }
      continue
    }
    yield { line, event }
  }
}

/**
 * An activity export (CSV) as attempts. Columns are named by a mapping; the presets are the
 * exports' usual headers, and `--map map.yaml` overrides any of them:
 *   at, accountId, contactId, email: column names
 *   kind: { column, values: { <export value>: <action kind> } }
 *   agent: { column, values: { <owner or type>: <agent id> } } or { fixed: <agent id> }
 *   facts: { <fact>: <column> }
 */
const PRESETS: Record<'hubspot' | 'salesforce', Record<string, unknown>> = {
  hubspot: {
    at: 'Activity date',
    accountId: 'Associated Company IDs',
    email: 'Contact email',
    kind: {
      column: 'Activity type',
      values: { EMAIL: 'email.positioning', CALL: 'call', MEETING: 'meeting' },
    },
    agent: { column: 'Activity assigned to', values: {} },
  },
  salesforce: {
    at: 'CreatedDate',
    accountId: 'AccountId',
    contactId: 'WhoId',
    kind: { column: 'Type', values: { Email: 'email.positioning', Call: 'call', Meeting: 'meeting' } },
    agent: { column: 'OwnerId', values: {} },
  },
}

type Mapping = {
  at: string
  accountId?: string
  contactId?: string
  email?: string
  kind: { column: string; values: Record<string, string> }
  agent: { column?: string; values?: Record<string, string>; fixed?: string }
  facts?: Record<string, string>
}

async function* csv(
  path: string,
  from: 'hubspot' | 'salesforce',
  mapPath: string | undefined,
  onBytes: (n: number) => void,
) {
  const override = mapPath ? (parseYaml(await readFile(mapPath, 'utf8')) as Partial<Mapping>) : {}
  const m = { ...PRESETS[from], ...override } as Mapping
  const stream = createReadStream(path)
  stream.on('data', (chunk) => onBytes(chunk.length))
  let line = 1
  for await (const row of csvRows(
    path,
    stream.pipe(parseCsv({ columns: true, skip_empty_lines: true, bom: true })) as AsyncIterable<
      Record<string, string>
    >,
    from,
  )) {
    line++
    const rawKind = row[m.kind.column] ?? ''
    const agent =
      m.agent.fixed ?? m.agent.values?.[row[m.agent.column ?? ''] ?? ''] ?? row[m.agent.column ?? '']
    const date = new Date(row[m.at] ?? '')
    yield {
      line,
      event: {
        at: Number.isNaN(date.getTime()) ? row[m.at] : date.toISOString(),
        agent,
        action: { kind: m.kind.values[rawKind] ?? rawKind },
        customer: {
          ...(m.accountId && row[m.accountId] ? { accountId: row[m.accountId]?.split(';')[0] } : {}),
          ...(m.contactId && row[m.contactId] ? { contactId: row[m.contactId] } : {}),
          ...(m.email && row[m.email] ? { email: row[m.email] } : {}),
          facts: Object.fromEntries(
            Object.entries(m.facts ?? {}).flatMap(([fact, column]) =>
              row[column] ? [[fact, row[column]]] : [],
            ),
          ),
        },
      },
    }
  }
}

/** The rows of a CSV export; a file that is not CSV (a CsvError) is bad input, named with its line. */
async function* csvRows(
  path: string,
  rows: AsyncIterable<Record<string, string>>,
  from: 'hubspot' | 'salesforce',
): AsyncGenerator<Record<string, string>> {
  try {
    yield* rows
  } catch (error) {
    if (!(error instanceof CsvError)) throw error
    const line = (error as CsvError & { lines?: unknown }).lines
    throw new UsageError(
      `${path}${typeof line === 'number' ? ` line ${line}` : ''}: not a CSV export (${error.message})`,
      `--from ${from} reads the CSV export of ${from === 'hubspot' ? 'HubSpot' : 'Salesforce'} activities; a history in NDJSON needs no --from`,
    )
  }
}

export async function replayCommand(io: Io, o: ReplayCommandOptions): Promise<number> {
  const policy = await loadPolicyFile(o.policy)
  const baseline = o.baseline ? await loadPolicyFile(o.baseline) : undefined
  const size = statSync(o.touches).size
  let read = 0
  const from = o.from ?? (o.touches.endsWith('.csv') ? undefined : 'ndjson')
  if (!from)
    throw new UsageError(
      `${o.touches} looks like CSV: say which export it is with --from hubspot or --from salesforce`,
    )
  const source =
    from === 'ndjson'
      ? ndjson(o.touches, (n) => (read += n))
      : csv(o.touches, from, o.map, (n) => (read += n))
  // A progress bar on long runs, on a terminal only.
  const bar = process.stderr.isTTY && size > 5_000_000
  const report = await replay(policy, source, {
    ...(baseline ? { baseline } : {}),
    ...(o.assumeApproved ? { assumeApproved: true } : {}),
    ...(bar
      ? {
          every: 20_000,
          progress: (n: number) => {
            const share = Math.min(1, read / size)
            process.stderr.write(
              `\r[${'='.repeat(Math.round(share * 30)).padEnd(30)}] ${Math.round(share * 100)}%  ${n.toLocaleString('en-US')} events`,
            )
          },
        }
      : {}),
  })
  if (bar) process.stderr.write('\n')
  if (o.html)
    await writeFile(
      o.html,
      htmlReport(report, {
        policy: o.policy,
        history: o.touches,
        ...(o.baseline ? { baseline: o.baseline } : {}),
      }),
    )
  if (o.json) io.out(JSON.stringify(report, null, 2))
  else printReport(io, report, o)
  // A history none of whose lines could be replayed is bad input (each line's error is printed).
  return report.errorCount && report.attempts === 0 ? EXIT.usage : EXIT.ok
}

const pct = (n: number, of: number) => (of ? `${((100 * n) / of).toFixed(1)}%` : '—')

/**
 * How a policy's answers differ from a baseline's, with examples: one format for `replay --baseline`
 * (examples name history lines) and `candidate report` (they name live decisions, for `remit explain`).
 */
export function printBaseline(io: Io, b: BaselineDiff): void {
  io.out('')
  io.out(paint(io, 'bold', `Against the baseline (version ${b.policyVersion})`))
  io.out(`  baseline: go ${b.verdicts.go}, flag ${b.verdicts.flag}, stop ${b.verdicts.stop}`)
  io.out(
    `  ${b.nowSent} would now go out that the baseline held back; ${b.nowHeld} the baseline let go are now held back`,
  )
  for (const e of b.examples.slice(0, 10)) {
    io.out(
      `    ${e.decisionId ? `decision ${e.decisionId}` : `line ${e.line}`} ${e.at.slice(0, 16)} ${e.agent} ${e.kind} ${e.accountId}: ${e.before} → ${e.now} (${e.rules.join(', ')})`,
    )
    // A live decision's request is in the log (GET /v1/decisions/<id>): its facts complete the trace.
    if (e.decisionId)
      io.out(
        paint(
          io,
          'dim',
          `      explain: remit explain --policy next.yaml --agent ${e.agent} --action ${e.kind} --account ${e.accountId} --at ${e.at} --fact …`,
        ),
      )
  }
}

export function printReport(
  io: Io,
  r: ReplayReport,
  o: Pick<ReplayCommandOptions, 'policy' | 'touches' | 'html'>,
): void {
  io.out(paint(io, 'bold', `Replay of ${o.touches} under ${o.policy} (version ${r.policyVersion})`))
  io.out(
    `${r.attempts.toLocaleString('en-US')} attempts and ${r.recorded.toLocaleString('en-US')} recorded touches, ${r.from?.slice(0, 10) ?? '—'} to ${r.to?.slice(0, 10) ?? '—'}`,
  )
  io.out(
    `go ${r.verdicts.go} (${pct(r.verdicts.go, r.attempts)}), flag ${r.verdicts.flag} (${pct(r.verdicts.flag, r.attempts)}), stop ${r.verdicts.stop} (${pct(r.verdicts.stop, r.attempts)})`,
  )
  io.out('')
  io.out(paint(io, 'bold', 'By team'))
  for (const [team, v] of Object.entries(r.byTeam).sort())
    io.out(
      `  ${team.padEnd(12)} go ${String(v.go).padStart(6)}  flag ${String(v.flag).padStart(6)}  stop ${String(v.stop).padStart(6)}`,
    )
  io.out(paint(io, 'bold', 'By rule'))
  for (const [rule, n] of Object.entries(r.byRule).sort((a, b) => b[1] - a[1]))
    io.out(`  ${rule.padEnd(28)} ${String(n).padStart(6)}`)
  io.out('')
  io.out(paint(io, 'bold', 'Review load: flags per reviewing team per day, against its capacity'))
  for (const [team, days] of Object.entries(r.flagsPerDay).sort()) {
    const counts = Object.values(days)
    const cap = r.capacity[team]
    const over = r.overCapacity.filter((x) => x.team === team)
    io.out(
      `  ${team.padEnd(12)} ${counts.length} days with flags, mean ${(counts.reduce((a, b) => a + b, 0) / counts.length).toFixed(1)}/day, peak ${Math.max(...counts)}/day; capacity ${cap ?? 'not set'}${cap !== undefined ? `; over capacity on ${over.length} day${over.length === 1 ? '' : 's'}` : ''}`,
    )
    if (over.length) {
      io.out(paint(io, 'red', `    over: ${over.map((x) => `${x.day.slice(5)} (${x.flags})`).join(', ')}`))
      io.out(paint(io, 'red', '    on those days "review everything" quietly becomes "review nothing"'))
    }
  }
  if (!Object.keys(r.flagsPerDay).length) io.out('  no flags')
  if (r.baseline) printBaseline(io, r.baseline)
  // A decision log read as history also records promotions and rollbacks: not attempts, not errors.
  if (r.policyChanges)
    io.out(`\n${r.policyChanges} policy change(s) seen in the log (promote, rollback): skipped`)
  if (r.errorCount) {
    io.out('')
    io.out(paint(io, 'yellow', `${r.errorCount} line(s) could not be replayed:`))
    for (const e of r.errors.slice(0, 10)) io.out(`  line ${e.line}: ${e.message}`)
  }
  if (o.html) io.out(`\nreport: ${o.html}`)
}
