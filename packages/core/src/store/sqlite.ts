import { DatabaseSync, type StatementSync } from 'node:sqlite'
import type { Decision } from '../decision/decision.ts'
import { NotFoundError } from '../errors.ts'
import type { Commitment, LedgerView, Touch, TouchStatus } from '../ledger/types.ts'
import type { Review } from '../review/review.ts'
import type {
  DecideRequest,
  DecisionFilter,
  DecisionWrite,
  ReviewFilter,
  ReviewWrite,
  Store,
  Timeline,
} from './store.ts'

export interface SqliteStoreOptions {
  /**
   * `normal` (default): WAL with synchronous=NORMAL; a committed go survives the process being
   * killed, not a power cut. `full`: every commit is fsynced before it returns.
   */
  durability?: 'normal' | 'full'
  /** How long a writer waits for another process's transaction, in ms (default 5000). */
  busyTimeoutMs?: number
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS decisions (
  id TEXT PRIMARY KEY, at INTEGER NOT NULL, account_id TEXT NOT NULL, agent TEXT NOT NULL, team TEXT NOT NULL,
  verdict TEXT NOT NULL, idempotency_key TEXT, body TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_idempotency ON decisions(agent, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS decisions_account ON decisions(account_id, at);
CREATE INDEX IF NOT EXISTS decisions_at ON decisions(at);
CREATE TABLE IF NOT EXISTS touches (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, contact_id TEXT, agent TEXT, team TEXT, tool TEXT,
  kind TEXT NOT NULL, channel TEXT, outbound INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL,
  decision_id TEXT, source TEXT NOT NULL, note TEXT);
CREATE INDEX IF NOT EXISTS touches_account ON touches(account_id, at);
CREATE INDEX IF NOT EXISTS touches_decision ON touches(decision_id);
CREATE TABLE IF NOT EXISTS commitments (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, contact_id TEXT, kind TEXT NOT NULL, value TEXT NOT NULL,
  team TEXT NOT NULL, agent TEXT NOT NULL, at INTEGER NOT NULL, expires_at INTEGER, decision_id TEXT NOT NULL,
  withdrawn INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS commitments_account ON commitments(account_id);
CREATE TABLE IF NOT EXISTS reviews (
  id TEXT PRIMARY KEY, decision_id TEXT NOT NULL, account_id TEXT NOT NULL, team TEXT NOT NULL,
  status TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reviews_queue ON reviews(status, team, expires_at);
CREATE INDEX IF NOT EXISTS reviews_account ON reviews(account_id);
`

type Row = Record<string, string | number | null>

/**
 * The embedded store: one SQLite file (or `:memory:`) through `node:sqlite`, no set-up. Several
 * processes may share a file: decide-and-reserve runs in `BEGIN IMMEDIATE`, which serializes writers.
 */
export function openSqliteStore(path = ':memory:', options: SqliteStoreOptions = {}): Store {
  return new SqliteStore(path, options)
}

class SqliteStore implements Store {
  private readonly db: DatabaseSync
  private readonly q: Statements

  constructor(path: string, options: SqliteStoreOptions) {
    this.db = new DatabaseSync(path)
    this.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`)
    if (path !== ':memory:') this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec(`PRAGMA synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`)
    this.transaction(() => this.db.exec(SCHEMA))
    this.q = statements(this.db)
  }

  private transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const out = fn()
      this.db.exec('COMMIT')
      return out
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK')
      throw error
    }
  }

  private readLedger(accountId: string, since: Date, now: Date): LedgerView {
    return {
      touches: (this.q.touchesSince.all(accountId, since.getTime()) as Row[]).map(rowToTouch),
      commitments: (this.q.commitmentsAt.all(accountId, now.getTime()) as Row[]).map(rowToCommitment),
    }
  }

  async decide(request: DecideRequest, plan: (ledger: LedgerView) => DecisionWrite): Promise<Decision> {
    return this.transaction(() => {
      if (request.idempotencyKey !== undefined) {
        const prior = this.q.byIdempotency.get(request.agent, request.idempotencyKey) as Row | undefined
        if (prior) return { ...parseDecision(prior.body as string), replayed: true }
      }
      const write = plan(this.readLedger(request.accountId, request.since, request.now))
      const d = write.decision
      this.q.insertDecision.run(
        d.id,
        d.at.getTime(),
        d.accountId,
        d.agent,
        d.team,
        d.verdict,
        d.idempotencyKey ?? null,
        JSON.stringify(d),
      )
      if (write.touch) this.insertTouch(write.touch)
      if (write.commitment) this.insertCommitment(write.commitment)
      if (write.review) this.upsertReview(write.review)
      return d
    })
  }

