import { type Decision, InputError, type Policy, type Remit } from '@remit/core'
import {
  boundedText,
  defineRoute,
  openApiDocument,
  type Route,
  scopedExternalId,
  valueFromText,
} from '@remit/core/adapter'
import { label, PREVIEW_LIMITS, type Preview, text } from '@remit/core/api'
import { z } from 'zod'

// What Flow Builder sees. External Services turns each operation into an invocable action, but it
// cannot type free-form maps (`additionalProperties`), so the Salesforce operation takes attributes
// and facts as name/value lists and Remit types each value by the policy's declarations.

const nameValue = z.strictObject({ name: label(100), value: text(1000) })

export const flowDecisionRequestSchema = z.strictObject({
  kind: label(200).describe('The action kind from the Remit policy, e.g. offer.discount'),
  accountId: label(256).optional().describe('The Salesforce Account Id (or the account id all tools share)'),
  contactId: label(256).optional(),
  email: text(320).optional(),
  attributes: z.array(nameValue).max(50).optional().describe('Action attributes, e.g. discountPct = 20'),
  facts: z
    .array(nameValue)
    .max(100)
    .optional()
    .describe('Customer facts the flow knows, e.g. lifecycle = renewal'),
  idempotencyKey: label(256)
    .optional()
    .describe('Same key, same decision: use the flow interview or record id'),
})

export const flowDecisionSchema = z.object({
  id: z.string(),
  verdict: z
    .enum(['go', 'flag', 'stop'])
    .describe('go: the flow may touch the customer; flag: wait for Remit_Review__e; stop: do not'),
  reason: z.string().describe('Every rule that matched, with its message'),
  rules: z.array(z.string()),
  retryAfter: z.string().optional().describe('For a pause: when the flow may try again (ISO 8601)'),
  reviewId: z
    .string()
    .optional()
    .describe('For a flag: the review whose Remit_Review__e event resumes the flow'),
})

export type FlowDecisionRequest = z.infer<typeof flowDecisionRequestSchema>

export const flowTouchRequestSchema = z.strictObject({
  kind: label(200).describe('What happened, e.g. call, email, meeting (a Task subtype or an Event)'),
  accountId: label(256).optional().describe('The Account the activity is logged on'),
  contactId: label(256).optional().describe('The Contact (or Lead) it is with'),
  email: text(320).optional(),
  channel: label(100).optional().describe('e.g. phone, email, meeting'),
  outbound: z.boolean().optional().describe('Whether the rep reached out (default true)'),
  recordId: label(64)
    .optional()
    .describe('The Task or Event Id: the same record sent again is recorded once'),
})

export const flowTouchSchema = z.object({
  id: z.string().describe('The touch in the Remit ledger'),
  accountId: z.string(),
  team: z.string(),
})

export type FlowTouchRequest = z.infer<typeof flowTouchRequestSchema>

export function toDecisionRequest(policy: Policy, r: FlowDecisionRequest) {
  if (!r.accountId && !r.contactId && !r.email) {
    throw new InputError('BAD_REQUEST', 'name the customer: accountId, contactId or email', ['accountId'])
  }
  const declared = policy.actions.get(r.kind)?.attributes ?? {}
  return {
    action: {
      kind: r.kind,
      // Flow variables arrive as text; the policy's declarations type them (@remit/core/adapter).
      ...present(
        (r.attributes ?? []).map((a) => [
          a.name,
          valueFromText(a.value, Object.hasOwn(declared, a.name) ? declared[a.name]?.type : undefined, [
            'action',
            a.name,
          ]),
        ]),
      ),
    },
    customer: {
      ...(r.accountId ? { accountId: r.accountId } : {}),
      ...(r.contactId ? { contactId: r.contactId } : {}),
      ...(r.email ? { email: r.email } : {}),
      facts: present(
        (r.facts ?? []).map((f) => [
          f.name,
          valueFromText(
            f.value,
            Object.hasOwn(policy.facts, f.name) ? policy.facts[f.name]?.type : undefined,
            ['customer', 'facts', f.name],
          ),
        ]),
      ),
    },
    ...(r.idempotencyKey ? { idempotencyKey: r.idempotencyKey } : {}),
    preview: previewOf(r),
  }
}

/**
 * What the flag's reviewer sees: the record the flow acts on and the action's fields as the flow
 * sent them. No link: the request does not say which org (instance URL) the record is in.
 */
