import { randomUUID } from 'node:crypto'
import type { DatabaseSync } from 'node:sqlite'
import { nodeSqlite } from './node-sqlite.ts'
import type { MailData } from './recipients.ts'

/**
 * - `held`: waiting for its review, or approved and due (again) at `nextAt`;
 * - `sending`: claimed by a releaser until `claimedUntil` (a lease: past it, the send is retried);
 * - `sent`: SendGrid accepted it;
 * - `dead`: SendGrid refused the message itself (a 400): kept with SendGrid's error, sent again
 *   only by `retry(reviewId)`;
 * - `rejected` / `expired`: its review said no (or approved it but a stop still won), or timed out.
 */
export type HeldStatus = 'held' | 'sending' | 'sent' | 'dead' | 'rejected' | 'expired'

export interface Held {
  reviewId: string
  decisionId: string
  email: string
  /** The message as this recipient gets it (one personalization, them as `to`). */
  message: MailData
  status: HeldStatus
  heldAt: Date
  /** Sends tried so far. */
  attempts: number
  /** Not sent again before this (a backoff after a 429, a 5xx or a refused key). */
  nextAt?: Date
  /** SendGrid's answer to the last attempt that failed, its error text included. */
  lastError?: string
  lastStatus?: number
  /** When the last run of failures began (cleared by a send that goes). */
  failingSince?: Date
  claimedUntil?: Date
  approvedAt?: Date
  sentAt?: Date
  /** Why it was rejected or expired. */
  note?: string
}

/** How a held row is sent again: through @sendgrid/mail's `send`, or a @sendgrid/client request. */
export interface HeldTransport {
  via: 'mail' | 'client'
  /** For `client`: the request it came in (method, url, headers…), its body being the message. */
  request?: Record<string, unknown>
  sendKey?: string
}

/** What this sender did with one recipient of one message (its send key). */
export interface SendRecord {
  status: 'sending' | 'sent' | 'failed'
  attempt: number
  decisionId?: string
  at: Date
  claimedUntil?: Date
}

export type SendClaim =
  | { claimed: true; attempt: number; recovered: boolean }
  | { claimed: false; record: SendRecord }

type Row = Record<string, string | number | null>

// Columns the first format of the hold did not have: added in place when an older file is opened.
const OUTBOX_COLUMNS: [string, string][] = [
  ['attempts', 'INTEGER NOT NULL DEFAULT 0'],
  ['next_at', 'INTEGER'],
  ['last_error', 'TEXT'],
  ['last_status', 'INTEGER'],
  ['failing_since', 'INTEGER'],
  ['claimed_until', 'INTEGER'],
  ['approved_at', 'INTEGER'],
  ['sent_at', 'INTEGER'],
  ['send_key', 'TEXT'],
  ['via', "TEXT NOT NULL DEFAULT 'mail'"],
  ['request', 'TEXT'],
]

const AUTH = '(401, 403)'

/**
 * The sender's outbox, on disk (node:sqlite) so a restart loses nothing: flagged mail waits here for
 * its review and is then sent from here, and every recipient of every send is recorded here, so a
 * retried send is one e-mail. It lives in the sender's process because the message that is sent
 * never leaves it (Remit sees recipients and actions, and a bounded preview of the content for the
 * reviewer of a flag unless the gate's `preview` is false; never the message SendGrid is sent).
 *
 * A row is claimed before it is sent, in one statement, with a lease: two releasers can never both
 * send it, and a releaser that dies mid-send leaves a claim that lapses, so the mail is retried
 * rather than lost. (SendGrid's mail send has no idempotency key, so a crash after SendGrid accepted
 * and before the row turned `sent` is the one case where the retry is a second e-mail.)
 */
export class HoldStore {
  private readonly db: DatabaseSync
  private readonly now: () => number
  /** This outbox's own id: in every idempotency key it makes, so a replayed decision is its own. */
  readonly sender: string

