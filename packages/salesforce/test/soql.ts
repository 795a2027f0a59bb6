import {
  type Condition,
  type FieldType,
  type OrderByClause,
  parseQuery,
  type Query,
  type ValueQueryCondition,
  type WhereClause,
} from '@jetstreamapp/soql-parser-js'

// An in-memory SOQL evaluator for the fake Salesforce, built on the kept parser
// (@jetstreamapp/soql-parser-js). It answers the way the REST query resource does
// (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm):
// `{ totalSize, done, records }`, each record with `attributes: { type, url }`, parent relationship
// fields nested (`{ Account: { attributes, Name } }`, or `Account: null`), every selected field present
// (null when empty), field names in their schema casing, in SELECT order.
//
// Semantics, from the SOQL and SOSL Reference
// (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/):
// - Logical operators: parentheses are required whenever AND, OR and NOT are mixed; a NOT straight
//   after AND/OR is rejected ("unexpected token: NOT"), it has to be wrapped: `a = 1 AND (NOT b = 2)`.
// - Comparison: string `=`, `!=`, `<`…, LIKE and ORDER BY are case-insensitive; ids compare as
//   18-character ids (a 15-character id matches its 18-character form). Null is a value: `x = null`,
//   `x != 'a'` is true for a null x, ordering comparisons and LIKE are false for it.
// - LIKE: `%` any run, `_` one character, `\%` and `\_` the characters themselves.
// - String escapes: \n \r \t \b \f \" \' \\ (and their upper-case letters); \% \_ only in LIKE; any
//   other backslash is a MALFORMED_QUERY.
// - Date and dateTime literals: YYYY-MM-DD only against date fields, YYYY-MM-DDThh:mm:ss(.sss)(Z|±hh:mm)
//   only against dateTime fields.
// - Date literals ("SOQL and SOSL Reference: Date Formats and Date Literals",
//   https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_dateformats.htm):
//   each is a range [start, end) of whole days; `=` in it, `!=` outside, `<` before start, `<=` before
//   end, `>` at or after end, `>=` at or after start. Evaluated against `now` in UTC, weeks starting on
//   Sunday (the en_US locale). There is no hour-based literal: LAST_N_HOURS:n is not SOQL, and the
//   parser (like Salesforce) rejects it as MALFORMED_QUERY. Fiscal literals throw (no fiscal year here).
// - ORDER BY: ASC by default, nulls first by default in either direction; ties keep table order.
// - Semi-join / anti-join: `field [NOT] IN (SELECT oneIdField FROM …)`, only at the top level of the
//   WHERE (through AND).
// - COUNT(): alone in the SELECT list; `records` is empty and `totalSize` is the count.
//
// Everything else the parser accepts (GROUP BY, HAVING, aggregates other than COUNT(), FIELDS(),
// toLabel(), date functions, child subqueries, TYPEOF, polymorphic relationships, aliases, USING SCOPE,
// WITH, FOR, INCLUDES/EXCLUDES, currency literals) throws a SoqlError MALFORMED_QUERY saying it is not
// implemented here, so a test never passes by matching everything. Unknown objects throw INVALID_TYPE,
// unknown fields and relationships INVALID_FIELD, a literal of the wrong type for its field
// INVALID_FIELD, an operator a field type does not allow or a malformed id INVALID_QUERY_FILTER_OPERATOR.

export type SoqlErrorCode =
  | 'MALFORMED_QUERY'
  | 'INVALID_FIELD'
  | 'INVALID_TYPE'
  | 'INVALID_QUERY_FILTER_OPERATOR'

/** A query Salesforce would refuse: the fake answers 400 with `[{ errorCode, message }]`. */
export class SoqlError extends Error {
  readonly errorCode: SoqlErrorCode
  constructor(errorCode: SoqlErrorCode, message: string) {
    super(message)
    this.name = 'SoqlError'
    this.errorCode = errorCode
  }
  /** The REST API's error body. */
  get body() {
    return [{ errorCode: this.errorCode, message: this.message }]
  }
}

export type SoqlFieldType = 'id' | 'reference' | 'string' | 'boolean' | 'number' | 'date' | 'datetime'
/** A field's type; a reference names its parent object in `to` (no `to`: polymorphic, not implemented). */
export type SoqlFieldSpec = SoqlFieldType | { type: 'reference'; to?: string }
/** Object → field → type. Merged over STANDARD_SCHEMA; fields seen in table rows are added with an inferred type. */
export type SoqlSchema = Record<string, Record<string, SoqlFieldSpec>>

export interface SoqlResult {
  totalSize: number
  done: true
  records: Record<string, unknown>[]
}

export interface SoqlOptions {
  schema?: SoqlSchema
  /** For `attributes.url`; default 62.0, the fake's version. */
  apiVersion?: string
}

type Row = Record<string, unknown>
type Tables = Record<string, Row[]>

const user = { type: 'reference', to: 'User' } as const
const account = { type: 'reference', to: 'Account' } as const
const contact = { type: 'reference', to: 'Contact' } as const
const audit = {
  Id: 'id',
  IsDeleted: 'boolean',
  CreatedDate: 'datetime',
  CreatedById: user,
  LastModifiedDate: 'datetime',
  LastModifiedById: user,
  SystemModstamp: 'datetime',
} as const

