import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type ClientOptions, RemitClient, RemitError } from '@remit/client'

export const SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature'
export const TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp'

/**
 * SendGrid posts a batch "every 30 seconds or when the batch size reaches 768 kilobytes - whichever
 * occurs first" (SendGrid docs, "Getting started with the Event Webhook", Data Storage). 1 MiB
 * leaves room for that; a larger body is refused with 413.
 */
export const EVENT_WEBHOOK_BODY_LIMIT = 1024 * 1024

/**
 * SendGrid retries a batch answered with anything but 2xx "at increasing intervals for up to 24
 * hours after the event occurs" (SendGrid docs, "Troubleshooting the Event Webhook"). Its docs do
 * not say whether a retry is signed afresh: the signed timestamp may be the first attempt's. So a
 * signature is taken for as long as SendGrid may still be retrying (24 h, plus clock skew); a
 * replay within that time records nothing twice, as every event is recorded under its own
 * external id (see below).
 */
const DEFAULT_MAX_AGE_SECONDS = 24 * 3600 + 300

/**
 * SendGrid events that change what Remit should allow next, recorded as `email.<event>` touches;
 * the rest (processed, deferred, open, click, group_resubscribe…) are counted as ignored. Event
 * names and fields: SendGrid docs, "Event Webhook Reference".
 */
const RECORDED = new Set(['delivered', 'bounce', 'dropped', 'unsubscribe', 'group_unsubscribe', 'spamreport'])

export interface EventWebhookOptions {
  /** The verification key from SendGrid's Mail Settings (base64 DER, or PEM). */
  publicKey: string
  /** Where Remit is, with an agent key to record touches as. */
  remit: ClientOptions | RemitClient
  /** How far in the future a signed timestamp may be (clock skew), seconds (default 300). */
  toleranceSeconds?: number
  /**
   * Oldest a signed timestamp may be, seconds (default 24 h + 5 min: SendGrid retries a batch for
   * up to 24 hours, and may not sign a retry afresh).
   */
  maxAgeSeconds?: number
  /** Events recorded at once, each recipient's in order (default 8). */
  concurrency?: number
  /** Who an event's recipient is for Remit (default: the e-mail address, as the gate does). */
  customer?: (recipient: {
    email: string
  }) => { accountId?: string; contactId?: string } | Promise<{ accountId?: string; contactId?: string }>
  now?: () => number
}

export interface WebhookResult {
  status: number
  body: {
    /** Events Remit holds now (recorded by this delivery or by an earlier one of the same event). */
    recorded?: number
    ignored?: number
    /** Events Remit refused as invalid (the batch is answered 500, so SendGrid retries it). */
    refused?: number
    error?: { code: string; message: string }
  }
}

/** Verifies SendGrid's ECDSA (P-256, SHA-256) signature over `timestamp + rawBody`. */
export function verifySignature(
  key: KeyObject | string,
  rawBody: string | Buffer,
  signature: string,
  timestamp: string,
): boolean {
  const publicKey = typeof key === 'string' ? toKey(key) : key
  try {
    return verify(
      'sha256',
      Buffer.concat([Buffer.from(timestamp), Buffer.from(rawBody)]),
      publicKey,
      Buffer.from(signature, 'base64'),
    )
  } catch {
    return false
  }
}

function toKey(key: string): KeyObject {
  return key.includes('BEGIN')
    ? createPublicKey(key)
    : createPublicKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'spki' })
}

interface SendGridEvent {
  email?: unknown
  event?: unknown
  timestamp?: unknown
  sg_event_id?: unknown
  type?: unknown
}

/**
 * What an event is recorded under in Remit: `sendgrid:<sg_event_id>` ("a unique ID to this event
 * that you can use for deduplication purposes … up to 100 characters long and URL safe", Event
 * Webhook Reference), else `sendgrid:sha256:<hex>` of the event's canonical JSON (keys sorted), so
 * an event without an id is still recorded once however often it is delivered.
 */
export function eventExternalId(event: object): string {
  const id = (event as SendGridEvent).sg_event_id
  if (typeof id === 'string' && /^[\x21-\x7e]{1,150}$/.test(id)) return `sendgrid:${id}`
  return `sendgrid:sha256:${createHash('sha256').update(canonicalJson(event)).digest('hex')}`
}

