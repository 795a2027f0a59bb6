import type { Decision } from '../decision/decision.ts'
import { ConflictError } from '../errors.ts'
import type { TouchStatus } from '../ledger/types.ts'
import type { DecideRequest } from './store.ts'

// What every store decides the same way, kept in one place so the stores cannot disagree.

/**
 * The answer to an idempotency key that has a decision already: that decision, replayed, when the
 * request is the same one; a conflict when the key is reused for another request. A decision stored
 * before keys were bound to requests (no hash) is the same request only for the same account.
 */
export function replayOf(
  request: DecideRequest,
  prior: Decision,
  priorHash: string | null | undefined,
): Decision {
  const same =
    request.requestHash === undefined ||
    (priorHash
      ? priorHash === request.requestHash ||
        // Asked first with no preview (before the caller sent one), retried with one: the same request.
        (prior.preview === undefined && priorHash === request.requestHashWithoutPreview)
      : prior.accountId === request.accountId)
  if (!same) {
    throw new ConflictError(
      'IDEMPOTENCY_KEY_REUSED',
      `idempotency key "${request.idempotencyKey}" was first used for another request (decision ${prior.id}); use a new key for a new request`,
      prior.id,
    )
  }
  return { ...prior, replayed: true }
}

/** Outcomes are a state machine: a reserved touch becomes sent, failed or cancelled, once. */
export function checkTransition(decisionId: string, from: TouchStatus, to: TouchStatus): void {
  if (from === 'reserved' && to !== 'reserved') return
  throw new ConflictError(
    'ILLEGAL_TRANSITION',
    `the touch of decision ${decisionId} is ${from}${from === 'reserved' ? '' : ', which is final'}: it cannot become ${to}`,
  )
}

/** How many of each kind a timeline holds: 1 to 10,000, default 1,000 (an account's history is the callers' to grow). */
export function timelineLimit(limit: number | undefined): number {
  return Math.min(Math.max(Math.floor(limit ?? 1000), 1), 10_000) || 1000
}
