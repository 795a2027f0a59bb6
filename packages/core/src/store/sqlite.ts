import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite'
import { Worker } from 'node:worker_threads'
import { type CandidateDiff, parseCandidateDiff } from '../candidate/diff.ts'
import type { Decision } from '../decision/decision.ts'
import { InputError, NotFoundError } from '../errors.ts'
import { MAX_IDENTITIES, type Person, personOf } from '../ledger/identity.ts'
import {
  COUNTING_STATUSES,
  type Commitment,
  type Identity,
  type LedgerView,
  type Suppression,
  type Touch,
  type TouchStatus,
} from '../ledger/types.ts'
import {
  type OutboxFilter,
  type OutboxMessage,
  type OutboxSettlement,
  parseOutbox,
  retried,
  settle,
} from '../outbox/outbox.ts'
import type { Review } from '../review/review.ts'
import {
  candidateDiffFilterSql,
  decisionFilterSql,
  outboxFilterSql,
  reviewFilterSql,
  type SqlDialect,
  suppressionFilterSql,
} from './filters.ts'
import { addTouch, type Entry, LedgerCache } from './ledger-cache.ts'
import { nodeSqlite, WORKER_SQLITE } from './node-sqlite.ts'
import { PRUNE_CHUNK, PRUNED, pruneChunk, pruneCount, pruneCountCandidateDiffs } from './prune-sqlite.ts'
import { commitmentFromRow, type RowReader, touchFromRow } from './rows.ts'
import { checkTransition, replayOf, timelineLimit } from './rules.ts'
import type {
  CandidateDiffFilter,
  DecideRequest,
  DecisionFilter,
  DecisionWrite,
  PruneReport,
  PruneRequest,
  ReviewFilter,
  ReviewWrite,
  Store,
  SuppressionFilter,
  SuppressionLift,
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
  /** Most writes committed together in one transaction (group commit; default 256). */
  maxBatch?: number
  /**
   * `background` (default for files): a worker thread with its own connection checkpoints the WAL
   * into the database file, so deciders never wait for it. `inline`: SQLite's own auto-checkpoint,
   * run by whichever commit crosses 1000 pages.
   */
  checkpoint?: 'background' | 'inline'
}

// Runs in a worker thread: copies the WAL into the database file every 100 ms. PASSIVE never
// blocks writers; the deciding connection's own auto-checkpoint (at 20,000 pages) is only a backstop.
const CHECKPOINTER = `${WORKER_SQLITE}
const { workerData } = require('node:worker_threads')
const db = new DatabaseSync(workerData.path)
db.exec('PRAGMA busy_timeout = 1000')
setInterval(() => { try { db.exec('PRAGMA wal_checkpoint(PASSIVE)') } catch {} }, 100).unref()
`

