import { z } from 'zod'
import { resolveRequest } from '../decision/request.ts'
import type { Verdict } from '../decision/schema.ts'
import { InputError } from '../errors.ts'
import { evaluate } from '../evaluate/evaluate.ts'
import { normalizeEmail } from '../ledger/identity.ts'
import type { Touch } from '../ledger/types.ts'
import type { Policy } from '../policy/model.ts'

// `remit replay`: a policy run over a history of attempted touches, in time order, with the ledger
// building up as it would have. Evaluation is the core's own `evaluate`; the ledger is in memory and
// keeps only each account's last `lookback` of touches, so memory stays flat however long the history.
// Flat means little kept per event, and also little made per event: V8 grows its young generation
// for good once enough bytes have outlived a scavenge, so a long replay's resident size follows how
// much each event allocates and holds, not only what it keeps.

const time = z.iso.datetime({ offset: true })

/** An attempt an agent made: who, what, for whom, when. */
const attemptSchema = z.strictObject({
  at: time,
  agent: z.string().optional(),
  tool: z.string().optional(),
  action: z.object({ kind: z.string() }).catchall(z.unknown()),
  customer: z.object({
    accountId: z.string().optional(),
    contactId: z.string().optional(),
    email: z.string().optional(),
    facts: z.record(z.string(), z.unknown()).optional(),
  }),
  /** An id of the attempt in the source system, echoed in examples. */
  ref: z.string().optional(),
  /** What was decided, on a line of Remit's decision log (read as history): not read here. */
  decision: z.unknown().optional(),
})

/** A touch that happened elsewhere (a rep's call, another system's e-mail). */
const touchSchema = z.strictObject({
  at: time,
  touch: z.strictObject({
    accountId: z.string(),
    contactId: z.string().optional(),
    kind: z.string(),
    channel: z.string().optional(),
    team: z.string().optional(),
    agent: z.string().optional(),
    outbound: z.boolean().optional(),
  }),
})

/** One line of the history (NDJSON): an attempt an agent made, or a touch that happened elsewhere. */
export const replayEventSchema = z.union([attemptSchema, touchSchema])

/**
 * What is wrong with a line that is not a replay event, in words a person can act on: not an object,
 * neither an attempt nor a touch, a missing or malformed field (the first one found).
 */
export function replayEventProblem(raw: unknown): string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return `not a JSON object (got ${Array.isArray(raw) ? 'an array' : JSON.stringify(raw)})`
  const fields = raw as Record<string, unknown>
  const schema =
    'touch' in fields
      ? touchSchema
      : ['action', 'customer', 'agent', 'tool'].some((k) => k in fields)
        ? attemptSchema
        : undefined
  if (!schema) return 'neither an attempt ("agent" or "tool", "action", "customer") nor a touch ("touch")'
  const issue = schema.safeParse(raw).error?.issues[0]
  if (!issue) return 'not a replay event'
  const path = issue.path.map(String)
  const name = path.join('.')
  let value: unknown = raw
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key]
  const what = 'touch' in fields ? 'a touch' : 'an attempt'
  if (issue.code === 'unrecognized_keys')
    return `${what} has no field ${issue.keys.map((k) => `"${[...path, k].join('.')}"`).join(', ')}`
  if (value === undefined) return `${what} needs "${name}"`
  if (name === 'at')
    return `"at" must be an ISO 8601 time with an offset, e.g. 2026-04-10T10:00:00Z; got ${JSON.stringify(value)}`
  return `"${name}": ${issue.message}`
}

export type ReplayEvent = z.infer<typeof replayEventSchema>

