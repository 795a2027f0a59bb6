import type { Decision, Remit, Review } from '@remit/core'
import type { Connection } from '@salesforce/core'

export const REVIEW_EVENT = 'Remit_Review__e'

/** The platform event a paused flow waits for; one per answered review of a Salesforce flow's flag. */
export function reviewEvent(review: Review, decision: Decision) {
  return {
    ReviewId__c: review.id,
    DecisionId__c: decision.id,
    Verdict__c: review.outcome ?? 'stop',
    Status__c: review.status,
    Reason__c: (review.outcomeReasons ?? [])
      .map((r) => `${r.rule}: ${r.message}`)
      .join(' | ')
      .slice(0, 255),
    IdempotencyKey__c: decision.idempotencyKey ?? '',
  }
}

/**
 * Publishes `Remit_Review__e` (REST: POST /services/data/vXX.X/sobjects/Remit_Review__e) when a
 * review of a `salesforce:` tool's flag is answered, so the paused interview resumes. Returns the
 * function that stops listening.
 */
export function publishReviews(
  remit: Remit,
  connection: Connection,
  log: { info: (o: object, m: string) => void; error: (o: object, m: string) => void } = {
    info() {},
    error() {},
  },
): () => void {
  return remit.onReview(async (review, decision) => {
    if (!decision.tool?.startsWith('salesforce:')) return
    const event = reviewEvent(review, decision)
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await connection.sobject(REVIEW_EVENT).create(event)
        if (!(result as { success?: boolean }).success) throw new Error(JSON.stringify(result))
        log.info({ review: review.id, verdict: event.Verdict__c }, 'Remit_Review__e published')
        return
      } catch (error) {
        if (attempt >= 4) {
          log.error(
            { review: review.id, err: error },
            'Remit_Review__e could not be published; the flow waits until its timeout',
          )
          return
        }
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt))
      }
    }
  })
}
