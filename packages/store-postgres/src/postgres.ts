import type {
  Commitment,
  DecideRequest,
  Decision,
  DecisionFilter,
  DecisionWrite,
  LedgerView,
  Review,
  ReviewFilter,
  ReviewWrite,
  Store,
  Timeline,
  Touch,
  TouchStatus,
} from '@remit/core'
import { NotFoundError } from '@remit/core'
import pg from 'pg'
import { MIGRATIONS } from './schema.ts'

export interface PostgresStoreOptions {
  /** Schema holding Remit's tables (created if missing; default `public`). */
  schema?: string
  /** Most connections per instance (default 16). */
  maxConnections?: number
  /** Extra `pg` pool settings. */
  pool?: pg.PoolConfig
}

// Fixed key for the migration lock (any 64-bit number unique to Remit).
const MIGRATION_LOCK = 7_254_137_209_114_223n

type Row = Record<string, unknown>
type Client = pg.PoolClient

/**
 * The shared store: several Remit instances on one PostgreSQL database. Decide-and-reserve takes a
 * transaction-scoped advisory lock on the account, so instances scale across accounts and never
 * race within one. Migrations run on open, once, under an advisory lock.
 */
export async function openPostgresStore(
  connection: string | pg.PoolConfig,
  options: PostgresStoreOptions = {},
): Promise<Store> {
  const schema = options.schema ?? 'public'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new Error(`invalid schema name "${schema}": use lower-case letters, digits and _`)
  const pool = new pg.Pool({
    ...(typeof connection === 'string' ? { connectionString: connection } : connection),
    max: options.maxConnections ?? 16,
    ...options.pool,
    options: `-c search_path=${schema}`,
  })
  pool.on('error', () => {}) // an idle client's connection dropped; the pool replaces it
  try {
    await migrate(pool, schema)
  } catch (error) {
    await pool.end()
    throw error
  }
  return new PostgresStore(pool)
}

