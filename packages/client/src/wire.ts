// The decision API's wire format, as plain types: the client needs nothing of the engine at run time,
// and its published types need nothing installed beside it. The server validates with the zod schemas
// in @remit/core/api; test/wire-types.ts checks at compile time that these types are exactly the
// ones those schemas infer, so the two cannot drift. Times are ISO 8601 strings with an offset.

export type Verdict = 'go' | 'flag' | 'stop'

export interface Reason {
  rule: string
  sort: 'stop' | 'trigger' | 'limit' | 'window' | 'ownership' | 'permission' | 'default'
  message: string
  /** true: this rule caused the verdict (why it was flagged or stopped); absent: it only matched. */
  cause?: true | undefined
}

/** What the customer would see, for a flag's reviewer: subject, sender, body or link. */
export interface Preview {
  subject?: string | undefined
  /** The sender, e.g. news@example.com */
  from?: string | undefined
  /** The plain-text body */
  text?: string | undefined
  /** The HTML body: shown sanitized, in a sandboxed frame that runs no script and loads nothing */
  html?: string | undefined
  /** A link the touch sends (an https URL; shown as text, never followed) */
  link?: string | undefined
}

export interface DecisionRequest {
  /** The action: `kind` from the policy vocabulary, and its attributes (e.g. discountPct). */
  action: { kind: string; [attribute: string]: unknown }
  /** Name the customer by at least one of accountId, contactId or email. */
  customer: {
    accountId?: string | undefined
    contactId?: string | undefined
    email?: string | undefined
    /** Facts the caller knows, by the names the policy declares. */
    facts?: Record<string, unknown> | undefined
  }
  /** Same key (per agent) → same decision, and no second reservation. */
  idempotencyKey?: string | undefined
  /** The time of the decision (default: the server's now); `now` in rules. */
  at?: string | undefined
  /** Evaluate and log nothing, reserve nothing. */
  dryRun?: boolean | undefined
  preview?: Preview | undefined
  /**
   * The attributes this caller can release changed: if a reviewer approves the request with changes
   * (the action's reviewerMayChange), send it with the review's `changes` applied. A reviewer may
   * change only attributes named here; absent, none.
   */
  acceptsChanges?: string[] | undefined
}

export interface DecisionWire {
  id: string
  verdict: Verdict
  reasons: Reason[]
  retryAfter?: string | undefined
  reviewId?: string | undefined
  /** The team a flag was routed to. */
  reviewTeam?: string | undefined
  notify: string[]
  policyVersion: string
  /** true when this answers a repeated idempotency key. */
  replayed?: boolean | undefined
}

export interface OutcomeRequest {
  /** failed and cancelled stop counting toward limits */
  status: 'sent' | 'failed' | 'cancelled'
}

export interface TouchRequest {
  accountId: string
  contactId?: string | undefined
  /** The address it went to: with contactId, links the two (one person for contact-scoped limits) */
  email?: string | undefined
  /** e.g. call, meeting, email.manual */
  kind: string
  channel?: string | undefined
  outbound?: boolean | undefined
  team?: string | undefined
  at?: string | undefined
  note?: string | undefined
  /** What the touch records at its source (e.g. hubspot:call:123): recorded once however often it is sent */
  externalId?: string | undefined
}

export interface SuppressionRequest {
  accountId?: string | undefined
  contactId?: string | undefined
  email?: string | undefined
  /** Only this channel (e.g. email); absent: every channel */
  channel?: string | undefined
  /** e.g. unsubscribe, spamreport, bounce, manual */
  reason: string
  /** What it records at its source (e.g. a SendGrid event id): recorded once however often it is sent */
  externalId?: string | undefined
}

export interface SuppressionWire {
  id: string
  accountId: string
  contactId?: string | undefined
  email?: string | undefined
  channel?: string | undefined
  reason: string
  source: string
  at: string
  externalId?: string | undefined
  /** When it was lifted: from then on it stops nothing (absent: in force) */
  liftedAt?: string | undefined
  liftedBy?: string | undefined
  liftNote?: string | undefined
}

export interface SuppressionLiftRequest {
  /** Why it is lifted, kept on record with who lifted it and when */
  note?: string | undefined
}

export interface TouchWire {
  id: string
  accountId: string
  contactId?: string | undefined
  /** The address the request or source named, trimmed and lower-cased. */
  email?: string | undefined
  agent?: string | undefined
  team?: string | undefined
  tool?: string | undefined
  kind: string
  channel?: string | undefined
  outbound: boolean
  at: string
  status: 'reserved' | 'sent' | 'failed' | 'cancelled'
  decisionId?: string | undefined
  source: 'decision' | 'recorded'
  note?: string | undefined
  externalId?: string | undefined
  /** The attributes of the action that reserved it (absent when it carried none). */
  attributes?: Record<string, unknown> | undefined
}

export interface CommitmentWire {
  id: string
  accountId: string
  contactId?: string | undefined
  kind: string
  value: Record<string, unknown>
  team: string
  agent: string
  at: string
  expiresAt?: string | undefined
  decisionId: string
}

export interface ReviewWire {
  id: string
  decisionId: string
  accountId: string
  agent: string
  team: string
  /** SHA-256 of the flagged request (agent, action, attributes, customer ids): pass it to `approve` to bind the approval to what was shown. */
  digest?: string | undefined
  status: 'pending' | 'approved' | 'rejected' | 'expired'
  createdAt: string
  expiresAt: string
  resolvedAt?: string | undefined
  resolvedBy?: string | undefined
  note?: string | undefined
  outcome?: 'go' | 'stop' | undefined
  outcomeReasons?: Reason[] | undefined
  touchId?: string | undefined
  /** Approved with changes: the attributes the reviewer changed and their new values. What is released is the request with these applied. */
  changes?: { attributes: Record<string, unknown> } | undefined
  /** Approved with changes: the digest of the changed request, the one released. */
  releasedDigest?: string | undefined
}

/** An approved review's stops, re-checked now: whether its action may still go. */
export interface RecheckWire {
  /** true: no stop holds now, the approved action may go; false: it must not be sent. */
  ok: boolean
  /** The stops that hold now (empty when ok): don't send, and report the touch cancelled. */
  reasons: Reason[]
}

/** A decision as the log keeps it: who asked what, for whom, and the answer. */
export interface DecisionRecordWire {
  id: string
  at: string
  agent: string
  team: string
  tool?: string | undefined
  accountId: string
  contactId?: string | undefined
  email?: string | undefined
  action: { kind: string; attributes: Record<string, unknown> }
  facts: Record<string, unknown>
  /** What the customer would see, as the agent sent it (the request's `preview`): for the reviewer. */
  preview?: Preview | undefined
  verdict: Verdict
  reasons: Reason[]
  retryAfter?: string | undefined
  reviewId?: string | undefined
  reviewTeam?: string | undefined
  /** On a flag: its review's digest, what an approval is bound to. */
  digest?: string | undefined
  /** On a flag: the attributes its caller can release changed by a reviewer (the request's acceptsChanges). */
  acceptsChanges?: string[] | undefined
  notify: string[]
  policyVersion: string
  idempotencyKey?: string | undefined
}

export interface TimelineWire {
  accountId: string
  touches: TouchWire[]
  decisions: DecisionRecordWire[]
  reviews: ReviewWire[]
  commitments: CommitmentWire[]
}

export interface ReviewQuery {
  status?: 'pending' | 'approved' | 'rejected' | 'expired' | undefined
  team?: string | undefined
  accountId?: string | undefined
  limit?: number | undefined
}
