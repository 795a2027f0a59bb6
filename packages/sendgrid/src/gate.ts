import { createHash } from 'node:crypto'
import { type ClientOptions, type DecideResult, type Reason, RemitClient } from '@remit/client'
import { HoldStore } from './hold.ts'
import {
  filterPersonalizations,
  type MailData,
  messageFor,
  personalizationsOf,
  recipientsOf,
} from './recipients.ts'

/** The parts of @sendgrid/mail's MailService the gate uses (the real one is passed in). */
export interface MailService {
  send(data: MailData | MailData[], isMultiple?: boolean): Promise<unknown>
  setApiKey(key: string): void
  [method: string]: unknown
}

export interface GateOptions {
  /** Where Remit is, and this tool's key (the key decides which agent and tool is asking). */
  remit: ClientOptions | RemitClient
  /** The action each message is, from the message (its categories, custom args…), never from recipients. */
  action: (msg: MailData) => { kind: string; [attribute: string]: unknown }
  /** Who a recipient is for Remit; default `{ email }`. */
  customer?: (
    recipient: { email: string },
    msg: MailData,
  ) =>
    | { accountId?: string; contactId?: string; email?: string; facts?: Record<string, unknown> }
    | Promise<{ accountId?: string; contactId?: string; email?: string; facts?: Record<string, unknown> }>
  /** The durable hold for flagged mail: a SQLite file (default `./remit-held.db`). */
  holdPath?: string
  /** How often held mail is checked against its review (default 30 s; 0: only on `release()`). */
  releaseEveryMs?: number
  /** Decisions in flight at once for one send (default 32). */
  concurrency?: number
  /**
   * What makes two sends "the same" for idempotency (a retried send is decided once). Default: the
   * message's content and the UTC day, so an identical campaign tomorrow is a new decision.
   */
  sendKey?: (msg: MailData) => string
}

export interface RecipientReport {
  email: string
  decisionId?: string
  reasons: Reason[]
}
export interface SendReport {
  sent: RecipientReport[]
  held: (RecipientReport & { reviewId: string })[]
  stopped: (RecipientReport & { retryAfter?: string; unreachable?: boolean })[]
  /** Allowed, but left with no `to` in their personalization (SendGrid needs one): not sent. */
  dropped: RecipientReport[]
}

/** What `send` resolves to: @sendgrid/mail's `[response, body]` (null when nothing was sent) and the report. */
export type GatedResult = [unknown, unknown] & { remit: SendReport }

export interface ReleaseReport {
  sent: string[]
  dropped: string[]
  waiting: number
}

export interface GatedMail {
  send(data: MailData, isMultiple?: boolean): Promise<GatedResult>
  send(data: MailData[], isMultiple?: boolean): Promise<GatedResult[]>
  sendMultiple(data: MailData): Promise<GatedResult>
  sendMultiple(data: MailData[]): Promise<GatedResult[]>
  /** Sends held mail whose review was approved (once), drops what was rejected or expired. */
  release(): Promise<ReleaseReport>
  held(): ReturnType<HoldStore['list']>
  close(): Promise<void>
  setApiKey(key: string): void
  [method: string]: unknown
}

/**
 * Wraps @sendgrid/mail so every recipient is decided by Remit before anything is sent: the one-line
 * change is `const mail = gate(sgMail, options)` where the mail service is created.
 */
