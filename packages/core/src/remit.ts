import { shadowDecision } from './candidate/diff.ts'
import type { Decision } from './decision/decision.ts'
import {
  type Caller,
  type ResolvedRequest,
  resolveCaller,
  resolveRequest,
  typed,
  unknownName,
} from './decision/request.ts'
import type { DecisionRequest, Preview, Verdict } from './decision/schema.ts'
import { InputError, NotFoundError, ReviewStateError } from './errors.ts'
import { evaluate } from './evaluate/evaluate.ts'
import { newId } from './ids.ts'
import { commitmentFor, reserve } from './ledger/entries.ts'
import { linkOf, normalizeEmail, type Person, personOf } from './ledger/identity.ts'
import type { LedgerView, Suppression, Touch, TouchStatus } from './ledger/types.ts'
import {
  nextAttemptAt,
  type OutboxFilter,
  type OutboxMessage,
  outboxMessage,
  PermanentDeliveryError,
} from './outbox/outbox.ts'
import { loadPolicyFile } from './policy/load.ts'
import type { Policy } from './policy/model.ts'
import { answerReview } from './review/answer.ts'
import { approvalDigest } from './review/digest.ts'
import { type Recheck, recheckApproved } from './review/recheck.ts'
import type { Review, ReviewChanges } from './review/review.ts'
import type {
  DecisionFilter,
  DecisionWrite,
  ReviewFilter,
  ReviewWrite,
  Store,
  Timeline,
} from './store/store.ts'
import {
  type DecisionLogEntry,
  type DecisionLogSink,
  decisionLogEntry,
  type PolicyChangeLogEntry,
} from './telemetry/decision-log.ts'
import {
  ATTR,
  decisionAttributes,
  deliveryAttributes,
  recordError,
  reviewAttributes,
  traced,
} from './telemetry/tracing.ts'
import { toDate } from './time/duration.ts'

export interface RemitOptions {
  /** A loaded policy, or the path of a policy file. */
  policy: Policy | string
  store: Store
  /** Where `now` comes from when a request gives no `at` (default: the system clock). */
  clock?: () => Date
  /**
   * The decision log: each decision recorded, as one JSON line (`DecisionLogEntry`), after it is
   * stored — dry runs and answers to a repeated idempotency key write none. For a SIEM or `remit
   * replay`; it names customers, so it is personal data. `openDecisionLog(path | '-')` makes one.
   * A failing sink never fails or holds a decision: it is reported to `onDecisionLogError`.
   */
  decisionLog?: DecisionLogSink
  /** Told of each line the decision log failed to take (default: a process warning, at most once a minute). */
  onDecisionLogError?: (error: unknown) => void
}

/** The default report of a failing decision log: a process warning, at most once a minute, with a count. */
function warnEveryMinute(): (error: unknown) => void {
  let last = 0
  let missed = 0
  return (error) => {
    missed++
    if (Date.now() - last < 60_000) return
    last = Date.now()
    const why = error instanceof Error ? error.message : String(error)
    process.emitWarning(`${missed} line(s) not written: ${why}`, 'RemitDecisionLogWarning')
    missed = 0
  }
}

export interface TouchInput {
  accountId: string
  contactId?: string
  /** The address it went to (kept trimmed and lower-cased); with `contactId`, links the two. */
  email?: string
  kind: string
  channel?: string
  /** Default: the kind's `outbound` if the policy declares the kind, else true. */
  outbound?: boolean
  agent?: string
  team?: string
  tool?: string
  at?: Date | string
  note?: string
  /** What the touch records at its source (`hubspot:call:123`): recording it again returns the first. */
  externalId?: string
  /**
   * The attributes of the action it was (e.g. `campaign`), as `distinct` and `sum` limits and rules'
   * `t.attributes` read them: each declared on its kind and of its type, as in a decision request.
   */
  attributes?: Record<string, unknown>
}

export interface SuppressionInput {
  /** The customer: the account, or (with no account) a contact or an e-mail address, as decisions key them. */
  accountId?: string
  contactId?: string
  email?: string
  /** Only this channel (e.g. `email`); absent: every channel. */
  channel?: string
  /** Why: `unsubscribe`, `spamreport`, `bounce`, `manual`… */
  reason: string
  /** Who records it (an agent, a vendor's name, an admin). */
  source: string
  /** What it records at its source: the same id again returns the first. */
  externalId?: string
}

