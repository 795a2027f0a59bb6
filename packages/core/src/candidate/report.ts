import type { Decision } from '../decision/decision.ts'
import type { Verdict } from '../decision/schema.ts'
import type { Policy } from '../policy/model.ts'
import type { BaselineDiff } from '../replay/replay.ts'
import type { Store } from '../store/store.ts'
import type { CandidateDiff } from './diff.ts'
import { candidateDiffs } from './state.ts'

// `remit candidate report`: what the candidate in shadow would have changed in live traffic, in the
// diff format of `remit replay --baseline` (the candidate is "now", the live policy the baseline),
// so a report from history and one from live traffic read alike.

export interface CandidateReport {
  candidateVersion: string
  since: string
  until: string
  /** Live decisions in the window, and how many of them the candidate answered otherwise. */
  decisions: number
  differences: number
  /** Verdict flips by kind, `go→flag`. */
  flips: Record<string, number>
  /** Same verdict, other reasons or another review team. */
  rulesOnly: number
  /** Decisions the candidate could not evaluate (a condition that failed). */
  errors: number
  /** The rules behind flips (added or removed by the candidate), most flips first. */
  topRules: { rule: string; flips: number }[]
  /** Flags per reviewing team per UTC day: as decided, and as the candidate would have. */
  flagsPerDay: {
    live: Record<string, Record<string, number>>
    candidate: Record<string, Record<string, number>>
  }
  capacity: Record<string, number | undefined>
  /** Days the candidate would put a team over its `reviewCapacityPerDay`. */
  overCapacity: { team: string; day: string; flags: number; capacity: number }[]
  /** The candidate against the live policy, as `replay --baseline` prints it (examples name decisions). */
  baseline: BaselineDiff
}

const zero = (): Record<Verdict, number> => ({ go: 0, flag: 0, stop: 0 })
const day = (at: Date) => at.toISOString().slice(0, 10)
const bump = (by: Record<string, Record<string, number>>, team: string, d: string, n: number) => {
  const days = by[team] ?? {}
  by[team] = days
  days[d] = (days[d] ?? 0) + n
  if (days[d] === 0) delete days[d]
}

const PAGE = 1000

/**
 * Calls `each` with every live decision in the window, newest first, a page at a time and none kept:
 * a window of millions costs one page of memory. Pages are cut by time (`before`), so a page that
 * ends inside a millisecond takes the rest of that millisecond whole before going on: decisions
 * decided together share their time, and cutting between them would skip some.
 */
async function eachDecision(
  store: Store,
  since: Date,
  until: Date,
  each: (d: Decision) => void,
): Promise<void> {
  let before = until
  for (;;) {
    const page = await store.listDecisions({ since, before, limit: PAGE })
    if (page.length < PAGE) return page.forEach(each)
    const edge = (page[page.length - 1] as Decision).at
    for (const d of page) if (d.at.getTime() !== edge.getTime()) each(d)
    const tied = { since: edge, until: new Date(edge.getTime() + 1), limit: PAGE }
    for (const d of await store.listDecisions(tied)) each(d)
    before = edge
  }
}

/** The candidate's report over live decisions since `since` (to `until`, default now). */
export async function candidateReport(
  store: Store,
  candidate: Policy,
  o: { since: Date; until?: Date; examples?: number },
): Promise<CandidateReport> {
  const until = o.until ?? new Date(Date.now() + 1)
  const diffs = (await candidateDiffs(store, candidate.version, o.since)).filter((d) => d.at < until)
  const live: Record<string, Record<string, number>> = {}
  const verdicts = zero()
  let decisions = 0
  await eachDecision(store, o.since, until, (d) => {
    decisions++
    verdicts[d.verdict]++
    if (d.verdict === 'flag') bump(live, d.reviewTeam ?? d.team, day(d.at), 1)
  })
  const shadow = structuredClone(live)
  const report: CandidateReport = {
    candidateVersion: candidate.version,
    since: o.since.toISOString(),
    until: until.toISOString(),
    decisions,
    differences: diffs.length,
    flips: {},
    rulesOnly: 0,
    errors: 0,
    topRules: [],
    flagsPerDay: { live, candidate: shadow },
    capacity: Object.fromEntries([...candidate.teams.values()].map((t) => [t.id, t.reviewCapacityPerDay])),
    overCapacity: [],
    baseline: { policyVersion: '', verdicts, nowSent: 0, nowHeld: 0, examples: [] },
  }
  const byRule: Record<string, number> = {}
  const versions = new Set<string>()
  // Oldest first, as a report reads.
  for (const d of [...diffs].reverse()) {
    versions.add(d.policyVersion)
    if (d.diff === 'error') report.errors++
    else if (d.diff === 'rules') report.rulesOnly++
    if (d.live === 'flag') bump(shadow, d.liveReviewTeam ?? d.team, day(d.at), -1)
    if (d.candidate === 'flag') bump(shadow, d.candidateReviewTeam ?? d.team, day(d.at), 1)
    if (d.candidate === undefined || d.candidate === d.live) continue
    const kind = `${d.live}→${d.candidate}`
    report.flips[kind] = (report.flips[kind] ?? 0) + 1
    const rules = [...d.added, ...d.removed]
    for (const rule of rules) byRule[rule] = (byRule[rule] ?? 0) + 1
    if ((d.candidate === 'go') !== (d.live === 'go')) {
      if (d.candidate === 'go') report.baseline.nowSent++
      else report.baseline.nowHeld++
    }
    if (report.baseline.examples.length < (o.examples ?? 20)) report.baseline.examples.push(example(d, rules))
  }
  report.baseline.policyVersion = [...versions].join(', ')
  report.topRules = Object.entries(byRule)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([rule, flips]) => ({ rule, flips }))
  for (const [team, days] of Object.entries(shadow)) {
    const capacity = report.capacity[team]
    if (capacity === undefined) continue
    for (const [d, flags] of Object.entries(days).sort())
      if (flags > capacity) report.overCapacity.push({ team, day: d, flags, capacity })
  }
  return report
}

function example(d: CandidateDiff, rules: string[]): BaselineDiff['examples'][number] {
  return {
    decisionId: d.decisionId,
    at: d.at.toISOString(),
    agent: d.agent,
    kind: d.kind,
    accountId: d.accountId,
    now: d.candidate as Verdict,
    before: d.live,
    rules,
  }
}