/** The standard objects and fields the adapter touches (names and types from the Object Reference). */
export const STANDARD_SCHEMA: SoqlSchema = {
  Account: {
    ...audit,
    Name: 'string',
    Type: 'string',
    Industry: 'string',
    ParentId: account,
    OwnerId: user,
    AnnualRevenue: 'number',
    NumberOfEmployees: 'number',
    Website: 'string',
    Phone: 'string',
    BillingCountry: 'string',
  },
  Contact: {
    ...audit,
    AccountId: account,
    OwnerId: user,
    FirstName: 'string',
    LastName: 'string',
    Name: 'string',
    Email: 'string',
    Phone: 'string',
    Title: 'string',
  },
  Case: {
    ...audit,
    AccountId: account,
    ContactId: contact,
    OwnerId: { type: 'reference' },
    CaseNumber: 'string',
    Subject: 'string',
    Status: 'string',
    Priority: 'string',
    Origin: 'string',
    Type: 'string',
    IsClosed: 'boolean',
    ClosedDate: 'datetime',
  },
  Opportunity: {
    ...audit,
    AccountId: account,
    OwnerId: user,
    Name: 'string',
    Type: 'string',
    StageName: 'string',
    Amount: 'number',
    Probability: 'number',
    CloseDate: 'date',
    IsClosed: 'boolean',
    IsWon: 'boolean',
    ForecastCategory: 'string',
  },
  Task: {
    ...audit,
    AccountId: account,
    OwnerId: user,
    WhoId: { type: 'reference' },
    WhatId: { type: 'reference' },
    Subject: 'string',
    Status: 'string',
    Priority: 'string',
    Type: 'string',
    TaskSubtype: 'string',
    ActivityDate: 'date',
    CompletedDateTime: 'datetime',
    IsClosed: 'boolean',
  },
  Event: {
    ...audit,
    AccountId: account,
    OwnerId: user,
    WhoId: { type: 'reference' },
    WhatId: { type: 'reference' },
    Subject: 'string',
    Type: 'string',
    StartDateTime: 'datetime',
    EndDateTime: 'datetime',
    ActivityDate: 'date',
    ActivityDateTime: 'datetime',
    DurationInMinutes: 'number',
    IsAllDayEvent: 'boolean',
  },
  User: {
    ...audit,
    Name: 'string',
    FirstName: 'string',
    LastName: 'string',
    Username: 'string',
    Email: 'string',
    IsActive: 'boolean',
  },
}

const malformed = (message: string) => new SoqlError('MALFORMED_QUERY', message)
const notImplemented = (what: string) =>
  malformed(`${what} is valid SOQL but not implemented by the fake's SOQL evaluator (test/soql.ts)`)

// ---------------------------------------------------------------------------------------------
// Entry points

/** Runs `soql` over `tables` (object name → rows) as Salesforce's query resource would at `now`. */
export function runSoql(soql: string, tables: Tables, now: Date, options: SoqlOptions = {}): SoqlResult {
  if (Number.isNaN(now.getTime())) throw new Error('runSoql: now is not a valid Date')
  let query: Query
  try {
    query = parseQuery(soql)
  } catch (e) {
    const detail = (e as Error).message
    const found = /but found: (?:'([^']*)'|(\S+))/.exec(detail)
    const token = found?.[1] ?? found?.[2]
    throw malformed(
      token !== undefined ? `unexpected token: '${token}' (${firstLine(detail)})` : firstLine(detail),
    )
  }
  const db = new Db(tables, options)
  return new Evaluator(db, now, options.apiVersion ?? '62.0').run(query)
}

/** The fake's answer to GET …/query?q=: 200 with the result, or 400 with Salesforce's error body. */
export function answerSoql(
  soql: string,
  tables: Tables,
  now: Date,
  options?: SoqlOptions,
):
  | { status: 200; body: SoqlResult }
  | { status: 400; body: { errorCode: SoqlErrorCode; message: string }[] } {
  try {
    return { status: 200, body: runSoql(soql, tables, now, options) }
  } catch (e) {
    if (e instanceof SoqlError) return { status: 400, body: e.body }
    throw e
  }
}

function firstLine(s: string) {
  return s.split('\n')[0] ?? s
}

// ---------------------------------------------------------------------------------------------
// Objects, fields and rows

interface FieldInfo {
  name: string
  type: SoqlFieldType | 'unknown'
  to?: string
  /** Known only from table rows, not from a schema. */
  inferred?: boolean
}

interface ObjectInfo {
  name: string
  fields: Map<string, FieldInfo> // lower-case name → info
  rows: Row[]
  byId?: Map<string, Row>
}

class Db {
  private objects = new Map<string, ObjectInfo>()
  private tables: Tables
  private options: SoqlOptions
  constructor(tables: Tables, options: SoqlOptions) {
    this.tables = tables
    this.options = options
  }

