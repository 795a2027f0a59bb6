import { ConflictError } from '../errors.ts'

// The outbox: work Remit owes a vendor because of a state change (a review answered: complete a
// HubSpot callback, publish a Salesforce platform event). Each message is written in the same
// transaction as the change that causes it, so a crash can never keep one without the other, and is
// delivered at least once, with backoff, until it succeeds or is given up as dead.

export type OutboxStatus = 'pending' | 'delivered' | 'dead'

export interface OutboxMessage {
  /** Unique and stable across retries: receivers deduplicate on it. */
  id: string
  /** Which adapter delivers it, e.g. `hubspot`, `salesforce`. */
  channel: string
  /** What the adapter needs to deliver it (JSON). */
  payload: Record<string, unknown>
  /** The review (and decision) whose change caused it. */
  reviewId?: string
  decisionId?: string
  status: OutboxStatus
  createdAt: Date
  /** Attempts so far (a claim counts as one). */
  attempts: number
  /** When it may next be claimed; a claim pushes it out by the lease. */
  nextAt: Date
  lastError?: string
  deliveredAt?: Date
}

/** How a claimed message ended this attempt. */
export type OutboxSettlement =
  | { status: 'delivered'; at: Date }
  | { status: 'pending'; error: string; retryAt: Date }
  | { status: 'dead'; error: string; at: Date }

export interface OutboxFilter {
  channel?: string
  status?: OutboxStatus
  /** At most this many, oldest first (default 100, max 1000). */
  limit?: number
}

/** A new message for `channel`, due now. */
export function outboxMessage(
  id: string,
  channel: string,
  payload: Record<string, unknown>,
  at: Date,
  cause: { reviewId?: string; decisionId?: string } = {},
): OutboxMessage {
  return {
    id,
    channel,
    payload,
    ...(cause.reviewId ? { reviewId: cause.reviewId } : {}),
    ...(cause.decisionId ? { decisionId: cause.decisionId } : {}),
    status: 'pending',
    createdAt: at,
    attempts: 0,
    nextAt: at,
  }
}

/** A message as it stands after `settlement` (the same rule for every store). */
export function settle(m: OutboxMessage, settlement: OutboxSettlement): OutboxMessage {
  // Delivered is final: a late failure report (from a deliverer whose lease ran out) changes nothing.
  if (m.status === 'delivered' && settlement.status !== 'delivered') return m
  if (settlement.status === 'delivered') {
    const { lastError: _e, ...rest } = m
    return { ...rest, status: 'delivered', deliveredAt: settlement.at }
  }
  if (settlement.status === 'pending')
    return { ...m, nextAt: settlement.retryAt, lastError: settlement.error }
  return { ...m, status: 'dead', nextAt: settlement.at, lastError: settlement.error }
}

/** Retrying a message that was delivered. */
export function deliveredAlready(id: string): ConflictError {
  return new ConflictError('ILLEGAL_TRANSITION', `outbox message ${id} was delivered: it is not sent again`)
}

/** A message put back to be tried at `now`, attempts reset (a delivered one is refused). */
export function retried(m: OutboxMessage, now: Date): OutboxMessage {
  // A delivered message sent again would reach the vendor twice: only the undelivered come back.
  if (m.status === 'delivered') throw deliveredAlready(m.id)
  const { lastError: _e, deliveredAt: _d, ...rest } = m
  return { ...rest, status: 'pending', attempts: 0, nextAt: now }
}

/** A message from its stored JSON (times back to Dates). */
export function parseOutbox(body: string | Record<string, unknown>): OutboxMessage {
  const m = (typeof body === 'string' ? JSON.parse(body) : { ...body }) as Record<string, unknown>
  for (const k of ['createdAt', 'nextAt', 'deliveredAt'])
    if (m[k] !== undefined) m[k] = new Date(m[k] as string)
  return m as unknown as OutboxMessage
}

/**
 * Thrown by a deliverer's `send` when retrying cannot help (the vendor refused the message itself,
 * not its own state: a 400, a 404): the message is set aside as dead at once, not after every
 * attempt.
 */
export class PermanentDeliveryError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PermanentDeliveryError'
  }
}

/**
 * Thrown by a deliverer's `send` when the vendor said when to come back (an HTTP 429 or 503 with
 * `Retry-After`): the attempt counts as failed, as any other, and the message is not tried again
 * before `afterMs` from the failure — later when its backoff is longer (`nextAttemptAt`).
 */
export class RetryLaterError extends Error {
  /** How long the vendor asked to be left alone, in ms (never negative). */
  readonly afterMs: number
  constructor(message: string, options: { afterMs: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RetryLaterError'
    this.afterMs = Number.isFinite(options.afterMs) ? Math.max(0, options.afterMs) : 0
  }
}

/**
 * When a message whose attempt failed at `at` with `error` is next due: after its backoff, or after
 * the vendor's `RetryLaterError.afterMs` when that is later (max of the two).
 */
export function nextAttemptAt(at: Date, backoffMs: number, error: unknown): Date {
  const afterMs = error instanceof RetryLaterError ? error.afterMs : 0
  return new Date(at.getTime() + Math.max(backoffMs, afterMs))
}