/**
 * The suppression `input` asks for, recorded at `at`, keyed as a decision for the same ids is (so
 * the decision's ledger view holds it). Throws InputError naming the missing field.
 */
export function newSuppression(input: SuppressionInput, at: Date): Suppression {
  if (!input.accountId && !input.contactId && !input.email)
    throw new InputError('MISSING_FIELD', 'name the customer: accountId, contactId or email', ['accountId'])
  if (!input.reason) throw new InputError('MISSING_FIELD', 'reason is required', ['reason'])
  const email = input.email?.trim().toLowerCase()
  const s: Suppression = {
    id: newId('sup'),
    accountId: input.accountId ?? (input.contactId ? `contact:${input.contactId}` : `email:${email}`),
    reason: input.reason,
    source: input.source,
    at,
  }
  if (input.contactId) s.contactId = input.contactId
  if (email) s.email = email
  if (input.channel) s.channel = input.channel
  if (input.externalId) s.externalId = input.externalId
  return s
}

export interface ResolveInput {
  /** Who answered (a person's name or a key's name), kept with the review. */
  by?: string
  note?: string
  at?: Date | string
  /** When given, the review must be routed to this team (a reviewer acts only on its team's reviews). */
  team?: string
  /**
   * Approvals only: the digest of the request the reviewer was shown (the review's `digest`). When
   * given and not the review's, the approval is refused (`ConflictError('REVIEW_DIGEST_MISMATCH')`)
   * and nothing changes.
   */
  digest?: string
  /**
   * Approvals only: approve with changes — attributes to change, each one the action's
   * `reviewerMayChange` lists (else InputError CHANGE_NOT_ALLOWED) and the caller can send changed
   * (its request's `acceptsChanges`; else ConflictError CHANGES_NOT_CARRIED). The changed request is
   * decided again at approval: a stop, or a flag for another reason or team, refuses it (ConflictError
   * CHANGED_REQUEST_STOPPED / CHANGED_REQUEST_FLAGGED, the review left pending); if it goes, it is
   * what is reserved and released (`review.changes`, `releasedAction`).
   */
  changes?: ReviewChanges
}

/** The payload a resolved review owes a channel, or undefined when it owes it nothing. */
export type OwedWork = (review: Review, decision: Decision) => Record<string, unknown> | undefined

export interface DeliverOptions {
  /** How often due messages are looked for (default 1 s). */
  everyMs?: number
  /** How long a claimed message is left to this deliverer before another may take it (default 60 s). */
  leaseMs?: number
  /** Attempts before a message is dead (default 20: with the default backoff, about 3 hours). */
  maxAttempts?: number
  /** First retry delay, doubled each attempt up to `maxDelayMs` (defaults 1 s and 10 min), ±20 % jitter. */
  baseDelayMs?: number
  maxDelayMs?: number
  /** How long one attempt may take before it counts as failed (default 30 s, at most half the lease). */
  sendTimeoutMs?: number
  /** Messages claimed per pass (default 50). */
  batch?: number
  /** Told of each failed attempt (the message, or undefined when the pass itself failed). */
  onError?: (message: OutboxMessage | undefined, error: unknown) => void
}

export interface BatchDeliverOptions extends DeliverOptions {
  /** Which messages may go in one call (e.g. one per vendor account); default: all of a pass. */
  groupBy?: (message: OutboxMessage) => string
}

/** The claimed messages in groups, in claim order. */
function groups(messages: OutboxMessage[], groupBy?: (m: OutboxMessage) => string): OutboxMessage[][] {
  if (!groupBy) return messages.length ? [messages] : []
  const byKey = new Map<string, OutboxMessage[]>()
  for (const m of messages) {
    const key = groupBy(m)
    const group = byKey.get(key)
    if (group) group.push(m)
    else byKey.set(key, [m])
  }
  return [...byKey.values()]
}

