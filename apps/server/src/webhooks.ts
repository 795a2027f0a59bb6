import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { Decision, DeliverOptions, OutboxMessage, Remit, Review } from '@remit/core'
import { PermanentDeliveryError } from '@remit/core/adapter'
import { parse } from 'yaml'
import { z } from 'zod'

// Signed outgoing webhooks: each review event (a flag opened a review; it was approved, rejected or
// expired) POSTed as JSON to each configured URL, through Remit's outbox — written in the same
// transaction as the change, retried with backoff until the receiver answers 2xx, one outbox message
// (one event id) per event and URL. Each request is signed:
//   Remit-Webhook-Id:        the event id (the same on every retry: receivers deduplicate on it)
//   Remit-Webhook-Timestamp: Unix seconds when this attempt was sent
//   Remit-Webhook-Signature: v1=<hex HMAC-SHA256 of `{timestamp}.{raw body}`, keyed with the secret>
// A receiver recomputes the signature over the raw body, compares in constant time, and refuses a
// timestamp more than five minutes from its clock (`verifyWebhook`).

export const REVIEW_EVENTS = [
  'review.opened',
  'review.approved',
  'review.rejected',
  'review.expired',
] as const
export type ReviewEventType = (typeof REVIEW_EVENTS)[number]

/** How far a webhook's timestamp may be from the receiver's clock, in seconds. */
export const WEBHOOK_TOLERANCE_S = 300

export interface WebhookTarget {
  /** Names its outbox channel (`webhook:<name>`), so each receiver's retries are its own. */
  name: string
  url: string
  /** The shared secret the requests are signed with. */
  secret: string
  /** Which events it gets (default: all). */
  events?: ReviewEventType[]
}

/** What an event tells of the decision: what was asked and why, never the customer's facts. */
const EVENT_FIELDS = [
  'id',
  'at',
  'agent',
  'team',
  'tool',
  'accountId',
  'contactId',
  'email',
  'action',
  'verdict',
  'reasons',
  'preview',
  'policyVersion',
] as const
type EventField = (typeof EVENT_FIELDS)[number]

/** An event as the receiver gets it (the request's JSON body). */
export interface ReviewEvent {
  /** Unique per event and receiver, stable across retries. */
  id: string
  type: ReviewEventType
  /** When the change happened. */
  createdAt: string
  review: Review
  decision: Pick<Decision, EventField>
}

