import { createHash } from 'node:crypto'
import { type ClientOptions, type DecideResult, type Reason, RemitClient } from '@remit/client'
import { type Held, type HeldTransport, HoldStore, type SendClaim } from './hold.ts'
import {
  filterPersonalizations,
  type MailData,
  messageFor,
  ownSubjects,
  personalizationsOf,
  previewOf,
  recipientsOf,
  type V3Mail,
} from './recipients.ts'

/**
 * What the gate needs of @sendgrid/mail's MailService: the package's default export or a
 * `new MailService()` is accepted as it is typed. (`data: never` accepts any `send`, whatever
 * message type it declares; the gated `send` takes that same type.)
 */
export interface SendGridMailService {
  send(data: never, isMultiple?: boolean): Promise<unknown>
  setApiKey(apiKey: string): unknown
}

/** What the gate needs of @sendgrid/client's Client (its default export or a `new Client()`). */
export interface SendGridClient {
  request(request: never): Promise<unknown>
  setApiKey(apiKey: string): unknown
}

/** A minimal mail service (the shape tests' doubles use); the real MailService needs no cast. */
export interface MailService {
  send(data: MailData | MailData[], isMultiple?: boolean): Promise<unknown>
  setApiKey(key: string): void
  [method: string]: unknown
}

/** The message a service sends: @sendgrid/mail's own `MailDataRequired`, or a Client's v3 body. */
export type MessageOf<S> = S extends { send(data: infer D, ...rest: never[]): unknown }
  ? Exclude<D, readonly unknown[]>
  : V3Mail

export interface GateLog {
  info(o: object, m: string): void
  warn(o: object, m: string): void
  error(o: object, m: string): void
}

export interface GateOptions<M = MailData> {
  /** Where Remit is, and this tool's key (the key decides which agent and tool is asking). */
  remit: ClientOptions | RemitClient
  /** The action each message is, from the message (its categories, custom args…), never from recipients. */
  action: (msg: M) => { kind: string; [attribute: string]: unknown }
  /**
   * Approve with changes: writes what a reviewer changed (attributes the action's
   * `reviewerMayChange` lists, e.g. `{ discountPct: 15 }`) into the held message before it goes —
   * the values `action` read, such as the template's dynamic data. Return the changed message, or
   * throw to refuse it. Without it, mail approved with changes is not sent (the mail as held is not
   * what was approved): dropped, and its touch reported cancelled.
   */
  applyChanges?: (msg: M, changes: Record<string, unknown>) => M
  /** Who a recipient is for Remit; default `{ email }`. */
  customer?: (
    recipient: { email: string },
    msg: M,
  ) =>
    | { accountId?: string; contactId?: string; email?: string; facts?: Record<string, unknown> }
    | Promise<{ accountId?: string; contactId?: string; email?: string; facts?: Record<string, unknown> }>
  /**
   * Send each recipient's decision the message's preview — its subject (the recipient's
   * personalization's own, when it has one), sender address, and text and HTML bodies, truncated to
   * Remit's bounds — so the reviewer of a flag sees what they approve (default true). Remit keeps it
   * on every decision: false keeps a large campaign's body out of the decision log.
   */
  preview?: boolean
  /** The sender's outbox (held mail, and what was sent): a SQLite file (default `./remit-held.db`). */
  holdPath?: string
  /** How often held mail is checked against its review and sent when due (default 30 s; 0: only on `release()`). */
  releaseEveryMs?: number
  /** Decisions in flight at once for one send (default 32). */
  concurrency?: number
  /**
   * What makes two sends "the same" (a retried send is decided once and sent once). Default: the
   * message's content and the UTC day, so an identical campaign tomorrow is a new send.
   */
  sendKey?: (msg: M) => string
  /** How long this sender remembers what it sent, so a retry is not a second e-mail (default 30 days). */
  rememberSentMs?: number
  /**
   * How long a claim on a send holds before another releaser may take it over (default 10 min).
   * Longer than a SendGrid call can take: a lapsed claim means its releaser died mid-send.
   */
  leaseMs?: number
  /**
   * Retries of held mail after a 429, a 5xx, a network error or a refused key: exponential from
   * `baseMs` (default 10 s) up to `maxMs` (default 1 h), with jitter (×0.5–1.5), so releasers do not
   * retry in step; a later `Retry-After` or `X-RateLimit-Reset` from SendGrid wins.
   */
  backoff?: { baseMs?: number; maxMs?: number }
  /** Lines about held mail (sent, retried, refused), pino-style: `log.warn({ reviewId, … }, message)`. */
  log?: GateLog
  /** Called when approved mail cannot go: SendGrid refused the key (401/403), or a message (a dead letter). */
  onAlert?: (alert: Alert) => void
  /** The clock for backoff, leases and the default send key's day (ms since the epoch; default `Date.now`). */
  now?: () => number
}