async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      await client.query(
        'CREATE TABLE IF NOT EXISTS remit_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      )
      const { rows } = await client.query('SELECT coalesce(max(version), 0) AS v FROM remit_migrations')
      for (let v = (rows[0] as { v: number }).v; v < MIGRATIONS.length; v++) {
        await client.query('BEGIN')
        await client.query(MIGRATIONS[v] as string)
        await client.query('INSERT INTO remit_migrations (version) VALUES ($1)', [v + 1])
        await client.query('COMMIT')
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

/** The account's counting touches since `since` and its commitments outstanding at `now`, as JSON. */
const ledgerQuery = (account: string, since: string, now: string) => `
SELECT
  (SELECT coalesce(json_agg(t ORDER BY t.at), '[]') FROM remit_touches t
    WHERE t.account_id = ${account} AND t.at >= ${since} AND t.status IN ('reserved', 'sent')) AS touches,
  (SELECT coalesce(json_agg(c ORDER BY c.at), '[]') FROM remit_commitments c
    WHERE c.account_id = ${account} AND NOT c.withdrawn AND (c.expires_at IS NULL OR c.expires_at > ${now})) AS commitments`

/** A SQL literal: strings and JSON escaped by pg's `escapeLiteral`, the rest formatted. */
function lit(client: Client, v: unknown): string {
  if (v === undefined || v === null) return 'NULL'
  if (v instanceof Date) return `'${v.toISOString()}'::timestamptz`
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE'
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (typeof v === 'string') return client.escapeLiteral(v)
  return `${client.escapeLiteral(JSON.stringify(v))}::jsonb`
}

/** One statement writing a decision and whatever it reserved, flagged or promised. */
function insertSql(l: (v: unknown) => string, write: DecisionWrite): string {
  const values = (xs: unknown[]) => `VALUES (${xs.map(l).join(', ')})`
  const d = write.decision
  const parts = [
    `d AS (INSERT INTO remit_decisions (id, at, account_id, agent, team, verdict, idempotency_key, touch_id, body) ${values([d.id, d.at, d.accountId, d.agent, d.team, d.verdict, d.idempotencyKey, write.touch?.id, d])})`,
  ]
  const t = write.touch
  if (t) {
    parts.push(
      `t AS (INSERT INTO remit_touches (id, account_id, contact_id, agent, team, tool, kind, channel, outbound, at, status, decision_id, source, note) ${values([t.id, t.accountId, t.contactId, t.agent, t.team, t.tool, t.kind, t.channel, t.outbound, t.at, t.status, t.decisionId, t.source, t.note])})`,
    )
  }
  const c = write.commitment
  if (c) {
    parts.push(
      `c AS (INSERT INTO remit_commitments (id, account_id, contact_id, kind, value, team, agent, at, expires_at, decision_id) ${values([c.id, c.accountId, c.contactId, c.kind, c.value, c.team, c.agent, c.at, c.expiresAt, c.decisionId])})`,
    )
  }
  const r = write.review
  if (r) {
    parts.push(
      `r AS (INSERT INTO remit_reviews (id, decision_id, account_id, team, status, created_at, expires_at, body) ${values([r.id, r.decisionId, r.accountId, r.team, r.status, r.createdAt, r.expiresAt, r])})`,
    )
  }
  return `WITH ${parts.join(', ')} SELECT 1`
}

class PostgresStore implements Store {
  private readonly pool: pg.Pool
  private closed = false

  constructor(pool: pg.Pool) {
    this.pool = pool
  }

  /** A transaction serialized with every other on this account, across all instances. */
  private async inAccount<T>(accountId: string, fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [accountId])
      const out = await fn(client)
      await client.query('COMMIT')
      return out
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      client.release()
    }
  }

  private async readLedger(
    client: Client | pg.Pool,
    accountId: string,
    since: Date,
    now: Date,
  ): Promise<LedgerView> {
    const { rows } = await client.query(ledgerQuery('$1', '$2', '$3'), [accountId, since, now])
    const row = rows[0] as { touches: Row[]; commitments: Row[] }
    return { touches: row.touches.map(rowToTouch), commitments: row.commitments.map(rowToCommitment) }
  }

  /**
   * Two round trips per decision: [BEGIN, lock the account, idempotency check, ledger] and [the
   * writes, COMMIT]. Each is one multi-statement simple query, which carries no parameters, so
   * values go in as literals escaped by pg's own `escapeLiteral` (see `lit`). Parameterised, the
   * same work takes seven round trips.
   */
  async decide(request: DecideRequest, plan: (ledger: LedgerView) => DecisionWrite): Promise<Decision> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.pool.connect()
      const l = (v: unknown) => lit(client, v)
      try {
        const prior =
          request.idempotencyKey === undefined
            ? 'SELECT NULL AS body'
            : `SELECT body FROM remit_decisions WHERE agent = ${l(request.agent)} AND idempotency_key = ${l(request.idempotencyKey)}`
        const results = (await client.query(
          `BEGIN; SELECT pg_advisory_xact_lock(hashtextextended(${l(request.accountId)}, 0)); ${prior}; ${ledgerQuery(
            l(request.accountId),
            l(request.since),
            l(request.now),
          )}`,
        )) as unknown as pg.QueryResult[]
        const found = (results[2]?.rows[0] as Row | undefined)?.body
        if (found) {
          await client.query('COMMIT')
          return { ...parseDecision(found), replayed: true }
        }
        const ledger = results[3]?.rows[0] as { touches: Row[]; commitments: Row[] }
        const write = plan({
          touches: ledger.touches.map(rowToTouch),
          commitments: ledger.commitments.map(rowToCommitment),
        })
        await client.query(`${insertSql(l, write)}; COMMIT`)
        return write.decision
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        // The same key used at once for two accounts: the loser retries and finds the winner's decision.
        if (
          (error as { code?: string }).code === '23505' &&
          request.idempotencyKey !== undefined &&
          attempt < 2
        )
          continue
        throw error
      } finally {
        client.release()
      }
    }
  }

  async ledger(accountId: string, since: Date, now: Date): Promise<LedgerView> {
    return this.readLedger(this.pool, accountId, since, now)
  }

  async setTouchStatus(decisionId: string, status: TouchStatus): Promise<Touch | undefined> {
    const { rows } = await this.pool.query(
      'SELECT t.account_id FROM remit_decisions d JOIN remit_touches t ON t.id = d.touch_id WHERE d.id = $1',
      [decisionId],
    )
    const accountId = (rows[0] as { account_id?: string } | undefined)?.account_id
    if (!accountId) return undefined
    return this.inAccount(accountId, async (client) => {
      const updated = await client.query(
        `UPDATE remit_touches t SET status = $2 FROM remit_decisions d WHERE d.id = $1 AND t.id = d.touch_id RETURNING t.*`,
        [decisionId, status],
      )
      if (status === 'failed' || status === 'cancelled') {
        await client.query('UPDATE remit_commitments SET withdrawn = true WHERE decision_id = $1', [
          decisionId,
        ])
      }
      return updated.rows[0] ? rowToTouch(updated.rows[0] as Row) : undefined
    })
  }

  async recordTouch(touch: Touch): Promise<void> {
    await this.inAccount(touch.accountId, (client) => insertTouch(client, touch))
  }

  async getDecision(id: string): Promise<Decision | undefined> {
    const { rows } = await this.pool.query('SELECT body FROM remit_decisions WHERE id = $1', [id])
    return rows[0] ? parseDecision((rows[0] as Row).body) : undefined
  }

  async listDecisions(filter: DecisionFilter = {}): Promise<Decision[]> {
    const where: string[] = []
    const args: unknown[] = []
    const add = (sql: string, value: unknown) => {
      args.push(value)
      where.push(sql.replace('?', `$${args.length}`))
    }
    if (filter.accountId !== undefined) add('account_id = ?', filter.accountId)
    if (filter.agent !== undefined) add('agent = ?', filter.agent)
    if (filter.team !== undefined) add('team = ?', filter.team)
    if (filter.verdict !== undefined) add('verdict = ?', filter.verdict)
    if (filter.contactId !== undefined) add(`body->>'contactId' = ?`, filter.contactId)
    if (filter.email !== undefined) add(`lower(body->>'email') = ?`, filter.email.toLowerCase())
    if (filter.rule !== undefined) add(`body->'reasons' @> ?::jsonb`, JSON.stringify([{ rule: filter.rule }]))
    if (filter.since) add('at >= ?', filter.since)
    if (filter.until) add('at < ?', filter.until)
    if (filter.before) add('at < ?', filter.before)
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000)
    const { rows } = await this.pool.query(
      `SELECT body FROM remit_decisions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ${limit}`,
      args,
    )
    return rows.map((r) => parseDecision((r as Row).body))
  }

  async getReview(id: string): Promise<Review | undefined> {
    const { rows } = await this.pool.query('SELECT body FROM remit_reviews WHERE id = $1', [id])
    return rows[0] ? parseReview((rows[0] as Row).body) : undefined
  }

  async listReviews(filter: ReviewFilter = {}): Promise<Review[]> {
    const where: string[] = []
    const args: unknown[] = []
    for (const [column, value] of [
      ['status', filter.status],
      ['team', filter.team],
      ['account_id', filter.accountId],
    ] as const) {
      if (value === undefined) continue
      args.push(value)
      where.push(`${column} = $${args.length}`)
    }
    const limit = Math.min(Math.max(filter.limit ?? 500, 1), 5000)
    const { rows } = await this.pool.query(
      `SELECT body FROM remit_reviews ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id LIMIT ${limit}`,
      args,
    )
    return rows.map((r) => parseReview((r as Row).body))
  }

  async expiringReviews(at: Date): Promise<Review[]> {
    const { rows } = await this.pool.query(
      `SELECT body FROM remit_reviews WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at`,
      [at],
    )
    return rows.map((r) => parseReview((r as Row).body))
  }

  async resolveReview(
    reviewId: string,
    window: { since: Date; now: Date },
    plan: (review: Review, decision: Decision, ledger: LedgerView) => ReviewWrite,
  ): Promise<Review> {
    const found = await this.getReview(reviewId)
    if (!found) throw new NotFoundError('review', reviewId)
    return this.inAccount(found.accountId, async (client) => {
      // Re-read under the account's lock: another instance may have answered it meanwhile.
      const r = await client.query('SELECT body FROM remit_reviews WHERE id = $1', [reviewId])
      const review = parseReview((r.rows[0] as Row).body)
      const d = await client.query('SELECT body FROM remit_decisions WHERE id = $1', [review.decisionId])
      if (!d.rows[0]) throw new NotFoundError('decision', review.decisionId)
      const write = plan(
        review,
        parseDecision((d.rows[0] as Row).body),
        await this.readLedger(client, review.accountId, window.since, window.now),
      )
      if (write.touch) {
        await insertTouch(client, write.touch)
        await client.query('UPDATE remit_decisions SET touch_id = $1 WHERE id = $2', [
          write.touch.id,
          review.decisionId,
        ])
      }
      if (write.commitment) await insertCommitment(client, write.commitment)
      await upsertReview(client, write.review)
      return write.review
    })
  }

  async timeline(accountId: string): Promise<Timeline> {
    const [touches, decisions, reviews, commitments] = await Promise.all([
      this.pool.query('SELECT * FROM remit_touches WHERE account_id = $1 ORDER BY at, id', [accountId]),
      this.pool.query('SELECT body FROM remit_decisions WHERE account_id = $1 ORDER BY at, id', [accountId]),
      this.pool.query('SELECT body FROM remit_reviews WHERE account_id = $1 ORDER BY created_at, id', [
        accountId,
      ]),
      this.pool.query('SELECT * FROM remit_commitments WHERE account_id = $1 ORDER BY at, id', [accountId]),
    ])
    return {
      accountId,
      touches: touches.rows.map((r) => rowToTouch(r as Row)),
      decisions: decisions.rows.map((r) => parseDecision((r as Row).body)),
      reviews: reviews.rows.map((r) => parseReview((r as Row).body)),
      commitments: commitments.rows.map((r) => rowToCommitment(r as Row)),
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pool.end()
  }
}