/** The `Remit-Webhook-Signature` value for `body` sent at `timestamp` (Unix seconds). */
export function signWebhook(secret: string, timestamp: number | string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/**
 * Whether a webhook request is Remit's: its signature matches the raw body and its timestamp is
 * within `toleranceS` (default 5 minutes) of `nowMs`. Headers by their lower-case names.
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  o: { nowMs?: number; toleranceS?: number } = {},
): boolean {
  const one = (name: string) => {
    const v = headers[name]
    return Array.isArray(v) ? v[0] : v
  }
  const timestamp = one('remit-webhook-timestamp')
  const signature = one('remit-webhook-signature')
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false
  if (Math.abs((o.nowMs ?? Date.now()) / 1000 - Number(timestamp)) > (o.toleranceS ?? WEBHOOK_TOLERANCE_S))
    return false
  const expected = Buffer.from(signWebhook(secret, timestamp, body))
  const given = Buffer.from(signature)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

const eventOf = (review: Review): ReviewEventType =>
  review.status === 'pending' ? 'review.opened' : (`review.${review.status}` as ReviewEventType)

function eventData(review: Review, decision: Decision): Omit<ReviewEvent, 'id' | 'createdAt'> {
  const picked = Object.fromEntries(EVENT_FIELDS.map((k) => [k, decision[k]]))
  return { type: eventOf(review), review, decision: picked as Pick<Decision, EventField> }
}

/** Statuses that say the receiver refuses the event itself: retrying cannot help (dead at once). */
const REFUSED = new Set([400, 404, 410, 413, 422])

type Log = { error: (obj: object, msg: string) => void }

/**
 * Sends this Remit's review events to `targets`, through the outbox; returns the function that
 * stops it. Each target is a channel of its own (`webhook:<name>`): a receiver that is down delays
 * only its own events.
 */
export function reviewWebhooks(
  remit: Remit,
  targets: WebhookTarget[],
  o: { delivery?: DeliverOptions; log?: Log; timeoutMs?: number } = {},
): () => void {
  const stops: (() => void)[] = []
  for (const target of targets) {
    const channel = `webhook:${target.name}`
    const wanted = new Set<ReviewEventType>(target.events ?? REVIEW_EVENTS)
    const owed = (review: Review, decision: Decision) => {
      const data = eventData(review, decision)
      return wanted.has(data.type) ? (JSON.parse(JSON.stringify(data)) as Record<string, unknown>) : undefined
    }
    const send = async (m: OutboxMessage) => {
      const body = JSON.stringify({ id: m.id, ...m.payload, createdAt: m.createdAt.toISOString() })
      const timestamp = Math.floor(Date.now() / 1000)
      const res = await fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Remit-Webhooks/1',
          'remit-webhook-id': m.id,
          'remit-webhook-timestamp': String(timestamp),
          'remit-webhook-signature': signWebhook(target.secret, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
        redirect: 'error',
      })
      await res.body?.cancel()
      if (res.ok) return
      const message = `${target.name}: the receiver answered ${res.status}`
      throw REFUSED.has(res.status) ? new PermanentDeliveryError(message) : new Error(message)
    }
    stops.push(
      remit.outbox.routeFlags(channel, owed),
      remit.outbox.route(channel, owed),
      remit.outbox.deliver(channel, send, {
        onError: (m, error) =>
          o.log?.error({ err: error, outboxId: m?.id, webhook: target.name }, 'webhook: delivery failed'),
        ...o.delivery,
      }),
    )
  }
  return () => {
    for (const stop of stops) stop()
  }
}

const webhooksFileSchema = z.strictObject({
  webhooks: z.array(
    z.strictObject({
      name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, - and _'),
      url: z.url({ protocol: /^https?$/ }),
      /** The environment variable holding the secret (secrets are never written in the file). */
      secretEnv: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name, e.g. REMIT_WEBHOOK_SECRET'),
      events: z.array(z.enum(REVIEW_EVENTS)).min(1).optional(),
    }),
  ),
})

/** A webhooks file that does not read, does not fit, or names a secret the environment lacks. */
export class WebhooksConfigError extends Error {
  readonly code = 'WEBHOOKS_CONFIG_INVALID'
  constructor(message: string) {
    super(message)
    this.name = 'WebhooksConfigError'
  }
}

/** Reads a webhooks file (see docs), each secret from the environment variable it names. */
export async function readWebhooksFile(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<WebhookTarget[]> {
  let raw: unknown
  try {
    raw = parse(await readFile(path, 'utf8')) ?? {}
  } catch (error) {
    throw new WebhooksConfigError(`${path}: ${(error as Error).message.split('\n')[0]}`)
  }
  const parsed = webhooksFileSchema.safeParse(raw)
  if (!parsed.success)
    throw new WebhooksConfigError(
      parsed.error.issues.map((i) => `${path}: ${i.path.join('.') || '(file)'}: ${i.message}`).join('\n'),
    )
  const names = new Set<string>()
  return parsed.data.webhooks.map((w, i) => {
    if (names.has(w.name))
      throw new WebhooksConfigError(`${path}: webhooks.${i}.name: "${w.name}" is used twice`)
    names.add(w.name)
    const secret = env[w.secretEnv]
    if (!secret || secret.length < 16)
      throw new WebhooksConfigError(
        `${path}: webhooks.${i}.secretEnv: set ${w.secretEnv} to the secret (16 characters or more)`,
      )
    return { name: w.name, url: w.url, secret, ...(w.events ? { events: w.events } : {}) }
  })
}