/** How long answering a review waits for the first try of the work it owes (then it goes on alone). */
const FIRST_TRY_WAIT_MS = 2000

/** `promise`, or a rejection with `message` once `ms` have passed (the timer never holds the process). */
function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
    timer.unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function backoff(attempts: number, o: DeliverOptions): number {
  const delay = Math.min((o.baseDelayMs ?? 1000) * 2 ** Math.max(0, attempts - 1), o.maxDelayMs ?? 600_000)
  return Math.round(delay * (0.8 + Math.random() * 0.4))
}

/**
 * What a decision keeps of the content it was asked about: all of it on a flag (a reviewer reads
 * it), only what names the message otherwise — a campaign's body is not copied into the log once per
 * recipient. The request's digest covers the whole preview either way.
 */
function keptPreview(preview: Preview, verdict: Verdict): Preview {
  if (verdict === 'flag') return preview
  const { text: _text, html: _html, ...names } = preview
  return names
}

/** The engine: decide, record, review, explain. One per policy-in-service and store. */
/** Told when a review is answered or expires, after it is stored (adapters release held work). */
export type ReviewListener = (review: Review, decision: Decision) => void | Promise<void>

export class Remit {
  private current: Policy
  private shadow: Policy | undefined
  readonly store: Store
  private readonly clock: () => Date
  private readonly listeners = new Set<ReviewListener>()
  /** channel → what a resolved review owes it (registered by adapters). */
  private readonly owed = new Map<string, OwedWork>()
  /** channel → what a new flag's pending review owes it (a post to Slack, a webhook). */
  private readonly owedOnFlag = new Map<string, OwedWork>()
  /** channel → start a delivery pass now (while a deliverer runs in this process). */
  private readonly kicks = new Map<string, () => Promise<void>>()
  private readonly decisionLog: DecisionLogSink | undefined
  private readonly onDecisionLogError: (error: unknown) => void

  constructor(
    policy: Policy,
    store: Store,
    clock: () => Date = () => new Date(),
    o: Pick<RemitOptions, 'decisionLog' | 'onDecisionLogError'> = {},
  ) {
    this.current = policy
    this.store = store
    this.clock = clock
    this.decisionLog = o.decisionLog
    this.onDecisionLogError = o.onDecisionLogError ?? warnEveryMinute()
  }

  get policy(): Policy {
    return this.current
  }

  /** Swaps the policy in service; decisions already made keep the version they recorded. */
  setPolicy(policy: Policy): void {
    this.current = policy
  }

  /** The candidate policy run in shadow beside the live one, if any. */
  get candidate(): Policy | undefined {
    return this.shadow
  }

  /**
   * Runs `policy` in shadow (undefined: none): every live decision is also evaluated against it, on
   * the same ledger view in the same transaction, and where its answer differs the difference is
   * written with the decision (`Store.listCandidateDiffs`). It reserves nothing, opens no review and
   * sends nothing; whatever it fails on is recorded, never felt by the live decision.
   */
  setCandidate(policy: Policy | undefined): void {
    this.shadow = policy
  }

  /**
   * Decides one action for one customer. A go is reserved in the ledger in the same transaction
   * that decided it, and is durable when this resolves; a flag creates a pending review.
   */
  decide(
    caller: Caller,
    request: DecisionRequest | (Omit<DecisionRequest, 'at'> & { at?: Date | string }),
  ): Promise<Decision> {
    return traced('remit.decide', async (span) => {
      const decision = await this.decideNow(caller, request)
      if (span.isRecording()) span.setAttributes(decisionAttributes(decision))
      // A new flag's owed work is committed with it: try it now, without holding the answer.
      if (decision.verdict === 'flag' && !decision.dryRun && !decision.replayed)
        for (const channel of this.owedOnFlag.keys()) void this.kicks.get(channel)?.()
      if (this.decisionLog && !decision.dryRun && !decision.replayed)
        this.writeLogLine(decisionLogEntry(decision))
      return decision
    })
  }