async function insertTouch(client: Client, t: Touch): Promise<void> {
  await client.query(
    `INSERT INTO remit_touches (id, account_id, contact_id, agent, team, tool, kind, channel, outbound, at, status, decision_id, source, note)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      t.id,
      t.accountId,
      t.contactId ?? null,
      t.agent ?? null,
      t.team ?? null,
      t.tool ?? null,
      t.kind,
      t.channel ?? null,
      t.outbound,
      t.at,
      t.status,
      t.decisionId ?? null,
      t.source,
      t.note ?? null,
    ],
  )
}

async function insertCommitment(client: Client, c: Commitment): Promise<void> {
  await client.query(
    `INSERT INTO remit_commitments (id, account_id, contact_id, kind, value, team, agent, at, expires_at, decision_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      c.id,
      c.accountId,
      c.contactId ?? null,
      c.kind,
      JSON.stringify(c.value),
      c.team,
      c.agent,
      c.at,
      c.expiresAt ?? null,
      c.decisionId,
    ],
  )
}

async function upsertReview(client: Client, r: Review): Promise<void> {
  await client.query(
    `INSERT INTO remit_reviews (id, decision_id, account_id, team, status, created_at, expires_at, body)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body`,
    [r.id, r.decisionId, r.accountId, r.team, r.status, r.createdAt, r.expiresAt, JSON.stringify(r)],
  )
}

