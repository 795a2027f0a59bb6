// The main job: the example week (docs/concepts.md), end to end, with Remit in the middle, on the embedded
// SQLite store. Run it with `./dev demo` from the repository root.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { styleText } from 'node:util'
import { loadPolicyFile, openRemit, openSqliteStore, type Timeline } from '@remit/core'
import { customers, runWeek, type Step, week } from './scenario.ts'

const here = fileURLToPath(new URL('.', import.meta.url))
const policyPath = join(here, 'remit.yaml')
const dbPath =
  process.argv.slice(2).find((a) => !a.startsWith('--')) ??
  join(mkdtempSync(join(tmpdir(), 'remit-week-')), 'remit.db')

const policy = await loadPolicyFile(policyPath)
const remit = await openRemit({ policy, store: openSqliteStore(dbPath) })
const steps = await runWeek(remit)

const VERDICT_STYLE = { go: 'green', flag: 'yellow', stop: 'red' } as const
const bold = (s: string) => styleText('bold', s)
const dim = (s: string) => styleText('dim', s)
const verdict = (v: 'go' | 'flag' | 'stop') =>
  styleText(['bold', VERDICT_STYLE[v]], v.toUpperCase().padEnd(4))
const when = (d: Date | string) =>
  new Date(d).toLocaleString('en-GB', {
    weekday: 'short',
    day: '2-digit',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: 'UTC',
  })

console.log(bold("Remit: the seed article's week"))
console.log(dim(`policy ${policyPath} (version ${policy.version}), store ${dbPath}\n`))

for (const step of steps) print(step)

const acme = await remit.timeline('acme')
printTimeline(acme)
printComparison(acme)
await remit.close()

// Then the product in a browser: the same week, just gone, with its flags still open for you.
if (!process.argv.includes('--no-serve')) {
  const { startConsoleDemo } = await import('./console-demo.ts')
  const port = Number(process.env.PORT ?? 8787)
  const demo = await startConsoleDemo({ port }).catch(() => startConsoleDemo({ port: 0 }))
  console.log()
  console.log(
    bold('The console'),
    `${demo.url}/console/ — the same week, just gone, with its flags open for sales to answer`,
  )
  console.log(`  sign in as sales:   ${demo.keys.sales}`)
  console.log(`  sign in as support: ${demo.keys.support}`)
  console.log(`  admin:              ${demo.keys.admin}`)
  console.log(dim('  (keys made for this run; Ctrl-C stops the server)'))
  const stop = () => demo.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

function print(step: Step) {
  if (step.kind === 'fact') {
    console.log(`${when(step.event.at)}  ${dim('CRM')}  ${step.event.what}\n`)
    return
  }
  if (step.kind === 'touch') {
    console.log(`${when(step.event.at)}  ${dim('CRM')}  ${step.event.what}: recorded in the ledger\n`)
    return
  }
  const e = step.event
  const agent = policy.tools.get(e.tool) ?? e.tool
  const who = `${customers[e.customer.accountId]} (${e.customer.email})`
  if (step.kind === 'decision') {
    const d = step.decision
    console.log(`${when(d.at)}  ${bold(agent)} wants to send ${who} a ${e.what}`)
    const extra =
      d.verdict === 'flag'
        ? ` → ${d.reviewTeam}'s review queue`
        : d.verdict === 'stop' && d.retryAfter
          ? ` (may retry after ${when(d.retryAfter)})`
          : d.verdict === 'go'
            ? ' → sent'
            : ''
    console.log(`  ${verdict(d.verdict)}${extra}`)
    for (const r of d.reasons) console.log(dim(`        ${r.rule} (${r.sort}): ${r.message}`))
    console.log()
    return
  }
  const r = step.review
  console.log(
    `${when(r.resolvedAt as Date)}  ${bold(r.resolvedBy ?? r.team)} ${r.status} the ${e.what} for ${customers[r.accountId]}`,
  )
  console.log(`  ${verdict(r.outcome ?? 'stop')}${r.outcome === 'go' ? ' → sent' : ''}`)
  for (const reason of r.outcomeReasons ?? []) console.log(dim(`        ${reason.message}`))
  console.log()
}

function printTimeline(t: Timeline) {
  console.log(bold(`Acme's timeline: every agent, every tool, one ledger`))
  const rows: { at: Date; line: string }[] = []
  for (const d of t.decisions) {
    rows.push({ at: d.at, line: `${d.verdict.padEnd(4)}  ${d.agent.padEnd(15)} ${d.action.kind}` })
  }
  for (const r of t.reviews) {
    if (r.resolvedAt) {
      rows.push({ at: r.resolvedAt, line: `${r.status.padEnd(9)} by ${r.resolvedBy} → ${r.outcome}` })
    }
  }
  for (const touch of t.touches) {
    rows.push({
      at: touch.at,
      line: `touch ${touch.status.padEnd(8)} ${(touch.agent ?? touch.team ?? '').padEnd(15)} ${touch.kind} (${touch.channel})`,
    })
  }
  rows.sort((a, b) => a.at.getTime() - b.at.getTime())
  for (const row of rows) console.log(`  ${when(row.at)}  ${row.line}`)
  console.log()
}

function printComparison(t: Timeline) {
  const attempted = week.filter((e) => e.kind === 'attempt' && e.customer.accountId === 'acme' && !e.retry)
  console.log(
    bold('Without Remit'),
    `Acme would have received ${attempted.length} e-mails from three agents that each did their job:`,
  )
  for (const e of attempted) if (e.kind === 'attempt') console.log(`  ${when(e.at)}  ${e.what}`)
  console.log(
    dim(
      '  …and forwarded them to the VP of Sales: "Can someone tell me what\'s actually going on over there?"\n',
    ),
  )
  const sent = t.touches.filter((x) => x.source === 'decision' && x.status === 'sent')
  console.log(
    bold('With Remit'),
    `Acme received ${sent.length} e-mail${sent.length === 1 ? '' : 's'}, and a call from sales:`,
  )
  for (const x of sent) {
    const d = t.decisions.find((dd) => dd.id === x.decisionId)
    const e = week.find((ev) => ev.kind === 'attempt' && new Date(ev.at).getTime() === d?.at.getTime())
    console.log(`  ${when(x.at)}  ${e?.kind === 'attempt' ? e.what : x.kind}`)
  }
  for (const x of t.touches.filter((y) => y.source === 'recorded'))
    console.log(`  ${when(x.at)}  ${x.note ?? x.kind}`)
}
