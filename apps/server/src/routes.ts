import { ConflictError, InputError, NotFoundError, type OutboxMessage, PolicyError } from '@remit/core'
import { scopedExternalId } from '@remit/core/adapter'
import {
  decisionLogQuerySchema,
  decisionRecordSchema,
  decisionRequestSchema,
  decisionSchema,
  label,
  outcomeRequestSchema,
  recheckSchema,
  resolveRequestSchema,
  reviewQuerySchema,
  reviewSchema,
  suppressionLiftRequestSchema,
  suppressionRequestSchema,
  suppressionSchema,
  time,
  timelineSchema,
  touchRequestSchema,
  touchSchema,
} from '@remit/core/api'
import {
  decisionRecordToWire,
  decisionToWire,
  resolveCaller,
  reviewToWire,
  suppressionToWire,
  timelineToWire,
  touchToWire,
} from '@remit/core/internal'
import { z } from 'zod'
import { candidateRoutes } from './candidate-routes.ts'
import { ForbiddenError } from './errors.ts'
import type { Principal } from './keys.ts'
import { type Context, defineRoute, type Route } from './route.ts'

import type { RouteDeps } from './route-deps.ts'

export type { RouteDeps }

/**
 * Largest decision body, bytes: room for a preview at its bounds (an e-mail's 100,000 characters of
 * HTML and 20,000 of text, which JSON may spell in several bytes each) besides the request itself.
 */
export const DECISION_BODY_LIMIT = 1024 * 1024

const reviewsResponse = z.object({ reviews: z.array(reviewSchema) })
const decisionsResponse = z.object({ decisions: z.array(decisionRecordSchema) })
const healthResponse = z.object({ status: z.literal('ok'), policyVersion: z.string() })
const policyResponse = z.object({
  version: z.string(),
  file: z.string(),
  loadedAt: z.string(),
  rules: z.array(z.object({ id: z.string(), sort: z.string() })),
  warnings: z.array(z.unknown()),
  lastRefusal: z.object({ at: z.string(), issues: z.array(z.unknown()) }).optional(),
})
const reloadResponse = z.object({ ok: z.boolean(), version: z.string(), changed: z.boolean() })
const keySchema = z.object({
  name: z.string(),
  kind: z.enum(['agent', 'reviewer', 'admin']),
  agent: z.string().optional(),
  tool: z.string().optional(),
  team: z.string().optional(),
})
const createKeyRequest = z
  .strictObject({
    name: label(100),
    agent: label(200).optional(),
    tool: label(200).optional(),
    reviewer: label(100).optional(),
    admin: z.literal(true).optional(),
  })
  .refine((e) => [e.agent, e.reviewer, e.admin].filter((x) => x !== undefined).length === 1, {
    message: 'a key is exactly one of: agent, reviewer or admin',
  })

/**
 * An agent's request as the server decides it: its `at`, when it is a time at all (the wire schema's
 * own check), must be near the server's clock, and is then dropped, so the server's clock is used.
 * A decision dated in the future would pass a limit twice; one dated 9999 would block the account.
 * An `at` that is no time stays, for the request's schema to refuse with its own words.
 */
const TOUCH_IDENTITY = ['accountId', 'contactId', 'email', 'kind', 'team']

/**
 * An external id sent again must name the same thing: the store keeps the first record under it, so
 * a request that differs (another account, address, reason…) would be dropped in silence — a 409.
 */
function sameThing(kept: object, sent: object, fields: string[], externalId: string): void {
  const norm = (v: unknown) => (typeof v === 'string' ? v.trim().toLowerCase() : v)
  const k = kept as Record<string, unknown>
  const s = sent as Record<string, unknown>
  const differs = fields.filter((f) => s[f] !== undefined && norm(k[f]) !== norm(s[f]))
  if (differs.length)
    throw new ConflictError(
      'EXTERNAL_ID_REUSED',
      `externalId ${externalId} already records another one (it differs in ${differs.join(', ')}); send a new externalId`,
    )
}

function atServerTime<T>(body: T, now: Date, skewMs: number): T {
  if (!body || typeof body !== 'object' || Array.isArray(body) || !Object.hasOwn(body, 'at')) return body
  const { at, ...rest } = body as T & { at?: unknown }
  if (!time.safeParse(at).success) return body
  if (Math.abs(Date.parse(at as string) - now.getTime()) > skewMs) {
    throw new InputError(
      'AT_OUT_OF_RANGE',
      `${at} is more than ${Math.round(skewMs / 1000)} s from the server's clock (${now.toISOString()}); the server's clock decides — omit "at", or ask an admin to record a backdated decision`,
      ['at'],
    )
  }
  return rest as T
}

