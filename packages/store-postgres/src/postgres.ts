import type {
  CandidateDiff,
  CandidateDiffFilter,
  Commitment,
  DecideRequest,
  Decision,
  DecisionFilter,
  DecisionWrite,
  Identity,
  LedgerView,
  OutboxFilter,
  OutboxMessage,
  OutboxSettlement,
  Person,
  PruneReport,
  PruneRequest,
  Review,
  ReviewFilter,
  ReviewWrite,
  Store,
  Suppression,
  SuppressionFilter,
  SuppressionLift,
  Timeline,
  Touch,
  TouchStatus,
} from '@remit/core'
import { InputError, NotFoundError, UnavailableError } from '@remit/core'
import {
  candidateDiffFilterSql,
  checkTransition,
  commitmentFromRow,
  decisionFilterSql,
  deliveredAlready,
  MAX_IDENTITIES,
  outboxFilterSql,
  parseCandidateDiff,
  personOf,
  type RowReader,
  replayOf,
  reviewFilterSql,
  type SqlDialect,
  suppressionFilterSql,
  timelineLimit,
  touchFromRow,
} from '@remit/core/internal'
import pg from 'pg'
import { keyOf, MAX_BATCH, MAX_PENDING, type Outcome, type Pending, planBatch } from './batch.ts'
import { isConnectionError, storeError } from './errors.ts'
import { ensureMonths, monthsBefore } from './partitions.ts'
import { MIGRATIONS } from './schema.ts'

export interface PostgresStoreOptions {
  /** Schema holding Remit's tables (created if missing; default `public`). */
  schema?: string
  /**
   * `false`: open only a store that is there (a schema Remit has migrated), for tools that read one —
   * a mistyped URL or schema is an error (`InputError` NO_STORE), not a new empty store. Default `true`.
   */
  create?: boolean
  /** Most connections per instance (default 16). */
  maxConnections?: number
  /**
   * Extra `pg` pool settings. `connectionTimeoutMillis` (default 5000) bounds the wait for a
   * connection, new or from a full pool, and `query_timeout` (default 30000) the wait for an answer;
   * past either the call fails with `UnavailableError`.
   */
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
    throw new InputError(
      'BAD_SCHEMA',
      `invalid schema name "${schema}": use lower-case letters, digits and _ (at most 63)`,
      ['schema'],
    )
  const pool = new pg.Pool({
    connectionTimeoutMillis: 5000,
    // A peer that vanishes without closing (a network partition) is found by TCP keep-alive, and a
    // query that gets no answer gives up: no request waits for ever on a dead connection.
    keepAlive: true,
    query_timeout: 30_000,
    ...(typeof connection === 'string' ? { connectionString: connection } : connection),
    max: options.maxConnections ?? 16,
    ...options.pool,
    options: `-c search_path=${schema}`,
  })
  // pg emits 'error' on a client whose connection drops; unheard, that event ends the process. An
  // idle client's reaches the pool, which has already discarded it. A checked-out client's reaches
  // the listener below: the query running on it rejects on its own, and its release discards it.
  pool.on('error', () => {})
  pool.on('connect', (client) => client.on('error', () => {}))
  try {
    if (options.create === false) await mustExist(pool, schema)
    await migrate(pool, schema)
  } catch (error) {
    // pg's own error (ECONNREFUSED, authentication), which `remit serve` explains to the operator.
    await pool.end()
    throw error
  }
  return new PostgresStore(pool, options.pool?.max ?? options.maxConnections ?? 16)
}

