import type { OutboxFilter } from '../outbox/outbox.ts'
import type { CandidateDiffFilter, DecisionFilter, ReviewFilter, SuppressionFilter } from './store.ts'

// The log, review and outbox filters as both stores apply them: which conditions, in which order,
// and how many rows at most. A store says only how its SQL spells a placeholder, a time, a field of
// the stored JSON body and "has a reason from this rule".

export interface SqlDialect {
  /** The n-th parameter (1-based): `?` or `$n`. */
  param: (n: number) => string
  /** A time as the driver binds it. */
  time: (at: Date) => unknown
  /** The text of a top-level field of the row's JSON `body`. */
  bodyText: (field: 'contactId' | 'email') => string
  /** "One of the body's reasons names this rule", with `?` for the value `ruleArg` binds. */
  hasRule: string
  ruleArg: (rule: string) => unknown
}

/** A `WHERE` clause (empty when there is no condition), its arguments, and the row limit. */
export interface FilterSql {
  where: string
  args: unknown[]
  limit: number
}

/** A page of at least one row and at most `most`. */
function bound(limit: number | undefined, fallback: number, most: number): number {
  return Math.min(Math.max(limit ?? fallback, 1), most)
}

class Conditions {
  readonly parts: string[] = []
  readonly args: unknown[] = []
  private readonly dialect: SqlDialect
  constructor(dialect: SqlDialect) {
    this.dialect = dialect
  }

  /** `sql` with `?` where the value goes; nothing when the value is absent. */
  add(sql: string, value: unknown): void {
    if (value === undefined) return
    this.args.push(value)
    this.parts.push(sql.replace('?', this.dialect.param(this.args.length)))
  }

  /** A condition with no value. */
  raw(sql: string): void {
    this.parts.push(sql)
  }

  done(limit: number): FilterSql {
    return { where: this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '', args: this.args, limit }
  }
}

export function decisionFilterSql(filter: DecisionFilter, dialect: SqlDialect): FilterSql {
  const c = new Conditions(dialect)
  c.add('account_id = ?', filter.accountId)
  c.add('agent = ?', filter.agent)
  c.add('team = ?', filter.team)
  c.add('verdict = ?', filter.verdict)
  c.add(`${dialect.bodyText('contactId')} = ?`, filter.contactId)
  c.add(`lower(${dialect.bodyText('email')}) = ?`, filter.email?.toLowerCase())
  c.add(dialect.hasRule, filter.rule === undefined ? undefined : dialect.ruleArg(filter.rule))
  c.add('at >= ?', filter.since && dialect.time(filter.since))
  c.add('at < ?', filter.until && dialect.time(filter.until))
  c.add('at < ?', filter.before && dialect.time(filter.before))
  return c.done(bound(filter.limit, 100, 1000))
}

/** Candidate diffs by candidate version and time; `candidate_version` and `at` are columns. */
export function candidateDiffFilterSql(filter: CandidateDiffFilter, dialect: SqlDialect): FilterSql {
  const c = new Conditions(dialect)
  c.add('candidate_version = ?', filter.candidateVersion)
  c.add('at >= ?', filter.since && dialect.time(filter.since))
  c.add('at < ?', filter.until && dialect.time(filter.until))
  c.add('at < ?', filter.before && dialect.time(filter.before))
  return c.done(bound(filter.limit, 1000, 10000))
}

export function reviewFilterSql(filter: ReviewFilter, dialect: SqlDialect): FilterSql {
  const c = new Conditions(dialect)
  c.add('status = ?', filter.status)
  c.add('team = ?', filter.team)
  c.add('account_id = ?', filter.accountId)
  return c.done(bound(filter.limit, 500, 5000))
}

export function outboxFilterSql(filter: OutboxFilter, dialect: SqlDialect): FilterSql {
  const c = new Conditions(dialect)
  c.add('channel = ?', filter.channel)
  c.add('status = ?', filter.status)
  return c.done(bound(filter.limit, 100, 1000))
}

/** Suppressions by account, contact, address (any case) and lifted or not; `lifted_at` is a column. */
export function suppressionFilterSql(filter: SuppressionFilter, dialect: SqlDialect): FilterSql {
  const c = new Conditions(dialect)
  c.add('account_id = ?', filter.accountId)
  c.add(`${dialect.bodyText('contactId')} = ?`, filter.contactId)
  c.add(`lower(${dialect.bodyText('email')}) = ?`, filter.email?.trim().toLowerCase())
  if (filter.lifted !== undefined) c.raw(filter.lifted ? 'lifted_at IS NOT NULL' : 'lifted_at IS NULL')
  return c.done(bound(filter.limit, 100, 1000))
}
