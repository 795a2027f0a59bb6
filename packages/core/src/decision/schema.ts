import { z } from 'zod'

// The decision API's wire format (DESIGN.md, "Decision API"). The server validates requests and
// documents responses with these very schemas; OpenAPI is generated from them.

const id = z.string().trim().min(1).max(256)
const isoTime = z.iso.datetime({ offset: true })

export const verdictSchema = z.enum(['go', 'flag', 'stop'])
export const reasonSortSchema = z.enum(['stop', 'trigger', 'limit', 'ownership', 'permission', 'default'])

export const customerInputSchema = z
  .strictObject({
    accountId: id.optional(),
    contactId: id.optional(),
    email: z.email().max(320).optional(),
    /** Facts the caller knows, by the names the policy declares. */
    facts: z.record(z.string(), z.unknown()).default({}),
  })
  .refine((c) => c.accountId ?? c.contactId ?? c.email, {
    message: 'name the customer: accountId, contactId or email',
  })

export const actionInputSchema = z
  .object({ kind: z.string().trim().min(1).max(200) })
  .catchall(z.unknown())
  .describe('The action: `kind` from the policy vocabulary, and its attributes (e.g. discountPct)')

export const decisionRequestSchema = z.strictObject({
  action: actionInputSchema,
  customer: customerInputSchema,
  /** Same key (per agent) → same decision, and no second reservation. */
  idempotencyKey: id.optional(),
  /** The time of the decision (default: now); `now` in rules. */
  at: isoTime.optional(),
  /** Evaluate and log nothing, reserve nothing. */
  dryRun: z.boolean().default(false),
})

export const reasonSchema = z.object({
  rule: z.string(),
  sort: reasonSortSchema,
  message: z.string(),
})

export const decisionSchema = z.object({
  id: z.string(),
  verdict: verdictSchema,
  reasons: z.array(reasonSchema),
  retryAfter: isoTime.optional(),
  reviewId: z.string().optional(),
  /** The team a flag was routed to. */
  reviewTeam: z.string().optional(),
  notify: z.array(z.string()),
  policyVersion: z.string(),
  /** true when this answers a repeated idempotency key. */
  replayed: z.boolean().optional(),
})

export type Verdict = z.infer<typeof verdictSchema>
export type Reason = z.infer<typeof reasonSchema>
export type ReasonSort = z.infer<typeof reasonSortSchema>
export type DecisionRequest = z.input<typeof decisionRequestSchema>
export type DecisionWire = z.infer<typeof decisionSchema>