const adminDecisionRequest = decisionRequestSchema
  .extend({
    /** Decide as this agent (or as the agent owning `tool`). */
    agent: label(200).optional(),
    tool: label(200).optional(),
    /** Reserve in the live ledger (default false: evaluated against the ledger as it stood, nothing written). */
    reserve: z.boolean().default(false),
  })
  .refine((b) => (b.agent === undefined) !== (b.tool === undefined), {
    message: 'name exactly one of agent or tool',
    path: ['agent'],
  })

const outboxQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'dead']).optional(),
  channel: z.string().trim().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
})
const outboxMessageSchema = z.object({
  id: z.string(),
  channel: z.string(),
  status: z.enum(['pending', 'delivered', 'dead']),
  reviewId: z.string().optional(),
  decisionId: z.string().optional(),
  attempts: z.number(),
  createdAt: z.string(),
  nextAt: z.string(),
  deliveredAt: z.string().optional(),
  lastError: z.string().optional(),
})

/** An outbox message as operators see it (the payload, vendor-specific, stays inside). */
function outboxToWire(m: OutboxMessage): z.infer<typeof outboxMessageSchema> {
  return {
    id: m.id,
    channel: m.channel,
    status: m.status,
    ...(m.reviewId ? { reviewId: m.reviewId } : {}),
    ...(m.decisionId ? { decisionId: m.decisionId } : {}),
    attempts: m.attempts,
    createdAt: m.createdAt.toISOString(),
    nextAt: m.nextAt.toISOString(),
    ...(m.deliveredAt ? { deliveredAt: m.deliveredAt.toISOString() } : {}),
    ...(m.lastError ? { lastError: m.lastError } : {}),
  }
}

/** Which team's reviews a principal may see or answer; undefined means all (admin). */
function reviewTeam(p: Principal): string | undefined {
  return p.kind === 'reviewer' ? p.team : undefined
}

