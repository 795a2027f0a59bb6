import type { Decision } from '../decision/decision.ts'
import type { Reason } from '../decision/schema.ts'
import { ReviewStateError } from '../errors.ts'
import type { LedgerView } from '../ledger/types.ts'
import type { Policy } from '../policy/model.ts'
import { recheckStops } from './answer.ts'
import { type Review, releasedAction } from './review.ts'

// Releasing an approved action later than its approval (a gateway's held call, repeated hours on):
// the stops approval checked are checked again, as they stand at release.

/** Whether an approved action may still go: `ok`, or the stops that hold now (`reasons`). */
export interface Recheck {
  ok: boolean
  /** The stops that hold now, in the words approval would use; empty when `ok`. */
  reasons: Reason[]
}

/**
 * Re-checks approved `review` at `now` exactly as approving it did (every stop, suppression, pause,
 * window and hard limit; flags do not count), against `ledger` without the review's own reserved
 * touch and commitment, which would otherwise count against the action they reserve. Throws
 * ReviewStateError (REVIEW_NOT_APPROVED) for a review that is not approved with outcome go.
 */
export function recheckApproved(
  policy: Policy,
  review: Review,
  decision: Decision,
  now: Date,
  ledger: LedgerView,
): Recheck {
  if (review.status !== 'approved' || review.outcome !== 'go')
    throw new ReviewStateError(
      'REVIEW_NOT_APPROVED',
      `review ${review.id} is ${review.status === 'approved' ? 'approved, but a stop held at approval' : review.status}: only an approved review whose outcome was go has stops to re-check`,
    )
  const others: LedgerView = {
    ...ledger,
    touches: ledger.touches.filter((t) => t.decisionId !== decision.id),
    commitments: ledger.commitments.filter((c) => c.decisionId !== decision.id),
  }
  // What was approved is what is released: with a reviewer's changes applied.
  const released = { ...decision, action: releasedAction(review, decision.action) }
  const check = recheckStops(policy, released, now, others)
  if (check.verdict !== 'stop') return { ok: true, reasons: [] }
  return {
    ok: false,
    reasons: check.reasons.map((r) => ({ ...r, message: `approved, but a stop now holds: ${r.message}` })),
  }
}
