import { explain, InputError, NotFoundError, type Remit } from '@remit/core'
import { decisionLogQuerySchema } from '@remit/core/api'
import { decisionRecordToWire, personOf, requestOf, reviewToWire, touchToWire } from '@remit/core/internal'
import { z } from 'zod'
import { ForbiddenError, toHttpError, UnauthorizedError } from './errors.ts'
import { hashKey, type KeyRing, type Principal } from './keys.ts'
import type { PolicyService } from './policy-service.ts'
import { defineRoute, type Route } from './route.ts'
import { type Sessions, sessionCookie } from './sessions.ts'

// What the console needs beyond the decision API: sign-in, an enriched review queue, search,
// explanations, an NDJSON export and rule statistics. Reviewers see only their team's queue.

const team = (p: Principal) => (p.kind === 'reviewer' ? p.team : undefined)
/** Most flags one queue poll shows (oldest first); the rest come as these are answered. */
const QUEUE_PAGE = 200
const day = 86400e3
/** Most flags one bulk answer takes (a queue poll shows at most QUEUE_PAGE). */
export const BULK_MAX = 200

const bulkRequestSchema = z
  .strictObject({
    action: z.enum(['approve', 'reject']),
    items: z
      .array(
        z.strictObject({
          id: z.string().min(1).max(200),
          digest: z
            .string()
            .regex(/^[0-9a-f]{64}$/, { error: 'a digest is 64 lower-case hex digits' })
            .optional()
            .describe("The review's digest as shown to the reviewer; required to approve"),
        }),
      )
      .min(1, { error: 'at least one flag' })
      .max(BULK_MAX, { error: `at most ${BULK_MAX} flags a batch` }),
    note: z.string().max(2000).optional(),
  })
  .superRefine((b, ctx) => {
    const seen = new Set<string>()
    for (const [i, item] of b.items.entries()) {
      if (seen.has(item.id))
        ctx.addIssue({ code: 'custom', path: ['items', i, 'id'], message: `${item.id} is listed twice` })
      seen.add(item.id)
      if (b.action === 'approve' && !item.digest)
        ctx.addIssue({
          code: 'custom',
          path: ['items', i, 'digest'],
          message: 'an approval needs the digest of the request shown to the reviewer',
        })
    }
  })

