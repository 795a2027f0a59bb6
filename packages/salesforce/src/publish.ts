import type { Decision, DeliverOptions, Remit, Review } from '@remit/core'
import { cutText } from '@remit/core/adapter'
import type { Connection } from '@salesforce/core'
import { REVIEW_FIELDS } from './package.ts'

export const REVIEW_EVENT = 'Remit_Review__e'

const LENGTHS = new Map(REVIEW_FIELDS.map((f) => [f.name, f.length]))

/**
 * Each value within its Text field's length (REVIEW_FIELDS): Salesforce refuses a longer one
 * (400 STRING_TOO_LONG), and a refused event would never resume the flow. A flow's idempotency key
 * may be 256 characters; IdempotencyKey__c, a Text field, holds 255.
 */
function fitted<T extends Record<string, string>>(event: T): T {
  return Object.fromEntries(
    Object.entries(event).map(([k, v]) => [
      k,
      typeof v === 'string' ? cutText(v, LENGTHS.get(k) ?? v.length) : v,
    ]),
  ) as T
}

/** The platform event a paused flow waits for; one per answered review of a Salesforce flow's flag. */
export function reviewEvent(review: Review, decision: Decision) {
  return fitted({
    ReviewId__c: review.id,
    DecisionId__c: decision.id,
    Verdict__c: review.outcome ?? 'stop',
    Status__c: review.status,
    Reason__c: (review.outcomeReasons ?? []).map((r) => `${r.rule}: ${r.message}`).join(' | '),
    IdempotencyKey__c: decision.idempotencyKey ?? '',
  })
}

/**
 * Publishes `Remit_Review__e` (REST: POST /services/data/vXX.X/sobjects/Remit_Review__e) when a
 * review of a `salesforce:` tool's flag is answered, so the paused interview resumes. Through
 * Remit's outbox: the event is written with the answer, survives a restart, is retried with backoff
 * while the org is away, and is set aside as dead if it never goes. The event carries `ReviewId__c`,
 * which a flow waiting on it matches (a repeated event for the same review finds no waiting
 * interview). Returns the function that stops it.
 */
export function publishReviews(
  remit: Remit,
  connection: Connection,
  log: { info: (o: object, m: string) => void; error: (o: object, m: string) => void } = {
    info() {},
    error() {},
  },
  options: DeliverOptions = {},
): () => void {
  const unroute = remit.outbox.route('salesforce', (review, decision) =>
    decision.tool?.startsWith('salesforce:') ? { event: reviewEvent(review, decision) } : undefined,
  )
  const stop = remit.outbox.deliver(
    'salesforce',
    async (message) => {
      // Fitted again: a message written to the outbox before values were fitted goes out fitted too.
      const event = fitted((message.payload as { event: ReturnType<typeof reviewEvent> }).event)
      const result = await connection.sobject(REVIEW_EVENT).create(event)
      if (!(result as { success?: boolean }).success) throw new Error(JSON.stringify(result))
      log.info({ review: event.ReviewId__c, verdict: event.Verdict__c }, 'Remit_Review__e published')
    },
    {
      onError: (message, error) =>
        log.error(
          { message: message?.id, err: error },
          'Remit_Review__e not published yet; it will be retried',
        ),
      ...options,
    },
  )
  return () => {
    stop()
    unroute()
  }
}
