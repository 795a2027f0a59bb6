import type { Decision } from '../decision/decision.ts'
import { budgetAttributes, requestOf, typed } from '../decision/request.ts'
import type { Reason } from '../decision/schema.ts'
import { ConflictError, InputError, NotFoundError, ReviewStateError } from '../errors.ts'
import { evaluate } from '../evaluate/evaluate.ts'
import { commitmentFor, reserve } from '../ledger/entries.ts'
import type { LedgerView } from '../ledger/types.ts'
import type { Policy } from '../policy/model.ts'
import type { ReviewWrite } from '../store/store.ts'
import { approvalDigest } from './digest.ts'
import { type Review, type ReviewChanges, releasedAction } from './review.ts'

// Answering a flag: the rules of it, whoever answers (a reviewer, the expiry sweep). Run inside the
// store's transaction for the account, with the ledger as it stands at the answer.

/** Who answered, and how. */
export interface AnswerInput {
  by?: string
  note?: string
  /** When given, the review must be routed to this team (a reviewer acts only on its team's reviews). */
  team?: string
  /** Approvals only: when given, it must be the decision's approval digest (`./digest.ts`). */
  digest?: string
  /**
   * Approvals only: attributes to change before the action goes, each one the action's
   * `reviewerMayChange` lists. The changed request is decided again (below).
   */
  changes?: ReviewChanges
}

/**
 * What answering review `id` writes: refused (throws) when another team asks, or when it is no
 * longer pending or has expired; rejected or expired → stop; approved → go, unless a stop holds now
 * (re-checked against the ledger as it stands), with the touch reserved and the commitment made.
 */
export function answerReview(
  policy: Policy,
  id: string,
  status: 'approved' | 'rejected' | 'expired',
  input: AnswerInput,
  now: Date,
  review: Review,
  decision: Decision,
  ledger: LedgerView,
): ReviewWrite {
  // To a reviewer, another team's review does not exist: the answer must not tell it apart.
  if (input.team !== undefined && review.team !== input.team) throw new NotFoundError('review', id)
  if (review.status !== 'pending') {
    throw new ReviewStateError('REVIEW_RESOLVED', `review ${id} is already ${review.status}`)
  }
  if (status !== 'expired' && now >= review.expiresAt) {
    throw new ReviewStateError('REVIEW_EXPIRED', `review ${id} expired at ${review.expiresAt.toISOString()}`)
  }
  // Recomputed from the decision as logged, not read from the review: what the agent asked is what counts.
  if (status === 'approved' && input.digest !== undefined && input.digest !== approvalDigest(decision)) {
    throw new ConflictError(
      'REVIEW_DIGEST_MISMATCH',
      `review ${id} is for another request than the one approved (digest ${input.digest}); reload it and approve what it asks`,
      decision.id,
    )
  }
  if (status === 'rejected' && input.changes !== undefined)
    throw new InputError('BAD_REQUEST', 'only an approval carries changes', ['changes'])
  // Checked before anything is decided: a change the policy does not allow is the caller's error.
  const changes = status === 'approved' ? checkedChanges(policy, decision, input.changes) : undefined
  const resolved: Review = { ...review, status, resolvedAt: now }
  if (input.by) resolved.resolvedBy = input.by
  if (input.note) resolved.note = input.note
  if (changes) resolved.changes = changes
  if (status !== 'approved') {
    resolved.outcome = 'stop'
    resolved.outcomeReasons = [
      {
        rule: status === 'expired' ? 'review-expired' : 'review-rejected',
        sort: 'default',
        message:
          status === 'expired'
            ? `no one answered within ${policy.document.review.expiresAfter}: stopped (review.onExpiry)`
            : `rejected by ${input.by ?? review.team}${input.note ? `: ${input.note}` : ''}`,
      },
    ]
    return { review: resolved }
  }
  // With changes, what goes is the changed request, and it is what approval checks: a reviewer may
  // bring an action back under a cap. An approval with changes goes or is refused, the review left
  // pending (the reviewer may change it otherwise, approve it as asked or reject it): never a stop.
  const released: Decision = changes
    ? { ...decision, action: releasedAction(resolved, decision.action) }
    : decision
  const check = recheckStops(policy, released, now, ledger)
  if (check.verdict === 'stop') {
    if (changes) throw changedRequestStopped(review, decision, check.reasons)
    resolved.outcome = 'stop'
    resolved.outcomeReasons = check.reasons.map((r) => ({
      ...r,
      message: `approved, but a stop now holds: ${r.message}`,
    }))
    return { review: resolved }
  }
  if (changes) {
    refuseUncovered(policy, review, decision, released, now, ledger)
    resolved.releasedDigest = approvalDigest(released)
  }
  const touch = reserve(released, check.channel, check.outbound, now)
  resolved.outcome = 'go'
  resolved.touchId = touch.id
  const changed = changes ? ` with changes (${describeChanges(decision, changes)})` : ''
  resolved.outcomeReasons = [
    {
      rule: 'review-approved',
      sort: 'default',
      message: `approved by ${input.by ?? review.team}${changed}${input.note ? `: ${input.note}` : ''}`,
    },
  ]
  const commitment = commitmentFor(policy, released, now)
  return { review: resolved, touch, ...(commitment ? { commitment } : {}) }
}