const SCHEMA = `
CREATE TABLE IF NOT EXISTS decisions (
  id TEXT PRIMARY KEY, at INTEGER NOT NULL, account_id TEXT NOT NULL, agent TEXT NOT NULL, team TEXT NOT NULL,
  verdict TEXT NOT NULL, idempotency_key TEXT, touch_id TEXT, body TEXT NOT NULL, request_hash TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_idempotency ON decisions(agent, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS decisions_account ON decisions(account_id, at);
CREATE INDEX IF NOT EXISTS decisions_at ON decisions(at);
CREATE TABLE IF NOT EXISTS touches (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, contact_id TEXT, agent TEXT, team TEXT, tool TEXT,
  kind TEXT NOT NULL, channel TEXT, outbound INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL,
  decision_id TEXT, source TEXT NOT NULL, note TEXT, external_id TEXT, email TEXT, attributes TEXT);
CREATE INDEX IF NOT EXISTS touches_account ON touches(account_id, at);
CREATE TABLE IF NOT EXISTS commitments (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, contact_id TEXT, kind TEXT NOT NULL, value TEXT NOT NULL,
  team TEXT NOT NULL, agent TEXT NOT NULL, at INTEGER NOT NULL, expires_at INTEGER, decision_id TEXT NOT NULL,
  withdrawn INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS commitments_account ON commitments(account_id);
CREATE INDEX IF NOT EXISTS commitments_decision ON commitments(decision_id);
CREATE TABLE IF NOT EXISTS reviews (
  id TEXT PRIMARY KEY, decision_id TEXT NOT NULL, account_id TEXT NOT NULL, team TEXT NOT NULL,
  status TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reviews_queue ON reviews(status, team, expires_at);
CREATE INDEX IF NOT EXISTS reviews_account ON reviews(account_id);
CREATE TABLE IF NOT EXISTS outbox (
  id TEXT PRIMARY KEY, channel TEXT NOT NULL, status TEXT NOT NULL, next_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(channel, status, next_at);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS suppressions (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, at INTEGER NOT NULL, external_id TEXT, body TEXT NOT NULL,
  lifted_at INTEGER);
CREATE INDEX IF NOT EXISTS suppressions_account ON suppressions(account_id, at);
CREATE UNIQUE INDEX IF NOT EXISTS suppressions_external ON suppressions(external_id) WHERE external_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS identities (
  account_id TEXT NOT NULL, contact_id TEXT NOT NULL, email TEXT NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (account_id, contact_id, email)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identities_email ON identities(account_id, email);
CREATE TABLE IF NOT EXISTS candidate_diffs (
  decision_id TEXT PRIMARY KEY, at INTEGER NOT NULL, candidate_version TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS candidate_diffs_at ON candidate_diffs(candidate_version, at);
`

type Row = Record<string, string | number | null>

/** Times are epoch milliseconds; the body is JSON text. */
const SQLITE: SqlDialect = {
  param: () => '?',
  time: (at) => at.getTime(),
  bodyText: (field) => `json_extract(body, '$.${field}')`,
  hasRule: `EXISTS (SELECT 1 FROM json_each(body, '$.reasons') r WHERE json_extract(r.value, '$.rule') = ?)`,
  ruleArg: (rule) => rule,
}

/**
 * The embedded store: one SQLite file (or `:memory:`) through `node:sqlite`, no set-up. Several
 * processes may share a file: decide-and-reserve runs in `BEGIN IMMEDIATE`, which serializes writers.
 */
export function openSqliteStore(path = ':memory:', options: SqliteStoreOptions = {}): Store {
  return new SqliteStore(path, options)
}

type Job = { run: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }

class SqliteStore implements Store {
  private readonly db: DatabaseSync
  private readonly q: Statements
  private readonly maxBatch: number
  private queue: Job[] = []
  private flushing = false
  private readonly cache = new LedgerCache()
  private readonly checkpointer: Worker | undefined
  /** `PRAGMA data_version` when last checked: it changes when another connection commits. */
  private dataVersion = -1