/** JSON with object keys sorted at every level and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/**
 * The touch kind of a recorded event. A `bounce` event carries `type`: "bounce" (a hard bounce:
 * the receiving server will not accept mail to this recipient) or "blocked" (it would not accept
 * the message for now) — Event Webhook Reference, fields `event` and `type`. A block is recorded
 * as `email.blocked`, so a rule on `email.bounce` does not stop a customer over a temporary block.
 */
/**
 * The events after which nobody may e-mail the address again: an unsubscribe, a spam report, a hard
 * bounce (a block — `type: blocked` — is temporary). A group unsubscribe covers one unsubscribe
 * group, not every e-mail, so it is a touch rules can read, not a suppression.
 */
function suppressionOf(e: SendGridEvent & { event: string }): string | undefined {
  if (e.event === 'unsubscribe' || e.event === 'spamreport') return e.event
  if (e.event === 'bounce' && e.type !== 'blocked') return 'bounce'
  return undefined
}

function kindOf(e: SendGridEvent & { event: string }): string {
  if (e.event === 'bounce' && e.type === 'blocked') return 'email.blocked'
  return `email.${e.event}`
}

/** Remit refused the event itself (its content): retrying the same request cannot succeed. */
const refusedByRemit = (error: unknown) =>
  error instanceof RemitError && (error.status === 400 || error.status === 413 || error.status === 422)

/**
 * The Event Webhook receiver. It checks the signature over the raw body and the timestamp's age,
 * then records delivered / bounce / dropped / unsubscribe / spam-report events in Remit's ledger,
 * where rules read them as touches (`touches.exists(t, t.kind == 'email.unsubscribe')`), and only
 * then answers 200. Each event is recorded under an external id (`eventExternalId`), so Remit's
 * store — not this process's memory — keeps it once: a retried batch, a batch delivered twice, or
 * one delivered again after a restart records nothing twice. If any event is not recorded, the
 * answer is 5xx and SendGrid retries the whole batch.
 */
