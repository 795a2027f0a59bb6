import { createHmac, timingSafeEqual } from 'node:crypto'
import {
  ConflictError,
  type Decision,
  type DeliverOptions,
  InputError,
  type OutboxMessage,
  type Remit,
  type Review,
} from '@remit/core'
import { boundedText, PermanentDeliveryError, valueFromText } from '@remit/core/adapter'
import { PREVIEW_LIMITS, type Preview } from '@remit/core/api'
import type { HubSpotContext } from './context.ts'
import { ACTION_FIELD } from './definition.ts'
import { hubspotRequest, statusOf } from './http.ts'
import { type HubSpotClients, HubSpotNotInstalledError } from './oauth.ts'
import { verifyHubSpotSignature } from './signature.ts'

// HubSpot's custom workflow actions (automation actions v4), as "Custom Workflow Actions" documents
// them: HubSpot POSTs an execution request to the action URL; the answer's output fields let the
// workflow branch. A BLOCK answer parks the enrolled record until its callback is completed — here,
// through Remit's outbox, when the review is answered.

export { ACTION_FIELD }

/**
 * HubSpot's own expiry of a parked workflow comes this long after the review's, so the review's
 * expiry (a stop) completes the callback first and the workflow branches on it, instead of HubSpot
 * moving the record on with no verdict.
 */
const CALLBACK_GRACE_MS = 60 * 60 * 1000

/**
 * A decision made for a HubSpot execution is keyed by its portal and callback, and a MAC under the
 * app's secret: only a signed execution makes such a key, so no other caller of Remit can make an
 * answered review complete a workflow's callback.
 */
function callbackKeys(clientSecret: string) {
  // The tool is in the MAC too: idempotency keys can be read in the decision log, and one sent again
  // by another agent (another tool) must not make its decision complete this workflow's callback.
  const mac = (tool: string, portalId: number, callbackId: string) =>
    createHmac('sha256', clientSecret)
      .update(`${tool}|${portalId}/${callbackId}`)
      .digest('base64url')
      .slice(0, 22)
  return {
    keyOf: (tool: string, portalId: number, callbackId: string) =>
      `hubspot:${portalId}/${callbackId}/${mac(tool, portalId, callbackId)}`,
    callbackOf(decision: Decision): { portalId: number; callbackId: string } | undefined {
      const m = /^hubspot:(\d+)\/(.+)\/([\w-]{22})$/.exec(decision.idempotencyKey ?? '')
      if (!m || !decision.tool?.startsWith('hubspot:workflow/')) return undefined
      const portalId = Number(m[1])
      const callbackId = m[2] as string
      const given = Buffer.from(m[3] as string)
      const expected = Buffer.from(mac(decision.tool, portalId, callbackId))
      return given.length === expected.length && timingSafeEqual(given, expected)
        ? { portalId, callbackId }
        : undefined
    },
  }
}

/** What completing one callback needs (an outbox message's payload). */
interface Completion {
  callbackId: string
  portalId: number
  /** When HubSpot stops waiting for this callback (ISO 8601). */
  expiresAt: string
  outputFields: Record<string, string>
}

export interface ExecutionRequest {
  callbackId: string
  origin: { portalId: number; actionDefinitionId?: number; actionDefinitionVersion?: number }
  context: { source?: string; workflowId: number | string }
  object: { objectId: number | string; objectType: string; properties?: Record<string, string | null> }
  inputFields?: Record<string, unknown>
  /** Older name of inputFields. */
  fields?: Record<string, unknown>
}

export interface HubSpotActionOptions {
  remit: Remit
  /** The app's client secret, which signs every request HubSpot sends. */
  clientSecret: string
  /**
   * The public origin HubSpot calls, e.g. https://remit.example.com (signatures cover the URL HubSpot
   * called, which a proxy in front of Remit may rewrite). Default: https:// and the Host header.
   */
  publicBaseUrl?: string
  /** The app's installations (see `hubspotOAuth`): completes callbacks as the portal that sent them. */
  clients?: HubSpotClients
  /** The portals this Remit serves; executions from others are answered stop. Default: any installed. */
  portals?: number[]
  /** Fills facts (and ledger touches) from the CRM for the enrolled record. */
  context?: HubSpotContext
  /** Facts from the enrolled object's properties: fact name → HubSpot property. */
  properties?: Record<string, string>
  /**
   * The account id Remit should use for the enrolled object, so HubSpot's touches share a ledger with
   * other tools' (e.g. a company domain or an external id property). Default: `hubspot-company:<portal>:<id>`
   * for companies, `contact:hubspot-contact:<portal>:<id>` for contacts (record ids are per portal).
   */
  account?: (object: ExecutionRequest['object']) => string | undefined
  log?: {
    info: (o: object, m: string) => void
    warn: (o: object, m: string) => void
    error: (o: object, m: string) => void
  }
  now?: () => number
}