  constructor(path: string, options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now
    this.db = new (nodeSqlite().DatabaseSync)(path)
    if (path !== ':memory:') this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec('PRAGMA busy_timeout = 5000')
    this.db.exec(`CREATE TABLE IF NOT EXISTS held (
      review_id TEXT PRIMARY KEY, decision_id TEXT NOT NULL, email TEXT NOT NULL, message TEXT NOT NULL,
      status TEXT NOT NULL, held_at INTEGER NOT NULL, note TEXT)`)
    this.db.exec(`CREATE TABLE IF NOT EXISTS sends (
      send_key TEXT NOT NULL, email TEXT NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL,
      decision_id TEXT, claimed_until INTEGER, at INTEGER NOT NULL, PRIMARY KEY (send_key, email))`)
    this.db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
    this.transaction(() => this.migrate())
    this.db.exec('CREATE INDEX IF NOT EXISTS held_open ON held (status, next_at)')
    this.db.exec('CREATE INDEX IF NOT EXISTS sends_at ON sends (at)')
    this.db
      .prepare(`INSERT INTO meta (key, value) VALUES ('sender', ?) ON CONFLICT (key) DO NOTHING`)
      .run(randomUUID())
    this.sender = (this.db.prepare(`SELECT value FROM meta WHERE key = 'sender'`).get() as Row)
      .value as string
  }

  /** Brings a hold file of the first format up to the outbox: new columns, and its statuses mapped. */
  private migrate(): void {
    const columns = new Set((this.db.prepare('PRAGMA table_info(held)').all() as Row[]).map((c) => c.name))
    for (const [name, type] of OUTBOX_COLUMNS)
      if (!columns.has(name)) this.db.exec(`ALTER TABLE held ADD COLUMN ${name} ${type}`)
    // The first format said `dropped` for three things; a refused send is approved mail, so it becomes
    // a dead letter (visible, retryable) rather than staying lost.
    this.db.exec(`UPDATE held SET status = 'expired' WHERE status = 'dropped' AND note LIKE 'expired:%'`)
    this.db.exec(
      `UPDATE held SET status = 'dead', last_error = note, note = NULL
       WHERE status = 'dropped' AND note LIKE 'SendGrid refused it:%'`,
    )
    this.db.exec(`UPDATE held SET status = 'rejected' WHERE status = 'dropped'`)
    // The first format never resent a row left `sending` (at most once). Whether SendGrid took it is
    // unknown, so it is neither resent blindly nor forgotten: a dead letter that says so.
    this.db
      .prepare(
        `UPDATE held SET status = 'dead', last_error = ?
         WHERE status = 'sending' AND claimed_until IS NULL`,
      )
      .run(
        'Interrupted while being sent by an earlier version of @remit/sendgrid: SendGrid may have accepted it. retry(reviewId) sends it again.',
      )
  }