export function eventWebhook(options: EventWebhookOptions) {
  const key = toKey(options.publicKey)
  const client = options.remit instanceof RemitClient ? options.remit : new RemitClient(options.remit)
  const ahead = (options.toleranceSeconds ?? 300) * 1000
  const maxAge = (options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS) * 1000
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 8))
  const now = options.now ?? Date.now
  const customer: NonNullable<EventWebhookOptions['customer']> =
    options.customer ?? ((r) => ({ accountId: `email:${r.email}` }))
  const refuse = (status: number, code: string, message: string): WebhookResult => ({
    status,
    body: { error: { code, message } },
  })

  async function record(e: SendGridEvent & { email: string; event: string }): Promise<void> {
    const email = e.email.trim().toLowerCase()
    const who = await customer({ email })
    const at =
      typeof e.timestamp === 'number' && Number.isFinite(e.timestamp)
        ? new Date(e.timestamp * 1000)
        : undefined
    await client.recordTouch({
      accountId: who.accountId ?? `email:${email}`,
      ...(who.contactId ? { contactId: who.contactId } : {}),
      kind: kindOf(e),
      channel: 'email',
      outbound: false,
      // Remit's server dates agents' touches by its own clock (an agent key cannot backdate one);
      // SendGrid's own time of the event is kept in the note.
      note: [
        'sendgrid',
        ...(typeof e.sg_event_id === 'string' ? [e.sg_event_id.slice(0, 150)] : []),
        ...(at && !Number.isNaN(at.getTime()) ? [at.toISOString()] : []),
      ].join(' '),
      externalId: eventExternalId(e),
    })
    const reason = suppressionOf(e)
    if (reason)
      await client.recordSuppression({
        ...(who.accountId ? { accountId: who.accountId } : {}),
        ...(who.contactId ? { contactId: who.contactId } : {}),
        email,
        channel: 'email',
        reason,
        externalId: eventExternalId(e),
      })
  }

  async function handle(
    rawBody: string | Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<WebhookResult> {
    const signature = header(headers, SIGNATURE_HEADER)
    const timestamp = header(headers, TIMESTAMP_HEADER)
    if (!signature || !timestamp)
      return refuse(401, 'UNSIGNED', `missing ${SIGNATURE_HEADER} or ${TIMESTAMP_HEADER}`)
    const at = Number(timestamp) * 1000
    const t = now()
    if (!Number.isFinite(at) || at > t + ahead || at < t - maxAge)
      return refuse(401, 'STALE', 'timestamp outside the accepted window')
    if (!verifySignature(key, rawBody, signature, timestamp))
      return refuse(401, 'BAD_SIGNATURE', 'signature does not match the body')
    let events: unknown
    try {
      events = JSON.parse(rawBody.toString())
    } catch {
      return refuse(400, 'BAD_JSON', 'the body is not JSON')
    }
    if (!Array.isArray(events)) return refuse(400, 'BAD_BODY', 'expected an array of events')

    const work: (SendGridEvent & { email: string; event: string })[] = []
    let ignored = 0
    for (const e of events as (SendGridEvent | null)[]) {
      if (
        e === null ||
        typeof e !== 'object' ||
        typeof e.email !== 'string' ||
        typeof e.event !== 'string' ||
        !RECORDED.has(e.event)
      ) {
        ignored++
        continue
      }
      work.push(e as SendGridEvent & { email: string; event: string })
    }

    // Lanes by recipient: one recipient's events are recorded in the batch's order (delivered, then
    // unsubscribe); different recipients' at once. The first failure that a retry could mend (Remit
    // unreachable, a key refused, the customer lookup down) stops the lanes: the batch is retried.
    const lanes: (typeof work)[] = Array.from({ length: Math.min(concurrency, work.length) }, () => [])
    for (const e of work) lanes[laneOf(e.email.trim().toLowerCase(), lanes.length)]?.push(e)
    let recorded = 0
    let refused = 0
    let firstRefusal: RemitError | undefined
    let failure: unknown
    await Promise.all(
      lanes.map(async (lane) => {
        for (const e of lane) {
          if (failure !== undefined) return
          try {
            await record(e)
            recorded++
          } catch (error) {
            if (refusedByRemit(error)) {
              refused++
              firstRefusal ??= error as RemitError
            } else failure ??= error ?? new Error('recording failed')
          }
        }
      }),
    )
    if (failure !== undefined) {
      // Remit unreachable (or the customer lookup failing): 503 makes SendGrid retry the batch;
      // the events recorded already are recorded once again, which records nothing.
      return {
        status: 503,
        body: {
          recorded,
          ignored,
          error: {
            code: 'REMIT_UNAVAILABLE',
            message: failure instanceof Error ? failure.message : String(failure),
          },
        },
      }
    }
    if (firstRefusal) {
      // Never 2xx before every event is recorded: SendGrid retries (for up to 24 h), and a fix on
      // this side (a customer lookup returning a valid account) within that time records it.
      return {
        status: 500,
        body: {
          recorded,
          ignored,
          refused,
          error: {
            code: 'EVENT_REFUSED',
            message: `Remit refused ${refused} event(s): ${firstRefusal.message}`,
          },
        },
      }
    }
    return { status: 200, body: { recorded, ignored } }
  }

  /** For node:http (standalone) or any framework that hands over the raw request. */
  function listener(req: IncomingMessage, res: ServerResponse): void {
    const answer = (status: number, body: unknown) => {
      if (res.headersSent) return
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    req.on('data', (c: Buffer) => {
      if (tooLarge) return
      size += c.length
      if (size > EVENT_WEBHOOK_BODY_LIMIT) {
        tooLarge = true
        chunks.length = 0
        answer(413, {
          error: { code: 'TOO_LARGE', message: `the body is over ${EVENT_WEBHOOK_BODY_LIMIT} bytes` },
        })
        return
      }
      chunks.push(c)
    })
    req.on('end', () => {
      if (tooLarge) return
      handle(Buffer.concat(chunks), req.headers).then(
        (out) => answer(out.status, out.body),
        (error: Error) =>
          // Unexpected: still not a 2xx, so SendGrid retries the batch; nothing is lost.
          answer(503, { error: { code: 'REMIT_UNAVAILABLE', message: error.message } }),
      )
    })
  }

  /** The route to mount in `@remit/server` (`createServer({ rawRoutes: [hook.route()] })`), with a 1 MiB body limit. */
  function route(url = '/webhooks/sendgrid') {
    return {
      method: 'POST' as const,
      url,
      bodyLimit: EVENT_WEBHOOK_BODY_LIMIT,
      handle: (rawBody: string, headers: Record<string, string | string[] | undefined>) =>
        handle(rawBody, headers),
    }
  }

  return { handle, listener, route }
}

/** FNV-1a of the recipient, onto one of `n` lanes. */
function laneOf(recipient: string, n: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < recipient.length; i++) h = Math.imul(h ^ recipient.charCodeAt(i), 0x01000193)
  return (h >>> 0) % n
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v =
    headers[name] ??
    headers[name.toLowerCase()] ??
    Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1]
  return Array.isArray(v) ? v[0] : v
}
