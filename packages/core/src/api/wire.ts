import { z } from 'zod'
import { emailAddress, id, label, reasonSchema, text, time, verdictSchema } from '../decision/schema.ts'

// The rest of the decision API's wire format (documented in apps/server's README and /openapi.json): one source for the
// server's validation, its OpenAPI document and @remit/client's types. Times are ISO 8601 strings.
// Requests are bounded as decision/schema.ts explains (lengths, well-formed text, years 1970–9999);
// responses are what Remit wrote, so they are not.

const isoTime = z.iso.datetime({ offset: true })

export const outcomeRequestSchema = z.strictObject({
  status: z
    .enum(['sent', 'failed', 'cancelled'])
    .describe('failed and cancelled stop counting toward limits'),
})

export const touchRequestSchema = z.strictObject({
  accountId: id,
  contactId: id.optional(),
  email: emailAddress
    .optional()
    .describe('The address it went to: with contactId, links the two (one person for contact-scoped limits)'),
  kind: label(200).describe('e.g. call, meeting, email.manual'),
  channel: label(100).optional(),
  outbound: z.boolean().optional(),
  team: label(100).optional(),
  at: time.optional(),
  note: text(2000).optional(),
  externalId: label(200)
    .optional()
    .describe(
      'What the touch records at its source (e.g. hubspot:call:123): recorded once however often it is sent',
    ),
})

export const suppressionRequestSchema = z.strictObject({
  accountId: id.optional(),
  contactId: id.optional(),
  email: emailAddress.optional().describe('An e-mail address (trimmed; compared in any case)'),
  channel: label(100).optional().describe('Only this channel (e.g. email); absent: every channel'),
  reason: label(100).describe('e.g. unsubscribe, spamreport, bounce, manual'),
  externalId: label(200)
    .optional()
    .describe(
      'What it records at its source (e.g. a SendGrid event id): recorded once however often it is sent',
    ),
})

export const suppressionSchema = z.object({
  id: z.string(),
  accountId: z.string(),
  contactId: z.string().optional(),
  email: z.string().optional(),
  channel: z.string().optional(),
  reason: z.string(),
  source: z.string(),
  at: isoTime,
  externalId: z.string().optional(),
  liftedAt: isoTime
    .optional()
    .describe('When it was lifted: from then on it stops nothing (absent: in force)'),
  liftedBy: z.string().optional(),
  liftNote: z.string().optional(),
})

export const suppressionLiftRequestSchema = z.strictObject({
  note: text(2000).optional().describe('Why it is lifted, kept on record with who lifted it and when'),
})

export const resolveRequestSchema = z.strictObject({
  note: text(2000).optional(),
  digest: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional()
    .describe(
      "Approvals only: the review's digest as shown to the reviewer; another digest is refused (409 REVIEW_DIGEST_MISMATCH) and nothing changes",
    ),
  changes: z
    .strictObject({
      attributes: z
        .record(z.string().max(200), z.unknown())
        .describe("New values for attributes the action's reviewerMayChange lists, e.g. {discountPct: 15}"),
    })
    .optional()
    .describe(
      'Approvals only: approve with changes. The changed request is decided again: a stop only it brings is refused (409 CHANGED_REQUEST_STOPPED), so is a flag for another rule or team (409 CHANGED_REQUEST_FLAGGED), the review left pending; an attribute the policy does not let a reviewer change is 400 CHANGE_NOT_ALLOWED',
    ),
})

export const touchSchema = z.object({
  id: z.string(),
  accountId: z.string(),
  contactId: z.string().optional(),
  /** The address the request or source named, trimmed and lower-cased. */
  email: z.string().optional(),
  agent: z.string().optional(),
  team: z.string().optional(),
  tool: z.string().optional(),
  kind: z.string(),
  channel: z.string().optional(),
  outbound: z.boolean(),
  at: isoTime,
  status: z.enum(['reserved', 'sent', 'failed', 'cancelled']),
  decisionId: z.string().optional(),
  source: z.enum(['decision', 'recorded']),
  note: z.string().optional(),
  externalId: z.string().optional(),
  /** The attributes of the action that reserved it (absent when it carried none). */
  attributes: z.record(z.string(), z.unknown()).optional(),
})

export const commitmentSchema = z.object({
  id: z.string(),
  accountId: z.string(),
  contactId: z.string().optional(),
  kind: z.string(),
  value: z.record(z.string(), z.unknown()),
  team: z.string(),
  agent: z.string(),
  at: isoTime,
  expiresAt: isoTime.optional(),
  decisionId: z.string(),
})