export interface RecipientReport {
  email: string
  decisionId?: string
  reasons: Reason[]
}
export interface SendReport {
  sent: RecipientReport[]
  /**
   * Sent already by an earlier call with the same send key (a retry): not sent again. `inFlight`:
   * another call is sending it right now.
   */
  alreadySent: (RecipientReport & { sentAt?: string; inFlight?: true })[]
  held: (RecipientReport & { reviewId: string })[]
  stopped: (RecipientReport & { retryAfter?: string; unreachable?: boolean })[]
  /** Allowed, but left with no `to` in their personalization (SendGrid needs one): not sent. */
  dropped: RecipientReport[]
}

/** What `send` resolves to: @sendgrid/mail's `[response, body]` (null when nothing was sent) and the report. */
export type GatedResult<Response = unknown, Body = unknown> = [Response | null, Body] & { remit: SendReport }

export interface ReleaseReport {
  /** Sent now. */
  sent: string[]
  /** Not going: the review was rejected or expired (or approved, but a stop still won). */
  dropped: string[]
  /** Still in the outbox: a review pending, or a send waiting out a backoff or a refused key. */
  waiting: number
  /** Refused by SendGrid this round (a 400): kept as dead letters, see `held()` and `retry(reviewId)`. */
  dead?: string[]
}

/** Approved mail that cannot go until someone acts. `alerts()` lists the ones standing now. */
export interface Alert {
  /**
   * `sendgrid-key`: SendGrid refused the API key (401) or what it may do (403); the mail stays held
   * and goes once the key is fixed. `dead-letter`: SendGrid refused the message itself (400).
   */
  kind: 'sendgrid-key' | 'dead-letter'
  message: string
  /** SendGrid's HTTP status and error text. */
  status?: number
  error: string
  reviewIds: string[]
  since: Date
}

/** The sender-side outbox every gated service has. */
export interface Outbox {
  /** Sends held mail whose review was approved (once), marks what was rejected or expired. */
  release(): Promise<ReleaseReport>
  /** Every row of the outbox: what waits, what went, what is dead and why. */
  held(): Held[]
  /** What needs a person now: a refused key, dead letters. */
  alerts(): Alert[]
  /** Sends a dead letter (or mail waiting out a backoff) now; resolves to its row afterwards. */
  retry(reviewId: string): Promise<Held>
  close(): Promise<void>
}

type ResultOf<F> = F extends (...args: never[]) => Promise<infer R>
  ? R extends [infer Response, infer Body, ...unknown[]]
    ? GatedResult<Response, Body>
    : GatedResult
  : GatedResult
type SendCallback<R> = (error: Error | null, result: R | null) => void
type Without<T, K> = { [P in keyof T as P extends K ? never : P]: T[P] }

/** A MailService, gated: its own surface, with `send` and `sendMultiple` deciding every recipient first. */
export type GatedMail<S extends SendGridMailService = MailService> = Without<S, 'send' | 'sendMultiple'> &
  Outbox & {
    send(
      data: MessageOf<S>,
      isMultiple?: boolean,
      cb?: SendCallback<ResultOf<S['send']>>,
    ): Promise<ResultOf<S['send']>>
    send(
      data: MessageOf<S>[],
      isMultiple?: boolean,
      cb?: SendCallback<ResultOf<S['send']>[]>,
    ): Promise<ResultOf<S['send']>[]>
    sendMultiple(data: MessageOf<S>, cb?: SendCallback<ResultOf<S['send']>>): Promise<ResultOf<S['send']>>
    sendMultiple(
      data: MessageOf<S>[],
      cb?: SendCallback<ResultOf<S['send']>[]>,
    ): Promise<ResultOf<S['send']>[]>
  }

type RequestOf<C> = C extends { request(request: infer R, ...rest: never[]): unknown } ? R : never
type RequestResult<C> = C extends { request(...args: never[]): Promise<infer R> }
  ? R extends [infer Response, infer Body, ...unknown[]]
    ? [Response | null, Body] & { remit?: SendReport }
    : R
  : never