  constructor(path: string, options: SqliteStoreOptions) {
    this.db = new (nodeSqlite().DatabaseSync)(path)
    this.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`)
    if (path !== ':memory:') this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec(`PRAGMA synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`)
    this.maxBatch = Math.max(1, options.maxBatch ?? 256)
    if (path !== ':memory:' && options.checkpoint !== 'inline') {
      this.db.exec('PRAGMA wal_autocheckpoint = 20000')
      this.checkpointer = new Worker(CHECKPOINTER, { eval: true, workerData: { path } })
      this.checkpointer.unref()
      // A checkpointer that fails costs only WAL size; the backstop above still bounds it.
      this.checkpointer.on('error', () => this.db.isOpen && this.db.exec('PRAGMA wal_autocheckpoint = 1000'))
    }
    migrate(this.db)
    this.q = statements(this.db)
  }

  /**
   * Group commit: writes queued in the same turn of the event loop run one after another in a
   * single `BEGIN IMMEDIATE … COMMIT`. Every promise settles after the COMMIT, so an answered go is
   * on disk, and the commit's cost is shared by the batch. If any job throws, the batch is rolled
   * back and each job re-run in a transaction of its own, so one bad job undoes only itself.
   * (Savepoints per job would do the same but cost ~20 µs each here.)
   */
  private write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (v: unknown) => void, reject })
      if (!this.flushing) {
        this.flushing = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.maxBatch)
    try {
      const values = this.transaction(() => batch.map((job) => job.run()))
      for (const [i, job] of batch.entries()) job.resolve(values[i])
    } catch {
      // Our cached ledgers may hold writes that were just rolled back.
      this.cache.clear()
      for (const job of batch) {
        try {
          job.resolve(this.transaction(job.run))
        } catch (error) {
          this.cache.clear()
          job.reject(error)
        }
      }
    }
    if (this.queue.length) setImmediate(() => this.flush())
    else this.flushing = false
  }

  private transaction<T>(fn: () => T): T {
    this.q.begin.run()
    try {
      // No other connection commits while we hold the write lock: once per transaction is enough.
      this.checkDataVersion()
      const out = fn()
      this.q.commit.run()
      return out
    } catch (error) {
      if (this.db.isTransaction) this.q.rollback.run()
      throw error
    }
  }

  /** Another process wrote to this file since we last looked: our cached ledgers may be stale. */
  private checkDataVersion(): void {
    const version = (this.q.dataVersion.get() as Row).data_version as number
    if (version !== this.dataVersion) {
      this.cache.clear()
      this.dataVersion = version
    }
  }

  private readLedger(accountId: string, since: Date, now: Date, person?: Person): LedgerView {
    if (!this.db.isTransaction) this.checkDataVersion()
    let entry = this.cache.get(accountId, since.getTime())
    if (!entry) {
      entry = {
        since: since.getTime(),
        touches: (this.q.touchesSince.all(accountId, since.getTime()) as Row[]).map(rowToTouch),
        commitments: (this.q.commitmentsOpen.all(accountId) as Row[]).map(rowToCommitment),
        suppressions: (this.q.suppressionsOf.all(accountId) as Row[]).map((r) =>
          parseSuppression(r.body as string),
        ),
      }
      this.cache.set(accountId, entry)
    }
    const from = since.getTime()
    const at = now.getTime()
    // Touches are kept in time order: skip the ones before the window, copying only if there are any.
    const first = firstAtOrAfter(entry.touches, from)
    const view: LedgerView = {
      touches: first === 0 ? entry.touches : entry.touches.slice(first),
      commitments: entry.commitments.every((c) => !c.expiresAt || c.expiresAt.getTime() > at)
        ? entry.commitments
        : entry.commitments.filter((c) => !c.expiresAt || c.expiresAt.getTime() > at),
      suppressions: entry.suppressions,
    }
    // Read for someone: that person's links (none for a request naming no contact).
    if (person) view.identities = this.identitiesOf(entry, accountId, person)
    return view
  }

  /** The person's links (its connected ids and addresses), from the account's cache entry when there. */
  private identitiesOf(entry: Entry, accountId: string, person: Person): Identity[] {
    const key = JSON.stringify([person.contactId ?? null, person.email ?? null])
    entry.people ??= new Map()
    let links = entry.people.get(key)
    if (!links) {
      links = (
        this.q.identitiesOf.all(accountId, person.contactId ?? null, person.email ?? null) as Row[]
      ).map((r) => ({ contactId: r.contact_id as string, email: r.email as string }))
      if (entry.people.size >= 1000) entry.people.clear()
      entry.people.set(key, links)
    }
    return links
  }

  /** Keeps a link between a contact id and an address (once); the account's cached people go. */
  private link(accountId: string, identity: Identity, at: Date): void {
    const { changes } = this.q.insertIdentity.run(accountId, identity.contactId, identity.email, at.getTime())
    if (changes)
      this.changed(accountId, (entry) => {
        entry.people = undefined
      })
  }

  /** Applies this connection's own change to the account's cached ledger, if it has one. */
  private changed(accountId: string, change: Parameters<LedgerCache['update']>[1]): void {
    this.cache.update(accountId, change)
  }

  async decide(request: DecideRequest, plan: (ledger: LedgerView) => DecisionWrite): Promise<Decision> {
    return this.write(() => {
      if (request.idempotencyKey !== undefined) {
        const prior = this.q.byIdempotency.get(request.agent, request.idempotencyKey) as Row | undefined
        if (prior)
          return replayOf(request, parseDecision(prior.body as string), prior.request_hash as string | null)
      }
      const write = plan(this.readLedger(request.accountId, request.since, request.now, request.person))
      const d = write.decision
      this.q.insertDecision.run(
        d.id,
        d.at.getTime(),
        d.accountId,
        d.agent,
        d.team,
        d.verdict,
        d.idempotencyKey ?? null,
        write.touch?.id ?? null,
        JSON.stringify(d),
        request.requestHash ?? null,
      )
      if (write.touch) this.insertTouch(write.touch)
      if (write.commitment) this.insertCommitment(write.commitment)
      if (write.review) this.upsertReview(write.review)
      if (write.identity) this.link(d.accountId, write.identity, d.at)
      for (const m of write.outbox ?? []) this.putOutbox(m)
      const diff = write.candidateDiff
      if (diff)
        this.q.insertCandidateDiff.run(
          diff.decisionId,
          diff.at.getTime(),
          diff.candidateVersion,
          JSON.stringify(diff),
        )
      return d
    })
  }

  async ledger(accountId: string, since: Date, now: Date, person?: Person): Promise<LedgerView> {
    return this.readLedger(accountId, since, now, person)
  }

  async setTouchStatus(decisionId: string, status: TouchStatus): Promise<Touch | undefined> {
    return this.write(() => {
      // A decision row names the touch it reserved (no index on touches.decision_id to keep up).
      const touchId = (this.q.touchOfDecision.get(decisionId) as Row | undefined)?.touch_id
      const row = touchId ? (this.q.touch.get(touchId) as Row | undefined) : undefined
      if (!row) return undefined
      const touch = rowToTouch(row)
      if (touch.status === status) return touch
      checkTransition(decisionId, touch.status, status)
      this.q.setTouchStatus.run(status, touch.id)
      const withdraw = !COUNTING_STATUSES.includes(status)
      if (withdraw) this.q.withdrawCommitment.run(decisionId)
      this.changed(touch.accountId, (entry) => {
        entry.touches = withdraw
          ? entry.touches.filter((t) => t.id !== touch.id)
          : entry.touches.map((t) => (t.id === touch.id ? { ...t, status } : t))
        if (withdraw) entry.commitments = entry.commitments.filter((c) => c.decisionId !== decisionId)
      })
      return { ...touch, status }
    })
  }

  async recordSuppression(s: Suppression): Promise<Suppression> {
    return this.write(() => {
      if (s.externalId !== undefined) {
        const first = this.q.suppressionByExternalId.get(s.externalId) as Row | undefined
        if (first) return parseSuppression(first.body as string)
      }
      this.q.insertSuppression.run(s.id, s.accountId, s.at.getTime(), s.externalId ?? null, JSON.stringify(s))
      this.changed(s.accountId, (entry) => {
        entry.suppressions = [...entry.suppressions, s]
      })
      return s
    })
  }

  async liftSuppression(id: string, lift: SuppressionLift): Promise<Suppression> {
    return this.write(() => {
      const row = this.q.suppression.get(id) as Row | undefined
      if (!row) throw new NotFoundError('suppression', id)
      const s = parseSuppression(row.body as string)
      if (s.liftedAt) return s
      const lifted: Suppression = {
        ...s,
        liftedAt: lift.at,
        liftedBy: lift.by,
        ...(lift.note !== undefined ? { liftNote: lift.note } : {}),
      }
      this.q.liftSuppression.run(lift.at.getTime(), JSON.stringify(lifted), id)
      this.changed(s.accountId, (entry) => {
        entry.suppressions = entry.suppressions.filter((x) => x.id !== id)
      })
      return lifted
    })
  }

  async listSuppressions(filter: SuppressionFilter = {}): Promise<Suppression[]> {
    const f = suppressionFilterSql(filter, SQLITE)
    const sql = `SELECT body FROM suppressions ${f.where} ORDER BY at, id LIMIT ${f.limit}`
    return this.all(sql, f.args).map((r) => parseSuppression(r.body as string))
  }

  async recordTouch(touch: Touch): Promise<Touch> {
    return this.write(() => {
      if (touch.externalId !== undefined) {
        const first = this.q.touchByExternalId.get(touch.externalId) as Row | undefined
        if (first) return rowToTouch(first)
      }
      this.insertTouch(touch)
      if (touch.contactId !== undefined && touch.email !== undefined)
        this.link(touch.accountId, { contactId: touch.contactId, email: touch.email }, touch.at)
      return touch
    })
  }

  async getDecision(id: string): Promise<Decision | undefined> {
    const row = this.q.decision.get(id) as Row | undefined
    return row ? parseDecision(row.body as string) : undefined
  }

  async listDecisions(filter: DecisionFilter = {}): Promise<Decision[]> {
    const f = decisionFilterSql(filter, SQLITE)
    const sql = `SELECT body FROM decisions ${f.where} ORDER BY at DESC, id DESC LIMIT ${f.limit}`
    return this.all(sql, f.args).map((r) => parseDecision(r.body as string))
  }

  async getReview(id: string): Promise<Review | undefined> {
    const row = this.q.review.get(id) as Row | undefined
    return row ? parseReview(row.body as string) : undefined
  }

  async listReviews(filter: ReviewFilter = {}): Promise<Review[]> {
    const f = reviewFilterSql(filter, SQLITE)
    const sql = `SELECT body FROM reviews ${f.where} ORDER BY created_at, id LIMIT ${f.limit}`
    return this.all(sql, f.args).map((r) => parseReview(r.body as string))
  }

  async expiringReviews(at: Date): Promise<Review[]> {
    return (this.q.expiring.all(at.getTime()) as Row[]).map((r) => parseReview(r.body as string))
  }

  async resolveReview(
    reviewId: string,
    window: { since: Date; now: Date },
    plan: (review: Review, decision: Decision, ledger: LedgerView) => ReviewWrite,
  ): Promise<Review> {
    return this.write(() => {
      const row = this.q.review.get(reviewId) as Row | undefined
      if (!row) throw new NotFoundError('review', reviewId)
      const review = parseReview(row.body as string)
      const decisionRow = this.q.decision.get(review.decisionId) as Row | undefined
      if (!decisionRow) throw new NotFoundError('decision', review.decisionId)
      const decision = parseDecision(decisionRow.body as string)
      const write = plan(
        review,
        decision,
        this.readLedger(review.accountId, window.since, window.now, personOf(decision)),
      )
      if (write.touch) {
        this.insertTouch(write.touch)
        this.q.setDecisionTouch.run(write.touch.id, review.decisionId)
      }
      if (write.commitment) this.insertCommitment(write.commitment)
      this.upsertReview(write.review)
      for (const m of write.outbox ?? []) this.putOutbox(m)
      return write.review
    })
  }

  private putOutbox(m: OutboxMessage): void {
    this.q.putOutbox.run(
      m.id,
      m.channel,
      m.status,
      m.nextAt.getTime(),
      m.createdAt.getTime(),
      JSON.stringify(m),
    )
  }

  private outboxMessage(id: string): OutboxMessage {
    const row = this.q.outboxById.get(id) as Row | undefined
    if (!row) throw new NotFoundError('outbox message', id)
    return parseOutbox(row.body as string)
  }

  async claimOutbox(channel: string, now: Date, leaseMs: number, limit: number): Promise<OutboxMessage[]> {
    // One write transaction (BEGIN IMMEDIATE): no other connection claims in between.
    return this.write(() => {
      const due = this.q.outboxDue.all(channel, now.getTime(), Math.min(Math.max(limit, 1), 1000)) as Row[]
      return due.map((row) => {
        const m = parseOutbox(row.body as string)
        const claimed = { ...m, attempts: m.attempts + 1, nextAt: new Date(now.getTime() + leaseMs) }
        this.putOutbox(claimed)
        return claimed
      })
    })
  }

  async settleOutbox(id: string, settlement: OutboxSettlement): Promise<OutboxMessage> {
    return this.write(() => {
      const settled = settle(this.outboxMessage(id), settlement)
      this.putOutbox(settled)
      return settled
    })
  }

  async listOutbox(filter: OutboxFilter = {}): Promise<OutboxMessage[]> {
    const f = outboxFilterSql(filter, SQLITE)
    const sql = `SELECT body FROM outbox ${f.where} ORDER BY created_at, id LIMIT ${f.limit}`
    return this.all(sql, f.args).map((r) => parseOutbox(r.body as string))
  }

  private all(sql: string, args: unknown[]): Row[] {
    return this.db.prepare(sql).all(...(args as SQLInputValue[])) as Row[]
  }

  async prune(request: PruneRequest): Promise<PruneReport> {
    // A time that is no time would compare as NULL and remove nothing, silently.
    for (const [field, at] of Object.entries({
      touchesBefore: request.touchesBefore,
      decisionsBefore: request.decisionsBefore,
      now: request.now,
    }))
      if (Number.isNaN(at.getTime())) throw new InputError('AT_OUT_OF_RANGE', 'not a valid time', [field])
    const report: PruneReport = {
      touches: 0,
      decisions: 0,
      reviews: 0,
      commitments: 0,
      candidateDiffs: 0,
      months: [],
    }
    if (request.dryRun)
      report.candidateDiffs = await this.write(() => pruneCountCandidateDiffs(this.db, request))
    for (const kind of PRUNED) {
      if (request.dryRun) {
        report[kind] = await this.write(() => pruneCount(this.db, request, kind))
        continue
      }
      for (let removed = PRUNE_CHUNK; removed === PRUNE_CHUNK; report[kind] += removed) {
        const chunk = await this.write(() => pruneChunk(this.db, request, kind))
        removed = chunk.removed
        report.candidateDiffs += chunk.candidateDiffs
      }
    }
    // Cached ledgers may hold what was removed.
    this.cache.clear()
    return report
  }

  async readState(key: string): Promise<string | undefined> {
    return (this.q.readState.get(key) as Row | undefined)?.value as string | undefined
  }

  async writeState(key: string, value: string): Promise<void> {
    await this.write(() => this.q.writeState.run(key, value, Date.now()))
  }

  async updateState(key: string, change: (value: string | undefined) => string): Promise<string> {
    return this.write(() => {
      const value = change((this.q.readState.get(key) as Row | undefined)?.value as string | undefined)
      this.q.writeState.run(key, value, Date.now())
      return value
    })
  }

  async listCandidateDiffs(filter: CandidateDiffFilter = {}): Promise<CandidateDiff[]> {
    const f = candidateDiffFilterSql(filter, SQLITE)
    const sql = `SELECT body FROM candidate_diffs ${f.where} ORDER BY at DESC, decision_id DESC LIMIT ${f.limit}`
    return this.all(sql, f.args).map((r) => parseCandidateDiff(r.body as string))
  }

  async retryOutbox(id: string, now: Date): Promise<OutboxMessage> {
    return this.write(() => {
      const again = retried(this.outboxMessage(id), now)
      this.putOutbox(again)
      return again
    })
  }

  async timeline(accountId: string, limit = 1000): Promise<Timeline> {
    const n = timelineLimit(limit)
    return {
      accountId,
      touches: (this.q.timelineTouches.all(accountId, n) as Row[]).map(rowToTouch),
      decisions: (this.q.timelineDecisions.all(accountId, n) as Row[]).map((r) =>
        parseDecision(r.body as string),
      ),
      reviews: (this.q.timelineReviews.all(accountId, n) as Row[]).map((r) => parseReview(r.body as string)),
      commitments: (this.q.timelineCommitments.all(accountId, n) as Row[]).map(rowToCommitment),
    }
  }

  async close(): Promise<void> {
    // Let queued writes commit first: nothing half-written, nothing dropped.
    while (this.flushing) await new Promise((resolve) => setImmediate(resolve))
    await this.checkpointer?.terminate()
    if (this.db.isOpen) this.db.close()
  }

  private insertTouch(t: Touch): void {
    this.changed(t.accountId, (entry) => addTouch(entry, t))
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
      t.externalId ?? null,
      t.email ?? null,
      t.attributes === undefined ? null : JSON.stringify(t.attributes),
    )
  }

  private insertCommitment(c: Commitment): void {
    this.changed(c.accountId, (entry) => {
      entry.commitments = [...entry.commitments, c]
    })
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

/** The index of a time-ordered list's first touch at or after `from` (its length if none). */
function firstAtOrAfter(touches: readonly Touch[], from: number): number {
  let low = 0
  let high = touches.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if ((touches[mid] as Touch).at.getTime() < from) low = mid + 1
    else high = mid
  }
  return low
}

/** Makes the tables, and adds what files made by earlier versions lack. */
function migrate(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec(SCHEMA)
    // Files made before idempotency keys were bound to their requests lack the column.
    const columns = db.prepare('PRAGMA table_info(decisions)').all() as Row[]
    if (!columns.some((c) => c.name === 'request_hash'))
      db.exec('ALTER TABLE decisions ADD COLUMN request_hash TEXT')
    // …and files made before touches named their source's id lack that one.
    const touchColumns = db.prepare('PRAGMA table_info(touches)').all() as Row[]
    if (!touchColumns.some((c) => c.name === 'external_id'))
      db.exec('ALTER TABLE touches ADD COLUMN external_id TEXT')
    // …and files made before touches kept the address they were sent to lack that one (their
    // touches keep none; the identities table is new to them, made above).
    if (!touchColumns.some((c) => c.name === 'email')) db.exec('ALTER TABLE touches ADD COLUMN email TEXT')
    // …and files made before touches kept their action's attributes lack that one (theirs keep none).
    if (!touchColumns.some((c) => c.name === 'attributes'))
      db.exec('ALTER TABLE touches ADD COLUMN attributes TEXT')
    db.exec(
      'CREATE UNIQUE INDEX IF NOT EXISTS touches_external ON touches(external_id) WHERE external_id IS NOT NULL',
    )
    // …and files made before suppressions could be lifted lack that one (all theirs are in force).
    const suppressionColumns = db.prepare('PRAGMA table_info(suppressions)').all() as Row[]
    if (!suppressionColumns.some((c) => c.name === 'lifted_at'))
      db.exec('ALTER TABLE suppressions ADD COLUMN lifted_at INTEGER')
    db.exec('COMMIT')
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK')
    throw error
  }
}

function statements(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql)
  return {
    // Prepared once: exec() would parse them again for every batch.
    begin: p('BEGIN IMMEDIATE'),
    commit: p('COMMIT'),
    rollback: p('ROLLBACK'),
    byIdempotency: p('SELECT body, request_hash FROM decisions WHERE agent = ? AND idempotency_key = ?'),
    touchesSince: p(
      `SELECT * FROM touches WHERE account_id = ? AND at >= ? AND status IN ('reserved', 'sent') ORDER BY at`,
    ),
    commitmentsOpen: p('SELECT * FROM commitments WHERE account_id = ? AND withdrawn = 0 ORDER BY at'),
    dataVersion: p('PRAGMA data_version'),
    insertDecision: p(
      'INSERT INTO decisions (id, at, account_id, agent, team, verdict, idempotency_key, touch_id, body, request_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertTouch: p(
      `INSERT INTO touches (id, account_id, contact_id, agent, team, tool, kind, channel, outbound, at, status, decision_id, source, note, external_id, email, attributes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    touchByExternalId: p('SELECT * FROM touches WHERE external_id = ?'),
    // A person: the links naming its id or address, then every link naming an id or address of
    // those, until none is new (UNION drops repeats, so it ends); at most MAX_IDENTITIES of them.
    identitiesOf: p(
      `WITH RECURSIVE person(contact_id, email) AS (
         SELECT contact_id, email FROM identities WHERE account_id = ?1 AND (contact_id = ?2 OR email = ?3)
         UNION
         SELECT i.contact_id, i.email FROM identities i JOIN person p
           ON i.account_id = ?1 AND (i.contact_id = p.contact_id OR i.email = p.email)
         LIMIT ${MAX_IDENTITIES})
       SELECT contact_id, email FROM person ORDER BY contact_id, email`,
    ),
    insertIdentity: p(
      'INSERT INTO identities (account_id, contact_id, email, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    suppressionsOf: p(
      'SELECT body FROM suppressions WHERE account_id = ? AND lifted_at IS NULL ORDER BY at, id',
    ),
    suppression: p('SELECT body FROM suppressions WHERE id = ?'),
    liftSuppression: p('UPDATE suppressions SET lifted_at = ?, body = ? WHERE id = ?'),
    suppressionByExternalId: p('SELECT body FROM suppressions WHERE external_id = ?'),
    insertSuppression: p(
      'INSERT INTO suppressions (id, account_id, at, external_id, body) VALUES (?, ?, ?, ?, ?)',
    ),
    readState: p('SELECT value FROM state WHERE key = ?'),
    insertCandidateDiff: p(
      'INSERT INTO candidate_diffs (decision_id, at, candidate_version, body) VALUES (?, ?, ?, ?)',
    ),
    writeState: p(
      `INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    ),
    insertCommitment: p(
      `INSERT INTO commitments (id, account_id, contact_id, kind, value, team, agent, at, expires_at, decision_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertReview: p(
      `INSERT INTO reviews (id, decision_id, account_id, team, status, created_at, expires_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body`,
    ),
    touchOfDecision: p('SELECT touch_id FROM decisions WHERE id = ?'),
    setDecisionTouch: p('UPDATE decisions SET touch_id = ? WHERE id = ?'),
    touch: p('SELECT * FROM touches WHERE id = ?'),
    setTouchStatus: p('UPDATE touches SET status = ? WHERE id = ?'),
    withdrawCommitment: p('UPDATE commitments SET withdrawn = 1 WHERE decision_id = ?'),
    decision: p('SELECT body FROM decisions WHERE id = ?'),
    review: p('SELECT body FROM reviews WHERE id = ?'),
    expiring: p(`SELECT body FROM reviews WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at`),
    // The newest `limit` of each, oldest first.
    putOutbox: p(
      `INSERT INTO outbox (id, channel, status, next_at, created_at, body) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, next_at = excluded.next_at, body = excluded.body`,
    ),
    outboxById: p('SELECT body FROM outbox WHERE id = ?'),
    outboxDue: p(
      `SELECT body FROM outbox WHERE channel = ? AND status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?`,
    ),
    timelineTouches: p(
      'SELECT * FROM (SELECT * FROM touches WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT ?) ORDER BY at, id',
    ),
    timelineDecisions: p(
      'SELECT body FROM (SELECT body, at, id FROM decisions WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT ?) ORDER BY at, id',
    ),
    timelineReviews: p(
      'SELECT body FROM (SELECT body, created_at, id FROM reviews WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?) ORDER BY created_at, id',
    ),
    timelineCommitments: p(
      'SELECT * FROM (SELECT * FROM commitments WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT ?) ORDER BY at, id',
    ),
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

export function parseSuppression(body: string): Suppression {
  const s = JSON.parse(body)
  s.at = new Date(s.at)
  if (s.liftedAt !== undefined) s.liftedAt = new Date(s.liftedAt)
  return s
}

export function parseReview(body: string): Review {
  const r = JSON.parse(body)
  for (const k of REVIEW_DATES) if (r[k] !== undefined) r[k] = new Date(r[k])
  return r
}

/** node:sqlite hands times over as epoch ms, booleans as 0/1, JSON as text. */
const READ: RowReader = {
  date: (v) => new Date(v as number),
  bool: (v) => v === 1,
  json: (v) => JSON.parse(v as string),
}
const rowToTouch = (r: Row): Touch => touchFromRow(r, READ)

const rowToCommitment = (r: Row): Commitment => commitmentFromRow(r, READ)