export function consoleRoutes(d: {
  remit: Remit
  keys: KeyRing
  sessions: Sessions
  policy: PolicyService
  secureCookies: boolean
}): Route[] {
  const { remit } = d
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/console/session',
      operationId: 'signIn',
      summary: 'Sign in to the console with a reviewer or admin key (sets an HttpOnly session cookie)',
      tag: 'console',
      roles: [],
      body: z.strictObject({ key: z.string().min(1).max(512) }),
      handler: async (c) => {
        const { key } = c.body
        const principal = d.keys.authenticate(`Bearer ${key}`)
        if (!principal) throw new UnauthorizedError('that key is not in service')
        if (principal.kind === 'agent')
          throw new ForbiddenError('agent keys cannot sign in to the console; use a reviewer or admin key')
        const s = d.sessions.create(hashKey(key))
        c.reply.header('set-cookie', sessionCookie(s.id, s.maxAgeSeconds, d.secureCookies))
        return { csrf: s.csrf, principal }
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/console/session',
      operationId: 'getSession',
      summary: 'The signed-in principal and the CSRF token for state-changing requests',
      tag: 'console',
      roles: ['reviewer', 'admin'],
      handler: async (c) => {
        const s = d.sessions.fromCookie(c.request.headers.cookie as string | undefined)
        return { principal: c.principal, ...(s ? { csrf: s.csrf } : {}) }
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/console/logout',
      operationId: 'signOut',
      summary: 'End the console session',
      tag: 'console',
      roles: ['reviewer', 'admin'],
      handler: async (c) => {
        const s = d.sessions.fromCookie(c.request.headers.cookie as string | undefined)
        if (s) d.sessions.end(s.id)
        c.reply.header('set-cookie', sessionCookie('', 0, d.secureCookies))
        return { ok: true }
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/console/queue',
      operationId: 'getQueue',
      summary:
        "Pending flags for the signed-in team, with what each wants to do, its reasons and the account's recent touches",
      tag: 'console',
      roles: ['reviewer', 'admin'],
      handler: async (c) => {
        const t = team(c.principal)
        // Agents decide what is pending, so its cost must not grow with what they send: the oldest
        // QUEUE_PAGE flags, each account's ledger read once (the window deciders read, not its
        // whole history), one query at a time so a poll never takes the whole connection pool.
        const pending = await remit.reviews.list({
          status: 'pending',
          limit: QUEUE_PAGE,
          ...(t ? { team: t } : {}),
        })
        const now = Date.now()
        const recent = new Map<string, ReturnType<typeof touchToWire>[]>()
        const items = []
        for (const r of pending) {
          if (!recent.has(r.accountId)) {
            const ledger = await remit.store.ledger(
              r.accountId,
              new Date(now - remit.policy.lookbackMs),
              new Date(now),
            )
            recent.set(r.accountId, ledger.touches.slice(-8).reverse().map(touchToWire))
          }
          const decision = await remit.decisions.get(r.decisionId)
          items.push({
            review: reviewToWire(r),
            decision: decision ? decisionRecordToWire(decision) : undefined,
            recentTouches: recent.get(r.accountId),
            expiresInMinutes: Math.max(0, Math.round((r.expiresAt.getTime() - now) / 60_000)),
            // By the server's clock, as the expiry is: the browser's may differ.
            askedMinutesAgo: Math.max(0, Math.round((now - r.createdAt.getTime()) / 60_000)),
            // The channels an approval would owe work (a workflow resumed, a message updated).
            owes: decision ? remit.outbox.owedOnApproval(r, decision) : [],
            // What the reviewer may change before approving, typed: what the action's reviewerMayChange
            // lists and its caller can send changed (acceptsChanges; none from a HubSpot workflow).
            changeable: decision ? changeable(decision.action.kind, decision.acceptsChanges ?? []) : [],
          })
        }
        function changeable(kind: string, carried: string[]) {
          const action = remit.policy.actions.get(kind)
          return (action?.reviewerMayChange ?? []).flatMap((name) => {
            const declared = carried.includes(name) ? action?.attributes[name] : undefined
            return declared
              ? [{ name, type: declared.type, ...(declared.enum ? { enum: declared.enum } : {}) }]
              : []
          })
        }
        const teams = t ? [t] : [...remit.policy.teams.keys()]
        const since = new Date(new Date().setUTCHours(0, 0, 0, 0))
        const capacity = await Promise.all(
          teams.map(async (name) => {
            const today = (await remit.reviews.list({ team: name, limit: 5000 })).filter(
              (r) => r.createdAt >= since,
            ).length
            return {
              team: name,
              perDay: remit.policy.teams.get(name)?.reviewCapacityPerDay,
              today,
              pending: pending.filter((p) => p.team === name).length,
            }
          }),
        )
        return { items, capacity }
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/console/reviews/bulk',
      operationId: 'resolveReviews',
      summary: 'Approve or reject several flags at once, each answered and reported on its own',
      description: `\`items\` lists each flag as \`{ id, digest }\`, at most ${BULK_MAX}; to approve, every item needs the digest of the request the reviewer was shown (400 naming the item otherwise). Each item is answered on its own: one whose request is not that digest (REVIEW_DIGEST_MISMATCH), already answered, expired or not found is refused in its result ({ ok: false, code, error }) while the others are answered; an approval a stop now wins has ok true and outcome stop.`,
      tag: 'console',
      roles: ['reviewer', 'admin'],
      body: bulkRequestSchema,
      handler: async (c) => {
        const b = c.body
        const t = team(c.principal)
        const results = []
        for (const { id, digest } of b.items) {
          try {
            const r = await remit.reviews[b.action](id, {
              by: c.principal.name,
              ...(b.note ? { note: b.note } : {}),
              // An approval is bound to the request the reviewer was shown, item by item.
              ...(b.action === 'approve' && digest ? { digest } : {}),
              ...(t ? { team: t } : {}),
            })
            results.push({ id, ok: true, review: reviewToWire(r) })
          } catch (error) {
            // The same words the single-review routes answer with (another team's review is "not found").
            const e = toHttpError(error)
            if (e.status >= 500) throw error
            results.push({ id, ok: false, code: e.body.error.code, error: e.body.error.message })
          }
        }
        return { results }
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/console/search',
      operationId: 'searchCustomers',
      summary: 'Find accounts by account id, contact id or e-mail',
      tag: 'console',
      roles: ['reviewer', 'admin'],
      query: z.strictObject({ q: z.string().trim().min(1).max(320) }),
      handler: async (c) => {
        const { q } = c.query
        const found = [
          ...(await remit.decisions.list({ accountId: q, limit: 1 })),
          ...(await remit.decisions.list({ contactId: q, limit: 50 })),
          ...(q.includes('@') ? await remit.decisions.list({ email: q, limit: 50 }) : []),
        ]
        const accounts = [...new Set(found.map((x) => x.accountId))]
        if (!accounts.length && (await remit.timeline(q, 1)).touches.length) accounts.push(q)
        return { accounts }
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/console/decisions/:id/explain',
      operationId: 'explainDecision',
      summary: 'One decision explained: the rules in scope, which matched, what they read',
      tag: 'console',
      roles: ['reviewer', 'admin'],
      params: { id: 'The decision id' },
      handler: async (c) => {
        const decision = await remit.decisions.get(c.params.id)
        if (!decision) throw new NotFoundError('decision', c.params.id)
        const policy = remit.policy
        let req: ReturnType<typeof requestOf>
        try {
          req = requestOf(policy, decision, decision.at)
        } catch (error) {
          if (error instanceof InputError)
            return {
              decision: decisionRecordToWire(decision),
              unavailable: `the policy in service can no longer read this decision: ${error.message}`,
            }
          throw error
        }
        const ledger = await remit.store.ledger(
          decision.accountId,
          new Date(decision.at.getTime() - policy.lookbackMs),
          decision.at,
          personOf(req.customer),
        )
        const touches = ledger.touches.filter((t) => t.at < decision.at && t.decisionId !== decision.id)
        return {
          decision: decisionRecordToWire(decision),
          explanation: explain(policy, {
            ...req,
            touches,
            commitments: ledger.commitments,
            identities: ledger.identities,
          }),
          samePolicy: policy.version === decision.policyVersion,
        }
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/console/decisions.ndjson',
      operationId: 'exportDecisions',
      summary: 'The decision log, filtered as /v1/decisions is, as NDJSON (one decision a line)',
      tag: 'console',
      roles: ['reviewer', 'admin'],
      query: decisionLogQuerySchema,
      handler: async (c) => {
        const { since, until, before, ...q } = c.query
        const filter = {
          ...q,
          ...(since ? { since: new Date(since) } : {}),
          ...(until ? { until: new Date(until) } : {}),
          ...(before ? { before: new Date(before) } : {}),
          limit: q.limit ?? 1000,
        }
        const rows = await remit.decisions.list(filter)
        c.reply.type('application/x-ndjson')
        c.reply.header('content-disposition', 'attachment; filename="remit-decisions.ndjson"')
        return rows.map((x) => JSON.stringify(decisionRecordToWire(x))).join('\n') + (rows.length ? '\n' : '')
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/console/policy',
      operationId: 'getPolicyStats',
      summary:
        'The policy in service: rules by sort, how often each fired over the last 7 days, the last refused reload',
      tag: 'console',
      roles: ['reviewer', 'admin'],
      handler: async () => {
        const p = remit.policy
        const fired = new Map<string, number>()
        let before: Date | undefined
        const since = new Date(Date.now() - 7 * day)
        for (let page = 0; page < 50; page++) {
          const batch = await remit.decisions.list({ since, limit: 1000, ...(before ? { before } : {}) })
          for (const x of batch) for (const r of x.reasons) fired.set(r.rule, (fired.get(r.rule) ?? 0) + 1)
          if (batch.length < 1000) break
          before = batch.at(-1)?.at
        }
        const sorts = ['stop', 'trigger', 'window', 'limit', 'ownership', 'permission'] as const
        return {
          version: p.version,
          file: p.file,
          loadedAt: d.policy.loadedAt.toISOString(),
          groups: sorts.map((sort) => ({
            sort,
            rules: p.rules
              .filter((r) => r.sort === sort)
              .map((r) => ({
                id: r.id,
                when: r.when?.source,
                message: r.message,
                fired: fired.get(r.id) ?? 0,
              })),
          })),
          ...(d.policy.lastRefusal
            ? {
                lastRefusal: {
                  at: d.policy.lastRefusal.at.toISOString(),
                  issues: d.policy.lastRefusal.issues,
                },
              }
            : {}),
        }
      },
    }),
  ]
}