/**
 * A Client, gated: `POST /v3/mail/send` requests decide every recipient first and resolve with a
 * `remit` report (the response is null when nothing was left to send); other requests are the Client's.
 */
export type GatedClient<C extends SendGridClient = SendGridClient> = Without<C, 'request'> &
  Outbox & {
    request(request: RequestOf<C>, cb?: SendCallback<RequestResult<C>>): Promise<RequestResult<C>>
  }

export type Gated<S> = S extends SendGridMailService
  ? GatedMail<S>
  : S extends SendGridClient
    ? GatedClient<S>
    : never

type Via = { via: 'mail' } | { via: 'client'; request: Record<string, unknown> }
type Requester = (request: Record<string, unknown>) => Promise<unknown>

const MINUTE = 60_000

/**
 * Wraps @sendgrid/mail (or a @sendgrid/client Client) so every recipient is decided by Remit before
 * anything is sent: the one-line change is `const mail = gate(sgMail, options)` where the mail
 * service is created.
 */
export function gate<S extends SendGridMailService | SendGridClient>(
  service: S,
  options: GateOptions<MessageOf<S>>,
): Gated<S>
export function gate(
  service: SendGridMailService | SendGridClient,
  // Any message type: `applyChanges` takes and returns it, so no one GateOptions<M> holds them all.
  gateOptions: Omit<GateOptions<never>, 'applyChanges'> & { applyChanges?: unknown },
): GatedMail | GatedClient {
  // Inside, every message is handled as the loose MailData (the recipients code reads only to, cc,
  // bcc and personalizations); the caller's own message type is kept at the surface.
  const options = gateOptions as unknown as GateOptions<MailData>
  const kind = typeof (service as { send?: unknown }).send === 'function' ? 'mail' : 'client'
  if (kind === 'client' && typeof (service as { request?: unknown }).request !== 'function')
    throw new TypeError('gate(): expected @sendgrid/mail (a MailService) or a @sendgrid/client Client')
  const mailer = service as unknown as {
    send(data: MailData, isMultiple?: boolean): Promise<unknown>
    client?: { request?: Requester }
  }
  const requester = service as unknown as { request(request: Record<string, unknown>): Promise<unknown> }

  const client = options.remit instanceof RemitClient ? options.remit : new RemitClient(options.remit)
  const now = options.now ?? Date.now
  const hold = new HoldStore(options.holdPath ?? 'remit-held.db', { now })
  const concurrency = Math.max(1, options.concurrency ?? 32)
  const leaseMs = options.leaseMs ?? 10 * MINUTE
  const baseMs = options.backoff?.baseMs ?? 10_000
  const maxMs = options.backoff?.maxMs ?? 60 * MINUTE
  const rememberSentMs = options.rememberSentMs ?? 30 * 24 * 60 * MINUTE
  const log = options.log
  const customer: NonNullable<GateOptions['customer']> = options.customer ?? ((r) => ({ email: r.email }))
  const sendKey =
    options.sendKey ??
    ((msg: MailData) =>
      `${createHash('sha256').update(JSON.stringify(msg)).digest('hex')}:${new Date(now()).toISOString().slice(0, 10)}`)
  // The sender's own id is in every key, so a decision that comes back `replayed` was asked by this
  // outbox (a retry of its own): another sender's identical message is its own touch, counted by Remit.
  const idempotencyKey = (key: string, email: string, attempt: number) =>
    createHash('sha256')
      .update(`${hold.sender}:${key}:${email}${attempt > 0 ? `:${attempt}` : ''}`)
      .digest('hex')
  let prunedAt = 0
  const prune = () => {
    if (now() - prunedAt < 60 * MINUTE) return
    prunedAt = now()
    hold.pruneSends(prunedAt - rememberSentMs)
  }
  prune()

  async function sendOne(data: MailData, isMultiple: boolean, via: Via): Promise<GatedResult> {
    const ps = personalizationsOf(data, isMultiple)
    const recipients = [...recipientsOf(ps).keys()]
    const action = options.action(data)
    const carried = options.applyChanges ? Object.keys(action).filter((k) => k !== 'kind') : []
    const key = sendKey(data)
    // Once per send; a recipient whose personalization has its own subject gets that one.
    const preview = options.preview === false ? undefined : previewOf(data)
    const subjects = options.preview === false ? new Map<string, string>() : ownSubjects(ps)
    const report: SendReport = { sent: [], alreadySent: [], held: [], stopped: [], dropped: [] }

    // Claimed before anything is decided: a retried or concurrent send of the same message finds the
    // claim (or the record that it was sent) and sends nothing again.
    const claims = hold.claimSends(key, recipients, leaseMs)
    const claimed = recipients.filter((email) => (claims.get(email) as SendClaim).claimed)
    for (const email of recipients) {
      const c = claims.get(email) as SendClaim
      if (c.claimed) continue
      report.alreadySent.push({
        email,
        ...(c.record.decisionId ? { decisionId: c.record.decisionId } : {}),
        reasons: [],
        ...(c.record.status === 'sent' ? { sentAt: c.record.at.toISOString() } : { inFlight: true as const }),
      })
    }

    const decisions = new Map<string, DecideResult>()
    const settled = new Set<string>()
    const settle = (outcomes: [string, 'sent' | 'failed' | undefined, string?][]) => {
      hold.settleSends(key, outcomes)
      for (const [email] of outcomes) settled.add(email)
    }
    try {
      await pool(claimed, concurrency, async (email) => {
        const who = await customer({ email }, data)
        const c = claims.get(email) as SendClaim & { claimed: true }
        const subject = subjects.get(email)
        const seen = subject ? { ...preview, subject } : preview
        decisions.set(
          email,
          await client.decide({
            action,
            customer: { email, ...who, facts: who.facts ?? {} },
            idempotencyKey: idempotencyKey(key, email, c.attempt),
            ...(seen ? { preview: seen } : {}),
            // With applyChanges, a reviewer may change what action() read from the message.
            ...(carried.length ? { acceptsChanges: carried } : {}),
          }),
        )
      })

      const ofDecision = (email: string, d: DecideResult) => ({
        email,
        ...(d.id ? { decisionId: d.id } : {}),
        reasons: d.reasons,
      })
      const forget: [string, undefined][] = []
      for (const [email, d] of decisions) {
        if (d.verdict === 'stop') {
          forget.push([email, undefined])
          report.stopped.push({
            ...ofDecision(email, d),
            ...(d.retryAfter ? { retryAfter: d.retryAfter } : {}),
            ...(d.unreachable ? { unreachable: true } : {}),
          })
        } else if (d.verdict === 'flag' && d.reviewId) {
          // The outbox row takes over from the claim: it is what sends this recipient, once.
          forget.push([email, undefined])
          const row = hold.hold({
            reviewId: d.reviewId,
            decisionId: d.id,
            email,
            message: messageFor(data, ps, email),
            sendKey: key,
            ...(via.via === 'client' ? { via: 'client', request: requestMeta(via.request) } : via),
          })
          if (row.status === 'sent')
            report.alreadySent.push({ ...ofDecision(email, d), sentAt: (row.sentAt as Date).toISOString() })
          else report.held.push({ ...ofDecision(email, d), reviewId: d.reviewId })
        }
      }
      const { kept, orphans } = filterPersonalizations(ps, (email) => decisions.get(email)?.verdict === 'go')
      const going = [...decisions].filter(([email, d]) => d.verdict === 'go' && !orphans.has(email))
      for (const email of orphans) {
        const d = decisions.get(email)
        if (!d) continue
        forget.push([email, undefined])
        report.dropped.push(ofDecision(email, d))
        if (d.id) await outcome(d.id, 'cancelled')
      }
      settle(forget)
      if (kept.length === 0) return Object.assign([null, {}] as [unknown, unknown], { remit: report })

      const { to: _to, cc: _cc, bcc: _bcc, isMultiple: _m, ...rest } = data
      const message = { ...rest, personalizations: kept }
      let response: unknown
      try {
        response =
          via.via === 'mail'
            ? await mailer.send(message)
            : await requester.request({ ...via.request, body: message })
      } catch (error) {
        // SendGrid refused: the record says so (a retry is a new attempt, decided anew), the
        // reservations stop counting, and the caller gets SendGrid's own error.
        settle(going.map(([email, d]) => [email, 'failed', d.id]))
        await pool(going, concurrency, async ([, d]) => {
          if (d.id) await outcome(d.id, 'failed')
        })
        throw error
      }
      // Recorded before Remit is told: the local record is what keeps a retry from sending again.
      settle(going.map(([email, d]) => [email, 'sent', d.id]))
      await pool(going, concurrency, async ([email, d]) => {
        if (d.id) await outcome(d.id, 'sent')
        report.sent.push(ofDecision(email, d))
      })
      const [res, body] = Array.isArray(response) ? response : [response, {}]
      return Object.assign([res, body] as [unknown, unknown], { remit: report })
    } finally {
      // Whatever was claimed and not settled (Remit refused the request, `customer` threw) is given
      // back, so the next try of this message is not taken for one in flight.
      const open = claimed.filter((email) => !settled.has(email))
      if (open.length)
        hold.settleSends(
          key,
          open.map((email) => [email, undefined]),
        )
    }
  }

  /** Reports an outcome; one Remit cannot take now is logged, never lost mail or a thrown send. */
  async function outcome(decisionId: string, status: 'sent' | 'failed' | 'cancelled') {
    await client.outcome(decisionId, status).catch((error: unknown) => {
      log?.warn({ decisionId, status, error: (error as Error).message }, 'Remit did not take the outcome')
    })
  }

  interface Round {
    keyRefused?: { status: number; error: string }
    dead: Held[]
  }

  async function release(): Promise<ReleaseReport> {
    prune()
    const out: ReleaseReport = { sent: [], dropped: [], waiting: 0 }
    const round: Round = { dead: [] }
    for (const h of hold.list('held', 'sending')) {
      const result = await releaseOne(h, round)
      if (result === 'waiting') out.waiting++
      else if (result === 'dead') out.dead = [...(out.dead ?? []), h.email]
      else out[result].push(h.email)
    }
    raise(round)
    return out
  }

  /** The held message with a reviewer's changes written in, or why it cannot go. */
  function withChanges(h: Held, changes: Record<string, unknown>): MailData | string {
    const what = Object.entries(changes)
      .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
      .join(', ')
    if (!options.applyChanges)
      return `approved with changes (${what}), and this gate has no applyChanges to write them into the mail: not sent`
    let changed: MailData
    try {
      changed = options.applyChanges(structuredClone(h.message), changes)
    } catch (error) {
      return `approved with changes (${what}), which applyChanges refused: ${(error as Error).message}; not sent`
    }
    // What goes must be what was approved: the action read from the changed mail, for the same
    // recipient alone.
    const asked = options.action(h.message)
    const approved = canonical({ ...asked, ...changes })
    let read: string
    let to: string[]
    try {
      read = canonical(options.action(changed))
      to = [...recipientsOf(personalizationsOf(changed, false)).keys()]
    } catch (error) {
      return `approved with changes (${what}), but the mail applyChanges returned could not be read (${(error as Error).message}): not sent`
    }
    if (read !== approved)
      return `approved with changes (${what}), but the mail applyChanges returned reads as ${read}, not ${approved}: not sent`
    if (to.length !== 1 || to[0] !== h.email)
      return `approved with changes (${what}), but the mail applyChanges returned is for ${to.join(', ') || 'no one'}, not ${h.email}: not sent`
    return changed
  }

  async function releaseOne(h: Held, round: Round): Promise<'sent' | 'dropped' | 'dead' | 'waiting'> {
    const at = now()
    if (h.status === 'sending' && (h.claimedUntil?.getTime() ?? 0) > at) return 'waiting'
    if (h.nextAt && h.nextAt.getTime() > at) return 'waiting'
    if (!h.approvedAt) {
      let review: Awaited<ReturnType<RemitClient['getReview']>>
      try {
        review = await client.getReview(h.reviewId)
      } catch (error) {
        log?.warn({ reviewId: h.reviewId, error: (error as Error).message }, 'could not read the review')
        return 'waiting'
      }
      if (review.status === 'pending') return 'waiting'
      if (review.outcome !== 'go') {
        hold.finish(
          h.reviewId,
          review.status === 'expired' ? 'expired' : 'rejected',
          `${review.status}: ${review.outcomeReasons?.map((r) => r.message).join('; ') ?? ''}`,
        )
        return 'dropped'
      }
      if (review.changes) {
        const changed = withChanges(h, review.changes.attributes)
        if (typeof changed === 'string') {
          // Another releaser may have taken the approval meanwhile (and sent it): then it is theirs.
          if (!hold.refuse(h.reviewId, changed)) return 'waiting'
          await outcome(h.decisionId, 'cancelled')
          log?.warn({ reviewId: h.reviewId, email: h.email }, changed)
          return 'dropped'
        }
        hold.approve(h.reviewId, changed)
      } else hold.approve(h.reviewId)
    }
    // SendGrid refused the key for this round's first send: the rest would be refused too.
    if (round.keyRefused) return 'waiting'
    // As approved: with a reviewer's changes, the message they were written into.
    const message = hold.get(h.reviewId)?.message ?? h.message
    const deliver = deliverer(hold.transport(h.reviewId), message)
    if (typeof deliver === 'string') {
      hold.failed(h.reviewId, 'dead', { error: deliver })
      round.dead.push(hold.get(h.reviewId) as Held)
      return 'dead'
    }
    if (!hold.claim(h.reviewId, leaseMs)) return 'waiting'
    try {
      await deliver()
    } catch (error) {
      const f = classify(error, at, maxMs)
      const attempt = h.attempts + 1
      if (f.kind === 'dead') {
        // Not reported `failed` to Remit: that is final, and a retry may still send it. The touch stays
        // reserved, as the approved mail it is.
        hold.failed(h.reviewId, 'dead', f)
        round.dead.push(hold.get(h.reviewId) as Held)
        return 'dead'
      }
      const nextAt = Math.max(at + backoff(attempt), f.retryAt ?? 0)
      hold.failed(h.reviewId, 'held', { ...f, nextAt })
      if (f.kind === 'key') round.keyRefused ??= { status: f.status as number, error: f.error }
      else {
        log?.warn(
          { reviewId: h.reviewId, email: h.email, status: f.status, attempt, nextAt: new Date(nextAt) },
          `held mail not sent (${f.error}); retrying at ${new Date(nextAt).toISOString()}`,
        )
      }
      return 'waiting'
    }
    hold.sent(h.reviewId)
    await outcome(h.decisionId, 'sent')
    log?.info({ reviewId: h.reviewId, email: h.email }, 'held mail sent')
    return 'sent'
  }

  /** How a held row goes out through this gate's service, or why it cannot. */
  function deliverer(t: HeldTransport, message: MailData): (() => Promise<unknown>) | string {
    if (t.via === 'mail') {
      if (kind === 'mail') return () => mailer.send(message)
      return 'Held by a gate around @sendgrid/mail: a Client cannot send @sendgrid/mail’s message format. Release it through gate(sgMail, …) with this hold file.'
    }
    const request = { ...t.request, body: message }
    if (kind === 'client') return () => requester.request(request)
    // A MailService sends v3 requests through its own Client.
    const inner = mailer.client
    if (typeof inner?.request === 'function') return () => (inner.request as Requester).call(inner, request)
    return 'Held by a gate around a @sendgrid/client Client, and this MailService has no `client` to send it with. Release it through gate(client, …) with this hold file.'
  }

  function backoff(attempt: number): number {
    return Math.round(Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1)) * (0.5 + Math.random()))
  }

  function raise(round: Round) {
    const standing = alerts()
    if (round.keyRefused) {
      const alert = standing.find((a) => a.kind === 'sendgrid-key')
      if (alert) emit(alert)
    }
    for (const h of round.dead) {
      const alert = standing.find((a) => a.kind === 'dead-letter' && a.reviewIds[0] === h.reviewId)
      if (alert) emit(alert)
    }
  }

  function emit(alert: Alert) {
    log?.error({ alert: alert.kind, status: alert.status, reviewIds: alert.reviewIds }, alert.message)
    try {
      options.onAlert?.(alert)
    } catch (error) {
      log?.warn({ error: (error as Error).message }, 'onAlert threw')
    }
  }

  function alerts(): Alert[] {
    const out: Alert[] = []
    const rows = hold.list('held', 'sending', 'dead')
    const refused = rows.filter((h) => h.status !== 'dead' && (h.lastStatus === 401 || h.lastStatus === 403))
    if (refused.length) {
      const last = refused.reduce((a, b) =>
        (b.failingSince ?? b.heldAt) > (a.failingSince ?? a.heldAt) ? b : a,
      )
      const waiting = rows.filter((h) => h.status !== 'dead' && h.approvedAt).length
      out.push({
        kind: 'sendgrid-key',
        message: `SendGrid refused the API key (${last.lastStatus}${last.lastStatus === 403 ? ': it may not send mail' : ''}): ${waiting} approved e-mail${waiting === 1 ? '' : 's'} held until the key is fixed. mail.setApiKey(newKey) makes ${waiting === 1 ? 'it' : 'them'} due at once; a key fixed at SendGrid is picked up at the next retry.`,
        status: last.lastStatus as number,
        error: last.lastError ?? '',
        reviewIds: refused.map((h) => h.reviewId),
        since: new Date(Math.min(...refused.map((h) => (h.failingSince ?? h.heldAt).getTime()))),
      })
    }
    for (const h of rows.filter((r) => r.status === 'dead')) {
      out.push({
        kind: 'dead-letter',
        message: `SendGrid refused the held mail to ${h.email} (review ${h.reviewId}); it is kept: fix the cause, then mail.retry('${h.reviewId}').`,
        ...(h.lastStatus ? { status: h.lastStatus } : {}),
        error: h.lastError ?? '',
        reviewIds: [h.reviewId],
        since: h.failingSince ?? h.heldAt,
      })
    }
    return out
  }

  async function retry(reviewId: string): Promise<Held> {
    const h = hold.get(reviewId)
    if (!h) throw new Error(`retry(): no held mail for review ${reviewId} in this hold`)
    if (h.status === 'rejected' || h.status === 'expired')
      throw new Error(
        `retry(): the mail for review ${reviewId} is ${h.status} (${h.note ?? ''}): it may not be sent`,
      )
    if (h.status === 'sent') return h
    hold.revive(reviewId)
    const round: Round = { dead: [] }
    await releaseOne(hold.get(reviewId) as Held, round)
    raise(round)
    return hold.get(reviewId) as Held
  }

  const every = options.releaseEveryMs ?? 30_000
  const timer =
    every > 0
      ? setInterval(
          () =>
            void release().catch((error: unknown) =>
              log?.error({ error: (error as Error).message }, 'releasing held mail failed'),
            ),
          every,
        )
      : undefined
  timer?.unref()

  const send = (data: MailData | MailData[], isMultiple: boolean, via: Via) =>
    Array.isArray(data)
      ? Promise.all(data.map((m) => sendOne(m, isMultiple, via)))
      : sendOne(data, isMultiple, via)

  const outbox: Outbox = {
    release,
    held: () => hold.list(),
    alerts,
    retry,
    close: async () => {
      clearInterval(timer)
      hold.close()
    },
  }
  // A changed key (or client) is the fix a refused key waits for: that mail is due at once.
  const rekeyed =
    (method: (...args: unknown[]) => unknown, target: object) =>
    (...args: unknown[]) => {
      const out = method.apply(target, args)
      hold.wake()
      return out
    }

  // Everything else (setClient, setTimeout, setSubstitutionWrappers, setDefaultRequest…) is the
  // service's own.
  return new Proxy(service as object, {
    get(target, prop, receiver) {
      if (Object.hasOwn(outbox, prop)) return outbox[prop as keyof Outbox]
      if (kind === 'mail' && prop === 'send') {
        return (data: MailData | MailData[], isMultiple?: boolean | SendCallback<unknown>, cb?: unknown) =>
          typeof isMultiple === 'function'
            ? withCallback(send(data, false, { via: 'mail' }), isMultiple)
            : withCallback(send(data, isMultiple ?? false, { via: 'mail' }), cb)
      }
      if (kind === 'mail' && prop === 'sendMultiple')
        return (data: MailData | MailData[], cb?: unknown) =>
          withCallback(send(data, true, { via: 'mail' }), cb)
      if (kind === 'client' && prop === 'request') {
        return (request: Record<string, unknown>, cb?: unknown) => {
          if (!isMailSend(request))
            return (requester.request as (r: unknown, cb: unknown) => unknown).call(target, request, cb)
          const sending = (async () => sendOne(mailBody(request.body), false, { via: 'client', request }))()
          return withCallback(sending, cb)
        }
      }
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      if (prop === 'setApiKey' || prop === 'setClient' || prop === 'setTwilioEmailAuth')
        return rekeyed(value as (...args: unknown[]) => unknown, target)
      return value.bind(target)
    },
  }) as GatedMail | GatedClient
}