type Answer = { status: number; body: unknown }

const out = (status: number, outputFields: Record<string, string>): Answer => ({
  status,
  body: { outputFields },
})
const fail = (status: number, code: string, message: string): Answer => ({
  status,
  body: { error: { code, message } },
})

/** The action endpoint, the options endpoint for the action-kind dropdown, and callback completion. */
export function hubspotAction(o: HubSpotActionOptions) {
  const log = o.log ?? { info() {}, warn() {}, error() {} }
  const { keyOf, callbackOf } = callbackKeys(o.clientSecret)
  const now = o.now ?? Date.now

  function authentic(
    raw: string,
    headers: Record<string, string | string[] | undefined>,
    req: { method: string; url: string },
  ) {
    const origin = o.publicBaseUrl?.replace(/\/+$/, '') ?? `https://${headers.host ?? 'localhost'}`
    const url = `${origin}${req.url}`
    return verifyHubSpotSignature({ method: req.method, url, rawBody: raw, headers }, o.clientSecret, now())
  }

  async function handle(
    raw: string,
    headers: Record<string, string | string[] | undefined>,
    req: { method: string; url: string },
  ): Promise<Answer> {
    const check = authentic(raw, headers, req)
    if (!check.ok) {
      log.warn({ reason: check.reason }, 'hubspot action: signature refused')
      return fail(401, 'BAD_SIGNATURE', check.reason)
    }
    let body: ExecutionRequest
    try {
      body = JSON.parse(raw)
    } catch {
      return fail(400, 'BAD_JSON', 'the body is not JSON')
    }
    const problem = malformed(body)
    if (problem) {
      log.warn({ problem }, 'hubspot action: malformed execution request')
      return fail(400, 'BAD_REQUEST', problem)
    }
    const tool = `hubspot:workflow/${body.context.workflowId}`
    const inputs = body.inputFields ?? body.fields ?? {}
    const policy = o.remit.policy
    const portalId = body.origin.portalId
    const refuse = (why: string) => {
      log.warn({ tool, portalId, why }, 'hubspot action: answered stop')
      return out(200, {
        hs_execution_state: 'SUCCESS',
        remit_verdict: 'stop',
        remit_reason: why,
        remit_retry_after: '',
      })
    }
    if (o.portals && !o.portals.includes(portalId))
      return refuse(`portal ${portalId} is not one this Remit serves (hubspot.yaml portals)`)
    const text = badText(body)
    if (text) return refuse(`Remit could not decide: ${text}`)
    // A flag could never be completed without a token for the portal: fail closed, and say why.
    if (o.clients?.installed && !(await o.clients.installed(portalId)))
      return refuse(`the Remit app is not installed in portal ${portalId}: install it at /hubspot/install`)
    // Never a silent go: the workflow is answered stop, and the log says which workflow to add.
    if (!policy.tools.has(tool))
      return refuse(
        `workflow ${body.context.workflowId} is not an agent's tool in the Remit policy (add "${tool}" to an agent's tools)`,
      )
    try {
      const { kind, attributes } = actionOf(policy, inputs)
      const who = await customerOf(o, body)
      const d = await decideOnce(tool, {
        action: { kind, ...attributes },
        customer: who,
        idempotencyKey: keyOf(tool, portalId, body.callbackId),
        preview: previewOf(body, inputs),
      })
      log.info({ tool, verdict: d.verdict, decision: d.id, replayed: d.replayed }, 'hubspot action decided')
      const reason = d.reasons
        .filter((r) => r.sort !== 'permission')
        .map((r) => `${r.rule}: ${r.message}`)
        .join(' | ')
      const review = d.verdict === 'flag' && d.reviewId ? await o.remit.reviews.get(d.reviewId) : undefined
      // HubSpot sending the execution again after the review was answered: the answer, not a
      // second BLOCK that nothing would complete.
      if (review && review.status !== 'pending')
        return out(200, {
          hs_execution_state: 'SUCCESS',
          remit_verdict: review.outcome ?? 'stop',
          remit_reason: (review.outcomeReasons ?? []).map((r) => `${r.rule}: ${r.message}`).join(' | '),
          remit_retry_after: '',
        })
      if (d.verdict === 'flag') {
        const seconds = Math.max(
          60,
          Math.round(
            ((review?.expiresAt.getTime() ?? now() + 72 * 3600e3) + CALLBACK_GRACE_MS - now()) / 1000,
          ),
        )
        return out(200, {
          hs_execution_state: 'BLOCK',
          hs_expiration_duration: `PT${seconds}S`,
          remit_verdict: 'flag',
          remit_reason: reason,
          remit_retry_after: '',
        })
      }
      return out(200, {
        hs_execution_state: 'SUCCESS',
        remit_verdict: d.verdict,
        remit_reason: reason || d.reasons.map((r) => r.rule).join(', '),
        remit_retry_after: d.retryAfter?.toISOString() ?? '',
      })
    } catch (error) {
      if (error instanceof InputError) return refuse(`Remit could not decide: ${error.message}`)
      throw error
    }
  }

  /**
   * Decides once per execution: HubSpot sending the same execution again is the first decision
   * replayed — also when the record's facts changed in between (the request differs, the execution
   * does not), which the key's binding to its request would otherwise refuse.
   */
  async function decideOnce(tool: string, request: Parameters<Remit['decide']>[1]) {
    try {
      return await o.remit.decide({ tool }, request)
    } catch (error) {
      if (!(error instanceof ConflictError) || error.code !== 'IDEMPOTENCY_KEY_REUSED' || !error.decisionId)
        throw error
      const first = await o.remit.decisions.get(error.decisionId)
      if (!first) throw error
      return { ...first, replayed: true }
    }
  }

  /** HubSpot fetches the action-kind dropdown from here (the input field's optionsUrl). */
  async function options(
    raw: string,
    headers: Record<string, string | string[] | undefined>,
    req: { method: string; url: string },
  ): Promise<Answer> {
    const check = authentic(raw, headers, req)
    if (!check.ok) return fail(401, 'BAD_SIGNATURE', check.reason)
    return {
      status: 200,
      body: {
        options: [...o.remit.policy.actions.values()].map((a) => ({
          label: a.description ?? a.kind,
          value: a.kind,
          description: `${a.channel}${a.outbound ? ', outbound' : ''}`,
        })),
      },
    }
  }

  /**
   * What an answered review owes HubSpot: completing the parked workflow's callback with the final
   * verdict, so it resumes and branches. Undefined for reviews of other tools' decisions.
   */
  function owed(review: Review, decision: Decision): Record<string, unknown> | undefined {
    const callback = callbackOf(decision)
    if (!callback) return undefined
    const completion: Completion = {
      ...callback,
      expiresAt: new Date(review.expiresAt.getTime() + CALLBACK_GRACE_MS).toISOString(),
      outputFields: {
        hs_execution_state: 'SUCCESS',
        remit_verdict: review.outcome ?? 'stop',
        remit_reason: (review.outcomeReasons ?? []).map((r) => `${r.rule}: ${r.message}`).join(' | '),
        remit_retry_after: '',
      },
    }
    return { ...completion }
  }

  const completionOf = (m: OutboxMessage) => m.payload as unknown as Completion
  const expired = (m: OutboxMessage) => Date.parse(completionOf(m).expiresAt) <= now()

  /** HubSpot's completion body: the output fields, and `typedOutputs`, which its schema requires. */
  function body(c: Completion) {
    const { hs_execution_state: _state, ...outputs } = c.outputFields
    return { outputFields: c.outputFields, typedOutputs: outputs }
  }

  /**
   * Completes the callbacks of one portal: one request for one, HubSpot's batch request for more.
   * Throws for a retry; a refusal that will not change (an expired callback, an uninstalled app, a
   * 4xx for a single callback) is a PermanentDeliveryError, so the message is dead at once.
   */
  async function complete(messages: OutboxMessage[]): Promise<void> {
    const [first] = messages
    if (!first) return
    if (!o.clients) throw new Error('no HubSpot installation to complete callbacks with')
    if (messages.length === 1 && expired(first))
      throw new PermanentDeliveryError(
        `callback ${completionOf(first).callbackId} expired at ${completionOf(first).expiresAt}: HubSpot has moved the workflow on`,
      )
    const portalId = completionOf(first).portalId
    try {
      await o.clients.call(portalId, (client) =>
        messages.length === 1
          ? hubspotRequest(client, {
              method: 'POST',
              path: `/automation/v4/actions/callbacks/${encodeURIComponent(completionOf(first).callbackId)}/complete`,
              body: body(completionOf(first)),
            })
          : hubspotRequest(client, {
              method: 'POST',
              path: '/automation/v4/actions/callbacks/complete',
              body: {
                inputs: messages.map((m) => ({
                  callbackId: completionOf(m).callbackId,
                  ...body(completionOf(m)),
                })),
              },
            }),
      )
    } catch (error) {
      // Not installed (yet, or any more): retried until the callback expires, in case it is installed.
      if (error instanceof HubSpotNotInstalledError) throw error
      // Already completed: an earlier attempt reached HubSpot, but its answer did not reach Remit.
      if (messages.length === 1 && statusOf(error) === 409) {
        log.info({ callbackId: completionOf(first).callbackId }, 'hubspot callback was already completed')
        return
      }
      // HubSpot refusing one callback itself (a 4xx other than auth, a timeout or a rate limit) will
      // refuse it again. A refused batch is retried one callback at a time (see `groupBy`).
      const status = statusOf(error)
      if (
        messages.length === 1 &&
        status !== undefined &&
        status >= 400 &&
        status < 500 &&
        ![401, 408, 429].includes(status)
      )
        throw new PermanentDeliveryError(`HubSpot refused the completion (${status})`, { cause: error })
      throw error
    }
    for (const m of messages)
      log.info(
        {
          callbackId: completionOf(m).callbackId,
          verdict: completionOf(m).outputFields.remit_verdict,
          message: m.id,
        },
        'hubspot callback completed',
      )
  }

  /**
   * Completes callbacks when reviews are answered, through Remit's outbox: each completion is
   * written with the answer, survives a restart, is retried with backoff while HubSpot is away, and
   * is set aside as dead (see `remit.outbox.list`) if it never succeeds or its callback expired.
   * Callbacks due together are completed in one batch per portal; a message tried before goes alone,
   * so one bad callback cannot hold the others. Returns the function that stops it.
   */
  function listen(options: DeliverOptions = {}): () => void {
    if (!o.clients) {
      log.warn({}, 'no HubSpot installation: blocked workflows are not completed when reviews are answered')
      return () => {}
    }
    const unroute = o.remit.outbox.route('hubspot', owed)
    const stop = o.remit.outbox.deliverBatches('hubspot', complete, {
      // A completion is owed for as long as HubSpot waits for it: the callback's expiry ends it.
      maxAttempts: Number.MAX_SAFE_INTEGER,
      groupBy: (m) => (m.attempts > 1 || expired(m) ? m.id : `portal:${completionOf(m).portalId}`),
      onError: (message, error) =>
        log.warn(
          { message: message?.id, err: error },
          'hubspot callback not completed yet; it will be retried',
        ),
      ...options,
    })
    return () => {
      stop()
      unroute()
    }
  }

  return { handle, options, owed, complete, listen }
}