  object(name: string): ObjectInfo {
    const key = name.toLowerCase()
    const cached = this.objects.get(key)
    if (cached) return cached
    const tableName = Object.keys(this.tables).find((t) => t.toLowerCase() === key)
    const schemas = [STANDARD_SCHEMA, this.options.schema ?? {}]
    const schemaNames = schemas.flatMap((s) => Object.keys(s).filter((t) => t.toLowerCase() === key))
    const canonical = tableName ?? schemaNames[0]
    if (!canonical)
      throw new SoqlError(
        'INVALID_TYPE',
        `sObject type '${name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.`,
      )
    const fields = new Map<string, FieldInfo>()
    for (const schema of schemas)
      for (const [object, specs] of Object.entries(schema)) {
        if (object.toLowerCase() !== key) continue
        for (const [field, spec] of Object.entries(specs)) {
          const info: FieldInfo =
            typeof spec === 'string'
              ? { name: field, type: spec }
              : { name: field, type: spec.type, ...(spec.to ? { to: spec.to } : {}) }
          fields.set(field.toLowerCase(), info)
        }
      }
    const rows = tableName ? (this.tables[tableName] ?? []) : []
    for (const row of rows)
      for (const [field, value] of Object.entries(row)) {
        if (field === 'attributes') continue
        const known = fields.get(field.toLowerCase())
        if (!known) fields.set(field.toLowerCase(), { name: field, type: inferType(value), inferred: true })
        else if (known.type === 'unknown' && value !== null && value !== undefined)
          known.type = inferType(value)
      }
    const info: ObjectInfo = { name: canonical, fields, rows }
    this.objects.set(key, info)
    return info
  }

  field(object: ObjectInfo, name: string): FieldInfo {
    const f = object.fields.get(name.toLowerCase())
    if (!f)
      throw new SoqlError(
        'INVALID_FIELD',
        `No such column '${name}' on entity '${object.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`,
      )
    return f
  }

  rowById(object: ObjectInfo, id: unknown): Row | undefined {
    if (typeof id !== 'string') return undefined
    if (!object.byId) {
      object.byId = new Map()
      for (const row of object.rows) if (typeof row.Id === 'string') object.byId.set(normalizeId(row.Id), row)
    }
    return object.byId.get(normalizeId(id))
  }
}

function inferType(value: unknown): FieldInfo['type'] {
  if (typeof value === 'boolean') return 'boolean'
  if (typeof value === 'number') return 'number'
  if (value instanceof Date) return 'datetime'
  if (typeof value === 'string') {
    if (DATETIME.test(value)) return 'datetime'
    if (DATE.test(value)) return 'date'
    return 'string'
  }
  return 'unknown'
}

const ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/
const ID_SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345'

/** A 15- or 18-character id as its 18-character form, lower-cased (the suffix carries the case). */
export function normalizeId(id: string): string {
  if (id.length !== 15) return id.toLowerCase()
  let suffix = ''
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0
    for (let i = 0; i < 5; i++) {
      const c = id.charCodeAt(chunk * 5 + i)
      if (c >= 65 && c <= 90) bits |= 1 << i
    }
    suffix += ID_SUFFIX[bits]
  }
  return (id + suffix).toLowerCase()
}

// ---------------------------------------------------------------------------------------------
// Dates

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/i
const DAY = 86_400_000

function parseDate(s: string): number | undefined {
  const m = DATE.exec(s)
  if (!m) return undefined
  const ms = Date.UTC(+(m[1] as string), +(m[2] as string) - 1, +(m[3] as string))
  return new Date(ms).toISOString().slice(0, 10) === s ? ms : undefined
}

function parseDateTime(s: string): number | undefined {
  const m = DATETIME.exec(s)
  if (!m) return undefined
  const [, y, mo, d, h, mi, sec, frac, zone] = m as unknown as string[]
  const day = parseDate(`${y}-${mo}-${d}`)
  if (day === undefined || +(h as string) > 23 || +(mi as string) > 59 || +(sec as string) > 59)
    return undefined
  let ms = day + ((+(h as string) * 60 + +(mi as string)) * 60 + +(sec as string)) * 1000
  if (frac) ms += Math.round(Number(`0${frac}`) * 1000)
  if (zone && zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone) as RegExpExecArray
    const offset = (+(z[2] as string) * 60 + +(z[3] as string)) * 60_000
    ms -= z[1] === '+' ? offset : -offset
  }
  return ms
}

type Range = { start: number; end: number }