  /**
   * Records a change of the live policy (a promotion, a rollback) in the decision log, with who made
   * it, when one is configured. The caller that made the change writes it, on its instance only; like
   * a decision's line, a failing sink is reported to `onDecisionLogError` and never throws here.
   */
  logPolicyChange(entry: Omit<PolicyChangeLogEntry, 'type'>): void {
    if (!this.decisionLog) return
    const { at, ...rest } = entry
    this.writeLogLine({ at, type: 'policy', ...rest })
  }

  /** Hands a line to the decision log; whatever the sink does, the decision (or change) stands. */
  private writeLogLine(entry: DecisionLogEntry | PolicyChangeLogEntry): void {
    const report = (error: unknown) => {
      try {
        this.onDecisionLogError(error)
      } catch {
        // A failing report must not fail the decision either.
      }
    }
    try {
      const written = this.decisionLog?.write(`${JSON.stringify(entry)}\n`)
      if (written && typeof written.then === 'function') written.then(undefined, report)
    } catch (error) {
      report(error)
    }
  }

  private async decideNow(
    caller: Caller,
    request: DecisionRequest | (Omit<DecisionRequest, 'at'> & { at?: Date | string }),
  ): Promise<Decision> {
    const policy = this.current
    const candidate = this.shadow
    const req = resolveRequest(policy, caller, request, this.clock)
    const since = new Date(req.now.getTime() - policy.lookbackMs)
    const person = personOf(req.customer)
    if (req.dryRun) {
      const ledger = await this.store.ledger(req.customer.accountId, since, req.now, person)
      return { ...this.draft(policy, req, ledger, person).decision, dryRun: true }
    }
    return this.store.decide(
      {
        accountId: req.customer.accountId,
        agent: req.agent.id,
        ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
        ...(req.requestHash ? { requestHash: req.requestHash } : {}),
        ...(req.requestHashWithoutPreview
          ? { requestHashWithoutPreview: req.requestHashWithoutPreview }
          : {}),
        since,
        now: req.now,
        ...(person ? { person } : {}),
      },
      (ledger) => this.draft(policy, req, ledger, person, candidate),
    )
  }

  private draft(
    policy: Policy,
    req: ResolvedRequest,
    ledger: LedgerView,
    person: Person | undefined,
    candidate?: Policy,
  ) {
    const { touches, commitments, suppressions, identities } = ledger
    const e = evaluate(policy, {
      ...req,
      touches,
      commitments,
      ...(suppressions ? { suppressions } : {}),
      ...(identities?.length ? { identities } : {}),
    })
    const id = newId('dec')
    const decision: Decision = {
      id,
      at: req.now,
      agent: req.agent.id,
      team: req.agent.team,
      ...(req.tool ? { tool: req.tool } : {}),
      accountId: req.customer.accountId,
      ...(req.customer.contactId ? { contactId: req.customer.contactId } : {}),
      ...(req.customer.email ? { email: req.customer.email } : {}),
      action: { kind: req.action.kind, attributes: req.rawAttributes },
      facts: req.rawFacts,
      ...(req.preview ? { preview: keptPreview(req.preview, e.verdict) } : {}),
      ...(req.acceptsChanges && e.verdict === 'flag' ? { acceptsChanges: req.acceptsChanges } : {}),
      verdict: e.verdict,
      reasons: e.reasons,
      ...(e.retryAfter ? { retryAfter: e.retryAfter } : {}),
      ...(e.reviewTeam ? { reviewTeam: e.reviewTeam } : {}),
      notify: e.notify,
      policyVersion: policy.version,
      ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
      dryRun: false,
      ...(e.aborted ? { aborted: e.aborted } : {}),
    }
    const write: DecisionWrite = { decision }
    if (candidate) {
      const diff = shadowDecision(policy, candidate, req, ledger, decision, e)
      if (diff) write.candidateDiff = diff
    }
    // A request naming both a contact id and an address links them, whatever its verdict.
    const link = linkOf(person)
    if (link && !identities?.some((i) => i.contactId === link.contactId && i.email === link.email))
      write.identity = link
    if (e.verdict === 'go') {
      write.touch = reserve(decision, req.action.channel, req.action.outbound, req.now)
      const c = commitmentFor(policy, decision, req.now)
      if (c) write.commitment = c
    } else if (e.verdict === 'flag') {
      const review: Review = {
        id: newId('rev'),
        decisionId: id,
        accountId: decision.accountId,
        agent: decision.agent,
        team: e.reviewTeam as string,
        digest: approvalDigest(decision),
        status: 'pending',
        createdAt: req.now,
        expiresAt: new Date(req.now.getTime() + policy.review.expiresAfterMs),
      }
      decision.reviewId = review.id
      decision.digest = review.digest
      write.review = review
      const outbox = this.owedMessages(this.owedOnFlag, review, decision, this.clock())
      if (outbox.length) write.outbox = outbox
    }
    return write
  }