  async ledger(accountId: string, since: Date, now: Date): Promise<LedgerView> {
    return this.readLedger(accountId, since, now)
  }

  async setTouchStatus(decisionId: string, status: TouchStatus): Promise<Touch | undefined> {
    return this.transaction(() => {
      const row = this.q.touchByDecision.get(decisionId) as Row | undefined
      if (!row) return undefined
      this.q.setTouchStatus.run(status, decisionId)
      if (status === 'failed' || status === 'cancelled') this.q.withdrawCommitment.run(decisionId)
      return { ...rowToTouch(row), status }
    })
  }

  async recordTouch(touch: Touch): Promise<void> {
    this.transaction(() => this.insertTouch(touch))
  }

  async getDecision(id: string): Promise<Decision | undefined> {
    const row = this.q.decision.get(id) as Row | undefined
    return row ? parseDecision(row.body as string) : undefined
  }

  async listDecisions(filter: DecisionFilter = {}): Promise<Decision[]> {
    const where: string[] = []
    const args: (string | number)[] = []
    const eq = (column: string, value: string | undefined) => {
      if (value === undefined) return
      where.push(`${column} = ?`)
      args.push(value)
    }
    eq('account_id', filter.accountId)
    eq('agent', filter.agent)
    eq('team', filter.team)
    eq('verdict', filter.verdict)
    if (filter.rule !== undefined) {
      where.push(
        `EXISTS (SELECT 1 FROM json_each(body, '$.reasons') r WHERE json_extract(r.value, '$.rule') = ?)`,
      )
      args.push(filter.rule)
    }
    if (filter.since) {
      where.push('at >= ?')
      args.push(filter.since.getTime())
    }
    if (filter.until) {
      where.push('at < ?')
      args.push(filter.until.getTime())
    }
    if (filter.before) {
      where.push('at < ?')
      args.push(filter.before.getTime())
    }
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000)
    const sql = `SELECT body FROM decisions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ${limit}`
    return (this.db.prepare(sql).all(...args) as Row[]).map((r) => parseDecision(r.body as string))
  }

  async getReview(id: string): Promise<Review | undefined> {
    const row = this.q.review.get(id) as Row | undefined
    return row ? parseReview(row.body as string) : undefined
  }

  async listReviews(filter: ReviewFilter = {}): Promise<Review[]> {
    const where: string[] = []
    const args: string[] = []
    for (const [column, value] of [
      ['status', filter.status],
      ['team', filter.team],
      ['account_id', filter.accountId],
    ] as const) {
      if (value === undefined) continue
      where.push(`${column} = ?`)
      args.push(value)
    }
    const limit = Math.min(Math.max(filter.limit ?? 500, 1), 5000)
    const sql = `SELECT body FROM reviews ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id LIMIT ${limit}`
    return (this.db.prepare(sql).all(...args) as Row[]).map((r) => parseReview(r.body as string))
  }

  async expiringReviews(at: Date): Promise<Review[]> {
    return (this.q.expiring.all(at.getTime()) as Row[]).map((r) => parseReview(r.body as string))
  }

  async resolveReview(
    reviewId: string,
    window: { since: Date; now: Date },
    plan: (review: Review, decision: Decision, ledger: LedgerView) => ReviewWrite,
  ): Promise<Review> {
    return this.transaction(() => {
      const row = this.q.review.get(reviewId) as Row | undefined
      if (!row) throw new NotFoundError('review', reviewId)
      const review = parseReview(row.body as string)
      const decisionRow = this.q.decision.get(review.decisionId) as Row | undefined
      if (!decisionRow) throw new NotFoundError('decision', review.decisionId)
      const write = plan(
        review,
        parseDecision(decisionRow.body as string),
        this.readLedger(review.accountId, window.since, window.now),
      )
      if (write.touch) this.insertTouch(write.touch)
      if (write.commitment) this.insertCommitment(write.commitment)
      this.upsertReview(write.review)
      return write.review
    })
  }

  async timeline(accountId: string): Promise<Timeline> {
    return {
      accountId,
      touches: (this.q.timelineTouches.all(accountId) as Row[]).map(rowToTouch),
      decisions: (this.q.timelineDecisions.all(accountId) as Row[]).map((r) =>
        parseDecision(r.body as string),
      ),
      reviews: (this.q.timelineReviews.all(accountId) as Row[]).map((r) => parseReview(r.body as string)),
      commitments: (this.q.timelineCommitments.all(accountId) as Row[]).map(rowToCommitment),
    }
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close()
  }

  private insertTouch(t: Touch): void {
    this.q.insertTouch.run(
      t.id,
      t.accountId,
      t.contactId ?? null,
      t.agent ?? null,
      t.team ?? null,
      t.tool ?? null,
      t.kind,
      t.channel ?? null,
      t.outbound ? 1 : 0,
      t.at.getTime(),
      t.status,
      t.decisionId ?? null,
      t.source,
      t.note ?? null,
    )
  }

  private insertCommitment(c: Commitment): void {
    this.q.insertCommitment.run(
      c.id,
      c.accountId,
      c.contactId ?? null,
      c.kind,
      JSON.stringify(c.value),
      c.team,
      c.agent,
      c.at.getTime(),
      c.expiresAt?.getTime() ?? null,
      c.decisionId,
    )
  }

  private upsertReview(r: Review): void {
    this.q.upsertReview.run(
      r.id,
      r.decisionId,
      r.accountId,
      r.team,
      r.status,
      r.createdAt.getTime(),
      r.expiresAt.getTime(),
      JSON.stringify(r),
    )
  }
}

