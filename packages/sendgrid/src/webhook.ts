import { createPublicKey, type KeyObject, verify } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type ClientOptions, RemitClient } from '@remit/client'

export const SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature'
export const TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp'

/** SendGrid events that change what Remit should allow next, recorded as `email.<event>` touches. */
const RECORDED = new Set(['delivered', 'bounce', 'dropped', 'unsubscribe', 'group_unsubscribe', 'spamreport'])

export interface EventWebhookOptions {
  /** The verification key from SendGrid's Mail Settings (base64 DER, or PEM). */
  publicKey: string
  /** Where Remit is, with an agent key to record touches as. */
  remit: ClientOptions | RemitClient
  /** Oldest (or furthest in the future) a signed timestamp may be, seconds (default 300). */
  toleranceSeconds?: number
  /** Who an event's recipient is for Remit (default: the e-mail address, as the gate does). */
  customer?: (recipient: {
    email: string
  }) => { accountId?: string; contactId?: string } | Promise<{ accountId?: string; contactId?: string }>
  now?: () => number
}

export interface WebhookResult {
  status: number
  body: { recorded?: number; ignored?: number; error?: { code: string; message: string } }
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

/**
 * The Event Webhook receiver: checks the signature over the raw body and the timestamp's age, then
 * records delivered / bounce / unsubscribe / spam-report events in Remit's ledger, where rules read
 * them as touches (`touches.exists(t, t.kind == 'email.unsubscribe')`). Each event id is taken once.
 */
export function eventWebhook(options: EventWebhookOptions) {
  const key = toKey(options.publicKey)
  const client = options.remit instanceof RemitClient ? options.remit : new RemitClient(options.remit)
  const tolerance = (options.toleranceSeconds ?? 300) * 1000
  const now = options.now ?? Date.now
  const customer: NonNullable<EventWebhookOptions['customer']> =
    options.customer ?? ((r) => ({ accountId: `email:${r.email}` }))
  // Event ids seen within the tolerance window; older replays fail the timestamp check anyway.
  const seen = new Map<string, number>()
  const refuse = (status: number, code: string, message: string): WebhookResult => ({
    status,
    body: { error: { code, message } },
  })

  async function handle(
    rawBody: string | Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<WebhookResult> {
    const signature = header(headers, SIGNATURE_HEADER)
    const timestamp = header(headers, TIMESTAMP_HEADER)
    if (!signature || !timestamp)
      return refuse(401, 'UNSIGNED', `missing ${SIGNATURE_HEADER} or ${TIMESTAMP_HEADER}`)
    const at = Number(timestamp) * 1000
    if (!Number.isFinite(at) || Math.abs(now() - at) > tolerance)
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
    for (const [id, until] of seen) if (until < now()) seen.delete(id)
    let recorded = 0
    let ignored = 0
    for (const e of events as {
      email?: unknown
      event?: unknown
      timestamp?: unknown
      sg_event_id?: unknown
    }[]) {
      const id = typeof e?.sg_event_id === 'string' ? e.sg_event_id : undefined
      if (
        typeof e?.email !== 'string' ||
        typeof e.event !== 'string' ||
        !RECORDED.has(e.event) ||
        (id && seen.has(id))
      ) {
        ignored++
        continue
      }
      if (id) seen.set(id, now() + tolerance)
      const email = e.email.trim().toLowerCase()
      const who = await customer({ email })
      await client.recordTouch({
        accountId: who.accountId ?? `email:${email}`,
        ...(who.contactId ? { contactId: who.contactId } : {}),
        kind: `email.${e.event}`,
        channel: 'email',
        outbound: false,
        // Remit's server dates agents' touches by its own clock (an agent key cannot backdate one);
        // SendGrid's own time of the event is kept in the note.
        note: [
          'sendgrid',
          ...(id ? [id] : []),
          ...(typeof e.timestamp === 'number' && !Number.isNaN(new Date(e.timestamp * 1000).getTime())
            ? [new Date(e.timestamp * 1000).toISOString()]
            : []),
        ].join(' '),
      })
      recorded++
    }
    return { status: 200, body: { recorded, ignored } }
  }

  /** For node:http (standalone) or any framework that hands over the raw request. */
  function listener(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      handle(Buffer.concat(chunks), req.headers).then(
        (out) => {
          res.writeHead(out.status, { 'content-type': 'application/json' })
          res.end(JSON.stringify(out.body))
        },
        (error: Error) => {
          // Remit unreachable: 503 makes SendGrid retry the batch later; nothing is lost.
          res.writeHead(503, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ error: { code: 'REMIT_UNAVAILABLE', message: error.message } }))
        },
      )
    })
  }

  return { handle, listener }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v =
    headers[name] ??
    headers[name.toLowerCase()] ??
    Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1]
  return Array.isArray(v) ? v[0] : v
}