/** The range a date literal names at `now`, in UTC, per "Date Formats and Date Literals". */
export function dateLiteralRange(literal: string, now: Date): Range {
  const [name = '', nText] = literal.toUpperCase().split(':')
  const n = nText === undefined ? undefined : Number(nText)
  if (n !== undefined && !Number.isInteger(n)) throw malformed(`invalid date literal ${literal}`)
  const y = now.getUTCFullYear()
  const m = now.getUTCMonth()
  const today = Date.UTC(y, m, now.getUTCDate())
  const week = today - now.getUTCDay() * DAY // Sunday
  const month = (k: number) => Date.UTC(y, m + k, 1)
  const quarter = Math.floor(m / 3) * 3
  const q = (k: number) => Date.UTC(y, quarter + 3 * k, 1)
  const year = (k: number) => Date.UTC(y + k, 0, 1)
  const days = (a: number, b: number) => ({ start: today + a * DAY, end: today + b * DAY })
  const weeks = (a: number, b: number) => ({ start: week + 7 * a * DAY, end: week + 7 * b * DAY })
  const need = () => {
    if (n === undefined) throw malformed(`date literal ${name} needs :n`)
    return n
  }
  switch (name) {
    case 'YESTERDAY':
      return days(-1, 0)
    case 'TODAY':
      return days(0, 1)
    case 'TOMORROW':
      return days(1, 2)
    case 'LAST_WEEK':
      return weeks(-1, 0)
    case 'THIS_WEEK':
      return weeks(0, 1)
    case 'NEXT_WEEK':
      return weeks(1, 2)
    case 'LAST_MONTH':
      return { start: month(-1), end: month(0) }
    case 'THIS_MONTH':
      return { start: month(0), end: month(1) }
    case 'NEXT_MONTH':
      return { start: month(1), end: month(2) }
    case 'LAST_90_DAYS':
      return days(-90, 1)
    case 'NEXT_90_DAYS':
      return days(1, 91)
    case 'LAST_N_DAYS':
      return days(-need(), 1)
    case 'NEXT_N_DAYS':
      return days(1, 1 + need())
    case 'N_DAYS_AGO':
      return days(-need(), 1 - need())
    case 'LAST_N_WEEKS':
      return weeks(-need(), 0)
    case 'NEXT_N_WEEKS':
      return weeks(1, 1 + need())
    case 'N_WEEKS_AGO':
      return weeks(-need(), 1 - need())
    case 'LAST_N_MONTHS':
      return { start: month(-need()), end: month(0) }
    case 'NEXT_N_MONTHS':
      return { start: month(1), end: month(1 + need()) }
    case 'N_MONTHS_AGO':
      return { start: month(-need()), end: month(1 - need()) }
    case 'THIS_QUARTER':
      return { start: q(0), end: q(1) }
    case 'LAST_QUARTER':
      return { start: q(-1), end: q(0) }
    case 'NEXT_QUARTER':
      return { start: q(1), end: q(2) }
    case 'LAST_N_QUARTERS':
      return { start: q(-need()), end: q(0) }
    case 'NEXT_N_QUARTERS':
      return { start: q(1), end: q(1 + need()) }
    case 'N_QUARTERS_AGO':
      return { start: q(-need()), end: q(1 - need()) }
    case 'THIS_YEAR':
      return { start: year(0), end: year(1) }
    case 'LAST_YEAR':
      return { start: year(-1), end: year(0) }
    case 'NEXT_YEAR':
      return { start: year(1), end: year(2) }
    case 'LAST_N_YEARS':
      return { start: year(-need()), end: year(0) }
    case 'NEXT_N_YEARS':
      return { start: year(1), end: year(1 + need()) }
    case 'N_YEARS_AGO':
      return { start: year(-need()), end: year(1 - need()) }
  }
  if (name.includes('FISCAL')) throw notImplemented(`the fiscal date literal ${literal}`)
  throw malformed(`unexpected token: '${literal}'`)
}

// ---------------------------------------------------------------------------------------------
// String literals

/** The text of a quoted SOQL string literal. In LIKE, `\%` and `\_` are kept escaped for the pattern. */
function unquote(raw: string, like = false): string {
  if (!(raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'")))
    throw malformed(`expected a quoted string, got ${raw}`)
  const body = raw.slice(1, -1)
  let out = ''
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string
    if (c !== '\\') {
      out += c
      continue
    }
    const e = body[++i]
    switch (e) {
      case 'n':
      case 'N':
        out += '\n'
        break
      case 'r':
      case 'R':
        out += '\r'
        break
      case 't':
      case 'T':
        out += '\t'
        break
      case 'b':
      case 'B':
        out += '\b'
        break
      case 'f':
      case 'F':
        out += '\f'
        break
      case '"':
      case "'":
        out += e
        break
      case '\\':
        out += like ? '\\\\' : '\\'
        break
      case '%':
      case '_':
        if (!like)
          throw malformed(
            `Invalid string literal '${body}'. Illegal character sequence '\\${e}' in string literal.`,
          )
        out += `\\${e}`
        break
      default:
        throw malformed(
          `Invalid string literal '${body}'. Illegal character sequence '\\${e ?? ''}' in string literal.`,
        )
    }
  }
  return out
}

/** A LIKE pattern (as `unquote(raw, true)` returns it) as a case-insensitive RegExp. */
function likePattern(pattern: string): RegExp {
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string
    if (c === '\\') source += escapeRegExp(pattern[++i] ?? '')
    else if (c === '%') source += '[\\s\\S]*'
    else if (c === '_') source += '[\\s\\S]'
    else source += escapeRegExp(c)
  }
  return new RegExp(`^${source}$`, 'i')
}

function escapeRegExp(s: string) {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}

// ---------------------------------------------------------------------------------------------
// Field paths

interface Step {
  relationship: string // canonical name, as the nested key in records
  via: FieldInfo
  target: ObjectInfo
}

interface Path {
  steps: Step[]
  field: FieldInfo
  object: ObjectInfo // the object that holds `field`
  text: string
}

type Value = string | number | boolean | null

// Literals, typed
type Literal =
  | { kind: 'string'; value: string; raw: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'date'; value: number }
  | { kind: 'datetime'; value: number }
  | { kind: 'range'; value: Range; text: string }

// The WHERE clause as a tree
type Expr =
  | { op: 'AND' | 'OR'; terms: Expr[] }
  | { op: 'NOT'; term: Expr }
  | { op: 'COND'; cond: Condition | ValueQueryCondition }

type Token = '(' | ')' | 'AND' | 'OR' | 'NOT' | { cond: Condition | ValueQueryCondition }