  private transaction<T>(run: () => T): T {
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const out = run()
      this.db.exec('COMMIT')
      return out
    } catch (error) {
      this.db.exec('ROLLBACK')
      throw error
    }
  }

  /** Keeps a flagged recipient's message until its review is answered; a second hold of it is a no-op. */
  hold(h: Pick<Held, 'reviewId' | 'decisionId' | 'email' | 'message'> & Partial<HeldTransport>): Held {
    this.db
      .prepare(
        `INSERT INTO held (review_id, decision_id, email, message, status, held_at, send_key, via, request)
         VALUES (?, ?, ?, ?, 'held', ?, ?, ?, ?) ON CONFLICT (review_id) DO NOTHING`,
      )
      .run(
        h.reviewId,
        h.decisionId,
        h.email,
        JSON.stringify(h.message),
        this.now(),
        h.sendKey ?? null,
        h.via ?? 'mail',
        h.request ? JSON.stringify(h.request) : null,
      )
    return this.get(h.reviewId) as Held
  }

  get(reviewId: string): Held | undefined {
    const row = this.db.prepare('SELECT * FROM held WHERE review_id = ?').get(reviewId) as Row | undefined
    return row ? toHeld(row) : undefined
  }

  transport(reviewId: string): HeldTransport {
    const row = this.db
      .prepare('SELECT via, request, send_key FROM held WHERE review_id = ?')
      .get(reviewId) as Row
    return {
      via: row.via === 'client' ? 'client' : 'mail',
      ...(row.request ? { request: JSON.parse(row.request as string) } : {}),
      ...(row.send_key ? { sendKey: row.send_key as string } : {}),
    }
  }

  list(...statuses: HeldStatus[]): Held[] {
    const where = statuses.length ? `WHERE status IN (${statuses.map(() => '?').join(', ')})` : ''
    const rows = this.db.prepare(`SELECT * FROM held ${where} ORDER BY held_at, rowid`).all(...statuses)
    return (rows as Row[]).map(toHeld)
  }

  /**
   * The review said go: from now on the row is sent without asking Remit again. `message`: the
   * message as approved with changes, kept in place of the one held (only by the first approval).
   */
  approve(reviewId: string, message?: MailData): void {
    if (message === undefined) {
      this.db
        .prepare('UPDATE held SET approved_at = coalesce(approved_at, ?) WHERE review_id = ?')
        .run(this.now(), reviewId)
      return
    }
    this.db
      .prepare('UPDATE held SET message = ?, approved_at = ? WHERE review_id = ? AND approved_at IS NULL')
      .run(JSON.stringify(message), this.now(), reviewId)
  }

  /**
   * Takes the send for `leaseMs`: true if this caller now owns it. A due `held` row, or a `sending`
   * one whose lease lapsed (its releaser died mid-send), can be claimed; one statement, so two
   * releasers, in one process or several, never both win.
   */
  claim(reviewId: string, leaseMs: number): boolean {
    const now = this.now()
    return (
      this.db
        .prepare(
          `UPDATE held SET status = 'sending', claimed_until = ?, attempts = attempts + 1
           WHERE review_id = ? AND approved_at IS NOT NULL AND (
             (status = 'held' AND (next_at IS NULL OR next_at <= ?)) OR (status = 'sending' AND claimed_until <= ?))`,
        )
        .run(now + leaseMs, reviewId, now, now).changes === 1
    )
  }

  /** SendGrid accepted it: the row is done, and the sender's record says this recipient got it. */
  sent(reviewId: string): void {
    const now = this.now()
    this.transaction(() => {
      this.db
        .prepare(
          `UPDATE held SET status = 'sent', sent_at = ?, claimed_until = NULL, next_at = NULL,
           failing_since = NULL WHERE review_id = ?`,
        )
        .run(now, reviewId)
      const row = this.db
        .prepare('SELECT send_key, email, decision_id FROM held WHERE review_id = ?')
        .get(reviewId) as Row | undefined
      if (row?.send_key) {
        this.db
          .prepare(
            `INSERT INTO sends (send_key, email, status, attempt, decision_id, at) VALUES (?, ?, 'sent', 0, ?, ?)
             ON CONFLICT (send_key, email) DO UPDATE SET status = 'sent', decision_id = excluded.decision_id,
             at = excluded.at, claimed_until = NULL`,
          )
          .run(row.send_key as string, row.email as string, row.decision_id as string, now)
      }
    })
  }

  /**
   * A send that did not go: back to `held` until `nextAt` (a retry), or `dead` (SendGrid refused the
   * message itself), keeping SendGrid's answer either way.
   */
  failed(
    reviewId: string,
    to: 'held' | 'dead',
    failure: { error: string; status?: number | undefined; nextAt?: number | undefined },
  ): void {
    const now = this.now()
    this.db
      .prepare(
        `UPDATE held SET status = ?, next_at = ?, last_error = ?, last_status = ?, claimed_until = NULL,
         failing_since = coalesce(failing_since, ?) WHERE review_id = ?`,
      )
      .run(to, failure.nextAt ?? null, failure.error, failure.status ?? null, now, reviewId)
  }

  /** Gives the claim back without an attempt counted (nothing was sent). */
  unclaim(reviewId: string): void {
    this.db
      .prepare(
        `UPDATE held SET status = 'held', claimed_until = NULL, attempts = max(attempts - 1, 0)
         WHERE review_id = ? AND status = 'sending'`,
      )
      .run(reviewId)
  }

  /**
   * Approved mail that cannot go as approved (changes it cannot carry): set aside as rejected, only
   * while no releaser has taken its approval. true if this call did (the caller reports it cancelled).
   */
  refuse(reviewId: string, note: string): boolean {
    const r = this.db
      .prepare(
        "UPDATE held SET status = 'rejected', note = ?, claimed_until = NULL WHERE review_id = ? AND status = 'held' AND approved_at IS NULL",
      )
      .run(note, reviewId)
    return Number(r.changes) === 1
  }

  finish(reviewId: string, status: 'rejected' | 'expired', note?: string): void {
    this.db
      .prepare('UPDATE held SET status = ?, note = ?, claimed_until = NULL WHERE review_id = ?')
      .run(status, note ?? null, reviewId)
  }

  /** A dead letter, or mail waiting out a backoff, made due now. false if there is no such row. */
  revive(reviewId: string): boolean {
    return (
      this.db
        .prepare(
          `UPDATE held SET status = 'held', next_at = NULL WHERE review_id = ? AND status IN ('dead', 'held')`,
        )
        .run(reviewId).changes === 1
    )
  }

  /** Mail waiting because SendGrid refused the key, made due now (the key was just changed). */
  wake(): number {
    return Number(
      this.db.prepare(`UPDATE held SET next_at = NULL WHERE status = 'held' AND last_status IN ${AUTH}`).run()
        .changes,
    )
  }

  /**
   * Claims each recipient of one message (its send key) for this sender before anything is decided,
   * in one transaction. A recipient already sent, or being sent by another call whose claim holds,
   * is not claimed: its record says why. A failed one is claimed as a new attempt (a new decision:
   * its reservation was released); one whose claim lapsed (a crash mid-send) is claimed again as the
   * same attempt.
   */
  claimSends(sendKey: string, emails: string[], leaseMs: number): Map<string, SendClaim> {
    const now = this.now()
    const get = this.db.prepare('SELECT * FROM sends WHERE send_key = ? AND email = ?')
    const insert = this.db.prepare(
      `INSERT INTO sends (send_key, email, status, attempt, claimed_until, at) VALUES (?, ?, 'sending', 0, ?, ?)`,
    )
    const reclaim = this.db.prepare(
      `UPDATE sends SET status = 'sending', attempt = ?, claimed_until = ?, at = ? WHERE send_key = ? AND email = ?`,
    )
    return this.transaction(() => {
      const out = new Map<string, SendClaim>()
      for (const email of emails) {
        const row = get.get(sendKey, email) as Row | undefined
        if (!row) {
          insert.run(sendKey, email, now + leaseMs, now)
          out.set(email, { claimed: true, attempt: 0, recovered: false })
          continue
        }
        const record = toSendRecord(row)
        const lapsed = record.status === 'sending' && (record.claimedUntil?.getTime() ?? 0) <= now
        if (record.status === 'failed' || lapsed) {
          const attempt = lapsed ? record.attempt : record.attempt + 1
          reclaim.run(attempt, now + leaseMs, now, sendKey, email)
          out.set(email, { claimed: true, attempt, recovered: lapsed })
        } else out.set(email, { claimed: false, record })
      }
      return out
    })
  }

  /** Ends this sender's claims: `sent` and `failed` are kept (what was done), `undefined` forgets it. */
  settleSends(
    sendKey: string,
    outcomes: [email: string, status: 'sent' | 'failed' | undefined, decisionId?: string][],
  ): void {
    if (outcomes.length === 0) return
    const now = this.now()
    const set = this.db.prepare(
      `UPDATE sends SET status = ?, decision_id = ?, claimed_until = NULL, at = ? WHERE send_key = ? AND email = ?`,
    )
    const forget = this.db.prepare(
      `DELETE FROM sends WHERE send_key = ? AND email = ? AND status = 'sending'`,
    )
    this.transaction(() => {
      for (const [email, status, decisionId] of outcomes) {
        if (status) set.run(status, decisionId ?? null, now, sendKey, email)
        else forget.run(sendKey, email)
      }
    })
  }

  /** Forgets records of sends older than `before` (a retry that late is a new send). */
  pruneSends(before: number): number {
    return Number(
      this.db.prepare(`DELETE FROM sends WHERE at < ? AND status != 'sending'`).run(before).changes,
    )
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}

const date = (x: string | number | null | undefined) =>
  x === null || x === undefined ? undefined : new Date(x)

function toHeld(r: Row): Held {
  const optional = {
    nextAt: date(r.next_at),
    lastError: r.last_error ?? undefined,
    lastStatus: r.last_status ?? undefined,
    failingSince: date(r.failing_since),
    claimedUntil: date(r.claimed_until),
    approvedAt: date(r.approved_at),
    sentAt: date(r.sent_at),
    note: r.note ?? undefined,
  }
  return {
    reviewId: r.review_id as string,
    decisionId: r.decision_id as string,
    email: r.email as string,
    message: JSON.parse(r.message as string),
    status: r.status as HeldStatus,
    heldAt: new Date(r.held_at as number),
    attempts: Number(r.attempts ?? 0),
    ...(Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) as Partial<Held>),
  }
}

function toSendRecord(r: Row): SendRecord {
  return {
    status: r.status as SendRecord['status'],
    attempt: Number(r.attempt),
    ...(r.decision_id ? { decisionId: r.decision_id as string } : {}),
    at: new Date(r.at as number),
    ...(r.claimed_until !== null ? { claimedUntil: new Date(r.claimed_until as number) } : {}),
  }
}
