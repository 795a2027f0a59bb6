import type { Decision } from '../decision/decision.ts'
import { requestOf } from '../decision/request.ts'
import type { Reason } from '../decision/schema.ts'
import { ConflictError, NotFoundError, ReviewStateError } from '../errors.ts'
import { evaluate } from '../evaluate/evaluate.ts'
import { commitmentFor, reserve } from '../ledger/entries.ts'
import type { LedgerView } from '../ledger/types.ts'
import type { Policy } from '../policy/model.ts'
import type { ReviewWrite } from '../store/store.ts'
import { approvalDigest } from './digest.ts'
import type { Review } from './review.ts'

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
  const resolved: Review = { ...review, status, resolvedAt: now }
  if (input.by) resolved.resolvedBy = input.by
  if (input.note) resolved.note = input.note
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
  const check = recheckStops(policy, decision, now, ledger)
  if (check.verdict === 'stop') {
    resolved.outcome = 'stop'
    resolved.outcomeReasons = check.reasons.map((r) => ({
      ...r,
      message: `approved, but a stop now holds: ${r.message}`,
    }))
    return { review: resolved }
  }
  const touch = reserve(decision, check.channel, check.outbound, now)
  resolved.outcome = 'go'
  resolved.touchId = touch.id
  resolved.outcomeReasons = [
    {
      rule: 'review-approved',
      sort: 'default',
      message: `approved by ${input.by ?? review.team}${input.note ? `: ${input.note}` : ''}`,
    },
  ]
  const commitment = commitmentFor(policy, decision, now)
  return { review: resolved, touch, ...(commitment ? { commitment } : {}) }
}

/**
 * Stop-producing rules only, at `now`, for the decision as it was asked: what approval checks, and
 * what releasing an approved action checks again (`./recheck.ts`).
 */
export function recheckStops(policy: Policy, decision: Decision, now: Date, ledger: LedgerView) {
  const { touches, commitments, suppressions, identities } = ledger
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
  const req = requestOf(policy, { ...decision, tool: undefined }, now)
  const e = evaluate(
    policy,
    {
      ...req,
      ...(decision.tool ? { tool: decision.tool } : {}),
      touches,
      commitments,
      ...(suppressions ? { suppressions } : {}),
      ...(identities?.length ? { identities } : {}),
    },
    'approve',
  )
  return {
    verdict: e.verdict === 'stop' ? ('stop' as const) : ('go' as const),
    reasons: e.reasons.filter((r) => r.sort !== 'permission'),
    channel: action.channel,
    outbound: action.outbound,
  }
}