/** A request @sendgrid/client would send to the mail send endpoint. */
function isMailSend(request: Record<string, unknown>): boolean {
  if (String(request.method ?? 'GET').toUpperCase() !== 'POST') return false
  const path = new URL(String(request.url ?? ''), 'http://sendgrid.invalid/').pathname.replace(/\/+$/, '')
  return path === '/v3/mail/send' || path.endsWith('/v3/mail/send')
}

/**
 * What a held client request keeps besides its body: where it goes and its headers (a subuser's
 * `on-behalf-of`…). Not an agent (it does not survive a restart) and not an Authorization header:
 * a key is not written to disk, and the release must use the client's key of the day.
 */
function requestMeta(request: Record<string, unknown>): Record<string, unknown> {
  const { body: _body, httpsAgent: _agent, headers, ...meta } = request
  const kept = Object.entries((headers ?? {}) as Record<string, unknown>).filter(
    ([name]) => name.toLowerCase() !== 'authorization',
  )
  return { ...meta, ...(kept.length ? { headers: Object.fromEntries(kept) } : {}) }
}

function mailBody(body: unknown): MailData {
  const parsed = typeof body === 'string' ? safeJson(body) : body
  if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as V3Mail).personalizations))
    throw new TypeError(
      'gate(): a POST /v3/mail/send request needs a body with `personalizations` (SendGrid’s v3 mail send): its recipients are what Remit decides',
    )
  return parsed as MailData
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function withCallback(promise: Promise<unknown>, cb: unknown): Promise<unknown> {
  if (typeof cb === 'function')
    promise.then(
      (r) => cb(null, r),
      (e) => cb(e, null),
    )
  return promise
}

