import type { DecisionWire, Preview, Reason, Verdict } from './schema.ts'

/** A logged decision: what was asked, by whom, under which policy, and the answer. */
export interface Decision {
  id: string
  at: Date
  agent: string
  team: string
  tool?: string
  accountId: string
  contactId?: string
  email?: string
  action: { kind: string; attributes: Record<string, unknown> }
  /** The facts the decision saw (as given, before typing). */
  facts: Record<string, unknown>
  /** What the customer would see (subject, sender, body, link), as the caller sent it: for the reviewer. */
  preview?: Preview
  verdict: Verdict
  reasons: Reason[]
  retryAfter?: Date
  reviewId?: string
  reviewTeam?: string
  /** On a flag: the request's approval digest (`../review/digest.ts`), what an approval is bound to. */
  digest?: string
  /**
   * The attributes the caller said it can release changed (the request's `acceptsChanges`): a
   * reviewer may change only these (and only those the action's `reviewerMayChange` lists).
   */
  acceptsChanges?: string[]
  notify: string[]
  policyVersion: string
  idempotencyKey?: string
  dryRun: boolean
  /**
   * Rules whose evaluation was aborted (over its cost budget, or a pattern RE2 refuses): the
   * decision failed closed to stop because of them. Kept in the log for operators.
   */
  aborted?: { rule: string; code: string; message: string }[]
  /** true when this answers a repeated idempotency key. */
  replayed?: boolean
}

/** The decision as the API returns it. */
export function decisionToWire(d: Decision): DecisionWire {
  return {
    id: d.id,
    verdict: d.verdict,
    reasons: d.reasons,
    ...(d.retryAfter ? { retryAfter: d.retryAfter.toISOString() } : {}),
    ...(d.reviewId ? { reviewId: d.reviewId } : {}),
    ...(d.reviewTeam ? { reviewTeam: d.reviewTeam } : {}),
    notify: d.notify,
    policyVersion: d.policyVersion,
    ...(d.replayed ? { replayed: true } : {}),
  }
}