// jsonb comes back parsed, json_agg rows carry timestamps as ISO strings, plain rows as Dates.
const date = (v: unknown) => (v instanceof Date ? v : new Date(v as string))

function parseDecision(body: unknown): Decision {
  const d = (typeof body === 'string' ? JSON.parse(body) : { ...(body as Row) }) as Row
  d.at = date(d.at)
  if (d.retryAfter !== undefined) d.retryAfter = date(d.retryAfter)
  return d as unknown as Decision
}

function parseReview(body: unknown): Review {
  const r = (typeof body === 'string' ? JSON.parse(body) : { ...(body as Row) }) as Row
  for (const k of ['createdAt', 'expiresAt', 'resolvedAt']) if (r[k] !== undefined) r[k] = date(r[k])
  return r as unknown as Review
}

function rowToTouch(r: Row): Touch {
  const t: Touch = {
    id: r.id as string,
    accountId: r.account_id as string,
    kind: r.kind as string,
    outbound: r.outbound as boolean,
    at: date(r.at),
    status: r.status as TouchStatus,
    source: r.source as Touch['source'],
  }
  if (r.contact_id != null) t.contactId = r.contact_id as string
  if (r.agent != null) t.agent = r.agent as string
  if (r.team != null) t.team = r.team as string
  if (r.tool != null) t.tool = r.tool as string
  if (r.channel != null) t.channel = r.channel as string
  if (r.decision_id != null) t.decisionId = r.decision_id as string
  if (r.note != null) t.note = r.note as string
  return t
}

function rowToCommitment(r: Row): Commitment {
  const c: Commitment = {
    id: r.id as string,
    accountId: r.account_id as string,
    kind: r.kind as string,
    value: (typeof r.value === 'string' ? JSON.parse(r.value) : r.value) as Record<string, unknown>,
    team: r.team as string,
    agent: r.agent as string,
    at: date(r.at),
    decisionId: r.decision_id as string,
  }
  if (r.contact_id != null) c.contactId = r.contact_id as string
  if (r.expires_at != null) c.expiresAt = date(r.expires_at)
  return c
}