function previewOf(r: FlowDecisionRequest): Preview {
  const record = [
    r.accountId ? `Account: ${r.accountId}` : '',
    r.contactId ? `Contact: ${r.contactId}` : '',
    r.email ? `Email: ${r.email}` : '',
  ].filter(Boolean)
  const fields = (r.attributes ?? []).map((a) => `${a.name}: ${a.value}`)
  const text = [
    `Salesforce flow action ${r.kind}`,
    ...record,
    '',
    'Action fields:',
    ...(fields.length ? fields : ['(none)']),
  ].join('\n')
  return {
    subject: boundedText(`Salesforce flow: ${r.kind}`, PREVIEW_LIMITS.subject),
    text: boundedText(text, PREVIEW_LIMITS.text),
  }
}

/** The named values that are there: empty text is a value the flow did not have. */
function present(entries: [string, unknown][]): Record<string, unknown> {
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined))
}

export function toFlowDecision(d: Decision) {
  return {
    id: d.id,
    verdict: d.verdict,
    reason: d.reasons.map((r) => `${r.rule}: ${r.message}`).join(' | '),
    rules: d.reasons.map((r) => r.rule),
    ...(d.retryAfter ? { retryAfter: d.retryAfter.toISOString() } : {}),
    ...(d.reviewId ? { reviewId: d.reviewId } : {}),
  }
}

/** The flow-shaped operations, served by the Remit server with an agent's key. */
export function salesforceRoutes(remit: Remit): Route[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/salesforce/decisions',
      operationId: 'checkWithRemit',
      summary: 'Check with Remit before a touch: go, flag or stop',
      description:
        'Call this before the flow touches a customer. On go, continue; on stop, do not; on flag, pause until the Remit_Review__e platform event with this reviewId arrives and branch on its Verdict__c.',
      tag: 'salesforce',
      roles: ['agent'],
      body: flowDecisionRequestSchema,
      response: flowDecisionSchema,
      handler: async (c) => {
        // The server's auth hook has checked the key's agent and tool binding: c.caller is who decides.
        const request = toDecisionRequest(remit.policy, c.body)
        const d = await remit.decide(c.caller, request)
        return toFlowDecision(d)
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/salesforce/touches',
      operationId: 'recordTouch',
      summary: "Record a rep's activity logged in Salesforce (a Task or an Event) as a touch",
      description:
        "Call this from a flow triggered when a Task or Event is created (on its asynchronous path), so a rule such as 'no win-back after a sales call' sees calls logged in Salesforce. The touch is the key's agent's team's, dated now.",
      tag: 'salesforce',
      roles: ['agent'],
      body: flowTouchRequestSchema,
      status: 201,
      response: flowTouchSchema,
      handler: async (c) => {
        const b = c.body
        if (!b.accountId && !b.contactId && !b.email)
          throw new InputError('BAD_REQUEST', 'name the customer: accountId, contactId or email', [
            'accountId',
          ])
        const p = c.principal
        // The same customer identity a decision for these ids gets, so rules see the touch.
        const accountId =
          b.accountId ?? (b.contactId ? `contact:${b.contactId}` : `email:${b.email?.toLowerCase()}`)
        const touch = await remit.recordTouch({
          accountId,
          ...(b.contactId ? { contactId: b.contactId } : {}),
          kind: b.kind,
          ...(b.channel ? { channel: b.channel } : {}),
          outbound: b.outbound ?? true,
          agent: p.agent,
          ...(p.tool ? { tool: p.tool } : {}),
          // The server's clock dates it; a record id is the agent's own (it cannot pre-empt another's).
          ...(b.recordId ? { externalId: scopedExternalId(p, `salesforce:${b.recordId}`) } : {}),
        })
        c.reply.code(201)
        return { id: touch.id, accountId: touch.accountId, team: touch.team ?? '' }
      },
    }),
  ]
}

/** The OpenAPI 3.0 document External Services imports: the flow-shaped decision operation only. */
export function salesforceOpenApi(remit: Remit, serverUrl?: string): Record<string, unknown> {
  // Typed outputs only: External Services makes an untyped member an Apex Object, which Flow cannot use.
  return openApiDocument(salesforceRoutes(remit), {
    version: '0.1.0',
    typedOnly: true,
    ...(serverUrl ? { serverUrl } : {}),
  })
}
