// The example week as data: what each agent tried, what happened around it, and how the
// reviewers answered. `runWeek` plays it through a Remit engine and returns every step.
import type { Decision, Remit, Review, Touch } from '@remit/core'

const acme = { accountId: 'acme', contactId: 'acme-jane', email: 'jane@acme.example' }
const acmeFacts = { lifecycle: 'renewal', tier: 'enterprise', renewalValue: 200_000 }
const globex = { accountId: 'globex', contactId: 'globex-omar', email: 'omar@globex.example' }
const initech = { accountId: 'initech', contactId: 'initech-peter', email: 'peter@initech.example' }

/** Acme opens a support ticket on Thursday afternoon; from then on the CRM reports it as a fact. */
const ticketOpenedAt = '2026-04-09T16:00:00Z'

export const customers: Record<string, string> = { acme: 'Acme', globex: 'Globex', initech: 'Initech' }

export type Event =
  | {
      kind: 'attempt'
      at: string
      tool: string
      /** What the agent's message or offer is, in words (for the printout). */
      what: string
      /** A retry that only happens because Remit paused the first try. */
      retry?: boolean
      action: { kind: string; [attribute: string]: unknown }
      customer: { accountId: string; contactId: string; email: string; facts: Record<string, unknown> }
      /**
       * How a person on the owning team answers if this is flagged. `leftOpen`: no later step of the
       * week turns on this answer, so the served demo leaves the flag for someone in the console.
       */
      review?: { at: string; by: string; approve: boolean; note: string; leftOpen?: boolean }
    }
  | {
      kind: 'touch'
      at: string
      what: string
      accountId: string
      contactId: string
      team: string
      channel: string
    }
  | { kind: 'fact'; at: string; what: string }

export const week: Event[] = [
  {
    kind: 'attempt',
    at: '2026-04-06T09:00:00Z',
    tool: 'hubspot:workflow/1001',
    what: 'premium positioning e-mail: "Acme Enterprise: the platform for the next five years"',
    action: { kind: 'email.positioning' },
    customer: { ...acme, facts: acmeFacts },
    review: {
      at: '2026-04-06T11:30:00Z',
      by: 'Dana (sales manager)',
      approve: true,
      note: 'The premium story is our renewal pitch; send it.',
    },
  },
  {
    kind: 'attempt',
    at: '2026-04-06T09:05:00Z',
    tool: 'hubspot:workflow/1001',
    what: 'premium positioning e-mail',
    action: { kind: 'email.positioning' },
    customer: { ...globex, facts: { lifecycle: 'customer', tier: 'smb' } },
  },
  {
    kind: 'attempt',
    at: '2026-04-07T10:00:00Z',
    tool: 'salesforce:flow/Renewal_Offer',
    what: '20% discount on the pipeline deal',
    action: { kind: 'offer.discount', discountPct: 20 },
    customer: { ...initech, facts: { lifecycle: 'prospect', tier: 'smb' } },
    review: {
      at: '2026-04-07T10:20:00Z',
      by: 'Dana (sales manager)',
      approve: false,
      note: 'Over our 15% authority on pipeline deals; offer 10%.',
      leftOpen: true,
    },
  },
  {
    kind: 'attempt',
    at: '2026-04-07T10:30:00Z',
    tool: 'salesforce:flow/Renewal_Offer',
    what: '10% discount on the pipeline deal',
    action: { kind: 'offer.discount', discountPct: 10 },
    customer: { ...initech, facts: { lifecycle: 'prospect', tier: 'smb' } },
  },
  {
    kind: 'attempt',
    at: '2026-04-08T09:00:00Z',
    tool: 'salesforce:flow/Renewal_Offer',
    what: '10% renewal discount e-mail',
    action: { kind: 'offer.discount', discountPct: 10 },
    customer: { ...acme, facts: acmeFacts },
  },
  {
    kind: 'attempt',
    at: '2026-04-09T11:45:00Z',
    tool: 'salesforce:flow/Renewal_Offer',
    what: '10% renewal discount e-mail (retried after the pause)',
    retry: true,
    action: { kind: 'offer.discount', discountPct: 10 },
    customer: { ...acme, facts: acmeFacts },
    review: {
      at: '2026-04-09T12:00:00Z',
      by: 'Dana (sales manager)',
      approve: false,
      note: "No discount: we are pitching premium. I will talk pricing on this afternoon's call.",
      leftOpen: true,
    },
  },
  {
    kind: 'touch',
    at: '2026-04-09T15:00:00Z',
    what: 'renewal call with Jane (logged in the CRM by sales)',
    ...acme,
    team: 'sales',
    channel: 'phone',
  },
  {
    kind: 'fact',
    at: ticketOpenedAt,
    what: 'Acme opens a support ticket (the CRM now reports lastTicketOpenedAt)',
  },
  {
    kind: 'attempt',
    at: '2026-04-10T10:00:00Z',
    tool: 'hubspot:workflow/2002',
    what: 'win-back sequence: "We miss you! Here is what you are missing"',
    action: { kind: 'sequence.winback' },
    customer: { ...acme, facts: { ...acmeFacts, lastTicketOpenedAt: ticketOpenedAt } },
  },
  {
    kind: 'attempt',
    at: '2026-04-10T10:30:00Z',
    tool: 'hubspot:workflow/1001',
    what: 'cold-prospect e-mail: "Have you heard of us?"',
    action: { kind: 'email.cold_prospect' },
    customer: { ...acme, facts: { ...acmeFacts, lastTicketOpenedAt: ticketOpenedAt } },
  },
]