/** Fails with NotFoundError unless `schema` holds a store Remit has migrated. */
async function mustExist(pool: pg.Pool, schema: string): Promise<void> {
  const { rows } = await pool.query(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'remit_migrations'`,
    [schema],
  )
  if (!rows.length)
    throw new InputError(
      'NO_STORE',
      `no Remit store in schema "${schema}" of this database (nothing was created)`,
      [],
      'pass the postgres:// URL (and ?schema=) that remit serve uses',
    )
}

async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const client = await pool.connect()
  let failure: Error | undefined
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
      await client.query('BEGIN')
      await ensureMonths(client, new Date())
      await client.query('COMMIT')
    } catch (error) {
      // Out of a failed migration's transaction first: an unlock inside it would fail too, and its
      // "current transaction is aborted" would hide the migration's own error.
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
    }
  } catch (error) {
    failure = error as Error
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release(failure)
  }
}

/**
 * The account's counting touches since `since` and its commitments outstanding at `now`, as JSON;
 * with a person (its contact id and address, as SQL), that person's links too: those naming the id
 * or the address, then every link naming an id or address of those, until none is new (UNION drops
 * repeats, so it ends; PostgreSQL computes only the rows the LIMIT takes). One more subquery of the
 * same statement: no round trip, and none of it for a request that names no contact.
 */
const ledgerQuery = (account: string, since: string, now: string, person?: { id: string; email: string }) => `
SELECT
  (SELECT coalesce(json_agg(t ORDER BY t.at), '[]') FROM remit_touches t
    WHERE t.account_id = ${account} AND t.at >= ${since} AND t.status IN ('reserved', 'sent')) AS touches,
  (SELECT coalesce(json_agg(c ORDER BY c.at), '[]') FROM remit_commitments c
    WHERE c.account_id = ${account} AND NOT c.withdrawn AND (c.expires_at IS NULL OR c.expires_at > ${now})) AS commitments,
  (SELECT coalesce(json_agg(s.body ORDER BY s.at, s.id), '[]') FROM remit_suppressions s
    WHERE s.account_id = ${account} AND s.lifted_at IS NULL) AS suppressions${
      person
        ? `,
  (WITH RECURSIVE person(contact_id, email) AS (
      SELECT i.contact_id, i.email FROM remit_identities i
        WHERE i.account_id = ${account} AND (i.contact_id = ${person.id} OR i.email = ${person.email})
      UNION
      SELECT i.contact_id, i.email FROM remit_identities i JOIN person p
        ON i.contact_id = p.contact_id OR i.email = p.email
        WHERE i.account_id = ${account})
    SELECT coalesce(json_agg(json_build_object('contactId', x.contact_id, 'email', x.email)
      ORDER BY x.contact_id COLLATE "C", x.email COLLATE "C"), '[]')
    FROM (SELECT * FROM person LIMIT ${MAX_IDENTITIES}) x) AS identities`
        : ''
    }`

const LEDGER = ledgerQuery('$1', '$2', '$3')
/** The ledger read for a person: `$4` its contact id, `$5` its address (either may be NULL). */
const LEDGER_FOR = ledgerQuery('$1', '$2', '$3', { id: '$4::text', email: '$5::text' })

type LedgerRow = { touches: Row[]; commitments: Row[]; suppressions: Row[]; identities?: Identity[] }

function toLedger(row: LedgerRow): LedgerView {
  const view: LedgerView = {
    touches: row.touches.map(rowToTouch),
    commitments: row.commitments.map(rowToCommitment),
    suppressions: row.suppressions.map(parseSuppression),
  }
  if (row.identities) view.identities = row.identities
  return view
}

/** The ledger read's SQL and parameters, for a person or for no one. */
function ledgerRead(accountId: string, since: Date, now: Date, person: Person | undefined) {
  return person
    ? { sql: LEDGER_FOR, args: [accountId, since, now, person.contactId ?? null, person.email ?? null] }
    : { sql: LEDGER, args: [accountId, since, now] }
}

function parseSuppression(body: unknown): Suppression {
  const s = (typeof body === 'string' ? JSON.parse(body) : { ...(body as Row) }) as Row
  s.at = date(s.at)
  if (s.liftedAt !== undefined && s.liftedAt !== null) s.liftedAt = date(s.liftedAt)
  return s as unknown as Suppression
}

/** A SQL literal: strings and JSON escaped by pg's `escapeLiteral`, the rest formatted. */
function lit(client: Client, v: unknown): string {
  if (v === undefined || v === null) return 'NULL'
  if (v instanceof Date) return `'${timestamp(v)}'::timestamptz`
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE'
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (typeof v === 'string') return client.escapeLiteral(v)
  return `${client.escapeLiteral(JSON.stringify(v))}::jsonb`
}

/**
 * A time as pg writes a Date parameter, so both paths read alike: UTC, and years before 1 as BC
 * (`toISOString`'s `-000100` and `+010000` are not PostgreSQL's). Past PostgreSQL's range it fails
 * with 22008, which `storeError` makes an `InputError`.
 */
function timestamp(date: Date): string {
  checkTime(date)
  const year = date.getUTCFullYear()
  if (year >= 1 && year <= 9999) return date.toISOString() // the common case, already PostgreSQL's
  const text = date.toISOString().replace(/^[+-]?\d+/, String(year < 1 ? 1 - year : year).padStart(4, '0'))
  return year < 1 ? `${text} BC` : text
}

/** Refuses a `Date` that is no time at all as the caller's error. */
function checkTime(date: Date): void {
  if (Number.isNaN(date.getTime())) throw new InputError('AT_OUT_OF_RANGE', 'not a valid time', ['at'])
}

/** Fields to merge into a jsonb body, times as JS's ISO strings like the whole bodies written. */
function bodyFields(fields: Row): string {
  for (const v of Object.values(fields)) if (v instanceof Date) checkTime(v)
  return JSON.stringify(fields)
}

/** Parameters with times written as `lit` writes them: one representation, one range check. */
function params(values: unknown[]): unknown[] {
  return values.map((v) => (v instanceof Date ? timestamp(v) : v))
}

// What a decision writes, table by table: the columns, and each row's values in their order.
const DECISION_COLUMNS =
  'id, at, account_id, agent, team, verdict, idempotency_key, touch_id, body, request_hash'
const decisionValues = (write: DecisionWrite, requestHash: string | undefined) => {
  const d = write.decision
  return [
    d.id,
    d.at,
    d.accountId,
    d.agent,
    d.team,
    d.verdict,
    d.idempotencyKey,
    write.touch?.id,
    d,
    requestHash,
  ]
}
const CANDIDATE_DIFF_COLUMNS = 'decision_id, at, candidate_version, body'
const candidateDiffValues = (diff: CandidateDiff) => [diff.decisionId, diff.at, diff.candidateVersion, diff]
const TOUCH_COLUMNS =
  'id, account_id, contact_id, email, agent, team, tool, kind, channel, outbound, at, status, decision_id, source, note, attributes'
const touchValues = (t: Touch) => [
  t.id,
  t.accountId,
  t.contactId,
  t.email,
  t.agent,
  t.team,
  t.tool,
  t.kind,
  t.channel,
  t.outbound,
  t.at,
  t.status,
  t.decisionId,
  t.source,
  t.note,
  t.attributes,
]
const COMMITMENT_COLUMNS = 'id, account_id, contact_id, kind, value, team, agent, at, expires_at, decision_id'
const commitmentValues = (c: Commitment) => [
  c.id,
  c.accountId,
  c.contactId,
  c.kind,
  c.value,
  c.team,
  c.agent,
  c.at,
  c.expiresAt,
  c.decisionId,
]
const REVIEW_COLUMNS = 'id, decision_id, account_id, team, status, created_at, expires_at, body'
const reviewValues = (r: Review) => [
  r.id,
  r.decisionId,
  r.accountId,
  r.team,
  r.status,
  r.createdAt,
  r.expiresAt,
  r,
]
const IDENTITY_COLUMNS = 'account_id, contact_id, email, at'
const identityValues = (write: DecisionWrite, i: Identity) => [
  write.decision.accountId,
  i.contactId,
  i.email,
  write.decision.at,
]

// A flag's owed work (a Slack post, a webhook), written with it.
const OUTBOX_COLUMNS = 'id, channel, status, next_at, created_at, attempts, body'
const outboxValues = (m: OutboxMessage) => [m.id, m.channel, m.status, m.nextAt, m.createdAt, m.attempts, m]

/** One statement writing a decision and whatever it reserved, flagged or promised. */
function insertSql(l: (v: unknown) => string, write: DecisionWrite, requestHash: string | undefined): string {
  const values = (xs: unknown[]) => `VALUES (${xs.map(l).join(', ')})`
  const parts = [
    `d AS (INSERT INTO remit_decisions (${DECISION_COLUMNS}) ${values(decisionValues(write, requestHash))})`,
  ]
  if (write.touch)
    parts.push(`t AS (INSERT INTO remit_touches (${TOUCH_COLUMNS}) ${values(touchValues(write.touch))})`)
  if (write.commitment)
    parts.push(
      `c AS (INSERT INTO remit_commitments (${COMMITMENT_COLUMNS}) ${values(commitmentValues(write.commitment))})`,
    )
  if (write.review)
    parts.push(`r AS (INSERT INTO remit_reviews (${REVIEW_COLUMNS}) ${values(reviewValues(write.review))})`)
  if (write.identity)
    parts.push(
      `i AS (INSERT INTO remit_identities (${IDENTITY_COLUMNS}) ${values(identityValues(write, write.identity))} ON CONFLICT DO NOTHING)`,
    )
  if (write.candidateDiff)
    parts.push(
      `x AS (INSERT INTO remit_candidate_diffs (${CANDIDATE_DIFF_COLUMNS}) ${values(candidateDiffValues(write.candidateDiff))})`,
    )
  for (const [i, m] of (write.outbox ?? []).entries())
    parts.push(`o${i} AS (INSERT INTO remit_outbox (${OUTBOX_COLUMNS}) ${values(outboxValues(m))})`)
  return `WITH ${parts.join(', ')} SELECT 1`
}

/**
 * A batch's writes: one multi-row INSERT per table, each followed by "; " (nothing when the batch
 * wrote nothing: replays and refusals alone).
 */
function insertsSql(
  l: (v: unknown) => string,
  writes: Array<{ write: DecisionWrite; requestHash: string | undefined }>,
): string {
  const rows = (xs: unknown[][]) => xs.map((x) => `(${x.map(l).join(', ')})`).join(', ')
  const insert = (table: string, columns: string, xs: unknown[][], tail = '') =>
    xs.length ? `INSERT INTO ${table} (${columns}) VALUES ${rows(xs)}${tail}; ` : ''
  const identities = new Map<string, unknown[]>()
  for (const { write } of writes) {
    const i = write.identity
    if (i)
      identities.set(
        JSON.stringify([write.decision.accountId, i.contactId, i.email]),
        identityValues(write, i),
      )
  }
  return [
    insert(
      'remit_decisions',
      DECISION_COLUMNS,
      writes.map((w) => decisionValues(w.write, w.requestHash)),
    ),
    insert(
      'remit_touches',
      TOUCH_COLUMNS,
      writes.flatMap((w) => (w.write.touch ? [touchValues(w.write.touch)] : [])),
    ),
    insert(
      'remit_commitments',
      COMMITMENT_COLUMNS,
      writes.flatMap((w) => (w.write.commitment ? [commitmentValues(w.write.commitment)] : [])),
    ),
    insert(
      'remit_reviews',
      REVIEW_COLUMNS,
      writes.flatMap((w) => (w.write.review ? [reviewValues(w.write.review)] : [])),
    ),
    insert('remit_identities', IDENTITY_COLUMNS, [...identities.values()], ' ON CONFLICT DO NOTHING'),
    insert(
      'remit_candidate_diffs',
      CANDIDATE_DIFF_COLUMNS,
      writes.flatMap((w) => (w.write.candidateDiff ? [candidateDiffValues(w.write.candidateDiff)] : [])),
    ),
    insert(
      'remit_outbox',
      OUTBOX_COLUMNS,
      writes.flatMap((w) => (w.write.outbox ?? []).map(outboxValues)),
    ),
  ].join('')
}

class PostgresStore implements Store {
  private readonly pool: pg.Pool
  private closed = false
  /** Decisions waiting for a batch; batches being written; at most that many at once. */
  private readonly pending: Pending[] = []
  private batches = 0
  private scheduled = false
  private readonly maxBatches: number
  /** How long a decision may wait for a batch: the pool's connection timeout. */
  private readonly queueWaitMs: number
  private sweeper: NodeJS.Timeout | undefined
  /** Called when the last batch is written and none waits (close() waits for that). */
  private readonly idle: Array<() => void> = []
  private readonly months: NodeJS.Timeout

  constructor(pool: pg.Pool, maxConnections: number) {
    this.pool = pool
    // Half the pool: the rest stays free for reviews, outcomes, the outbox and the console's reads.
    this.maxBatches = Math.max(1, Math.floor(maxConnections / 2))
    this.queueWaitMs = (pool as unknown as { options: pg.PoolConfig }).options.connectionTimeoutMillis || 5000
    // Months of touches ahead of time (./partitions.ts), for a store open longer than they last. A
    // failed attempt is tried again at the next; until the months run out nothing depends on it.
    this.months = setInterval(() => {
      void this.withClient(async (client) => {
        await client.query('BEGIN')
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
        await ensureMonths(client, new Date())
        await client.query('COMMIT')
      }).catch(() => {})
    }, 6 * 3600e3)
    this.months.unref()
  }

  /** One statement on any pooled connection. */
  private async query(sql: string, args?: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, args && params(args))
    } catch (error) {
      throw storeError(error)
    }
  }

  /**
   * `fn` on a connection of its own. If it fails, the transaction is rolled back, and a connection
   * that failed (or could not roll back) is discarded rather than returned to the pool.
   */
  private async withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    let client: Client
    try {
      client = await this.pool.connect()
    } catch (error) {
      throw storeError(error)
    }
    try {
      const out = await fn(client)
      client.release()
      return out
    } catch (error) {
      let broken = isConnectionError(error) ? (error as Error) : undefined
      if (!broken) {
        await client.query('ROLLBACK').catch((rollback: Error) => {
          broken = rollback
        })
      }
      client.release(broken)
      throw storeError(error)
    }
  }

  /** A transaction serialized with every other on this account, across all instances. */
  private inAccount<T>(accountId: string, fn: (client: Client) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [accountId])
      const out = await fn(client)
      await client.query('COMMIT')
      return out
    })
  }

  /**
   * Group commit (`./batch.ts`): a decision joins the queue; a batch starts on the next turn of the
   * event loop with whatever has queued, while fewer than `maxBatches` are being written, so under
   * load each transaction carries many decisions and at rest one carries one. Every promise settles
   * after its batch's COMMIT. A batch that fails as a whole for a reason other than a lost connection
   * (a key raced by another instance, a time PostgreSQL cannot hold) is decided again one by one, so
   * each request gets its own outcome; a lost connection before COMMIT's answer leaves the outcome
   * unknown to us: each caller gets `UnavailableError`, and its retry with the same idempotency key
   * finds the decision if it was committed.
   */
  decide(request: DecideRequest, plan: (ledger: LedgerView) => DecisionWrite): Promise<Decision> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new UnavailableError('the store is closed'))
      if (this.pending.length >= MAX_PENDING)
        return reject(
          new UnavailableError(`PostgreSQL is not keeping up: ${MAX_PENDING} decisions are already waiting`),
        )
      this.pending.push({ queuedAt: Date.now(), request, plan, resolve, reject })
      this.sweepLater()
      this.schedule()
    })
  }

  /**
   * No decision waits for a batch longer than the pool's connection timeout: batches stuck behind a
   * lock or a slow server must not hold every later request with them. Each one waiting that long is
   * refused (503, Retry-After; nothing was written), as a wait for a connection would be.
   */
  private sweepLater(): void {
    if (this.sweeper) return
    const wait = this.queueWaitMs
    this.sweeper = setInterval(
      () => {
        const now = Date.now()
        let kept = 0
        for (const p of this.pending) {
          if (now - p.queuedAt > wait)
            p.reject(
              new UnavailableError(
                `PostgreSQL did not take this decision within ${wait} ms (${this.batches} batches being written)`,
              ),
            )
          else this.pending[kept++] = p
        }
        this.pending.length = kept
        if (!kept) {
          clearInterval(this.sweeper)
          this.sweeper = undefined
          if (!this.batches) for (const idle of this.idle.splice(0)) idle()
        }
      },
      Math.max(50, wait / 4),
    )
    this.sweeper.unref()
  }

  private schedule(): void {
    if (this.scheduled || !this.pending.length || this.batches >= this.maxBatches) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      while (this.pending.length && this.batches < this.maxBatches) {
        const batch = this.pending.splice(0, MAX_BATCH)
        this.batches++
        void this.runBatch(batch).finally(() => {
          this.batches--
          this.schedule()
          if (!this.batches && !this.pending.length) for (const idle of this.idle.splice(0)) idle()
        })
      }
    })
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    let outcomes: Outcome[]
    try {
      outcomes = await this.withClient((client) => this.decideBatch(client, batch))
    } catch (error) {
      if (error instanceof UnavailableError) {
        for (const p of batch) p.reject(error)
        return
      }
      // Each on its own: the one at fault gets its error, the rest their decisions.
      await Promise.all(batch.map((p) => this.decideAlone(p.request, p.plan).then(p.resolve, p.reject)))
      return
    }
    const deferred: Pending[] = []
    outcomes.forEach((outcome, i) => {
      const p = batch[i] as Pending
      if ('decision' in outcome) p.resolve(outcome.decision)
      else if ('error' in outcome) p.reject(outcome.error)
      else deferred.push(p)
    })
    this.pending.unshift(...deferred)
  }

  /** One batch: two round trips, one transaction (see `./batch.ts`). */
  private async decideBatch(client: Client, batch: Pending[]): Promise<Outcome[]> {
    const l = (v: unknown) => lit(client, v)
    const array = (xs: unknown[], type: string) => `ARRAY[${xs.map(l).join(', ')}]::${type}[]`
    const requests = batch.map((p) => p.request)
    // Every instance locks accounts in the same order (sorted), so two batches never wait on each
    // other in a cycle; the function scan takes them in the array's order.
    const accounts = [...new Set(requests.map((r) => r.accountId))].sort()
    const keyed = requests.filter((r) => r.idempotencyKey !== undefined)
    const priors = keyed.length
      ? `SELECT d.agent, d.idempotency_key, d.body, d.request_hash
         FROM unnest(${array(
           keyed.map((r) => r.agent),
           'text',
         )}, ${array(
           keyed.map((r) => r.idempotencyKey),
           'text',
         )}) AS k(agent, key)
         JOIN remit_decisions d ON d.agent = k.agent AND d.idempotency_key = k.key AND d.idempotency_key IS NOT NULL`
      : 'SELECT 1 WHERE false'
    const ledgers = `SELECT l.* FROM unnest(${array(
      requests.map((r) => r.accountId),
      'text',
    )}, ${array(
      requests.map((r) => r.since),
      'timestamptz',
    )}, ${array(
      requests.map((r) => r.now),
      'timestamptz',
    )}, ${array(
      requests.map((r) => r.person?.contactId),
      'text',
    )}, ${array(
      requests.map((r) => r.person?.email),
      'text',
    )}) WITH ORDINALITY AS r(account_id, since, now, contact_id, email, n)
      CROSS JOIN LATERAL (${ledgerQuery('r.account_id', 'r.since', 'r.now', { id: 'r.contact_id', email: 'r.email' })}) l
      ORDER BY r.n`
    const results = (await client.query(
      `BEGIN; SELECT pg_advisory_xact_lock(hashtextextended(a, 0)) FROM unnest(${array(accounts, 'text')}) AS a; ${priors}; ${ledgers}`,
    )) as unknown as pg.QueryResult[]
    const stored = new Map<string, { body: Decision; requestHash: string | null }>()
    for (const row of (results[2] as pg.QueryResult).rows as Row[])
      stored.set(keyOf(row.agent as string, row.idempotency_key as string), {
        body: parseDecision(row.body),
        requestHash: row.request_hash as string | null,
      })
    const views = ((results[3] as pg.QueryResult).rows as LedgerRow[]).map((row, i) => {
      const view = toLedger(row)
      if (!requests[i]?.person) delete view.identities
      return view
    })
    const { outcomes, writes } = planBatch(batch, stored, views)
    await client.query(`${insertsSql(l, writes)}COMMIT`)
    return outcomes
  }

  /** One decision in a transaction of its own: how a batch that failed as a whole is decided again. */
  private async decideAlone(
    request: DecideRequest,
    plan: (ledger: LedgerView) => DecisionWrite,
  ): Promise<Decision> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.withClient((client) => this.decideOnce(client, request, plan))
      } catch (error) {
        // One key raced for two accounts holds two account locks: the loser's insert meets the
        // winner's in the key's unique index. Retried, it finds the winner's decision, and replays
        // it or refuses the key (`replayOf`).
        if (
          (error as { code?: string }).code === '23505' &&
          request.idempotencyKey !== undefined &&
          attempt < 2
        )
          continue
        throw error
      }
    }
  }

  private async decideOnce(
    client: Client,
    request: DecideRequest,
    plan: (ledger: LedgerView) => DecisionWrite,
  ): Promise<Decision> {
    const l = (v: unknown) => lit(client, v)
    const prior =
      request.idempotencyKey === undefined
        ? 'SELECT NULL AS body, NULL AS request_hash'
        : `SELECT body, request_hash FROM remit_decisions WHERE agent = ${l(request.agent)} AND idempotency_key = ${l(request.idempotencyKey)}`
    const results = (await client.query(
      `BEGIN; SELECT pg_advisory_xact_lock(hashtextextended(${l(request.accountId)}, 0)); ${prior}; ${ledgerQuery(
        l(request.accountId),
        l(request.since),
        l(request.now),
        request.person && {
          id: `${l(request.person.contactId)}::text`,
          email: `${l(request.person.email)}::text`,
        },
      )}`,
    )) as unknown as pg.QueryResult[]
    const found = results[2]?.rows[0] as { body: unknown; request_hash: string | null } | undefined
    if (found?.body) {
      const replay = replayOf(request, parseDecision(found.body), found.request_hash)
      await client.query('COMMIT')
      return replay
    }
    const write = plan(toLedger(results[3]?.rows[0] as LedgerRow))
    await client.query(`${insertSql(l, write, request.requestHash)}; COMMIT`)
    return write.decision
  }

  async ledger(accountId: string, since: Date, now: Date, person?: Person): Promise<LedgerView> {
    const read = ledgerRead(accountId, since, now, person)
    const { rows } = await this.query(read.sql, read.args)
    return toLedger(rows[0] as LedgerRow)
  }

  async setTouchStatus(decisionId: string, status: TouchStatus): Promise<Touch | undefined> {
    const touchOf = 'FROM remit_decisions d JOIN remit_touches t ON t.id = d.touch_id WHERE d.id = $1'
    const { rows } = await this.query(`SELECT t.account_id ${touchOf}`, [decisionId])
    const accountId = (rows[0] as { account_id?: string } | undefined)?.account_id
    if (!accountId) return undefined
    return this.inAccount(accountId, async (client) => {
      // The status as it stands under the lock: a report racing this one has been applied or waits.
      const current = await client.query(`SELECT t.* ${touchOf} FOR UPDATE OF t`, [decisionId])
      if (!current.rows[0]) return undefined
      const touch = rowToTouch(current.rows[0] as Row)
      if (touch.status === status) return touch
      checkTransition(decisionId, touch.status, status)
      await client.query(
        'UPDATE remit_touches SET status = $2 WHERE id = $1 AND at = $3',
        params([touch.id, status, touch.at]),
      )
      // Only a reserved touch gets here, so its commitment is withdrawn once.
      if (status === 'failed' || status === 'cancelled') {
        await client.query('UPDATE remit_commitments SET withdrawn = true WHERE decision_id = $1', [
          decisionId,
        ])
      }
      return { ...touch, status }
    })
  }

  async recordSuppression(s: Suppression): Promise<Suppression> {
    return this.inAccount(s.accountId, async (client) => {
      const { rowCount } = await client.query(
        `INSERT INTO remit_suppressions (id, account_id, at, external_id, body) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (external_id) WHERE external_id IS NOT NULL DO NOTHING`,
        [s.id, s.accountId, s.at, s.externalId ?? null, JSON.stringify(s)],
      )
      if (rowCount === 1) return s
      const first = await client.query('SELECT body FROM remit_suppressions WHERE external_id = $1', [
        s.externalId,
      ])
      return parseSuppression((first.rows[0] as Row).body)
    })
  }

  async liftSuppression(id: string, lift: SuppressionLift): Promise<Suppression> {
    const { rows } = await this.query('SELECT account_id FROM remit_suppressions WHERE id = $1', [id])
    const accountId = (rows[0] as { account_id?: string } | undefined)?.account_id
    if (!accountId) throw new NotFoundError('suppression', id)
    return this.inAccount(accountId, async (client) => {
      // As it stands under the lock: a lift racing this one has been applied or waits.
      const current = await client.query('SELECT body FROM remit_suppressions WHERE id = $1 FOR UPDATE', [id])
      const s = parseSuppression((current.rows[0] as Row).body)
      if (s.liftedAt) return s
      const lifted: Suppression = {
        ...s,
        liftedAt: lift.at,
        liftedBy: lift.by,
        ...(lift.note !== undefined ? { liftNote: lift.note } : {}),
      }
      await client.query(
        'UPDATE remit_suppressions SET lifted_at = $2, body = $3 WHERE id = $1',
        params([id, lift.at, JSON.stringify(lifted)]),
      )
      return lifted
    })
  }

  async listSuppressions(filter: SuppressionFilter = {}): Promise<Suppression[]> {
    const f = suppressionFilterSql(filter, POSTGRES)
    const sql = `SELECT body FROM remit_suppressions ${f.where} ORDER BY at, id LIMIT ${f.limit}`
    const { rows } = await this.query(sql, f.args)
    return rows.map((r) => parseSuppression((r as Row).body))
  }

  async recordTouch(touch: Touch): Promise<Touch> {
    return this.inAccount(touch.accountId, async (client) => {
      if (await insertTouch(client, touch)) {
        if (touch.contactId !== undefined && touch.email !== undefined)
          await client.query(
            `INSERT INTO remit_identities (account_id, contact_id, email, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING`,
            params([touch.accountId, touch.contactId, touch.email, touch.at]),
          )
        return touch
      }
      // Recorded before (another account's lock may have been held: the index, not the lock, decides).
      const first = await client.query(
        `SELECT t.* FROM remit_touch_external e JOIN remit_touches t ON t.id = e.touch_id AND t.at = e.at
         WHERE e.external_id = $1`,
        [touch.externalId],
      )
      return rowToTouch(first.rows[0] as Row)
    })
  }

  async getDecision(id: string): Promise<Decision | undefined> {
    const { rows } = await this.query('SELECT body FROM remit_decisions WHERE id = $1', [id])
    return rows[0] ? parseDecision((rows[0] as Row).body) : undefined
  }

  async listDecisions(filter: DecisionFilter = {}): Promise<Decision[]> {
    const f = decisionFilterSql(filter, POSTGRES)
    const sql = `SELECT body FROM remit_decisions ${f.where} ORDER BY at DESC, id DESC LIMIT ${f.limit}`
    const { rows } = await this.query(sql, f.args)
    return rows.map((r) => parseDecision((r as Row).body))
  }

  async getReview(id: string): Promise<Review | undefined> {
    const { rows } = await this.query('SELECT body FROM remit_reviews WHERE id = $1', [id])
    return rows[0] ? parseReview((rows[0] as Row).body) : undefined
  }

  async listReviews(filter: ReviewFilter = {}): Promise<Review[]> {
    const f = reviewFilterSql(filter, POSTGRES)
    const sql = `SELECT body FROM remit_reviews ${f.where} ORDER BY created_at, id LIMIT ${f.limit}`
    const { rows } = await this.query(sql, f.args)
    return rows.map((r) => parseReview((r as Row).body))
  }

  async expiringReviews(at: Date): Promise<Review[]> {
    const { rows } = await this.query(
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
      const decision = parseDecision((d.rows[0] as Row).body)
      const read = ledgerRead(review.accountId, window.since, window.now, personOf(decision))
      const ledger = await client.query(read.sql, params(read.args))
      const write = plan(review, decision, toLedger(ledger.rows[0] as LedgerRow))
      if (write.touch) {
        await insertTouch(client, write.touch)
        await client.query('UPDATE remit_decisions SET touch_id = $1 WHERE id = $2', [
          write.touch.id,
          review.decisionId,
        ])
      }
      if (write.commitment) await insertCommitment(client, write.commitment)
      await upsertReview(client, write.review)
      for (const message of write.outbox ?? []) await insertOutbox(client, message)
      return write.review
    })
  }

  /**
   * One statement: the due messages are locked `FOR UPDATE SKIP LOCKED`, so a claim running at the
   * same moment (here or on another instance) passes them by instead of waiting for them, and pushed
   * out by the lease, so a later claim passes them by until it runs out. A claim takes at most 1000.
   */
  async claimOutbox(channel: string, now: Date, leaseMs: number, limit: number): Promise<OutboxMessage[]> {
    const nextAt = new Date(now.getTime() + leaseMs)
    const { rows } = await this.query(
      `WITH due AS MATERIALIZED (
         SELECT id, next_at FROM remit_outbox WHERE channel = $1 AND status = 'pending' AND next_at <= $2
         ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE remit_outbox o SET next_at = $4, attempts = o.attempts + 1,
           body = o.body || $5::jsonb || jsonb_build_object('attempts', o.attempts + 1)
         FROM due WHERE o.id = due.id RETURNING o.id, o.body, due.next_at AS due_at)
       SELECT body FROM claimed ORDER BY due_at, id`,
      [channel, now, Math.min(Math.max(limit, 1), 1000), nextAt, bodyFields({ nextAt })],
    )
    return rows.map((r) => parseOutbox((r as Row).body))
  }

  /** By the rule core's `settle` applies: delivered drops the last error; dead is due no more. */
  async settleOutbox(id: string, settlement: OutboxSettlement): Promise<OutboxMessage> {
    if (settlement.status === 'delivered')
      return this.changeOutbox(id, { status: 'delivered', deliveredAt: settlement.at }, ['lastError'])
    // Delivered is final: a late failure report (from a deliverer whose lease ran out) changes nothing.
    if (settlement.status === 'pending')
      return this.changeOutbox(id, { nextAt: settlement.retryAt, lastError: settlement.error }, [], true)
    return this.changeOutbox(
      id,
      { status: 'dead', nextAt: settlement.at, lastError: settlement.error },
      [],
      true,
    )
  }

  async listOutbox(filter: OutboxFilter = {}): Promise<OutboxMessage[]> {
    const f = outboxFilterSql(filter, POSTGRES)
    const sql = `SELECT body FROM remit_outbox ${f.where} ORDER BY created_at, id LIMIT ${f.limit}`
    const { rows } = await this.query(sql, f.args)
    return rows.map((r) => parseOutbox((r as Row).body))
  }

  async readState(key: string): Promise<string | undefined> {
    const { rows } = await this.query('SELECT value FROM remit_state WHERE key = $1', [key])
    return (rows[0] as Row | undefined)?.value as string | undefined
  }

  async writeState(key: string, value: string): Promise<void> {
    await this.query(
      `INSERT INTO remit_state (key, value, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      [key, value],
    )
  }

  async updateState(key: string, change: (value: string | undefined) => string): Promise<string> {
    return this.withClient(async (client) => {
      // The key's own lock: a row not yet written has nothing for FOR UPDATE to hold.
      await client.query('BEGIN')
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended('remit_state:' || $1, 0))", [key])
      const { rows } = await client.query('SELECT value FROM remit_state WHERE key = $1', [key])
      const value = change((rows[0] as Row | undefined)?.value as string | undefined)
      await client.query(
        `INSERT INTO remit_state (key, value, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        [key, value],
      )
      await client.query('COMMIT')
      return value
    })
  }

  async listCandidateDiffs(filter: CandidateDiffFilter = {}): Promise<CandidateDiff[]> {
    const f = candidateDiffFilterSql(filter, POSTGRES)
    const sql = `SELECT body FROM remit_candidate_diffs ${f.where} ORDER BY at DESC, decision_id DESC LIMIT ${f.limit}`
    const { rows } = await this.query(sql, f.args)
    return rows.map((r) => parseCandidateDiff((r as Row).body))
  }

  async retryOutbox(id: string, now: Date): Promise<OutboxMessage> {
    const m = await this.changeOutbox(
      id,
      { status: 'pending', attempts: 0, nextAt: now },
      ['lastError', 'deliveredAt'],
      true,
    )
    // Not changed because it was delivered: a delivered message is not sent again.
    if (m.status === 'delivered') throw deliveredAlready(id)
    return m
  }

  /**
   * Sets `fields` of a message and removes `removed`, in one statement: in its body, and in the
   * columns that mirror them, from the same values.
   */
  private async changeOutbox(
    id: string,
    fields: Partial<OutboxMessage>,
    removed: (keyof OutboxMessage)[],
    unlessDelivered = false,
  ): Promise<OutboxMessage> {
    const { rows } = await this.query(
      `UPDATE remit_outbox SET status = coalesce($2, status), next_at = coalesce($3, next_at),
         attempts = coalesce($4, attempts), body = (body - $5::text[]) || $6::jsonb
       WHERE id = $1 AND NOT ($7::boolean AND status = 'delivered') RETURNING body`,
      [
        id,
        fields.status ?? null,
        fields.nextAt ?? null,
        fields.attempts ?? null,
        removed,
        bodyFields(fields),
        unlessDelivered,
      ],
    )
    if (rows[0]) return parseOutbox((rows[0] as Row).body)
    const current = await this.query('SELECT body FROM remit_outbox WHERE id = $1', [id])
    if (!current.rows[0]) throw new NotFoundError('outbox message', id)
    return parseOutbox((current.rows[0] as Row).body)
  }

  async timeline(accountId: string, limit = 1000): Promise<Timeline> {
    const n = timelineLimit(limit)
    // The newest n of each, oldest first.
    const newest = (table: string, columns: string, at: string) =>
      `SELECT ${columns} FROM (SELECT * FROM ${table} WHERE account_id = $1 ORDER BY ${at} DESC, id DESC LIMIT $2) x ORDER BY ${at}, id`
    const [touches, decisions, reviews, commitments] = await Promise.all([
      this.query(newest('remit_touches', '*', 'at'), [accountId, n]),
      this.query(newest('remit_decisions', 'body', 'at'), [accountId, n]),
      this.query(newest('remit_reviews', 'body', 'created_at'), [accountId, n]),
      this.query(newest('remit_commitments', '*', 'at'), [accountId, n]),
    ])
    return {
      accountId,
      touches: touches.rows.map((r) => rowToTouch(r as Row)),
      decisions: decisions.rows.map((r) => parseDecision((r as Row).body)),
      reviews: reviews.rows.map((r) => parseReview((r as Row).body)),
      commitments: commitments.rows.map((r) => rowToCommitment(r as Row)),
    }
  }

  /**
   * Removes what no rule reads and the audit no longer keeps (see `PruneRequest`). Months of touches
   * wholly before the cut-off are dropped (instant, whatever their size); the rest is deleted 10,000
   * rows a transaction, so deciders never wait long on it. With `dryRun`, counts and removes nothing.
   */
  async prune(request: PruneRequest): Promise<PruneReport> {
    const { touchesBefore, decisionsBefore, now } = request
    const count = async (sql: string, args: unknown[]) =>
      Number(
        ((await this.query(`SELECT count(*)::bigint AS n FROM ${sql}`, args)).rows[0] as { n: string }).n,
      )
    const keep = `NOT EXISTS (SELECT 1 FROM remit_reviews r WHERE r.decision_id = d.id AND r.status = 'pending')`
    const spent = `(withdrawn OR (expires_at IS NOT NULL AND expires_at <= $2))`
    const where = {
      touches: ['remit_touches WHERE at < $1', [touchesBefore]],
      decisions: [`remit_decisions d WHERE d.at < $1 AND ${keep}`, [decisionsBefore]],
      reviews: [`remit_reviews WHERE created_at < $1 AND status <> 'pending'`, [decisionsBefore]],
      commitments: [`remit_commitments WHERE at < $1 AND ${spent}`, [decisionsBefore, now]],
    } as const
    // A candidate's diffs go with their decisions (a decision kept, its review pending, keeps its diff).
    const orphan = 'NOT EXISTS (SELECT 1 FROM remit_decisions d WHERE d.id = c.decision_id)'
    const empty = (): PruneReport => ({
      touches: 0,
      decisions: 0,
      reviews: 0,
      commitments: 0,
      candidateDiffs: 0,
      months: [],
    })
    if (request.dryRun) {
      const report = empty()
      for (const [k, [sql, args]] of Object.entries(where))
        report[k as keyof typeof where] = await count(sql, [...args])
      // The diffs whose decision is gone, or goes in this prune.
      const going = `NOT EXISTS (SELECT 1 FROM remit_decisions d WHERE d.id = c.decision_id AND (d.at >= $1 OR NOT ${keep}))`
      report.candidateDiffs = await count(`remit_candidate_diffs c WHERE c.at < $1 AND ${going}`, [
        decisionsBefore,
      ])
      report.months = await this.withClient((client) => monthsBefore(client, touchesBefore))
      return report
    }
    const report = empty()
    // Whole months first: counted (they are gone after), then dropped, each in a short transaction.
    for (const month of await this.withClient((client) => monthsBefore(client, touchesBefore))) {
      report.touches += await count(month, [])
      await this.withClient(async (client) => {
        await client.query('BEGIN')
        await client.query('DELETE FROM remit_touch_external WHERE at < $1', params([touchesBefore]))
        await client.query(`DROP TABLE ${month}`)
        await client.query('COMMIT')
      })
      report.months.push(month)
    }
    const chunks = async (table: string, key: string, sql: string, args: readonly unknown[]) => {
      let removed = 0
      for (;;) {
        const { rowCount } = await this.query(
          `DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${sql} LIMIT 10000)`,
          [...args],
        )
        removed += rowCount ?? 0
        if (!rowCount) return removed
      }
    }
    report.touches += await chunks('remit_touches', 'id, at', where.touches[0], where.touches[1])
    await this.query('DELETE FROM remit_touch_external WHERE at < $1', [touchesBefore])
    report.decisions += await chunks('remit_decisions', 'id', where.decisions[0], where.decisions[1])
    report.candidateDiffs += await chunks(
      'remit_candidate_diffs',
      'decision_id',
      `remit_candidate_diffs c WHERE c.at < $1 AND ${orphan}`,
      [decisionsBefore],
    )
    report.reviews += await chunks('remit_reviews', 'id', where.reviews[0], where.reviews[1])
    report.commitments += await chunks('remit_commitments', 'id', where.commitments[0], where.commitments[1])
    return report
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.months)
    // Decisions already asked for are decided (and committed) before the pool ends: nothing lost.
    if (this.batches || this.pending.length) await new Promise<void>((resolve) => this.idle.push(resolve))
    await this.pool.end()
  }
}

/**
 * Inserts the touch; false when its external id was recorded before (nothing written). The external
 * id is claimed first, in its own table (a unique index on the partitioned touches could not hold it).
 */
async function insertTouch(client: Client, t: Touch): Promise<boolean> {
  if (t.externalId !== undefined) {
    const claim = await client.query(
      'INSERT INTO remit_touch_external (external_id, touch_id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      params([t.externalId, t.id, t.at]),
    )
    if (claim.rowCount !== 1) return false
  }
  await client.query(
    `INSERT INTO remit_touches (id, account_id, contact_id, agent, team, tool, kind, channel, outbound, at, status, decision_id, source, note, external_id, email, attributes)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17::jsonb)`,
    params([
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
      t.externalId ?? null,
      t.email ?? null,
      t.attributes === undefined ? null : JSON.stringify(t.attributes),
    ]),
  )
  return true
}

async function insertCommitment(client: Client, c: Commitment): Promise<void> {
  await client.query(
    `INSERT INTO remit_commitments (id, account_id, contact_id, kind, value, team, agent, at, expires_at, decision_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    params([
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
    ]),
  )
}

async function upsertReview(client: Client, r: Review): Promise<void> {
  await client.query(
    `INSERT INTO remit_reviews (id, decision_id, account_id, team, status, created_at, expires_at, body)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body`,
    params([r.id, r.decisionId, r.accountId, r.team, r.status, r.createdAt, r.expiresAt, JSON.stringify(r)]),
  )
}

async function insertOutbox(client: Client, m: OutboxMessage): Promise<void> {
  await client.query(
    `INSERT INTO remit_outbox (id, channel, status, next_at, created_at, attempts, body)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    params([m.id, m.channel, m.status, m.nextAt, m.createdAt, m.attempts, JSON.stringify(m)]),
  )
}

const parseTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ) as (text: string) => Date

/**
 * Plain rows carry times as Dates; jsonb bodies as JS's ISO strings; json_agg rows as PostgreSQL's,
 * which JS cannot read for years before 1 (`… BC`) or after 9999, and pg's own parser can.
 */
function date(v: unknown): Date {
  if (v instanceof Date) return v
  const parsed = new Date(v as string)
  return Number.isNaN(parsed.getTime()) ? parseTimestamptz((v as string).replace('T', ' ')) : parsed
}

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

function parseOutbox(body: unknown): OutboxMessage {
  const m = (typeof body === 'string' ? JSON.parse(body) : { ...(body as Row) }) as Row
  for (const k of ['createdAt', 'nextAt', 'deliveredAt']) if (m[k] !== undefined) m[k] = date(m[k])
  return m as unknown as OutboxMessage
}

/** pg hands times over as Dates (or ISO text inside JSON), booleans as booleans, jsonb parsed. */
const READ: RowReader = {
  date,
  bool: (v) => v as boolean,
  json: (v) => (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>,
}
/** Numbered parameters; times bound as Dates; the body is jsonb. */
const POSTGRES: SqlDialect = {
  param: (n) => `$${n}`,
  time: (at) => at,
  bodyText: (field) => `body->>'${field}'`,
  hasRule: `body->'reasons' @> ?::jsonb`,
  ruleArg: (rule) => JSON.stringify([{ rule }]),
}

const rowToTouch = (r: Row): Touch => touchFromRow(r, READ)

const rowToCommitment = (r: Row): Commitment => commitmentFromRow(r, READ)