  /** Reports what became of a go: sent, failed or cancelled (the last two stop counting). */
  async outcome(decisionId: string, status: Exclude<TouchStatus, 'reserved'>): Promise<Touch> {
    if (!['sent', 'failed', 'cancelled'].includes(status)) {
      throw new InputError('BAD_STATUS', 'expected sent, failed or cancelled', ['status'])
    }
    const touch = await this.store.setTouchStatus(decisionId, status)
    if (!touch) {
      const decision = await this.store.getDecision(decisionId)
      if (!decision) throw new NotFoundError('decision', decisionId)
      throw new InputError(
        'NO_RESERVATION',
        `decision ${decisionId} was ${decision.verdict}: it reserved no touch`,
        ['decisionId'],
      )
    }
    return touch
  }

  /** Records a touch that happened outside gated tools (a sales call, a meeting, a CRM e-mail). */
  async recordTouch(input: TouchInput): Promise<Touch> {
    if (!input.accountId) throw new InputError('MISSING_FIELD', 'accountId is required', ['accountId'])
    if (!input.kind) throw new InputError('MISSING_FIELD', 'kind is required', ['kind'])
    const declared = this.current.actions.get(input.kind)
    const agent = input.agent ? this.current.agents.get(input.agent) : undefined
    if (input.agent && !agent) resolveCaller(this.current, input.agent)
    if (input.team && !this.current.teams.has(input.team)) {
      throw new InputError('UNKNOWN_TEAM', `unknown team "${input.team}"`, ['team'])
    }
    const touch: Touch = {
      id: newId('tch'),
      accountId: input.accountId,
      kind: input.kind,
      outbound: input.outbound ?? declared?.outbound ?? true,
      at: input.at ? toDate(input.at, ['at']) : this.clock(),
      status: 'sent',
      source: 'recorded',
    }
    if (input.contactId) touch.contactId = input.contactId
    const email = input.email === undefined ? undefined : normalizeEmail(input.email)
    if (email) touch.email = email
    if (input.agent) touch.agent = input.agent
    const team = input.team ?? agent?.team
    if (team) touch.team = team
    if (input.tool) touch.tool = input.tool
    const channel = input.channel ?? declared?.channel
    if (channel) touch.channel = channel
    if (input.note) touch.note = input.note
    if (input.externalId) touch.externalId = input.externalId
    const attributes = Object.entries(input.attributes ?? {}).filter(([, v]) => v !== undefined && v !== null)
    if (attributes.length) {
      const known = declared?.attributes ?? {}
      for (const [name, v] of attributes) {
        const type = Object.hasOwn(known, name) ? known[name] : undefined
        if (!type) {
          throw unknownName('UNKNOWN_ATTRIBUTE', `attribute of ${input.kind}`, name, Object.keys(known), [
            'attributes',
            name,
          ])
        }
        typed(type, v, ['attributes', name])
      }
      touch.attributes = Object.fromEntries(attributes)
    }
    return this.store.recordTouch(touch)
  }

  /**
   * Records that a customer must not be contacted (on one channel, or any): every later outbound
   * action it covers is stopped, on every tool, with no lookback window to age it out.
   */
  async recordSuppression(input: SuppressionInput): Promise<Suppression> {
    return this.store.recordSuppression(newSuppression(input, this.clock()))
  }

  /**
   * Lifts a suppression (an operator's call): from now on it stops nothing, and it stays on record
   * with who lifted it, when and why. Unknown ids throw NotFoundError; lifting a lifted one returns it.
   */
  async liftSuppression(id: string, input: { by: string; note?: string }): Promise<Suppression> {
    if (!input.by) throw new InputError('MISSING_FIELD', 'by is required', ['by'])
    return this.store.liftSuppression(id, {
      at: this.clock(),
      by: input.by,
      ...(input.note !== undefined ? { note: input.note } : {}),
    })
  }