interface Failure {
  /** `key`: the API key was refused; `retry`: worth trying again later; `dead`: the message was refused. */
  kind: 'key' | 'retry' | 'dead'
  status?: number | undefined
  error: string
  /** When SendGrid said to come back (Retry-After, or X-RateLimit-Reset on a 429). */
  retryAt?: number | undefined
}

/** What a failed send means for the held mail, from @sendgrid/client's ResponseError (or a network error). */
function classify(error: unknown, at: number, maxMs: number): Failure {
  const e = (error ?? {}) as {
    code?: unknown
    message?: string
    response?: { headers?: Record<string, unknown>; body?: unknown }
  }
  const status = typeof e.code === 'number' ? e.code : undefined
  if (status === undefined)
    return { kind: 'retry', error: `SendGrid could not be reached: ${e.message || String(error)}` }
  const text = `${status} ${e.message ?? ''}${sendGridErrors(e.response?.body)}`.trim()
  if (status === 401 || status === 403) return { kind: 'key', status, error: text }
  if (status === 429 || status === 408 || status >= 500) {
    const asked = comeBackAt(e.response?.headers, at)
    // SendGrid's own word on when to come back, within the longest backoff (a bad header never parks mail for days).
    return { kind: 'retry', status, error: text, retryAt: asked && Math.min(asked, at + maxMs) }
  }
  return { kind: 'dead', status, error: text }
}