export function routes(d: RouteDeps): Route[] {
  const { remit } = d
  const ownDecision = async (p: Principal, id: string) => {
    const decision = await remit.decisions.get(id)
    if (!decision || (p.kind === 'agent' && decision.agent !== p.agent))
      throw new NotFoundError('decision', id)
    return decision
  }
  // A reviewer sees its team's reviews, an agent the reviews of its own flags: others do not exist.
  const visibleReview = async (p: Principal, id: string) => {
    const review = await remit.reviews.get(id)
    const visible =
      review &&
      (p.kind === 'admin' ||
        (p.kind === 'reviewer' && review.team === p.team) ||
        (p.kind === 'agent' && review.agent === p.agent))
    if (!visible) throw new NotFoundError('review', id)
    return review
  }
  // Shared by approve and reject; defineRoute checks this context is one their routes give.
  const resolve =
    (action: 'approve' | 'reject') =>
    async (c: Context<'id', unknown, z.output<typeof resolveRequestSchema>, Principal>) => {
      const team = reviewTeam(c.principal)
      const review = await remit.reviews[action](c.params.id, {
        by: c.principal.name,
        ...(c.body.note ? { note: c.body.note } : {}),
        ...(c.body.digest ? { digest: c.body.digest } : {}),
        ...(c.body.changes ? { changes: c.body.changes } : {}),
        ...(team ? { team } : {}),
      })
      return reviewToWire(review)
    }

  return [
    defineRoute({
      method: 'POST',
      url: '/v1/decisions',
      operationId: 'createDecision',
      summary: 'Decide one action for one customer: go, flag or stop',
      description:
        "The agent is the caller's key, never a body field. A go is reserved in the ledger before it is answered; a flag creates a review for the owning team. The same idempotencyKey returns the same decision. A `preview` (an e-mail's subject, sender and body, or a link) is what the reviewer of a flag sees.",
      tag: 'decisions',
      roles: ['agent'],
      body: decisionRequestSchema,
      uncheckedBody: true,
      bodyLimit: DECISION_BODY_LIMIT,
      response: decisionSchema,
      handler: async (c) => {
        const body = atServerTime(c.body, d.clock(), d.clockSkewMs)
        const started = process.hrtime.bigint()
        const decision = await remit.decide(c.caller, body)
        d.metrics.decisionSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9)
        if (!decision.replayed && !decision.dryRun)
          d.metrics.decisions.inc({ verdict: decision.verdict, team: decision.team })
        if (decision.aborted && !decision.replayed)
          c.request.log.warn(
            { decision: decision.id, aborted: decision.aborted },
            'a rule could not be evaluated (budget or pattern): the decision failed closed to stop',
          )
        return decisionToWire(decision)
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/decisions/:id/outcome',
      operationId: 'reportOutcome',
      summary: 'Report what became of a go: sent, failed or cancelled',
      tag: 'decisions',
      roles: ['agent', 'admin'],
      params: { id: 'The decision id' },
      body: outcomeRequestSchema,
      response: touchSchema,
      handler: async (c) => {
        const decision = await ownDecision(c.principal, c.params.id)
        const { status } = c.body
        return touchToWire(await remit.outcome(decision.id, status))
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/decisions/:id',
      operationId: 'getDecision',
      summary: 'One decision from the log',
      tag: 'decisions',
      roles: ['agent', 'reviewer', 'admin'],
      params: { id: 'The decision id' },
      response: decisionRecordSchema,
      handler: async (c) => decisionRecordToWire(await ownDecision(c.principal, c.params.id)),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/decisions',
      operationId: 'listDecisions',
      summary: 'The decision log, newest first, filtered',
      tag: 'decisions',
      roles: ['reviewer', 'admin'],
      query: decisionLogQuerySchema,
      response: decisionsResponse,
      handler: async (c) => {
        const q = c.query
        const date = (s: string | undefined) => (s ? new Date(s) : undefined)
        const filter = {
          ...q,
          since: date(q.since),
          until: date(q.until),
          before: date(q.before),
        }
        for (const k of ['since', 'until', 'before'] as const) if (!filter[k]) delete filter[k]
        return { decisions: (await remit.decisions.list(filter)).map(decisionRecordToWire) }
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/touches',
      operationId: 'recordTouch',
      summary: 'Record a touch that happened elsewhere (a call, a meeting, a CRM e-mail)',
      tag: 'ledger',
      roles: ['agent', 'admin'],
      body: touchRequestSchema,
      status: 201,
      response: touchSchema,
      handler: async (c) => {
        const body = c.body
        const p = c.principal
        if (p.kind === 'agent') {
          const own = atServerTime(body, d.clock(), d.clockSkewMs)
          const team = remit.policy.agents.get(p.agent)?.team
          if (body.team !== undefined && body.team !== team) {
            throw new ForbiddenError(
              `key ${p.name} records touches as ${p.agent} (${team}), not as ${body.team}`,
            )
          }
          const kept = await remit.recordTouch({
            ...own,
            at: d.clock(),
            agent: p.agent,
            ...(p.tool ? { tool: p.tool } : {}),
            ...(own.externalId ? { externalId: scopedExternalId(p, own.externalId) } : {}),
          })
          if (own.externalId) sameThing(kept, own, TOUCH_IDENTITY, own.externalId)
          c.reply.code(201)
          return touchToWire(kept)
        }
        // An admin may record what happened long ago (an import), never what has not happened yet:
        // a touch dated 9999 would hold the account's limits and stops until then.
        const now = d.clock().getTime()
        if (body.at !== undefined && Date.parse(body.at) > now + d.clockSkewMs)
          throw new InputError(
            'AT_OUT_OF_RANGE',
            `${body.at} is in the future (the server's clock says ${new Date(now).toISOString()}): a touch records what happened`,
            ['at'],
          )
        const kept = await remit.recordTouch(body)
        if (body.externalId) sameThing(kept, body, TOUCH_IDENTITY, body.externalId)
        c.reply.code(201)
        return touchToWire(kept)
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/suppressions',
      operationId: 'recordSuppression',
      summary: 'Record that a customer must not be contacted (an unsubscribe, a spam report, a hard bounce)',
      description:
        'From then on every outbound action it covers (its channel, or every channel) is stopped, for every agent and tool, with no window to age it out. The same externalId again returns the first.',
      tag: 'ledger',
      roles: ['agent', 'admin'],
      body: suppressionRequestSchema,
      status: 201,
      response: suppressionSchema,
      handler: async (c) => {
        const { externalId, ...rest } = c.body
        const p = c.principal
        // A suppression of every channel silences a customer for every team: an operator's call.
        if (p.kind === 'agent' && rest.channel === undefined)
          throw new InputError(
            'MISSING_FIELD',
            `key ${p.name}: an agent records a suppression for one channel (e.g. email); every channel is an admin's`,
            ['channel'],
          )
        const kept = await remit.recordSuppression({
          ...rest,
          source: p.kind === 'agent' ? p.agent : p.name,
          ...(externalId ? { externalId: scopedExternalId(p, externalId) } : {}),
        })
        if (externalId)
          sameThing(kept, rest, ['accountId', 'contactId', 'email', 'channel', 'reason'], externalId)
        c.reply.code(201)
        return suppressionToWire(kept)
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/suppressions/:id/lift',
      operationId: 'liftSuppression',
      summary: 'Lift a suppression: it stops nothing from then on, and stays on record (an admin only)',
      description:
        'The suppression keeps who lifted it (the key), when, and the note. Lifting a lifted one changes nothing and returns it. Suppressing the customer again later records a new one.',
      tag: 'ledger',
      roles: ['admin'],
      params: { id: 'The suppression id (sup_…)' },
      body: suppressionLiftRequestSchema,
      response: suppressionSchema,
      handler: async (c) => {
        const lifted = await remit.liftSuppression(c.params.id, {
          by: c.principal.name,
          ...(c.body.note !== undefined ? { note: c.body.note } : {}),
        })
        c.request.log.info({ suppression: lifted.id, by: lifted.liftedBy }, 'suppression lifted')
        return suppressionToWire(lifted)
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/reviews',
      operationId: 'listReviews',
      summary: "Reviews, for a reviewer its own team's only",
      tag: 'reviews',
      roles: ['reviewer', 'admin'],
      query: reviewQuerySchema,
      response: reviewsResponse,
      handler: async (c) => {
        const q = c.query
        const team = reviewTeam(c.principal)
        if (team && q.team && q.team !== team)
          throw new ForbiddenError(`this key reviews for ${team}, not ${q.team}`)
        const reviews = await remit.reviews.list({ ...q, ...(team ? { team } : {}) })
        return { reviews: reviews.map(reviewToWire) }
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/reviews/:id',
      operationId: 'getReview',
      summary: 'One review (an agent may read the reviews of its own flags, to release held touches)',
      tag: 'reviews',
      roles: ['agent', 'reviewer', 'admin'],
      params: { id: 'The review id' },
      response: reviewSchema,
      handler: async (c) => reviewToWire(await visibleReview(c.principal, c.params.id)),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/reviews/:id/recheck',
      operationId: 'recheckReview',
      summary: "Re-check an approved review's stops now, before its action is released",
      description:
        "For an approved action sent later than its approval (a gateway repeating a held call): every stop approval checks — suppressions, pauses, windows, hard limits — evaluated again against the ledger as it is now, without the review's own reserved touch. Writes nothing. `ok: false`: do not send, and report the decision's touch `cancelled`. 409 REVIEW_NOT_APPROVED when the review is not approved with outcome go.",
      tag: 'reviews',
      roles: ['agent', 'reviewer', 'admin'],
      params: { id: 'The review id' },
      response: recheckSchema,
      handler: async (c) => {
        await visibleReview(c.principal, c.params.id)
        return remit.reviews.recheck(c.params.id)
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/reviews/:id/approve',
      operationId: 'approveReview',
      summary: 'Approve a flag: the action goes, unless a stop now holds',
      description:
        "Send the review's `digest` as shown to the reviewer to bind the approval to that request: another digest is refused (409 REVIEW_DIGEST_MISMATCH) and the review stays pending. `changes` approves with changes where the action's `reviewerMayChange` allows them: the changed request is decided again and, if it goes, is what is reserved and released (`changes` and `releasedDigest` on the review); a stop only the change brings is 409 CHANGED_REQUEST_STOPPED, a flag for another rule or team 409 CHANGED_REQUEST_FLAGGED, the review left pending.",
      tag: 'reviews',
      roles: ['reviewer', 'admin'],
      params: { id: 'The review id' },
      body: resolveRequestSchema,
      response: reviewSchema,
      handler: resolve('approve'),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/reviews/:id/reject',
      operationId: 'rejectReview',
      summary: 'Reject a flag: the action is stopped',
      tag: 'reviews',
      roles: ['reviewer', 'admin'],
      params: { id: 'The review id' },
      body: resolveRequestSchema,
      response: reviewSchema,
      handler: resolve('reject'),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/customers/:accountId/timeline',
      operationId: 'getTimeline',
      summary: 'Every touch, decision, review and commitment of one account, across all agents',
      tag: 'ledger',
      roles: ['reviewer', 'admin'],
      params: { accountId: 'The account id' },
      response: timelineSchema,
      handler: async (c) => {
        const timeline = await remit.timeline(c.params.accountId)
        // A reviewer sees its own team's reviews only, here as everywhere.
        const team = reviewTeam(c.principal)
        return timelineToWire(
          team ? { ...timeline, reviews: timeline.reviews.filter((r) => r.team === team) } : timeline,
        )
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/decisions',
      operationId: 'createBackdatedDecision',
      summary: 'Decide as an agent at any time, for imports and replays (an admin only)',
      description:
        'Agents cannot choose the time of a decision. An admin can: `at` may be any time, `agent` or `tool` says who asks. Without `reserve: true` it is a dry run against the live ledger: nothing is written.',
      tag: 'admin',
      roles: ['admin'],
      body: adminDecisionRequest,
      bodyLimit: DECISION_BODY_LIMIT,
      response: decisionSchema,
      handler: async (c) => {
        const { agent, tool, reserve, ...request } = c.body
        const decision = await remit.decide(tool ? { tool } : { agent: agent as string }, {
          ...request,
          dryRun: request.dryRun || !reserve,
        })
        c.request.log.info({ decision: decision.id, at: request.at, reserve }, 'admin decision')
        return decisionToWire(decision)
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/admin/outbox',
      operationId: 'listOutbox',
      summary: 'Work Remit owes vendors (callbacks, events), oldest first: pending, delivered or dead',
      tag: 'admin',
      roles: ['admin'],
      query: outboxQuery,
      response: z.object({ messages: z.array(outboxMessageSchema) }),
      handler: async (c) => {
        return { messages: (await remit.outbox.list(c.query)).map(outboxToWire) }
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/outbox/:id/retry',
      operationId: 'retryOutboxMessage',
      summary: 'Put a dead message back to be delivered now',
      tag: 'admin',
      roles: ['admin'],
      params: { id: 'The message id (obx_…)' },
      response: outboxMessageSchema,
      handler: async (c) => outboxToWire(await remit.outbox.retry(c.params.id)),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/admin/policy',
      operationId: 'getPolicy',
      summary: 'The policy in service, and the last refused reload',
      tag: 'admin',
      roles: ['admin', 'reviewer'],
      response: policyResponse,
      handler: async () => {
        const p = remit.policy
        const refusal = d.policy.lastRefusal
        return {
          version: p.version,
          file: p.file,
          loadedAt: d.policy.loadedAt.toISOString(),
          rules: p.rules.map((r) => ({ id: r.id, sort: r.sort })),
          warnings: [...p.warnings],
          ...(refusal ? { lastRefusal: { at: refusal.at.toISOString(), issues: refusal.issues } } : {}),
        }
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/policy/reload',
      operationId: 'reloadPolicy',
      summary: 'Reload the policy file; a policy that does not load is refused and the old one stays',
      tag: 'admin',
      roles: ['admin'],
      response: reloadResponse,
      handler: async () => {
        const result = await d.policy.reload()
        // 422 through the error registry, with every issue; the policy in service stays.
        if (!result.ok) throw new PolicyError(result.issues)
        return result
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/admin/keys',
      operationId: 'listKeys',
      summary: 'The keys in service (names and roles; never keys or hashes)',
      tag: 'admin',
      roles: ['admin'],
      response: z.object({ keys: z.array(keySchema) }),
      handler: async () => ({ keys: d.keys.list() }),
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/admin/keys',
      operationId: 'createKey',
      summary: 'Create a key; it is shown once, only its hash is kept',
      tag: 'admin',
      roles: ['admin'],
      body: createKeyRequest,
      status: 201,
      response: z.object({ name: z.string(), key: z.string() }),
      handler: async (c) => {
        if (!d.createKey)
          throw new InputError('KEYS_READ_ONLY', 'this server has no keys file to write to', [])
        const body = c.body
        if (d.keys.list().some((k) => k.name === body.name)) {
          throw new InputError('DUPLICATE_KEY', `a key named "${body.name}" exists`, ['name'])
        }
        if (body.agent) resolveCaller(remit.policy, body.tool ? { tool: body.tool } : { agent: body.agent })
        if (body.reviewer && !remit.policy.teams.has(body.reviewer)) {
          throw new InputError('UNKNOWN_TEAM', `unknown team "${body.reviewer}"`, ['reviewer'])
        }
        const key = await d.createKey(body)
        c.reply.code(201)
        return { name: body.name, key }
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/healthz',
      operationId: 'getHealth',
      summary: 'Liveness, and the policy version in service',
      tag: 'service',
      roles: [],
      response: healthResponse,
      handler: async () => ({ status: 'ok' as const, policyVersion: remit.policy.version }),
    }),
    ...candidateRoutes(d),
  ]
}