  readonly reviews = {
    list: (filter: ReviewFilter = {}): Promise<Review[]> => this.store.listReviews(filter),
    get: (id: string): Promise<Review | undefined> => this.store.getReview(id),
    /**
     * Approves a flag. The touch is reserved at approval time, after re-checking every rule that can
     * stop: a hard stop (or a pause, or a limit) that became true while the flag waited still wins.
     */
    approve: (id: string, input: ResolveInput = {}): Promise<Review> => this.resolve(id, 'approved', input),
    /** Rejects a flag: the action is stopped for good. */
    reject: (id: string, input: ResolveInput = {}): Promise<Review> => this.resolve(id, 'rejected', input),
    /**
     * Re-checks an approved review's stops against the ledger as it is now (or at `at`), as approval
     * checked them, for an action released later than it was approved (a gateway's held call). Writes
     * nothing: a caller that acts on `ok: false` does not send, and reports the reserved touch
     * `cancelled` (`outcome`). Unknown reviews throw NotFoundError; one that is not approved with
     * outcome go, ReviewStateError (REVIEW_NOT_APPROVED).
     */
    recheck: (id: string, input: { at?: Date | string } = {}): Promise<Recheck> =>
      this.recheckReview(id, input),
    /** Expires every pending review whose time is up (`review.onExpiry`: stop). Returns them. */
    expire: async (at?: Date | string): Promise<Review[]> => {
      const now = at ? toDate(at, ['at']) : this.clock()
      const out: Review[] = []
      for (const r of await this.store.expiringReviews(now)) {
        try {
          out.push(await this.resolve(r.id, 'expired', { at: now, by: 'remit' }))
        } catch (error) {
          if (!(error instanceof ReviewStateError)) throw error
        }
      }
      return out
    },
  }