/**
 * Text no route of Remit's accepts (a NUL, a lone surrogate), anywhere in the execution: answered
 * stop, as the API refuses it, rather than stored (PostgreSQL cannot store a NUL).
 */
function badText(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return `${path || 'a value'} contains a NUL character`
    if (!value.isWellFormed()) return `${path || 'a value'} is not well-formed Unicode`
    return undefined
  }
  if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      const found = badText(k, path) ?? badText(v, path ? `${path}.${k}` : k)
      if (found) return found
    }
  return undefined
}

/** HubSpot's object type ids for the standard objects a workflow enrolls (its record URLs use them). */
const OBJECT_TYPE_IDS: Record<string, string> = {
  CONTACT: '0-1',
  COMPANY: '0-2',
  DEAL: '0-3',
  TICKET: '0-5',
}

/**
 * What the flag's reviewer sees: the enrolled record (a link to it in HubSpot, for the standard
 * objects, whose type ids are known) and the action's input fields as text.
 */
function previewOf(b: ExecutionRequest, inputs: Record<string, unknown>): Preview {
  const type = b.object.objectType.toUpperCase()
  const typeId = OBJECT_TYPE_IDS[type]
  const id = String(b.object.objectId)
  const link =
    typeId && /^\d+$/.test(id)
      ? `https://app.hubspot.com/contacts/${b.origin.portalId}/record/${typeId}/${id}`
      : undefined
  const fields = Object.entries(inputs).map(
    ([name, v]) => `${name}: ${typeof v === 'string' ? v : (JSON.stringify(v) ?? '')}`,
  )
  const text = [
    `HubSpot ${type.toLowerCase()} ${id} (portal ${b.origin.portalId}), workflow ${b.context.workflowId}`,
    '',
    'Input fields:',
    ...(fields.length ? fields : ['(none)']),
  ].join('\n')
  return {
    subject: boundedText(
      `HubSpot workflow ${b.context.workflowId}: ${String(inputs[ACTION_FIELD] ?? '')}`,
      PREVIEW_LIMITS.subject,
    ),
    text: boundedText(text, PREVIEW_LIMITS.text),
    ...(link ? { link } : {}),
  }
}