export type Attempt = Extract<Event, { kind: 'attempt' }>

export type Step =
  | { kind: 'decision'; event: Attempt; decision: Decision; touch?: Touch }
  | { kind: 'review'; event: Attempt; review: Review; touch?: Touch }
  | { kind: 'touch'; event: Extract<Event, { kind: 'touch' }>; touch: Touch }
  | { kind: 'fact'; event: Extract<Event, { kind: 'fact' }> }

/**
 * Plays the week in time order. A go is sent at once (the tool reports `sent`); a flag waits for
 * its reviewer's answer, which is played at the time the reviewer gave it — or, with
 * `answerReviews: false` (or a function saying false for its attempt), stays pending for someone
 * to answer in the console.
 */
export async function runWeek(
  remit: Remit,
  options: { answerReviews?: boolean | ((event: Attempt) => boolean); shiftMs?: number } = {},
): Promise<Step[]> {
  const answers = options.answerReviews ?? true
  const answered = (event: Attempt) => (typeof answers === 'function' ? answers(event) : answers)
  // Moves the whole week in time (the console demo plays it as the week just gone).
  const shift = (iso: string) =>
    options.shiftMs ? new Date(Date.parse(iso) + options.shiftMs).toISOString() : iso
  type Pending = { at: string; run: () => Promise<Step> }
  const queue: Pending[] = []
  for (const event of week) {
    queue.push({
      at: event.at,
      run: async () => {
        if (event.kind === 'fact') return { kind: 'fact', event }
        if (event.kind === 'touch') {
          const touch = await remit.recordTouch({
            accountId: event.accountId,
            contactId: event.contactId,
            kind: 'call',
            channel: event.channel,
            team: event.team,
            outbound: false,
            at: shift(event.at),
            note: event.what,
          })
          return { kind: 'touch', event, touch }
        }
        const decision = await remit.decide(
          { tool: event.tool },
          {
            action: event.action,
            customer: {
              ...event.customer,
              facts: Object.fromEntries(
                Object.entries(event.customer.facts).map(([k, v]) => [
                  k,
                  k === 'lastTicketOpenedAt' ? shift(v as string) : v,
                ]),
              ),
            },
            at: shift(event.at),
            idempotencyKey: `week:${event.at}`,
          },
        )
        const step: Step = { kind: 'decision', event, decision }
        if (decision.verdict === 'go') step.touch = await remit.outcome(decision.id, 'sent')
        if (answered(event) && decision.verdict === 'flag' && event.review && decision.reviewId) {
          const answer = event.review
          const reviewId = decision.reviewId
          queue.push({
            at: answer.at,
            run: async () => {
              const input = { by: answer.by, note: answer.note, at: shift(answer.at) }
              const review = answer.approve
                ? await remit.reviews.approve(reviewId, input)
                : await remit.reviews.reject(reviewId, input)
              const out: Step = { kind: 'review', event, review }
              if (review.outcome === 'go') out.touch = await remit.outcome(review.decisionId, 'sent')
              return out
            },
          })
        }
        return step
      },
    })
  }
  const steps: Step[] = []
  while (queue.length) {
    queue.sort((a, b) => a.at.localeCompare(b.at))
    steps.push(await (queue.shift() as Pending).run())
  }
  return steps
}