export const reviewSchema = z.object({
  id: z.string(),
  decisionId: z.string(),
  accountId: z.string(),
  agent: z.string(),
  team: z.string(),
  digest: z
    .string()
    .optional()
    .describe(
      'SHA-256 of the flagged request (agent, action, attributes, customer ids): send it with an approval to bind the approval to what was shown',
    ),
  status: z.enum(['pending', 'approved', 'rejected', 'expired']),
  createdAt: isoTime,
  expiresAt: isoTime,
  resolvedAt: isoTime.optional(),
  resolvedBy: z.string().optional(),
  note: z.string().optional(),
  outcome: z.enum(['go', 'stop']).optional(),
  outcomeReasons: z.array(reasonSchema).optional(),
  touchId: z.string().optional(),
  changes: z
    .object({ attributes: z.record(z.string(), z.unknown()) })
    .optional()
    .describe(
      'Approved with changes: the attributes the reviewer changed and their new values. What is released is the request with these applied',
    ),
  releasedDigest: z
    .string()
    .optional()
    .describe('Approved with changes: the digest of the changed request, the one released'),
})

/** An approved review's stops, re-checked now: whether its action may still go. */
export const recheckSchema = z.object({
  ok: z.boolean().describe('true: no stop holds now, the approved action may go; false: it must not be sent'),
  reasons: z
    .array(reasonSchema)
    .describe("The stops that hold now (empty when ok): don't send, and report the touch cancelled"),
})

/** A decision as the log keeps it: who asked what, for whom, and the answer. */
export const decisionRecordSchema = z.object({
  id: z.string(),
  at: isoTime,
  agent: z.string(),
  team: z.string(),
  tool: z.string().optional(),
  accountId: z.string(),
  contactId: z.string().optional(),
  email: z.string().optional(),
  action: z.object({ kind: z.string(), attributes: z.record(z.string(), z.unknown()) }),
  facts: z.record(z.string(), z.unknown()),
  /** What the customer would see, as the agent sent it (the request's `preview`): for the reviewer. */
  preview: z
    .object({
      subject: z.string().optional(),
      from: z.string().optional(),
      text: z.string().optional(),
      html: z.string().optional(),
      link: z.string().optional(),
    })
    .optional(),
  verdict: verdictSchema,
  reasons: z.array(reasonSchema),
  retryAfter: isoTime.optional(),
  reviewId: z.string().optional(),
  reviewTeam: z.string().optional(),
  /** On a flag: its review's digest, what an approval is bound to. */
  digest: z.string().optional(),
  /** On a flag: the attributes its caller can release changed by a reviewer (the request's acceptsChanges). */
  acceptsChanges: z.array(z.string()).optional(),
  notify: z.array(z.string()),
  policyVersion: z.string(),
  idempotencyKey: z.string().optional(),
})

export const timelineSchema = z.object({
  accountId: z.string(),
  touches: z.array(touchSchema),
  decisions: z.array(decisionRecordSchema),
  reviews: z.array(reviewSchema),
  commitments: z.array(commitmentSchema),
})

export const decisionLogQuerySchema = z.strictObject({
  accountId: id.optional(),
  agent: id.optional(),
  team: id.optional(),
  verdict: verdictSchema.optional(),
  rule: id.optional(),
  since: time.optional(),
  until: time.optional(),
  before: time.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
})

export const reviewQuerySchema = z.strictObject({
  status: z.enum(['pending', 'approved', 'rejected', 'expired']).optional(),
  team: id.optional(),
  accountId: id.optional(),
  limit: z.coerce.number().int().min(1).max(5000).optional(),
})

export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** The offending field, e.g. ["action", "discountPct"]. */
    path: z.array(z.union([z.string(), z.number()])).optional(),
    hint: z.string().optional(),
    issues: z.array(z.unknown()).optional(),
  }),
})

export type OutcomeRequest = z.infer<typeof outcomeRequestSchema>
export type TouchRequest = z.infer<typeof touchRequestSchema>
export type SuppressionRequest = z.infer<typeof suppressionRequestSchema>
export type SuppressionWire = z.infer<typeof suppressionSchema>
export type SuppressionLiftRequest = z.infer<typeof suppressionLiftRequestSchema>
export type ResolveRequest = z.infer<typeof resolveRequestSchema>
export type TouchWire = z.infer<typeof touchSchema>
export type CommitmentWire = z.infer<typeof commitmentSchema>
export type ReviewWire = z.infer<typeof reviewSchema>
export type RecheckWire = z.infer<typeof recheckSchema>
export type DecisionRecordWire = z.infer<typeof decisionRecordSchema>
export type TimelineWire = z.infer<typeof timelineSchema>
export type DecisionLogQuery = z.infer<typeof decisionLogQuerySchema>
export type ReviewQuery = z.infer<typeof reviewQuerySchema>
export type ErrorWire = z.infer<typeof errorSchema>
