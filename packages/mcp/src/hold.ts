import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { nodeSqlite } from './node-sqlite.ts'

// The gateway's record of flagged calls, in its own SQLite file: which review a call (its digest)
// waits for, and whether its approval has been spent. An approved call is forwarded once: the row is
// claimed with one conditional UPDATE (held → forwarding), which only one caller can win, whether
// the repeats race in this process or in several gateways sharing the file.

export type HeldStatus = 'held' | 'forwarding' | 'forwarded'

export interface HeldCall {
  digest: string
  tool: string
  reviewId: string
  decisionId: string
  status: HeldStatus
  heldAt: number
  forwardedAt?: number
}

export class CallHold {
  private readonly db: DatabaseSync
  private readonly q: Record<'get' | 'hold' | 'claim' | 'forwarded', StatementSync>

  /** `path`: the SQLite file (created if missing), or ':memory:' for one process's life. */
  constructor(path: string) {
    this.db = new (nodeSqlite().DatabaseSync)(path)
    if (path !== ':memory:') this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec('PRAGMA busy_timeout = 5000')
    this.db.exec(`CREATE TABLE IF NOT EXISTS held_calls (
      digest TEXT PRIMARY KEY,
      tool TEXT NOT NULL,
      review_id TEXT NOT NULL,
      decision_id TEXT NOT NULL,
      status TEXT NOT NULL,
      held_at INTEGER NOT NULL,
      forwarded_at INTEGER
    )`)
    this.q = {
      get: this.db.prepare('SELECT * FROM held_calls WHERE digest = ?'),
      // A spent approval gives way to the new flag; a call still held keeps the review it waits for.
      hold: this.db.prepare(
        `INSERT INTO held_calls (digest, tool, review_id, decision_id, status, held_at) VALUES (?, ?, ?, ?, 'held', ?)
         ON CONFLICT (digest) DO UPDATE SET review_id = excluded.review_id, decision_id = excluded.decision_id,
           status = 'held', held_at = excluded.held_at, forwarded_at = NULL
         WHERE held_calls.status = 'forwarded'`,
      ),
      claim: this.db.prepare(
        `UPDATE held_calls SET status = 'forwarding', forwarded_at = ? WHERE digest = ? AND review_id = ? AND status = 'held'`,
      ),
      forwarded: this.db.prepare(
        `UPDATE held_calls SET status = 'forwarded' WHERE digest = ? AND review_id = ? AND status = 'forwarding'`,
      ),
    }
  }

  get(digest: string): HeldCall | undefined {
    const row = this.q.get.get(digest) as Record<string, string | number | null> | undefined
    if (!row) return undefined
    return {
      digest,
      tool: row.tool as string,
      reviewId: row.review_id as string,
      decisionId: row.decision_id as string,
      status: row.status as HeldStatus,
      heldAt: row.held_at as number,
      ...(row.forwarded_at != null ? { forwardedAt: row.forwarded_at as number } : {}),
    }
  }

  /** Records that the call `digest` waits for `reviewId`; returns the row as it stands (a racing flag's, if it won). */
  hold(call: Omit<HeldCall, 'status' | 'forwardedAt'>): HeldCall {
    this.q.hold.run(call.digest, call.tool, call.reviewId, call.decisionId, call.heldAt)
    return this.get(call.digest) as HeldCall
  }

  /** Takes the approval of `reviewId` for this call: true for exactly one caller, ever. */
  claim(digest: string, reviewId: string, at: number): boolean {
    return Number(this.q.claim.run(at, digest, reviewId).changes) === 1
  }

  /** The claimed call was forwarded (whatever the upstream answered): its approval is spent. */
  forwarded(digest: string, reviewId: string): void {
    this.q.forwarded.run(digest, reviewId)
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}
