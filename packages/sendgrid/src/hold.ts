import { DatabaseSync } from 'node:sqlite'
import type { MailData } from './recipients.ts'

export type HeldStatus = 'held' | 'sending' | 'sent' | 'dropped'

export interface Held {
  reviewId: string
  decisionId: string
  email: string
  message: MailData
  status: HeldStatus
  heldAt: Date
  note?: string
}

/**
 * Flagged mail, kept on disk (node:sqlite) until its review is answered, so a restart loses
 * nothing. A row is claimed (`held` → `sending`) in one statement before it is sent, so two
 * releasers can never both send it.
 */
export class HoldStore {
  private readonly db: DatabaseSync

  constructor(path: string) {
    this.db = new DatabaseSync(path)
    if (path !== ':memory:') this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec('PRAGMA busy_timeout = 5000')
    this.db.exec(`CREATE TABLE IF NOT EXISTS held (
      review_id TEXT PRIMARY KEY, decision_id TEXT NOT NULL, email TEXT NOT NULL, message TEXT NOT NULL,
      status TEXT NOT NULL, held_at INTEGER NOT NULL, note TEXT)`)
  }

  hold(h: Omit<Held, 'status' | 'heldAt'>): void {
    this.db
      .prepare(
        `INSERT INTO held (review_id, decision_id, email, message, status, held_at) VALUES (?, ?, ?, ?, 'held', ?)
         ON CONFLICT (review_id) DO NOTHING`,
      )
      .run(h.reviewId, h.decisionId, h.email, JSON.stringify(h.message), Date.now())
  }

  list(status?: HeldStatus): Held[] {
    const rows = (
      status
        ? this.db.prepare('SELECT * FROM held WHERE status = ? ORDER BY held_at').all(status)
        : this.db.prepare('SELECT * FROM held ORDER BY held_at').all()
    ) as Record<string, string | number | null>[]
    return rows.map((r) => ({
      reviewId: r.review_id as string,
      decisionId: r.decision_id as string,
      email: r.email as string,
      message: JSON.parse(r.message as string),
      status: r.status as HeldStatus,
      heldAt: new Date(r.held_at as number),
      ...(r.note ? { note: r.note as string } : {}),
    }))
  }

  /** true if this caller now owns the send. */
  claim(reviewId: string): boolean {
    return (
      this.db
        .prepare(`UPDATE held SET status = 'sending' WHERE review_id = ? AND status = 'held'`)
        .run(reviewId).changes === 1
    )
  }

  finish(reviewId: string, status: Exclude<HeldStatus, 'sending'>, note?: string): void {
    this.db
      .prepare('UPDATE held SET status = ?, note = ? WHERE review_id = ?')
      .run(status, note ?? null, reviewId)
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}