const QUERY_KEYS = new Set(['fields', 'sObject', 'where', 'limit', 'offset', 'orderBy'])
const CONDITION_KEYS = new Set([
  'field',
  'operator',
  'value',
  'literalType',
  'openParen',
  'closeParen',
  'dateLiteralVariable',
  'valueQuery',
])
const UNIMPLEMENTED_CLAUSES: Record<string, string> = {
  sObjectAlias: 'an object alias',
  usingScope: 'USING SCOPE',
  groupBy: 'GROUP BY',
  having: 'HAVING',
  withDataCategory: 'WITH DATA CATEGORY',
  withSecurityEnforced: 'WITH SECURITY_ENFORCED',
  withAccessLevel: 'WITH USER_MODE / SYSTEM_MODE',
  for: 'FOR VIEW / REFERENCE / UPDATE',
  update: 'UPDATE TRACKING / VIEWSTAT',
}

class Evaluator {
  private db: Db
  private now: Date
  private apiVersion: string
  constructor(db: Db, now: Date, apiVersion: string) {
    this.db = db
    this.now = now
    this.apiVersion = apiVersion
  }

  run(query: Query): SoqlResult {
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || QUERY_KEYS.has(key)) continue
      throw notImplemented(UNIMPLEMENTED_CLAUSES[key] ?? `the clause ${key}`)
    }
    const object = this.db.object(query.sObject as string)
    const select = this.selectList(object, query.fields ?? [])
    const where = query.where ? this.whereTree(query.where) : undefined
    if (where) this.checkSemiJoins(where, true)
    // Compiled before any row is seen, so an empty table still rejects unknown fields and bad literals.
    const matches = where ? this.predicate(where, object) : () => true
    let rows = object.rows.filter(matches)
    if (query.orderBy)
      rows = this.order(object, rows, Array.isArray(query.orderBy) ? query.orderBy : [query.orderBy])
    const offset = query.offset ?? 0
    rows = rows.slice(offset, query.limit === undefined ? undefined : offset + query.limit)
    if (select === 'count') return { totalSize: rows.length, done: true, records: [] }
    return {
      totalSize: rows.length,
      done: true,
      records: rows.map((row) => this.record(object, row, select)),
    }
  }

  // SELECT

  private selectList(object: ObjectInfo, fields: FieldType[]): Path[] | 'count' {
    if (fields.length === 0) throw malformed('unexpected token: FROM')
    const paths: Path[] = []
    const seen = new Set<string>()
    let count = false
    for (const f of fields) {
      switch (f.type) {
        case 'Field':
        case 'FieldRelationship': {
          if ('alias' in f && f.alias)
            throw notImplemented(`the alias ${f.alias} (aliases are for aggregate queries)`)
          const text = f.type === 'Field' ? f.field : [...f.relationships, f.field].join('.')
          const path = this.path(object, text)
          const key = [...path.steps.map((s) => s.relationship), path.field.name].join('.').toLowerCase()
          if (seen.has(key)) throw malformed(`duplicate field selected: ${text}`)
          seen.add(key)
          paths.push(path)
          break
        }
        case 'FieldFunctionExpression':
          if (f.functionName.toUpperCase() === 'COUNT' && f.parameters.length === 0 && !f.alias) {
            count = true
            break
          }
          throw notImplemented(`the function ${f.rawValue ?? f.functionName}`)
        case 'FieldSubquery':
          throw notImplemented(
            `the child relationship subquery (SELECT … FROM ${f.subquery.relationshipName})`,
          )
        case 'FieldTypeof':
          throw notImplemented(`TYPEOF ${f.field}`)
        default:
          throw notImplemented(`the select item ${JSON.stringify(f)}`)
      }
    }
    if (count && paths.length) throw malformed('COUNT() must be the only element in the SELECT list')
    return count ? 'count' : paths
  }

  private path(object: ObjectInfo, text: string): Path {
    const parts = text.split('.')
    const fieldName = parts.pop() as string
    const steps: Step[] = []
    let current = object
    for (const part of parts) {
      const refName = /__r$/i.test(part) ? part.replace(/__r$/i, '__c') : `${part}Id`
      const via = current.fields.get(refName.toLowerCase())
      if (via?.inferred && /__c$/i.test(via.name))
        throw notImplemented(
          `the relationship ${part}: declare ${current.name}.${via.name} in options.schema as { type: 'reference', to: 'Object' }`,
        )
      if (via?.type !== 'reference')
        throw new SoqlError(
          'INVALID_FIELD',
          `Didn't understand relationship '${part}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name.`,
        )
      if (!via.to)
        throw notImplemented(
          `the relationship ${part} (${current.name}.${via.name} is polymorphic or has no target object; give one with options.schema)`,
        )
      const relationship = /__c$/i.test(via.name)
        ? via.name.replace(/__c$/i, '__r')
        : via.name.replace(/Id$/, '')
      const target = this.db.object(via.to)
      steps.push({ relationship, via, target })
      current = target
    }
    return { steps, field: this.db.field(current, fieldName), object: current, text }
  }

  /** The row a path ends on (null when a lookup on the way is empty or dangling). */
  private walk(path: Path, row: Row): Row | null {
    let current = row
    for (const step of path.steps) {
      const parent = this.db.rowById(step.target, current[step.via.name])
      if (!parent) return null
      current = parent
    }
    return current
  }

  private value(path: Path, row: Row): unknown {
    const holder = this.walk(path, row)
    if (!holder) return null
    const v = holder[path.field.name]
    if (v === undefined || v === null) return path.field.type === 'boolean' ? false : null
    return v
  }

  private attributes(object: ObjectInfo, row: Row) {
    return {
      type: object.name,
      ...(typeof row.Id === 'string'
        ? { url: `/services/data/v${this.apiVersion}/sobjects/${object.name}/${row.Id}` }
        : {}),
    }
  }

  private record(object: ObjectInfo, row: Row, select: Path[]): Row {
    const out: Row = { attributes: this.attributes(object, row) }
    for (const path of select) {
      let into: Row = out
      let at: Row | null = row
      let dead = false
      for (const step of path.steps) {
        at = this.db.rowById(step.target, (at as Row)[step.via.name]) ?? null
        if (!at) {
          if (!(step.relationship in into)) into[step.relationship] = null
          dead = true
          break
        }
        if (!into[step.relationship])
          into[step.relationship] = { attributes: this.attributes(step.target, at) }
        into = into[step.relationship] as Row
      }
      if (dead) continue
      const v = (at as Row)[path.field.name]
      into[path.field.name] =
        v === undefined || v === null
          ? path.field.type === 'boolean'
            ? false
            : null
          : v instanceof Date
            ? v.toISOString()
            : v
    }
    return out
  }

  // ORDER BY

  private order(object: ObjectInfo, rows: Row[], clauses: OrderByClause[]): Row[] {
    const keys = clauses.map((c) => {
      if (!('field' in c)) throw notImplemented(`ORDER BY ${c.fn.rawValue ?? c.fn.functionName}`)
      return {
        path: this.path(object, c.field),
        desc: c.order?.toUpperCase() === 'DESC',
        nullsLast: c.nulls?.toUpperCase() === 'LAST',
      }
    })
    return rows
      .map((row) => ({ row, values: keys.map((k) => sortable(k.path.field, this.value(k.path, row))) }))
      .sort((a, b) => {
        for (const [i, k] of keys.entries()) {
          const x = a.values[i] as Value
          const y = b.values[i] as Value
          if (x === null && y === null) continue
          if (x === null) return k.nullsLast ? 1 : -1
          if (y === null) return k.nullsLast ? -1 : 1
          const c = x < y ? -1 : x > y ? 1 : 0
          if (c) return k.desc ? -c : c
        }
        return 0
      })
      .map((e) => e.row)
  }

  // WHERE: the parser gives a right-leaning chain with parenthesis counts; rebuild the tree with
  // SOQL's rules.

  private whereTree(where: WhereClause): Expr {
    const tokens: Token[] = []
    let node: WhereClause | undefined = where
    while (node) {
      const left = node.left as (Condition & { openParen?: number; closeParen?: number }) | null
      const operator = 'operator' in node ? node.operator : undefined
      if (operator === 'NOT' && (left === null || !('operator' in left))) {
        for (let i = 0; i < (left?.openParen ?? 0); i++) tokens.push('(')
        tokens.push('NOT')
      } else {
        if (!left) throw malformed('unexpected end of WHERE')
        for (const key of Object.keys(left))
          if (!CONDITION_KEYS.has(key))
            throw notImplemented(
              key === 'fn'
                ? `the function ${(left as { fn: { rawValue?: string } }).fn.rawValue} in WHERE`
                : `the condition part ${key}`,
            )
        for (let i = 0; i < (left.openParen ?? 0); i++) tokens.push('(')
        tokens.push({ cond: left as Condition })
        for (let i = 0; i < (left.closeParen ?? 0); i++) tokens.push(')')
        if (operator === 'AND' || operator === 'OR') tokens.push(operator)
        else if (operator) throw malformed(`unexpected token: ${operator}`)
      }
      node = 'right' in node ? node.right : undefined
    }
    let i = 0
    const peek = () => tokens[i]
    const expr = (): Expr => {
      if (peek() === 'NOT') {
        i++
        const t = term()
        const next = peek()
        if (next !== undefined && next !== ')')
          throw malformed(
            `unexpected token: ${String(next)} (wrap NOT and its condition in parentheses when combining them with AND or OR)`,
          )
        return { op: 'NOT', term: t }
      }
      const terms = [term()]
      let op: 'AND' | 'OR' | undefined
      for (let next = peek(); next === 'AND' || next === 'OR'; next = peek()) {
        if (op && op !== next)
          throw malformed(`unexpected token: ${next} (parentheses are required when mixing AND and OR)`)
        op = next
        i++
        if (peek() === 'NOT') throw malformed(`unexpected token: NOT (write ${op} (NOT …))`)
        terms.push(term())
      }
      return op ? { op, terms } : (terms[0] as Expr)
    }
    const term = (): Expr => {
      const t = tokens[i++]
      if (t === '(') {
        const e = expr()
        if (tokens[i++] !== ')') throw malformed('unbalanced parentheses in WHERE')
        return e
      }
      if (typeof t === 'object') return { op: 'COND', cond: t.cond }
      throw malformed(`unexpected token: ${String(t ?? 'end of WHERE')}`)
    }
    const tree = expr()
    if (i !== tokens.length) throw malformed(`unexpected token: ${String(tokens[i])}`)
    return tree
  }

  private checkSemiJoins(e: Expr, top: boolean): void {
    if (e.op === 'COND') {
      if ('valueQuery' in e.cond && e.cond.valueQuery && !top)
        throw malformed(
          'Semi join sub-selects are only allowed at the top level WHERE expressions and not in nested WHERE expressions.',
        )
      return
    }
    if (e.op === 'NOT') this.checkSemiJoins(e.term, false)
    else for (const t of e.terms) this.checkSemiJoins(t, top && e.op === 'AND')
  }

  private predicate(e: Expr, object: ObjectInfo): (row: Row) => boolean {
    switch (e.op) {
      case 'AND': {
        const terms = e.terms.map((t) => this.predicate(t, object))
        return (row) => terms.every((t) => t(row))
      }
      case 'OR': {
        const terms = e.terms.map((t) => this.predicate(t, object))
        return (row) => terms.some((t) => t(row))
      }
      case 'NOT': {
        const term = this.predicate(e.term, object)
        return (row) => !term(row)
      }
      case 'COND':
        return this.compile(object, e.cond)
    }
  }

  /** A condition as a row predicate; all type checks happen here, once, before any row is seen. */
  private compile(object: ObjectInfo, cond: Condition | ValueQueryCondition): (row: Row) => boolean {
    const c = cond as ValueQueryCondition & {
      value?: string | string[]
      literalType?: string | string[]
    }
    const path = this.path(object, c.field)
    const field = path.field
    const op = (c.operator as string).toUpperCase()
    const get = (row: Row) => this.value(path, row)

    if (op === 'INCLUDES' || op === 'EXCLUDES') throw notImplemented(`${op} (multi-select picklists)`)

    if (c.valueQuery) {
      if (op !== 'IN' && op !== 'NOT IN') throw malformed(`unexpected token: ${op} before a subquery`)
      if (field.type !== 'id' && field.type !== 'reference' && field.type !== 'unknown')
        throw malformed(`The left operand of a semi join must be an id or reference field, not ${c.field}`)
      const inner = c.valueQuery
      if (inner.where) this.checkNoNestedSemiJoin(this.whereTree(inner.where))
      if ((inner.fields ?? []).length !== 1 || inner.fields?.[0]?.type !== 'Field')
        throw malformed('A semi join subquery must select exactly one id or reference field')
      const sub = new Evaluator(this.db, this.now, this.apiVersion)
      const innerObject = this.db.object(inner.sObject as string)
      const innerField = this.db.field(innerObject, (inner.fields[0] as { field: string }).field)
      if (innerField.type !== 'id' && innerField.type !== 'reference' && innerField.type !== 'unknown')
        throw malformed(`A semi join subquery must select an id or reference field, not ${innerField.name}`)
      const result = sub.run(inner)
      const ids = new Set(
        result.records
          .map((r) => r[innerField.name])
          .filter((v): v is string => typeof v === 'string')
          .map(normalizeId),
      )
      const isIn = (row: Row) => {
        const v = get(row)
        return typeof v === 'string' && ids.has(normalizeId(v))
      }
      return op === 'IN' ? isIn : (row) => !isIn(row)
    }

    const values = Array.isArray(c.value) ? c.value : [c.value ?? '']
    const types = Array.isArray(c.literalType) ? c.literalType : values.map(() => c.literalType)
    const literals = values.map((v, i) => this.literal(String(v), String(types[i] ?? ''), op === 'LIKE'))

    if (op === 'IN' || op === 'NOT IN') {
      if (!Array.isArray(c.value)) throw malformed(`${op} needs a parenthesized list`)
      for (const lit of literals) this.checkType(path, lit, '=')
      const isIn = (row: Row) => {
        const v = get(row)
        return literals.some((lit) => equals(field, v, lit))
      }
      return op === 'IN' ? isIn : (row) => !isIn(row)
    }
    if (Array.isArray(c.value)) throw malformed(`unexpected list after ${op}`)
    const lit = literals[0] as Literal
    this.checkType(path, lit, op)

    switch (op) {
      case '=':
        return (row) => equals(field, get(row), lit)
      case '!=':
      case '<>':
        return (row) => !equals(field, get(row), lit)
      case '<':
      case '<=':
      case '>':
      case '>=':
        return (row) => compare(field, get(row), lit, op)
      case 'LIKE': {
        if (lit.kind !== 'string') throw malformed('LIKE needs a string pattern')
        const re = likePattern(lit.value)
        return (row) => {
          const v = get(row)
          return typeof v === 'string' && re.test(v)
        }
      }
    }
    throw notImplemented(`the operator ${op}`)
  }

  private checkNoNestedSemiJoin(e: Expr) {
    if (e.op === 'COND') {
      if ('valueQuery' in e.cond && e.cond.valueQuery)
        throw malformed('Nesting of semi join sub-selects is not supported')
      return
    }
    for (const t of e.op === 'NOT' ? [e.term] : e.terms) this.checkNoNestedSemiJoin(t)
  }

  private literal(raw: string, type: string, like: boolean): Literal {
    switch (type.toUpperCase()) {
      case 'STRING':
        return { kind: 'string', value: unquote(raw, like), raw }
      case 'INTEGER':
      case 'DECIMAL': {
        const value = Number(raw)
        if (Number.isNaN(value)) throw malformed(`invalid number ${raw}`)
        return { kind: 'number', value }
      }
      case 'BOOLEAN':
        return { kind: 'boolean', value: raw.toUpperCase() === 'TRUE' }
      case 'NULL':
        return { kind: 'null' }
      case 'DATE': {
        const value = parseDate(raw)
        if (value === undefined) throw malformed(`invalid date: ${raw}`)
        return { kind: 'date', value }
      }
      case 'DATETIME': {
        const value = parseDateTime(raw)
        if (value === undefined) throw malformed(`invalid dateTime: ${raw}`)
        return { kind: 'datetime', value }
      }
      case 'DATE_LITERAL':
      case 'DATE_N_LITERAL':
        return { kind: 'range', value: dateLiteralRange(raw, this.now), text: raw }
      case 'INTEGER_WITH_CURRENCY_PREFIX':
      case 'DECIMAL_WITH_CURRENCY_PREFIX':
        throw notImplemented(`the currency literal ${raw}`)
      case 'APEX_BIND_VARIABLE':
        throw malformed('Bind variables only allowed in Apex code')
    }
    throw notImplemented(`the literal ${raw} (${type})`)
  }

  /** Salesforce refuses a literal of the wrong type for its field, and operators a type lacks. */
  private checkType(path: Path, lit: Literal, op: string) {
    const f = path.field
    const wrong = (expected: string, quotes: boolean) =>
      new SoqlError(
        'INVALID_FIELD',
        `value of filter criterion for field '${path.text}' must be of type ${expected} and should ${quotes ? '' : 'not '}be enclosed in quotes`,
      )
    const badOp = () =>
      new SoqlError(
        'INVALID_QUERY_FILTER_OPERATOR',
        `invalid operator on ${f.type} field '${path.text}': ${op}`,
      )
    if (op === 'LIKE' && f.type !== 'string' && f.type !== 'unknown') throw badOp()
    if (lit.kind === 'null') {
      if (op !== '=' && op !== '!=' && op !== '<>') throw malformed(`unexpected token: null (after ${op})`)
      return
    }
    switch (f.type) {
      case 'unknown':
        return
      case 'id':
      case 'reference':
        if (lit.kind !== 'string') throw wrong('id', true)
        if (!ID.test(lit.value))
          throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', `invalid ID field: ${lit.value}`)
        return
      case 'string':
        if (lit.kind !== 'string') throw wrong('string', true)
        return
      case 'boolean':
        if (lit.kind !== 'boolean') throw wrong('boolean', false)
        if (op !== '=' && op !== '!=' && op !== '<>') throw badOp()
        return
      case 'number':
        if (lit.kind !== 'number') throw wrong('number', false)
        return
      case 'date':
        if (lit.kind !== 'date' && lit.kind !== 'range') throw wrong('date', false)
        return
      case 'datetime':
        if (lit.kind !== 'datetime' && lit.kind !== 'range') throw wrong('dateTime', false)
        return
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Comparing a row's value with a literal

/** A stored value in a comparable form: lower-cased text, 18-char ids, epoch ms for dates. */
function sortable(field: FieldInfo, v: unknown): Value {
  if (v === null || v === undefined) return null
  switch (field.type) {
    case 'id':
    case 'reference':
      return typeof v === 'string' ? normalizeId(v) : String(v)
    case 'date':
      return typeof v === 'string'
        ? must(parseDate(v) ?? parseDateTime(v), field, v)
        : v instanceof Date
          ? v.getTime()
          : must(undefined, field, v)
    case 'datetime':
      return v instanceof Date
        ? v.getTime()
        : typeof v === 'string'
          ? must(parseDateTime(v), field, v)
          : must(undefined, field, v)
  }
  if (typeof v === 'string') return v.toLowerCase()
  if (typeof v === 'number' || typeof v === 'boolean') return v
  if (v instanceof Date) return v.getTime()
  return String(v)
}

function must(ms: number | undefined, field: FieldInfo, v: unknown): number {
  if (ms === undefined)
    throw new Error(`test data: ${field.name} holds ${JSON.stringify(v)}, not a ${field.type}`)
  return ms
}

/** A row value as the literal's kind, for fields whose type is only known from the literal. */
function asKind(field: FieldInfo, v: unknown, lit: Literal): Value {
  if (v === null || v === undefined) return null
  if (field.type !== 'unknown') return sortable(field, v)
  switch (lit.kind) {
    case 'date':
    case 'datetime':
    case 'range':
      return typeof v === 'string'
        ? (parseDateTime(v) ?? parseDate(v) ?? null)
        : v instanceof Date
          ? v.getTime()
          : null
    case 'number':
      return typeof v === 'number' ? v : null
    case 'boolean':
      return typeof v === 'boolean' ? v : null
    default:
      return typeof v === 'string' ? v.toLowerCase() : null
  }
}

function literalKey(field: FieldInfo, lit: Literal): Value {
  switch (lit.kind) {
    case 'string':
      return field.type === 'id' || field.type === 'reference'
        ? normalizeId(lit.value)
        : lit.value.toLowerCase()
    case 'null':
      return null
    case 'range':
      return null
    default:
      return lit.value
  }
}

function equals(field: FieldInfo, v: unknown, lit: Literal): boolean {
  const x = asKind(field, v, lit)
  if (lit.kind === 'null') return x === null
  if (x === null) return false
  if (lit.kind === 'range') return typeof x === 'number' && x >= lit.value.start && x < lit.value.end
  return x === literalKey(field, lit)
}

function compare(field: FieldInfo, v: unknown, lit: Literal, op: '<' | '<=' | '>' | '>='): boolean {
  const x = asKind(field, v, lit)
  if (x === null) return false
  if (lit.kind === 'range') {
    if (typeof x !== 'number') return false
    const { start, end } = lit.value
    return op === '<' ? x < start : op === '<=' ? x < end : op === '>' ? x >= end : x >= start
  }
  const y = literalKey(field, lit)
  if (y === null || typeof x !== typeof y) return false
  return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y
}
