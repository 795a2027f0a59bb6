import { z } from 'zod'

// The decision API's wire format (documented in apps/server's README and /openapi.json). The server validates requests and
// documents responses with these very schemas; OpenAPI is generated from them.
//
// Every caller is untrusted, so everything a request carries is bounded: here each string in length
// and to well-formed Unicode and each time to a range both stores and JS Date hold; facts and action
// attributes where they are checked against the policy's declarations (request.ts), which is also
// where an undeclared name is refused. A violation is a 400 naming the field.

/** Longest string a fact or attribute holds, and longest item of a list (checked with its type). */
export const MAX_VALUE_LENGTH = 4096
/** Most items in a list value (a fact or attribute of type list). */
export const MAX_LIST_ITEMS = 1000
/**
 * Times lie in the years 1970–9999 (UTC): PostgreSQL cannot hold every date an ISO string can
 * spell, and JS Date overflows beyond ±8.64e15 ms.
 */
const EARLIEST = Date.UTC(1970, 0, 1)
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** A lone surrogate (e.g. "\ud800") is not text: PostgreSQL refuses it, JSON readers mangle it. */
export const wellFormed = (s: string) => s.isWellFormed()
export const NOT_WELL_FORMED = 'not well-formed Unicode: it holds a lone surrogate (U+D800–U+DFFF)'

// Messages leave out the field: InputError prefixes each with its path ("customer.accountId: …").

/** Free text of at most `max` characters, e.g. a note. */
export const text = (max: number) => z.string().max(max).refine(wellFormed, NOT_WELL_FORMED)

/** A name such as a kind, channel or team: trimmed, 1 to `max` characters. */
export const label = (max: number) => z.string().trim().min(1).max(max).refine(wellFormed, NOT_WELL_FORMED)

/** An id (account, contact, idempotency key…): 1 to 256 characters. */
export const id = label(256)

/** An ISO 8601 time with its offset, in the years 1970–9999. */
export const time = z.iso.datetime({ offset: true }).refine((s) => {
  const ms = Date.parse(s)
  return ms >= EARLIEST && ms <= LATEST
}, 'must lie between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z')

/**
 * An e-mail address: at most 320 characters as sent, then trimmed (`" Jane@Example.com "` is
 * `"Jane@Example.com"`; its case is kept here, the ledger lower-cases it).
 */
export const emailAddress = z.string().check(z.maxLength(320), z.trim(), z.email())

export const verdictSchema = z.enum(['go', 'flag', 'stop'])
export const reasonSortSchema = z.enum([
  'stop',
  'trigger',
  'limit',
  'window',
  'ownership',
  'permission',
  'default',
])

export const customerInputSchema = z
  .strictObject({
    accountId: id.optional(),
    contactId: id.optional(),
    email: emailAddress.optional(),
    /** Facts the caller knows, by the names the policy declares. */
    // Each fact's name and value are checked against the policy's declaration (resolveRequest), with
    // the bounds below; the body's size bounds how many there are.
    facts: z.record(z.string(), z.unknown()).default({}),
  })
  .refine((c) => c.accountId ?? c.contactId ?? c.email, {
    message: 'name the customer: accountId, contactId or email',
  })

export const actionInputSchema = z
  .object({ kind: label(200) })
  .catchall(z.unknown())
  .describe('The action: `kind` from the policy vocabulary, and its attributes (e.g. discountPct)')

/** The bounds of a preview's parts, in characters (a gate truncates to them; the API refuses more). */
export const PREVIEW_LIMITS = { subject: 300, from: 320, text: 20_000, html: 100_000, link: 2000 } as const

/**
 * What the touch would show the customer, for the reviewer of a flag: an e-mail's subject, sender
 * and body (text and/or HTML), or the link a message would send. Kept on the decision, shown in the
 * review queue (HTML only sanitized, in a sandboxed frame), and part of what an idempotency key is
 * bound to. Rules do not read it.
 */
export const previewSchema = z
  .strictObject({
    subject: text(PREVIEW_LIMITS.subject).optional(),
    from: text(PREVIEW_LIMITS.from).optional().describe('The sender, e.g. news@example.com'),
    text: text(PREVIEW_LIMITS.text).optional().describe('The plain-text body'),
    html: text(PREVIEW_LIMITS.html)
      .optional()
      .describe('The HTML body: shown sanitized, in a sandboxed frame that runs no script and loads nothing'),
    link: z
      .url({ protocol: /^https$/, error: 'must be an https URL' })
      .max(PREVIEW_LIMITS.link)
      .refine(wellFormed, NOT_WELL_FORMED)
      .optional()
      .describe('A link the touch sends (shown as text, never followed)'),
  })
  .describe("What the customer would see, for a flag's reviewer: subject, sender, body or link")

export const decisionRequestSchema = z.strictObject({
  action: actionInputSchema,
  customer: customerInputSchema,
  /** Same key (per agent) → same decision, and no second reservation. */
  idempotencyKey: id.optional(),
  /** The time of the decision (default: now); `now` in rules. */
  at: time.optional(),
  /** Evaluate and log nothing, reserve nothing. */
  dryRun: z.boolean().default(false),
  preview: previewSchema.optional(),
  acceptsChanges: z
    .array(id)
    .max(64)
    .optional()
    .describe(
      "The attributes the caller can release changed: if a reviewer approves this request with changes (the action's reviewerMayChange), the caller sends it with them applied (the review's changes). A reviewer may change only attributes named here; absent, none",
    ),
})

export const reasonSchema = z.object({
  rule: z.string(),
  sort: reasonSortSchema,
  message: z.string(),
  cause: z
    .literal(true)
    .optional()
    .describe(
      'true: this rule caused the verdict (why it was flagged or stopped); absent: it only matched, as a permission does, or a flag a stop outweighed. Decisions logged before this field have none',
    ),
})

const isoTime = z.iso.datetime({ offset: true })

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
export type Preview = z.infer<typeof previewSchema>
export type DecisionWire = z.infer<typeof decisionSchema>