/** SendGrid's error body, `{ errors: [{ message, field, help }] }`, as one line. */
function sendGridErrors(body: unknown): string {
  const errors = (body as { errors?: { message?: string; field?: string | null; help?: unknown }[] })?.errors
  if (!Array.isArray(errors)) return typeof body === 'string' && body ? `: ${body.slice(0, 500)}` : ''
  return `: ${errors
    .map(
      (x) =>
        `${x.message ?? 'error'}${x.field ? ` (field ${x.field})` : ''}${x.help ? ` — ${String(x.help)}` : ''}`,
    )
    .join('; ')}`
}

/** Retry-After (seconds from now) or, on SendGrid's 429s, X-RateLimit-Reset (epoch seconds). */
function comeBackAt(headers: Record<string, unknown> | undefined, at: number): number | undefined {
  const header = (name: string) => {
    const h = headers as ({ get?: (n: string) => unknown } & Record<string, unknown>) | undefined
    const v = typeof h?.get === 'function' ? h.get(name) : h?.[name]
    return v === undefined || v === null || v === '' ? Number.NaN : Number(v)
  }
  const after = header('retry-after')
  if (Number.isFinite(after)) return at + after * 1000
  const reset = header('x-ratelimit-reset')
  if (Number.isFinite(reset)) return reset * 1000
  return undefined
}

async function pool<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) await run(items[next++] as T)
    }),
  )
}

/** JSON with keys in name order at every depth: two actions read alike compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  )
}
