import type { Reason } from '../decision/schema.ts'

export type ReviewStatus = 'pending' | 'approved' | 'rejected' | 'expired'

/** A flagged decision waiting for (or answered by) a human of the team it was routed to. */
export interface Review {
  id: string
  decisionId: string
  accountId: string
  agent: string
  /** The team whose queue it is in. */
  team: string
  /** The flagged request's approval digest (`./digest.ts`): an approval may name it to be bound to it. */
  digest?: string
  status: ReviewStatus
  createdAt: Date
  expiresAt: Date
  resolvedAt?: Date
  resolvedBy?: string
  note?: string
  /** The final word once resolved: go only when approved and no stop holds at approval time. */
  outcome?: 'go' | 'stop'
  /** Why the outcome is what it is (the approval, or the stop that still won). */
  outcomeReasons?: Reason[]
  /** The touch reserved by an approval that went. */
  touchId?: string
  /**
   * Approved with changes (`reviewerMayChange`): the attributes the reviewer changed, with their
   * new values. The request released is the one asked with these applied, decided again at approval.
   */
  changes?: ReviewChanges
  /** With changes: the approval digest of the changed request, the one released. */
  releasedDigest?: string
}

/** What a reviewer changed when approving: only attributes the action's `reviewerMayChange` lists. */
export interface ReviewChanges {
  attributes: Record<string, unknown>
}

/** The action a review releases: the request as asked, with a reviewer's changes applied. */
export function releasedAction(
  review: Pick<Review, 'changes'>,
  action: { kind: string; attributes: Record<string, unknown> },
): { kind: string; attributes: Record<string, unknown> } {
  return review.changes
    ? { kind: action.kind, attributes: { ...action.attributes, ...review.changes.attributes } }
    : action
}
