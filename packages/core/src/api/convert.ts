import type { Decision } from '../decision/decision.ts'
import type { Commitment, Suppression, Touch } from '../ledger/types.ts'
import type { Review } from '../review/review.ts'
import type { Timeline } from '../store/store.ts'
import type {
  CommitmentWire,
  DecisionRecordWire,
  ReviewWire,
  SuppressionWire,
  TimelineWire,
  TouchWire,
} from './wire.ts'

// Core values carry Dates; the wire carries ISO strings. JSON.stringify would do the same, but an
// explicit copy drops fields the wire does not promise (dryRun, replayed) and keeps types honest.

export function touchToWire(t: Touch): TouchWire {
  const { at, ...rest } = t
  return { ...rest, at: at.toISOString() }
}

export function suppressionToWire(s: Suppression): SuppressionWire {
  const { at, liftedAt, ...rest } = s
  return { ...rest, at: at.toISOString(), ...(liftedAt ? { liftedAt: liftedAt.toISOString() } : {}) }
}

export function commitmentToWire(c: Commitment): CommitmentWire {
  const { at, expiresAt, ...rest } = c
  return { ...rest, at: at.toISOString(), ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) }
}

export function reviewToWire(r: Review): ReviewWire {
  const { createdAt, expiresAt, resolvedAt, ...rest } = r
  return {
    ...rest,
    createdAt: createdAt.toISOString(),
    expiresAt: expiresAt.toISOString(),
    ...(resolvedAt ? { resolvedAt: resolvedAt.toISOString() } : {}),
  }
}

export function decisionRecordToWire(d: Decision): DecisionRecordWire {
  const { at, retryAfter, dryRun: _dryRun, replayed: _replayed, ...rest } = d
  return { ...rest, at: at.toISOString(), ...(retryAfter ? { retryAfter: retryAfter.toISOString() } : {}) }
}

export function timelineToWire(t: Timeline): TimelineWire {
  return {
    accountId: t.accountId,
    touches: t.touches.map(touchToWire),
    decisions: t.decisions.map(decisionRecordToWire),
    reviews: t.reviews.map(reviewToWire),
    commitments: t.commitments.map(commitmentToWire),
  }
}