function malformed(b: ExecutionRequest): string | undefined {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return 'expected an execution request object'
  if (typeof b.callbackId !== 'string' || !b.callbackId) return 'callbackId: expected a string'
  if (!b.origin || !Number.isSafeInteger(b.origin.portalId)) return 'origin.portalId: expected a number'
  if (!b.context || (typeof b.context.workflowId !== 'number' && typeof b.context.workflowId !== 'string'))
    return 'context.workflowId: expected a number'
  if (!b.object || (typeof b.object.objectId !== 'number' && typeof b.object.objectId !== 'string'))
    return 'object.objectId: expected a number'
  if (typeof b.object.objectType !== 'string') return 'object.objectType: expected CONTACT or COMPANY'
  return undefined
}

/** The action kind and attributes from the input fields, typed by the policy's declarations. */
function actionOf(policy: Remit['policy'], inputs: Record<string, unknown>) {
  const kind = inputs[ACTION_FIELD]
  if (typeof kind !== 'string' || !kind)
    throw new InputError('MISSING_FIELD', `input field ${ACTION_FIELD} is empty`, [
      'inputFields',
      ACTION_FIELD,
    ])
  const declared = policy.actions.get(kind)?.attributes ?? {}
  const attributes: Record<string, unknown> = {}
  for (const [name, t] of Object.entries(declared)) {
    const v = inputs[name]
    if (v === undefined || v === null) continue
    // HubSpot sends input fields as text (a number field may arrive as a number).
    const value = typeof v === 'string' ? valueFromText(v, t.type, ['inputFields', name]) : v
    if (value !== undefined) attributes[name] = value
  }
  return { kind, attributes }
}

async function customerOf(o: HubSpotActionOptions, b: ExecutionRequest) {
  const id = String(b.object.objectId)
  const portal = b.origin.portalId
  const type = b.object.objectType.toUpperCase()
  if (o.context) return o.context.customer(type === 'COMPANY' ? 'company' : 'contact', id, b.origin.portalId)
  const props = b.object.properties ?? {}
  const declared = o.remit.policy.facts
  const facts: Record<string, unknown> = {}
  for (const [fact, property] of Object.entries(o.properties ?? {})) {
    const v = props[property]
    if (v === null || v === undefined) continue
    // HubSpot properties are text; the policy says what each fact is.
    const type = Object.hasOwn(declared, fact) ? declared[fact]?.type : undefined
    const value = valueFromText(String(v), type, ['object', 'properties', property])
    if (value !== undefined) facts[fact] = value
  }
  const accountId = o.account?.(b.object)
  return type === 'COMPANY'
    ? { accountId: accountId || `hubspot-company:${portal}:${id}`, facts }
    : {
        ...(accountId ? { accountId } : {}),
        contactId: `hubspot-contact:${portal}:${id}`,
        ...(props.email ? { email: props.email } : {}),
        facts,
      }
}