export function gate(sgMail: MailService, options: GateOptions): GatedMail {
  const client = options.remit instanceof RemitClient ? options.remit : new RemitClient(options.remit)
  const hold = new HoldStore(options.holdPath ?? 'remit-held.db')
  const concurrency = Math.max(1, options.concurrency ?? 32)
  const customer: NonNullable<GateOptions['customer']> = options.customer ?? ((r) => ({ email: r.email }))
  const sendKey =
    options.sendKey ??
    ((msg: MailData) =>
      `${createHash('sha256').update(JSON.stringify(msg)).digest('hex')}:${new Date().toISOString().slice(0, 10)}`)

  async function sendOne(data: MailData, isMultiple: boolean): Promise<GatedResult> {
    const ps = personalizationsOf(data, isMultiple)
    const recipients = [...recipientsOf(ps).keys()]
    const action = options.action(data)
    const key = sendKey(data)
    const decisions = new Map<string, DecideResult>()
    await pool(recipients, concurrency, async (email) => {
      const who = await customer({ email }, data)
      decisions.set(
        email,
        await client.decide({
          action,
          customer: { email, ...who, facts: who.facts ?? {} },
          idempotencyKey: createHash('sha256').update(`${key}:${email}`).digest('hex'),
        }),
      )
    })

    const report: SendReport = { sent: [], held: [], stopped: [], dropped: [] }
    const ofDecision = (email: string, d: DecideResult) => ({
      email,
      ...(d.id ? { decisionId: d.id } : {}),
      reasons: d.reasons,
    })
    for (const [email, d] of decisions) {
      if (d.verdict === 'stop') {
        report.stopped.push({
          ...ofDecision(email, d),
          ...(d.retryAfter ? { retryAfter: d.retryAfter } : {}),
          ...(d.unreachable ? { unreachable: true } : {}),
        })
      } else if (d.verdict === 'flag' && d.reviewId) {
        hold.hold({ reviewId: d.reviewId, decisionId: d.id, email, message: messageFor(data, ps, email) })
        report.held.push({ ...ofDecision(email, d), reviewId: d.reviewId })
      }
    }
    const { kept, orphans } = filterPersonalizations(ps, (email) => decisions.get(email)?.verdict === 'go')
    const going = [...decisions].filter(([email, d]) => d.verdict === 'go' && !orphans.has(email))
    for (const email of orphans) {
      const d = decisions.get(email) as DecideResult
      report.dropped.push(ofDecision(email, d))
      if (d.id) await client.outcome(d.id, 'cancelled')
    }
    if (kept.length === 0) return Object.assign([null, {}] as [unknown, unknown], { remit: report })

    const { to: _to, cc: _cc, bcc: _bcc, isMultiple: _m, ...rest } = data
    let response: unknown
    try {
      response = await sgMail.send({ ...rest, personalizations: kept })
    } catch (error) {
      // SendGrid refused: the reservations stop counting, and the caller gets SendGrid's own error.
      await pool(going, concurrency, async ([, d]) => {
        if (d.id) await client.outcome(d.id, 'failed').catch(() => {})
      })
      throw error
    }
    await pool(going, concurrency, async ([email, d]) => {
      if (d.id) await client.outcome(d.id, 'sent')
      report.sent.push(ofDecision(email, d))
    })
    const [res, body] = Array.isArray(response) ? response : [response, {}]
    return Object.assign([res, body] as [unknown, unknown], { remit: report })
  }

  async function release(): Promise<ReleaseReport> {
    const out: ReleaseReport = { sent: [], dropped: [], waiting: 0 }
    for (const h of hold.list('held')) {
      let review: Awaited<ReturnType<RemitClient['getReview']>>
      try {
        review = await client.getReview(h.reviewId)
      } catch {
        out.waiting++
        continue
      }
      if (review.status === 'pending') {
        out.waiting++
        continue
      }
      if (review.outcome !== 'go') {
        hold.finish(
          h.reviewId,
          'dropped',
          `${review.status}: ${review.outcomeReasons?.map((r) => r.message).join('; ') ?? ''}`,
        )
        out.dropped.push(h.email)
        continue
      }
      if (!hold.claim(h.reviewId)) continue
      try {
        await sgMail.send(h.message)
      } catch (error) {
        const status = (error as { code?: number }).code
        // A 4xx will not get better: drop it (the touch fails). Otherwise it goes back in the hold.
        if (typeof status === 'number' && status >= 400 && status < 500) {
          await client.outcome(h.decisionId, 'failed').catch(() => {})
          hold.finish(h.reviewId, 'dropped', `SendGrid refused it: ${(error as Error).message}`)
          out.dropped.push(h.email)
        } else {
          hold.finish(h.reviewId, 'held')
          out.waiting++
        }
        continue
      }
      hold.finish(h.reviewId, 'sent')
      await client.outcome(h.decisionId, 'sent').catch(() => {})
      out.sent.push(h.email)
    }
    return out
  }

  const every = options.releaseEveryMs ?? 30_000
  const timer = every > 0 ? setInterval(() => void release().catch(() => {}), every) : undefined
  timer?.unref()

  const send = (data: MailData | MailData[], isMultiple = false) =>
    Array.isArray(data) ? Promise.all(data.map((m) => sendOne(m, isMultiple))) : sendOne(data, isMultiple)

  // Everything else (setApiKey, setClient, setTimeout, setSubstitutionWrappers…) is sgMail's own.
  return new Proxy(sgMail as unknown as GatedMail, {
    get(target, prop, receiver) {
      if (prop === 'send') return send
      if (prop === 'sendMultiple') return (data: MailData | MailData[]) => send(data, true)
      if (prop === 'release') return release
      if (prop === 'held') return () => hold.list()
      if (prop === 'close') {
        return async () => {
          clearInterval(timer)
          hold.close()
        }
      }
      const value = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

async function pool<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) await run(items[next++] as T)
    }),
  )
}
