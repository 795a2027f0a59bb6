// The main job: the example week (docs/concepts.md), end to end, with Remit in the middle, on the embedded
// SQLite store. Run it with `./dev demo` from the repository root: it prints the week, then serves
// the console on the very store it printed (`--no-serve`: only print, the week at its dates in the story).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { styleText } from 'node:util'
import { loadPolicyFile, openRemit, openSqliteStore, type Remit, type Timeline } from '@remit/core'
import type { ConsoleDemo } from './console-demo.ts'
import { customers, runWeek, type Step } from './scenario.ts'

const here = fileURLToPath(new URL('.', import.meta.url))
const policyPath = join(here, 'remit.yaml')
const dbArg = process.argv.slice(2).find((a) => !a.startsWith('--'))
const serving = !process.argv.includes('--no-serve')

// Served: the week is played once, as the week just gone, into the store the console then serves, so
// the console shows exactly what is printed below (the story's reviewers answer, except the flags
// nothing later turns on: those wait for you). Not served: the week at its dates in the story.
let demo: ConsoleDemo | undefined
let remit: Remit
let steps: Step[]
let shiftMs = 0
let dbPath: string
if (serving) {
  const { startConsoleDemo } = await import('./console-demo.ts')
  demo = await startConsoleDemo({
    port: Number(process.env.PORT ?? 8787),
    answers: 'story',
    ...(dbArg ? { store: dbArg } : {}),
  })
  ;({ steps, shiftMs, storePath: dbPath } = demo)
  remit = demo.server.remit
} else {
  dbPath = dbArg ?? join(mkdtempSync(join(tmpdir(), 'remit-week-')), 'remit.db')
  remit = await openRemit({ policy: await loadPolicyFile(policyPath), store: openSqliteStore(dbPath) })
  steps = await runWeek(remit)
}
const policy = remit.policy

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
/** A time of the story, moved as the week was. */
const moved = (iso: string) => new Date(Date.parse(iso) + shiftMs)
const answered = new Set(steps.flatMap((s) => (s.kind === 'review' ? [s.review.id] : [])))

console.log(bold("Remit: the seed article's week"))
console.log(
  dim(
    demo
      ? `policy ${policyPath} with reviews expiring after 14 days, not 72 hours, so open flags stay open (version ${policy.version})\nplayed as the week just gone, into ${dbPath}: the store the console below serves\n`
      : `policy ${policyPath} (version ${policy.version}), store ${dbPath}\n`,
  ),
)

for (const step of steps) print(step)

const acme = await remit.timeline('acme')
printTimeline(acme)
printComparison(acme)

if (demo) {
  const open = steps.filter(
    (s) => s.kind === 'decision' && s.decision.reviewId && !answered.has(s.decision.reviewId),
  )
  console.log()
  console.log(
    bold('The console'),
    `${demo.url}/console/ — this week, as printed above, with ${open.length} flag${open.length === 1 ? '' : 's'} left for sales to answer`,
  )
  console.log(`  sign in as sales:   ${demo.keys.sales}`)
  console.log(`  sign in as support: ${demo.keys.support}`)
  console.log(`  admin:              ${demo.keys.admin}`)
  console.log(dim('  (keys made for this run; Ctrl-C stops the server)'))
  const server = demo
  const stop = () => server.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
} else {
  await remit.close()
}

function print(step: Step) {
  if (step.kind === 'fact') {
    console.log(`${when(moved(step.event.at))}  ${dim('CRM')}  ${step.event.what}\n`)
    return
  }
  if (step.kind === 'touch') {
    console.log(`${when(step.touch.at)}  ${dim('CRM')}  ${step.event.what}: recorded in the ledger\n`)
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
    const story = e.review
    if (d.reviewId && !answered.has(d.reviewId) && story)
      console.log(
        `        ${bold('left open for you')}: answer it in the console (in the story, ${story.by} ${story.approve ? 'approves' : 'rejects'} it: "${story.note}")`,
      )
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
  const tried = steps.filter(
    (s): s is Extract<Step, { kind: 'decision' }> =>
      s.kind === 'decision' && s.event.customer.accountId === 'acme' && !s.event.retry,
  )
  console.log(
    bold('Without Remit'),
    `Acme would have received ${tried.length} e-mails from three agents that each did their job:`,
  )
  for (const s of tried) console.log(`  ${when(s.decision.at)}  ${s.event.what}`)
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
    const s = steps.find((step) => step.kind === 'decision' && step.decision.id === x.decisionId)
    console.log(`  ${when(x.at)}  ${s?.kind === 'decision' ? s.event.what : x.kind}`)
  }
  for (const x of t.touches.filter((y) => y.source === 'recorded'))
    console.log(`  ${when(x.at)}  ${x.note ?? x.kind}`)
}
