import type { CandidateDiff } from '../candidate/diff.ts'
import type { Decision } from '../decision/decision.ts'
import type { Verdict } from '../decision/schema.ts'
import type { Person } from '../ledger/identity.ts'
import type { Commitment, Identity, LedgerView, Suppression, Touch, TouchStatus } from '../ledger/types.ts'
import type { OutboxFilter, OutboxMessage, OutboxSettlement } from '../outbox/outbox.ts'
import type { Review, ReviewStatus } from '../review/review.ts'

// The contract every store implements (SQLite embedded, PostgreSQL shared), and the one contract
// test suite (`@remit/core/testing`) each runs. Stores hold no policy logic: a decision's logic runs
// in the `plan` callback, inside the store's transaction for the account.

/** What a decision writes: always the decision; on go a touch (and a commitment); on flag a review. */
export interface DecisionWrite {
  decision: Decision
  touch?: Touch
  commitment?: Commitment
  review?: Review
  /**
   * A link to keep (the request named both a contact id and an address): from then on, in this
   * account, the ledger view read for either one holds it. Keeping a link that is there writes nothing.
   */
  identity?: Identity
  /** What a candidate policy, run in shadow on the same ledger view, would have answered otherwise. */
  candidateDiff?: CandidateDiff
  /** The work a flag owes vendors (post it to a team's Slack channel, a webhook), in the same transaction. */
  outbox?: OutboxMessage[]
}

/**
 * What resolving a review writes: the review's new state; on a go, the touch (and commitment); and
 * the work it owes vendors, in the same transaction.
 */
export interface ReviewWrite {
  review: Review
  touch?: Touch
  commitment?: Commitment
  outbox?: OutboxMessage[]
}

export interface DecideRequest {
  accountId: string
  agent: string
  idempotencyKey?: string
  /**
   * A digest of the canonical request the key was sent with, kept with the decision. A later
   * request with the same key and another digest throws `ConflictError('IDEMPOTENCY_KEY_REUSED')`
   * and writes nothing; with the same digest it is a replay. Two racing requests with one key and
   * different digests: one decides, the other gets the conflict (never a second decision).
   */
  requestHash?: string
  /**
   * With a preview: the digest of the same request without it. A key whose decision has no preview
   * and this digest replays: an adapter that began sending previews (HubSpot, Salesforce) retries a
   * call first made before it did with the same key, and it must not be refused as another request.
   */
  requestHashWithoutPreview?: string
  /** The ledger view covers touches at or after `since`, and commitments outstanding at `now`. */
  since: Date
  now: Date
  /** Whom the request names (address normalized): the ledger view's `identities` are this person's. */
  person?: Person
}

export interface DecisionFilter {
  accountId?: string
  agent?: string
  team?: string
  verdict?: Verdict
  /** Decisions about this contact, or this e-mail address (any case). */
  contactId?: string
  email?: string
  /** Decisions with a reason naming this rule. */
  rule?: string
  since?: Date
  until?: Date
  /** Newest first; at most this many (default 100, max 1000). */
  limit?: number
  /** Only decisions older than this one's time (for paging). */
  before?: Date
}

export interface CandidateDiffFilter {
  /** Only the diffs of this candidate version. */
  candidateVersion?: string
  since?: Date
  until?: Date
  /** Newest first; at most this many (default 1000, max 10000). */
  limit?: number
  /** Only diffs older than this time (for paging). */
  before?: Date
}

/** Who lifts a suppression, when, and why. */
export interface SuppressionLift {
  at: Date
  by: string
  note?: string
}

export interface SuppressionFilter {
  accountId?: string
  contactId?: string
  /** Suppressions of this address (any case). */
  email?: string
  /** true: only lifted ones; false: only those in force; absent: both. */
  lifted?: boolean
  /** Oldest first; at most this many (default 100, max 1000). */
  limit?: number
}

export interface ReviewFilter {
  status?: ReviewStatus
  team?: string
  accountId?: string
  limit?: number
}

export interface Timeline {
  accountId: string
  touches: Touch[]
  decisions: Decision[]
  reviews: Review[]
  commitments: Commitment[]
}

/**
 * What `Store.prune` removes: touches older than `touchesBefore` (no rule reads them once it is the
 * policy's longest window back: `Policy.lookbackMs`), and decisions older than `decisionsBefore` (the
 * audit's retention) with their answered reviews and the commitments they made that are no longer
 * outstanding at `now` (withdrawn, or expired). A decision whose review is still pending, and a
 * commitment still outstanding, are kept, however old: the ledger still reads them.
 */
export interface PruneRequest {
  touchesBefore: Date
  decisionsBefore: Date
  now: Date
  /** Count what would be removed, remove nothing. */
  dryRun?: boolean
}

/** How many of each were removed (or, on a dry run, would be). */
export interface PruneReport {
  touches: number
  decisions: number
  reviews: number
  commitments: number
  /** A candidate policy's diffs, removed with the decisions they were written with. */
  candidateDiffs: number
  /** Whole months of touches dropped at once, where the store keeps touches by month (PostgreSQL). */
  months: string[]
}