const ATTEMPT_FIELDS = new Set(['at', 'agent', 'tool', 'action', 'customer', 'ref', 'decision'])
const CUSTOMER_FIELDS = new Set(['accountId', 'contactId', 'email', 'facts'])
const TOUCH_EVENT_FIELDS = new Set(['at', 'touch'])
const TOUCH_FIELDS: Record<string, 'string' | 'boolean'> = {
  accountId: 'string',
  contactId: 'string',
  kind: 'string',
  channel: 'string',
  team: 'string',
  agent: 'string',
  outbound: 'boolean',
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const optionalString = (v: unknown) => v === undefined || typeof v === 'string'
const hasOnly = (o: Record<string, unknown>, fields: ReadonlySet<string>) => {
  for (const key in o) if (!fields.has(key)) return false
  return true
}

/**
 * The line's event as it is, when it plainly is one: the common case, read without zod copying every
 * object in it (those copies are most of what a replay allocates per event outside evaluation).
 * Accepts only what `replayEventSchema` accepts and would return unchanged (no field it would drop);
 * anything else is `undefined`, and goes through the schema.
 */
function plainEvent(raw: unknown): ReplayEvent | undefined {
  if (!isRecord(raw) || typeof raw.at !== 'string' || !time.safeParse(raw.at).success) return undefined
  if ('touch' in raw) {
    const t = raw.touch
    if (!hasOnly(raw, TOUCH_EVENT_FIELDS) || !isRecord(t)) return undefined
    for (const key in t)
      if (!Object.hasOwn(TOUCH_FIELDS, key) || typeof t[key] !== TOUCH_FIELDS[key]) return undefined
    return typeof t.accountId === 'string' && typeof t.kind === 'string' ? (raw as ReplayEvent) : undefined
  }
  const { action, customer } = raw
  if (!hasOnly(raw, ATTEMPT_FIELDS) || !optionalString(raw.agent) || !optionalString(raw.tool))
    return undefined
  if (!optionalString(raw.ref) || !isRecord(action) || typeof action.kind !== 'string') return undefined
  if (!isRecord(customer) || !hasOnly(customer, CUSTOMER_FIELDS)) return undefined
  if (!optionalString(customer.accountId) || !optionalString(customer.contactId)) return undefined
  if (!optionalString(customer.email) || !(customer.facts === undefined || isRecord(customer.facts)))
    return undefined
  return raw as ReplayEvent
}

export interface ReplayOptions {
  /** A second, older policy run over the same history, to compare against. */
  baseline?: Policy
  /** Treat flags as approved (the touch goes out at once). Default: a flag sends nothing. */
  assumeApproved?: boolean
  /** Called every `every` events with the count so far (progress bars). */
  progress?: (events: number) => void
  every?: number
  /**
   * Drop touches older than the policy's lookback as time advances (default true). Verdicts are the
   * same either way; false keeps the whole history in memory (tests compare the two).
   */
  prune?: boolean
}

export interface ReplayReport {
  policyVersion: string
  events: number
  attempts: number
  recorded: number
  from?: string
  to?: string
  verdicts: Record<Verdict, number>
  byTeam: Record<string, Record<Verdict, number>>
  byRule: Record<string, number>
  /** Flags per reviewing team (the one each flag is routed to) per UTC day. */
  flagsPerDay: Record<string, Record<string, number>>
  capacity: Record<string, number | undefined>
  overCapacity: { team: string; day: string; flags: number; capacity: number }[]
  baseline?: {
    policyVersion: string
    verdicts: Record<Verdict, number>
    /** Would go out now, but the baseline held back (stop or flag). */
    nowSent: number
    /** The baseline let it go; now it is held back. */
    nowHeld: number
    examples: {
      /** The history's line (replay), or the live decision (a candidate's report: `remit explain <id>`). */
      line?: number
      decisionId?: string
      ref?: string
      at: string
      agent: string
      kind: string
      accountId: string
      now: Verdict
      before: Verdict
      rules: string[]
    }[]
  }
  /**
   * Lines of a decision log that record a change of the live policy (`"type": "policy"`): skipped, not
   * events and not errors.
   */
  policyChanges: number
  /** Lines that could not be replayed (bad JSON, unknown agent…), first 100. */
  errors: { line: number; message: string }[]
  errorCount: number
}

/**
 * Each account's ledger, in time order, pruned to the lookback window as time advances: the policy's
 * `lookbackMs` is the longest any rule can see (`ledger.lookback`, and every limit's `per`, calendar
 * periods included), so what is older can change no verdict. An account's touches are pruned when it is
 * read, and every account's now and then (a sweep each quarter of the window of history, at least
 * hourly), so memory holds at most about 1¼ windows of touches however long the history.
 */
class WindowLedger {
  private readonly accounts = new Map<string, Touch[]>()
  private readonly lookbackMs: number
  private readonly prune: boolean
  private readonly sweepEveryMs: number
  private sweptAt = Number.NEGATIVE_INFINITY

  constructor(lookbackMs: number, prune: boolean) {
    this.lookbackMs = lookbackMs
    this.prune = prune
    this.sweepEveryMs = Math.max(lookbackMs / 4, 3_600_000)
  }

  /** The account's touches in the window ending `now` (the ledger's own list: read it, keep it not). */
  touches(accountId: string, now: number): readonly Touch[] {
    const list = this.accounts.get(accountId)
    if (!list) return []
    const i = aged(list, now - this.lookbackMs)
    if (i === 0) return list
    if (!this.prune) return list.slice(i)
    drop(list, i)
    return list
  }

  add(t: Touch, now: number): void {
    const list = this.accounts.get(t.accountId)
    if (list) list.push(t)
    else this.accounts.set(t.accountId, [t])
    if (this.prune && now - this.sweptAt >= this.sweepEveryMs) {
      this.sweptAt = now
      const from = now - this.lookbackMs
      for (const [id, l] of this.accounts) {
        const i = aged(l, from)
        if (i === l.length) this.accounts.delete(id)
        else if (i > 0) drop(l, i)
      }
    }
  }

  /** Touches held, across accounts (tests). */
  get size(): number {
    let n = 0
    for (const l of this.accounts.values()) n += l.length
    return n
  }
}

/** How many of a time-ordered list's touches are older than `from`. */
function aged(list: readonly Touch[], from: number): number {
  let i = 0
  while (i < list.length && (list[i] as Touch).at.getTime() < from) i++
  return i
}

/** Removes a list's first `n` in place (no array of the removed, as `splice` would make). */
function drop(list: Touch[], n: number): void {
  list.copyWithin(0, n)
  list.length -= n
}

const zero = (): Record<Verdict, number> => ({ go: 0, flag: 0, stop: 0 })

/** The UTC day of a time, made once per day of history rather than once per event. */
class Days {
  private start = Number.POSITIVE_INFINITY
  private end = Number.NEGATIVE_INFINITY
  private name = ''

  of(at: Date): string {
    const t = at.getTime()
    if (t < this.start || t >= this.end) {
      this.start = t - (((t % 86_400_000) + 86_400_000) % 86_400_000)
      this.end = this.start + 86_400_000
      this.name = at.toISOString().slice(0, 10)
    }
    return this.name
  }
}

/** What one run's evaluation of an attempt came to (its reasons are the evaluation's own list). */
interface Outcome {
  verdict: Verdict
  reasons: readonly { rule: string; sort: string }[]
  team: string
  reviewTeam?: string | undefined
  agent: string
  accountId: string
}

/** The rules that held an attempt back (not the permissions that granted it). */
const held = (outcome: Outcome) => outcome.reasons.filter((r) => r.sort !== 'permission').map((r) => r.rule)

/** No commitments in a replay: one empty list for every evaluation. */
const NO_COMMITMENTS: readonly never[] = []

/** How a policy's answers differ from a baseline's: what `replay --baseline` and a candidate's report both print. */
export type BaselineDiff = NonNullable<ReplayReport['baseline']>

export async function replay(
  policy: Policy,
  /** Each line's event, or what made it unreadable (`error`, e.g. "not JSON: …"). */
  events: AsyncIterable<{ line: number; event: unknown; error?: string }>,
  o: ReplayOptions = {},
): Promise<ReplayReport> {
  const report: ReplayReport = {
    policyVersion: policy.version,
    events: 0,
    attempts: 0,
    recorded: 0,
    verdicts: zero(),
    byTeam: {},
    byRule: {},
    flagsPerDay: {},
    capacity: Object.fromEntries([...policy.teams.values()].map((t) => [t.id, t.reviewCapacityPerDay])),
    overCapacity: [],
    policyChanges: 0,
    errors: [],
    errorCount: 0,
  }
  const prune = o.prune ?? true
  const runs = [{ policy, ledger: new WindowLedger(policy.lookbackMs, prune) }]
  if (o.baseline) {
    runs.push({ policy: o.baseline, ledger: new WindowLedger(o.baseline.lookbackMs, prune) })
    report.baseline = {
      policyVersion: o.baseline.version,
      verdicts: zero(),
      nowSent: 0,
      nowHeld: 0,
      examples: [],
    }
  }
  const fail = (line: number, message: string) => {
    report.errorCount++
    if (report.errors.length < 100) report.errors.push({ line, message })
  }
  const days = new Days()
  // The latest evaluation of each run (the policy, then the baseline), kept in place between events.
  const outcomes: Outcome[] = runs.map(() => ({
    verdict: 'go',
    reasons: [],
    team: '',
    agent: '',
    accountId: '',
  }))
  let last = Number.NEGATIVE_INFINITY
  let n = 0
  for await (const { line, event: raw, error } of events) {
    if (isRecord(raw) && raw.type === 'policy') {
      report.policyChanges++
      continue
    }
    report.events++
    if (o.progress && ++n % (o.every ?? 10_000) === 0) o.progress(n)
    if (error !== undefined) {
      fail(line, error)
      continue
    }
    let e = plainEvent(raw)
    if (!e) {
      const parsed = replayEventSchema.safeParse(raw)
      if (!parsed.success) {
        fail(line, replayEventProblem(raw))
        continue
      }
      e = parsed.data
    }
    const at = new Date(e.at)
    if (at.getTime() < last) {
      fail(line, `out of time order: ${e.at} is before the line above; sort the history by time`)
      continue
    }
    last = at.getTime()
    report.from ??= e.at
    report.to = e.at
    if ('touch' in e) {
      report.recorded++
      const t = e.touch
      for (const run of runs) {
        const declared = run.policy.actions.get(t.kind)
        const touch: Touch = {
          id: `r${line}`,
          accountId: t.accountId,
          kind: t.kind,
          outbound: t.outbound ?? declared?.outbound ?? true,
          at,
          status: 'sent',
          source: 'recorded',
        }
        if (t.contactId) touch.contactId = t.contactId
        if (t.agent) touch.agent = t.agent
        const team = t.team ?? (t.agent ? run.policy.agents.get(t.agent)?.team : undefined)
        if (team) touch.team = team
        const channel = t.channel ?? declared?.channel
        if (channel) touch.channel = channel
        run.ledger.add(touch, at.getTime())
      }
      continue
    }
    if (!e.agent && !e.tool) {
      fail(line, 'an attempt needs "agent" or "tool": who made it')
      continue
    }
    let bad = false
    for (const [i, run] of runs.entries()) {
      try {
        const caller = e.tool ? { tool: e.tool } : { agent: e.agent ?? '' }
        const customer = e.customer.facts ? e.customer : { facts: {}, ...e.customer }
        const req = resolveRequest(run.policy, caller, { action: e.action, customer, at: e.at }, () => at)
        const touches = run.ledger.touches(req.customer.accountId, at.getTime())
        const ev = evaluate(run.policy, { ...req, touches, commitments: NO_COMMITMENTS })
        const outcome = outcomes[i] as Outcome
        outcome.verdict = ev.verdict
        outcome.reasons = ev.reasons
        outcome.team = req.agent.team
        outcome.reviewTeam = ev.reviewTeam
        outcome.agent = req.agent.id
        outcome.accountId = req.customer.accountId
        if (ev.verdict === 'go' || (ev.verdict === 'flag' && o.assumeApproved)) {
          const touch: Touch = {
            id: `a${line}`,
            accountId: req.customer.accountId,
            agent: req.agent.id,
            team: req.agent.team,
            kind: req.action.kind,
            channel: req.action.channel,
            outbound: req.action.outbound,
            at,
            status: 'sent',
            source: 'decision',
          }
          if (req.customer.contactId) touch.contactId = req.customer.contactId
          if (req.customer.email) touch.email = normalizeEmail(req.customer.email)
          run.ledger.add(touch, at.getTime())
        }
      } catch (error) {
        if (!(error instanceof InputError)) throw error
        if (run === runs[0]) fail(line, error.message)
        bad = true
        break
      }
    }
    if (bad) continue
    report.attempts++
    const now = outcomes[0] as Outcome
    report.verdicts[now.verdict]++
    const team = report.byTeam[now.team] ?? zero()
    report.byTeam[now.team] = team
    team[now.verdict]++
    for (const r of now.reasons) report.byRule[r.rule] = (report.byRule[r.rule] ?? 0) + 1
    if (now.verdict === 'flag') {
      // Review load lands on the team the flag is routed to, whose capacity it eats.
      const reviewer = now.reviewTeam ?? now.team
      const route = report.flagsPerDay[reviewer] ?? {}
      report.flagsPerDay[reviewer] = route
      const d = days.of(at)
      route[d] = (route[d] ?? 0) + 1
    }
    const before = outcomes[1]
    if (before && report.baseline) {
      report.baseline.verdicts[before.verdict]++
      const changed = (now.verdict === 'go') !== (before.verdict === 'go')
      if (changed) {
        if (now.verdict === 'go') report.baseline.nowSent++
        else report.baseline.nowHeld++
        if (report.baseline.examples.length < 20) {
          report.baseline.examples.push({
            line,
            ...('ref' in e && e.ref ? { ref: e.ref } : {}),
            at: e.at,
            agent: now.agent,
            kind: e.action.kind,
            accountId: now.accountId,
            now: now.verdict,
            before: before.verdict,
            rules: held(now.verdict === 'go' ? before : now),
          })
        }
      }
    }
  }
  for (const [team, days] of Object.entries(report.flagsPerDay)) {
    const capacity = report.capacity[team]
    if (capacity === undefined) continue
    for (const [d, flags] of Object.entries(days).sort())
      if (flags > capacity) report.overCapacity.push({ team, day: d, flags, capacity })
  }
  return report
}