/** Most attributes a reviewer changes at once: an action has few, and each is re-typed. */
const MAX_CHANGES = 64

/**
 * A reviewer's changes, checked against the policy and the caller: each attribute one the action's
 * `reviewerMayChange` lists (else InputError CHANGE_NOT_ALLOWED), each value of its declared type (as
 * the request's own would be), and each changed one an attribute the caller said it can release
 * changed (`acceptsChanges`; else ConflictError CHANGES_NOT_CARRIED: what it would send is the request
 * as asked). Undefined when nothing changes (no changes, or every value as asked).
 */
function checkedChanges(
  policy: Policy,
  decision: Decision,
  changes: ReviewChanges | undefined,
): ReviewChanges | undefined {
  if (changes === undefined) return undefined
  const entries = Object.entries(changes.attributes ?? {})
  if (entries.length > MAX_CHANGES)
    throw new InputError('BAD_REQUEST', `at most ${MAX_CHANGES} attributes`, ['changes', 'attributes'])
  const kind = decision.action.kind
  const action = policy.actions.get(kind)
  const allowed = action?.reviewerMayChange ?? []
  const out: Record<string, unknown> = {}
  for (const [name, value] of entries) {
    const path = ['changes', 'attributes', name]
    const declared = action && Object.hasOwn(action.attributes, name) ? action.attributes[name] : undefined
    if (!declared || !allowed.includes(name))
      throw new InputError(
        'CHANGE_NOT_ALLOWED',
        `a reviewer may not change ${name} of ${kind}`,
        path,
        allowed.length
          ? `the policy lets a reviewer change: ${allowed.join(', ')}`
          : `the policy lets a reviewer change nothing of ${kind} (actions.${kind}.reviewerMayChange)`,
      )
    typed(declared, value, path)
    if (typeof value === 'number' && value < 0 && budgetAttributes(policy).has(name))
      throw new InputError(
        'BAD_VALUE',
        'must not be negative: a limit counts it against a budget (sum:)',
        path,
      )
    if (JSON.stringify(value) !== JSON.stringify(decision.action.attributes[name])) out[name] = value
  }
  const uncarried = Object.keys(out).filter((name) => !decision.acceptsChanges?.includes(name))
  if (uncarried.length)
    throw new ConflictError(
      'CHANGES_NOT_CARRIED',
      `${decision.tool ?? `${decision.agent}'s caller`} did not say it can send ${kind} with ${uncarried.join(', ')} changed (its request's acceptsChanges${decision.acceptsChanges?.length ? `: ${decision.acceptsChanges.join(', ')}` : ' was empty'}): it would send the request as asked, so it can only be approved as asked, or rejected`,
      decision.id,
    )
  return Object.keys(out).length ? { attributes: out } : undefined
}

/** `discountPct 20 → 15`, for the approval's reason. */
function describeChanges(decision: Decision, changes: ReviewChanges): string {
  return Object.entries(changes.attributes)
    .map(
      ([name, to]) =>
        `${name} ${JSON.stringify(decision.action.attributes[name] ?? null)} → ${JSON.stringify(to)}`,
    )
    .join(', ')
}

function changedRequestStopped(review: Review, decision: Decision, reasons: Reason[]): ConflictError {
  const why = reasons.map((r) => `${r.rule}: ${r.message}`).join('; ')
  return new ConflictError(
    'CHANGED_REQUEST_STOPPED',
    `review ${review.id}: the changed request is stopped (${why}); nothing was approved — approve it as asked, change it otherwise, or reject it`,
    decision.id,
  )
}

/**
 * Decides the changed request again, as a new request would be decided, at approval time: a stop
 * (already refused by the re-check of stops) refuses the change (409 CHANGED_REQUEST_STOPPED), and so does a flag for a rule that did not
 * cause this review's flag, or for another team (CHANGED_REQUEST_FLAGGED). A flag for the same
 * reasons is what the reviewer is answering. The review stays pending either way.
 */
function refuseUncovered(
  policy: Policy,
  review: Review,
  decision: Decision,
  released: Decision,
  now: Date,
  ledger: LedgerView,
): void {
  const e = evaluateAsked(policy, released, now, ledger, 'decide')
  const causes = (reasons: Reason[]) => reasons.filter((r) => r.cause && r.sort !== 'permission')
  if (e.verdict === 'stop') throw changedRequestStopped(review, decision, causes(e.reasons))
  if (e.verdict !== 'flag') return
  const asked = causes(decision.reasons)
  // A decision logged before `cause`: every rule but a permission counted.
  const covered = new Set(
    (asked.length ? asked : decision.reasons.filter((r) => r.sort !== 'permission')).map((r) => r.rule),
  )
  const fresh = causes(e.reasons).filter((r) => !covered.has(r.rule))
  if (fresh.length || (e.reviewTeam !== undefined && e.reviewTeam !== review.team))
    throw new ConflictError(
      'CHANGED_REQUEST_FLAGGED',
      `review ${review.id}: the changed request is flagged for ${e.reviewTeam ?? review.team}${fresh.length ? ` by ${fresh.map((r) => `${r.rule}: ${r.message}`).join('; ')}` : ''}, which this review is not about; nothing was approved — approve it as asked, change it otherwise, or reject it`,
      decision.id,
    )
}

/** The logged request, evaluated again at `now` against `ledger` (its tool kept for agent.tool). */
function evaluateAsked(
  policy: Policy,
  decision: Decision,
  now: Date,
  ledger: LedgerView,
  mode: 'decide' | 'approve',
) {
  const { touches, commitments, suppressions, identities } = ledger
  const req = requestOf(policy, { ...decision, tool: undefined }, now)
  return evaluate(
    policy,
    {
      ...req,
      ...(decision.tool ? { tool: decision.tool } : {}),
      touches,
      commitments,
      ...(suppressions ? { suppressions } : {}),
      ...(identities?.length ? { identities } : {}),
    },
    mode,
  )
}

/**
 * Stop-producing rules only, at `now`, for the decision as it was asked: what approval checks, and
 * what releasing an approved action checks again (`./recheck.ts`).
 */
export function recheckStops(policy: Policy, decision: Decision, now: Date, ledger: LedgerView) {
  const action = policy.actions.get(decision.action.kind)
  const agent = policy.agents.get(decision.agent)
  if (!action || !agent) {
    // The policy changed under the review: the action or agent no longer exists, so nothing may go.
    const reasons: Reason[] = [
      {
        rule: 'policy-changed',
        sort: 'default',
        message: `the policy in service no longer has ${action ? `agent ${decision.agent}` : `action ${decision.action.kind}`}`,
      },
    ]
    return { verdict: 'stop' as const, reasons, channel: undefined, outbound: true }
  }
  // Re-checked as the agent asked it (its tool's name is kept for rules that read agent.tool).
  const e = evaluateAsked(policy, decision, now, ledger, 'approve')
  return {
    verdict: e.verdict === 'stop' ? ('stop' as const) : ('go' as const),
    reasons: e.reasons.filter((r) => r.sort !== 'permission'),
    channel: action.channel,
    outbound: action.outbound,
  }
}