  /**
   * Calls `listener` after each review is resolved (approved, rejected or expired). A listener's
   * failure never undoes the resolution; returns a function that removes the listener.
   */
  onReview(listener: ReviewListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  readonly outbox = {
    /**
     * Declares the work a resolved review owes `channel`: `owed` returns the payload (JSON) to
     * deliver, or undefined when this review owes it nothing. The message is written in the same
     * transaction as the answer. Returns the function that stops it.
     */
    route: (channel: string, owed: OwedWork): (() => void) => {
      this.owed.set(channel, owed)
      return () => this.owed.delete(channel)
    },
    /**
     * Declares the work a new flag owes `channel` (its review pending): written in the same
     * transaction as the decision, so a flag is never kept without it. Returns the function that stops it.
     */
    routeFlags: (channel: string, owed: OwedWork): (() => void) => {
      this.owedOnFlag.set(channel, owed)
      return () => this.owedOnFlag.delete(channel)
    },
    /**
     * The channels approving this pending review would owe work (what an approval that goes sets in
     * motion beyond the decision itself: a workflow resumed, a Slack message updated), for its reviewer.
     */
    owedOnApproval: (review: Review, decision: Decision): string[] => {
      const approved: Review = { ...review, status: 'approved', outcome: 'go' }
      return [...this.owed].filter(([, owed]) => owed(approved, decision) !== undefined).map(([c]) => c)
    },
    /**
     * Delivers `channel`'s messages with `send`, at least once: each is claimed under a lease (so
     * another instance does not send it meanwhile), retried with exponential backoff and jitter when
     * `send` throws, and set aside as dead after `maxAttempts`. Runs a pass every `everyMs` and right
     * after each answer. `send` receives the message's `id`, stable across retries, for the receiver
     * to deduplicate on. Returns the function that stops it.
     */
    deliver: (channel: string, send: (message: OutboxMessage) => Promise<void>, o: DeliverOptions = {}) =>
      this.startDelivery(channel, ([m]) => send(m as OutboxMessage), { ...o, groupBy: (m) => m.id }),
    /**
     * Like `deliver`, for a vendor that takes many at once: the messages claimed in a pass are
     * grouped by `groupBy` (default: all in one group) and each group is sent by one call, which
     * delivers or fails them together.
     */
    deliverBatches: (
      channel: string,
      send: (messages: OutboxMessage[]) => Promise<void>,
      o: BatchDeliverOptions = {},
    ) => this.startDelivery(channel, send, o),
    list: (filter: OutboxFilter = {}): Promise<OutboxMessage[]> => this.store.listOutbox(filter),
    /** Puts a dead message back to be tried now. */
    retry: async (id: string): Promise<OutboxMessage> => {
      const m = await this.store.retryOutbox(id, this.clock())
      void this.kicks.get(m.channel)?.()
      return m
    },
  }

  private startDelivery(
    channel: string,
    send: (messages: OutboxMessage[]) => Promise<void>,
    o: BatchDeliverOptions,
  ): () => void {
    const leaseMs = o.leaseMs ?? 60_000
    const maxAttempts = o.maxAttempts ?? 20
    // A vendor that never answers must not hold the channel: give up on the attempt well inside the
    // lease, so no other deliverer takes the message while this one may still send it.
    const sendTimeoutMs = o.sendTimeoutMs ?? Math.min(30_000, leaseMs / 2)
    /** Settles an attempt's messages; the attempt's outcome: delivered, retry, or dead (all of them given up). */
    const settle = async (messages: OutboxMessage[], error?: unknown) => {
      const at = this.clock()
      let outcome: 'delivered' | 'retry' | 'dead' = error === undefined ? 'delivered' : 'dead'
      for (const m of messages) {
        if (error === undefined) {
          await this.store.settleOutbox(m.id, { status: 'delivered', at })
          continue
        }
        const message = error instanceof Error ? error.message : String(error)
        const dead = m.attempts >= maxAttempts || error instanceof PermanentDeliveryError
        if (!dead) outcome = 'retry'
        await this.store.settleOutbox(
          m.id,
          dead
            ? { status: 'dead', error: message, at }
            : {
                status: 'pending',
                error: message,
                retryAt: nextAttemptAt(at, backoff(m.attempts, o), error),
              },
        )
        o.onError?.(m, error)
      }
      return outcome
    }
    const pass = async () => {
      const claimed = await this.store.claimOutbox(channel, this.clock(), leaseMs, o.batch ?? 50)
      for (const group of groups(claimed, o.groupBy)) {
        // One span per attempt: a message, or a batch sent in one call.
        await traced('remit.outbox.deliver', async (span) => {
          if (span.isRecording()) span.setAttributes(deliveryAttributes(channel, group))
          try {
            await withTimeout(send(group), sendTimeoutMs, `no answer within ${sendTimeoutMs} ms`)
          } catch (error) {
            recordError(span, error)
            span.setAttribute(ATTR.outboxOutcome, await settle(group, error))
            return
          }
          span.setAttribute(ATTR.outboxOutcome, await settle(group))
        })
      }
    }
    // One pass at a time; a kick during a pass runs one more after it (the new message may have
    // been committed after the running pass claimed).
    let current: Promise<void> | undefined
    let next: Promise<void> | undefined
    const kick = (): Promise<void> => {
      if (!current) {
        current = pass()
          .catch((error) => o.onError?.(undefined, error))
          .finally(() => {
            current = undefined
          })
        return current
      }
      next ??= current.then(() => {
        next = undefined
        return kick()
      })
      return next
    }
    this.kicks.set(channel, kick)
    const timer = setInterval(() => void kick(), o.everyMs ?? 1000)
    timer.unref()
    void kick()
    return () => {
      clearInterval(timer)
      if (this.kicks.get(channel) === kick) this.kicks.delete(channel)
    }
  }

  private async recheckReview(id: string, input: { at?: Date | string }): Promise<Recheck> {
    const policy = this.current
    const now = input.at ? toDate(input.at, ['at']) : this.clock()
    const review = await this.store.getReview(id)
    if (!review) throw new NotFoundError('review', id)
    const decision = await this.store.getDecision(review.decisionId)
    if (!decision) throw new NotFoundError('decision', review.decisionId)
    const since = new Date(now.getTime() - policy.lookbackMs)
    const ledger = await this.store.ledger(decision.accountId, since, now, personOf(decision))
    return recheckApproved(policy, review, decision, now, ledger)
  }

  private resolve(
    id: string,
    status: 'approved' | 'rejected' | 'expired',
    input: ResolveInput,
  ): Promise<Review> {
    return traced('remit.review.resolve', async (span) => {
      span.setAttributes({ [ATTR.reviewId]: id, [ATTR.reviewStatus]: status })
      let decision: Decision | undefined
      const review = await this.resolveAndTell(id, status, input, (d) => {
        decision = d
      })
      if (span.isRecording()) span.setAttributes(reviewAttributes(review, decision, this.current.version))
      return review
    })
  }

  private async resolveAndTell(
    id: string,
    status: 'approved' | 'rejected' | 'expired',
    input: ResolveInput,
    seen: (decision: Decision) => void,
  ): Promise<Review> {
    const review = await this.resolveInStore(id, status, input, seen)
    // Work this answer owes vendors is in the outbox, committed with it: try it now, once. A failure
    // or a restart leaves it there for the deliverer's next pass.
    // Bounded: the one answering waits for a quick vendor, never for a slow one.
    await withTimeout(
      Promise.allSettled([...this.owed.keys()].map((channel) => this.kicks.get(channel)?.())),
      FIRST_TRY_WAIT_MS,
      '',
    ).catch(() => {})
    if (this.listeners.size) {
      const decision = await this.store.getDecision(review.decisionId)
      if (decision) await Promise.allSettled([...this.listeners].map(async (l) => l(review, decision)))
    }
    return review
  }

  private async resolveInStore(
    id: string,
    status: 'approved' | 'rejected' | 'expired',
    input: ResolveInput,
    seen: (decision: Decision) => void = () => {},
  ): Promise<Review> {
    const policy = this.current
    const now = input.at ? toDate(input.at, ['at']) : this.clock()
    return this.store.resolveReview(
      id,
      { since: new Date(now.getTime() - policy.lookbackMs), now },
      (review, decision, ledger) => {
        seen(decision)
        // Owed work is due by the clock, whatever time the answer is dated (expiry sweeps may date later).
        return this.withOwedWork(
          answerReview(policy, id, status, input, now, review, decision, ledger),
          decision,
          this.clock(),
        )
      },
    )
  }

  /** The outbox messages a resolved review owes each channel, added to what resolving it writes. */
  private withOwedWork(write: ReviewWrite, decision: Decision, now: Date): ReviewWrite {
    const outbox = this.owedMessages(this.owed, write.review, decision, now)
    return outbox.length ? { ...write, outbox } : write
  }

  /** The outbox messages `review` owes each channel of `routes`. */
  private owedMessages(
    routes: Map<string, OwedWork>,
    review: Review,
    decision: Decision,
    now: Date,
  ): OutboxMessage[] {
    const outbox: OutboxMessage[] = []
    for (const [channel, owed] of routes) {
      const payload = owed(review, decision)
      if (payload)
        outbox.push(
          outboxMessage(newId('obx'), channel, payload, now, {
            reviewId: review.id,
            decisionId: decision.id,
          }),
        )
    }
    return outbox
  }

  /** Every touch, decision, review and commitment of one account, across all agents and tools. */
  timeline(accountId: string, limit?: number): Promise<Timeline> {
    return this.store.timeline(accountId, limit)
  }

  readonly decisions = {
    get: (id: string): Promise<Decision | undefined> => this.store.getDecision(id),
    list: (filter: DecisionFilter = {}): Promise<Decision[]> => this.store.listDecisions(filter),
  }

  /** Closes the store, then the decision log (its queued lines written). */
  async close(): Promise<void> {
    try {
      await this.store.close()
    } finally {
      await this.decisionLog?.close?.()
    }
  }
}

export async function openRemit(options: RemitOptions): Promise<Remit> {
  const policy = typeof options.policy === 'string' ? await loadPolicyFile(options.policy) : options.policy
  return new Remit(policy, options.store, options.clock, options)
}