function statements(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql)
  return {
    byIdempotency: p('SELECT body FROM decisions WHERE agent = ? AND idempotency_key = ?'),
    touchesSince: p(
      `SELECT * FROM touches WHERE account_id = ? AND at >= ? AND status IN ('reserved', 'sent') ORDER BY at`,
    ),
    commitmentsAt: p(
      'SELECT * FROM commitments WHERE account_id = ? AND withdrawn = 0 AND (expires_at IS NULL OR expires_at > ?) ORDER BY at',
    ),
    insertDecision: p(
      'INSERT INTO decisions (id, at, account_id, agent, team, verdict, idempotency_key, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertTouch: p(
      `INSERT INTO touches (id, account_id, contact_id, agent, team, tool, kind, channel, outbound, at, status, decision_id, source, note)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertCommitment: p(
      `INSERT INTO commitments (id, account_id, contact_id, kind, value, team, agent, at, expires_at, decision_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertReview: p(
      `INSERT INTO reviews (id, decision_id, account_id, team, status, created_at, expires_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body`,
    ),
    touchByDecision: p('SELECT * FROM touches WHERE decision_id = ?'),
    setTouchStatus: p('UPDATE touches SET status = ? WHERE decision_id = ?'),
    withdrawCommitment: p('UPDATE commitments SET withdrawn = 1 WHERE decision_id = ?'),
    decision: p('SELECT body FROM decisions WHERE id = ?'),
    review: p('SELECT body FROM reviews WHERE id = ?'),
    expiring: p(`SELECT body FROM reviews WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at`),
    timelineTouches: p('SELECT * FROM touches WHERE account_id = ? ORDER BY at'),
    timelineDecisions: p('SELECT body FROM decisions WHERE account_id = ? ORDER BY at'),
    timelineReviews: p('SELECT body FROM reviews WHERE account_id = ? ORDER BY created_at'),
    timelineCommitments: p('SELECT * FROM commitments WHERE account_id = ? ORDER BY at'),
  }
}
type Statements = ReturnType<typeof statements>

const DECISION_DATES = ['at', 'retryAfter'] as const
const REVIEW_DATES = ['createdAt', 'expiresAt', 'resolvedAt'] as const

export function parseDecision(body: string): Decision {
  const d = JSON.parse(body)
  for (const k of DECISION_DATES) if (d[k] !== undefined) d[k] = new Date(d[k])
  return d
}

export function parseReview(body: string): Review {
  const r = JSON.parse(body)
  for (const k of REVIEW_DATES) if (r[k] !== undefined) r[k] = new Date(r[k])
  return r
}

function rowToTouch(r: Row): Touch {
  const t: Touch = {
    id: r.id as string,
    accountId: r.account_id as string,
    kind: r.kind as string,
    outbound: r.outbound === 1,
    at: new Date(r.at as number),
    status: r.status as TouchStatus,
    source: r.source as Touch['source'],
  }
  if (r.contact_id !== null) t.contactId = r.contact_id as string
  if (r.agent !== null) t.agent = r.agent as string
  if (r.team !== null) t.team = r.team as string
  if (r.tool !== null) t.tool = r.tool as string
  if (r.channel !== null) t.channel = r.channel as string
  if (r.decision_id !== null) t.decisionId = r.decision_id as string
  if (r.note !== null) t.note = r.note as string
  return t
}

function rowToCommitment(r: Row): Commitment {
  const c: Commitment = {
    id: r.id as string,
    accountId: r.account_id as string,
    kind: r.kind as string,
    value: JSON.parse(r.value as string),
    team: r.team as string,
    agent: r.agent as string,
    at: new Date(r.at as number),
    decisionId: r.decision_id as string,
  }
  if (r.contact_id !== null) c.contactId = r.contact_id as string
  if (r.expires_at !== null) c.expiresAt = new Date(r.expires_at as number)
  return c
}