export interface Store {
  /**
   * Decide-and-reserve, atomically and serialized per account: if this agent already used this
   * idempotency key, return that decision (`replayed: true`) and write nothing; otherwise read the
   * account's ledger, call `plan`, and persist everything it returns before resolving.
   */
  decide(request: DecideRequest, plan: (ledger: LedgerView) => DecisionWrite): Promise<Decision>
  /** The ledger view alone, for dry runs; `identities` are `person`'s (none without one). */
  ledger(accountId: string, since: Date, now: Date, person?: Person): Promise<LedgerView>
  /**
   * Sets the status of the touch a decision reserved. Outcomes are a state machine: only a
   * `reserved` touch may become `sent`, `failed` or `cancelled`; each of those is final. Setting the
   * status a touch already has is a no-op that returns it (a retried report); any other change throws
   * `ConflictError('ILLEGAL_TRANSITION')` and writes nothing. A failed or cancelled touch stops
   * counting and its commitment is withdrawn, exactly once. Returns the touch, or undefined if the
   * decision reserved none.
   */
  setTouchStatus(decisionId: string, status: TouchStatus): Promise<Touch | undefined>
  /**
   * Records a touch that happened elsewhere (a call, a meeting, a CRM e-mail). A touch whose
   * `externalId` is already recorded writes nothing: the touch recorded first is returned. One that
   * names both a contact id and an address links them, as a decision's `identity` does.
   */
  recordTouch(touch: Touch): Promise<Touch>
  /**
   * Records a suppression; the account's ledger view carries it from then on (no window). One whose
   * `externalId` is already recorded writes nothing: the first is returned.
   */
  recordSuppression(suppression: Suppression): Promise<Suppression>
  /**
   * Lifts a suppression, by its id, in its account's transaction: from then on the ledger view no
   * longer carries it (it stops nothing), but it stays on record with `liftedAt`, `liftedBy` and
   * `liftNote`. Lifting a lifted one writes nothing and returns it as it stands (the first lift is
   * the one kept). Unknown ids throw NotFoundError. Suppressing the customer again records a new one.
   */
  liftSuppression(id: string, lift: SuppressionLift): Promise<Suppression>
  /** Suppressions on record, in force and lifted, oldest first: for operators and the audit. */
  listSuppressions(filter?: SuppressionFilter): Promise<Suppression[]>
  getDecision(id: string): Promise<Decision | undefined>
  listDecisions(filter?: DecisionFilter): Promise<Decision[]>
  getReview(id: string): Promise<Review | undefined>
  listReviews(filter?: ReviewFilter): Promise<Review[]>
  /** Pending reviews whose expiry is at or before `at`. */
  expiringReviews(at: Date): Promise<Review[]>
  /**
   * Resolves a review in the account's transaction: re-reads it, reads the ledger (its `identities`
   * those of the person the decision named: `personOf(decision)`), calls `plan` (which may throw to
   * refuse, e.g. when it is no longer pending) and persists what it returns.
   */
  resolveReview(
    reviewId: string,
    window: { since: Date; now: Date },
    plan: (review: Review, decision: Decision, ledger: LedgerView) => ReviewWrite,
  ): Promise<Review>
  /**
   * The account's touches, decisions, reviews and commitments, oldest first: the newest `limit` of
   * each (default 1,000; at most 10,000), so reading an account costs the same however much callers
   * have written to it.
   */
  timeline(accountId: string, limit?: number): Promise<Timeline>
  /**
   * Claims up to `limit` pending messages of `channel` due at `now` (oldest first): each one's
   * attempts go up by one and its `nextAt` moves to `now + leaseMs`, atomically, so no other claim —
   * in this process or another instance — takes it until the lease runs out. Returns them as claimed.
   */
  claimOutbox(channel: string, now: Date, leaseMs: number, limit: number): Promise<OutboxMessage[]>
  /** Records how a claimed message's attempt ended. Unknown ids throw NotFoundError. */
  settleOutbox(id: string, settlement: OutboxSettlement): Promise<OutboxMessage>
  listOutbox(filter?: OutboxFilter): Promise<OutboxMessage[]>
  /**
   * Puts a dead (or pending) message back to be tried at `now`, its attempts reset. A delivered one
   * is refused (`ConflictError('ILLEGAL_TRANSITION')`): it would reach the vendor twice.
   */
  retryOutbox(id: string, now: Date): Promise<OutboxMessage>
  /**
   * An adapter's own small state, by key (a vendor's cursor, an encrypted credential): what it must
   * keep across restarts and share between instances. Undefined when never written.
   */
  readState(key: string): Promise<string | undefined>
  /** Writes (or replaces) the value at `key`. */
  writeState(key: string, value: string): Promise<void>
  /**
   * Reads the value at `key` and writes what `change` returns, atomically: no other `updateState` or
   * `writeState` of the key, from any instance, comes in between. `change` may throw to refuse
   * (nothing is written). Returns the value written.
   */
  updateState(key: string, change: (value: string | undefined) => string): Promise<string>
  /**
   * The candidate diffs written with decisions (`DecisionWrite.candidateDiff`), newest first: what a
   * policy in shadow would have answered otherwise.
   */
  listCandidateDiffs(filter?: CandidateDiffFilter): Promise<CandidateDiff[]>
  /** Removes what no rule reads and the audit no longer keeps (see `PruneRequest`). */
  prune(request: PruneRequest): Promise<PruneReport>
  close(): Promise<void>
}
