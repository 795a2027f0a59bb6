import { randomUUID } from 'node:crypto'
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { nodeSqlite } from '@remit/core/internal'

// The gateway's record of flagged calls, in its own SQLite file: which review a call (its digest)
// waits for, and whether its approval has been spent. An approved call is forwarded once: the row is
// claimed with one conditional UPDATE (held → forwarding), which only one caller can win, whether
// the repeats race in this process or in several gateways sharing the file.
//
// A call asked about for the first time is claimed first (`deciding_calls`), so that identical
// calls racing each other ask Remit once: the others wait for the claim to go, then find the call
// held for the review the first one got (or, after a go or a stop, ask for themselves).

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

/** What `begin` found: the call is held already, this caller decides it, or another caller is deciding it. */
export type Begun = { held: HeldCall } | { deciding: string } | { busy: true }

/** How long a claim to decide a call stands before another caller may take it over (a gateway that died). */
const DECIDING_STALE_MS = 60_000

export class CallHold {
  private readonly db: DatabaseSync
  private readonly q: Record<
    'get' | 'hold' | 'claim' | 'forwarded' | 'decide' | 'decided' | 'begin' | 'commit' | 'rollback',
    StatementSync
  >

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
    this.db.exec(`CREATE TABLE IF NOT EXISTS deciding_calls (
      digest TEXT PRIMARY KEY,
      owner TEXT NOT NULL,
      claimed_at INTEGER NOT NULL
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
      // Taken when free, or when its claimer has been silent too long to be alive.
      decide: this.db.prepare(
        `INSERT INTO deciding_calls (digest, owner, claimed_at) VALUES (?, ?, ?)
         ON CONFLICT (digest) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at
         WHERE deciding_calls.claimed_at < ?`,
      ),
      decided: this.db.prepare('DELETE FROM deciding_calls WHERE digest = ? AND owner = ?'),
      begin: this.db.prepare('BEGIN IMMEDIATE'),
      commit: this.db.prepare('COMMIT'),
      rollback: this.db.prepare('ROLLBACK'),
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

  /**
   * Before asking Remit about a call: the call as held (its review decides it), or a claim to decide
   * it (this caller asks Remit, then `decided`), or busy (another caller is asking: wait, then begin
   * again). One transaction, so of identical calls racing, in this process or several, one decides.
   */
  begin(digest: string, at: number): Begun {
    this.q.begin.run()
    try {
      const held = this.get(digest)
      let begun: Begun
      if (held && held.status !== 'forwarded') begun = { held }
      else {
        const owner = randomUUID()
        const claimed = Number(this.q.decide.run(digest, owner, at, at - DECIDING_STALE_MS).changes) === 1
        begun = claimed ? { deciding: owner } : { busy: true }
      }
      this.q.commit.run()
      return begun
    } catch (error) {
      this.rollback()
      throw error
    }
  }

  /**
   * The claim `owner` took ends: with `call`, the call is held for its review (in the same
   * transaction, so no racing caller finds neither); without, it went or was stopped. Returns the row
   * as it stands.
   */
  decided(
    digest: string,
    owner: string,
    call?: Omit<HeldCall, 'status' | 'forwardedAt'>,
  ): HeldCall | undefined {
    this.q.begin.run()
    try {
      if (call) this.q.hold.run(call.digest, call.tool, call.reviewId, call.decisionId, call.heldAt)
      this.q.decided.run(digest, owner)
      this.q.commit.run()
    } catch (error) {
      this.rollback()
      throw error
    }
    return call ? this.get(digest) : undefined
  }

  /** Takes the approval of `reviewId` for this call: true for exactly one caller, ever. */
  claim(digest: string, reviewId: string, at: number): boolean {
    return Number(this.q.claim.run(at, digest, reviewId).changes) === 1
  }

  /**
   * The claimed call was forwarded (whatever the upstream answered), or stopped by the re-check at
   * release: its approval is spent.
   */
  forwarded(digest: string, reviewId: string): void {
    this.q.forwarded.run(digest, reviewId)
  }

  private rollback(): void {
    try {
      this.q.rollback.run()
    } catch {
      // No transaction was open: BEGIN itself failed.
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}
