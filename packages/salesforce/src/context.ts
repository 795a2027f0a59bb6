import type { Remit } from '@remit/core'
import { InputError } from '@remit/core'
import { activityTime, customerCache, type VendorCustomer } from '@remit/core/adapter'
import type { Connection } from '@salesforce/core'

// Facts for an Account or Contact, read with SOQL
// (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/).
// Record ids are validated before they reach a query string; other values are escaped; field
// names and the renewal condition come from configuration, never from a request.

const ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/
const FIELD = /^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?$/

export function assertId(id: string, what = 'record id'): string {
  if (!ID.test(id))
    throw new InputError(
      'BAD_ID',
      `expected a Salesforce ${what} (15 or 18 letters and digits), got ${JSON.stringify(id)}`,
      ['id'],
    )
  return id
}

/** A SOQL string literal. */
export function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`
}

export interface SalesforceContextOptions {
  connection: Connection
  /** Fact → field on the Account (or the Contact, with `from: contact`), with optional value mapping. */
  fields?: Record<
    string,
    string | { field: string; from?: 'account' | 'contact'; values?: Record<string, string> }
  >
  /** Sets this fact to the creation time of the newest open Case in the last `openCaseHours`. */
  openCaseFact?: string
  openCaseHours?: number
  /** An open Opportunity matching `where` (SOQL, from configuration) sets `fact` to `value`. */
  renewal?: { where: string; fact: string; value: string | boolean }
  /** Records recent Tasks and Events by these users as touches of `team`. */
  activities?: { remit: Remit; team: string; owners: string[]; sinceHours?: number }
  cacheMs?: number
  now?: () => number
}

/** The customer a Salesforce record stands for (one shape for every adapter). */
export type SalesforceCustomer = VendorCustomer

type Rec = Record<string, unknown> & { Id: string }

export function salesforceContext(o: SalesforceContextOptions) {
  const now = o.now ?? Date.now
  // A dateTime literal `hours` before now. SOQL's date literals count whole days at the least (there
  // is no LAST_N_HOURS: "Date Formats and Date Literals"), so an hour window is a timestamp, which
  // SOQL takes unquoted and without milliseconds.
  const hoursAgo = (hours: number) =>
    new Date(now() - Math.floor(hours) * 3600e3).toISOString().replace(/\.\d{3}Z$/, 'Z')
  const cached = customerCache((type: 'account' | 'contact', id: string) => load(type, id), {
    ttlMs: o.cacheMs ?? 30_000,
    now,
  })
  const mapping = Object.entries(o.fields ?? {}).map(([fact, m]) => ({
    fact,
    ...(typeof m === 'string' ? { field: m } : m),
  }))
  for (const m of mapping)
    if (!FIELD.test(m.field)) throw new Error(`invalid field name "${m.field}" for fact ${m.fact}`)
  const owners = (o.activities?.owners ?? []).map((id) => assertId(id, 'user id'))

  async function load(type: 'account' | 'contact', id: string): Promise<SalesforceCustomer> {
    assertId(id, `${type} id`)
    let contact: Rec | undefined
    let accountId = type === 'account' ? id : undefined
    if (type === 'contact') {
      const fields = [
        'Id',
        'Email',
        'AccountId',
        ...mapping.filter((m) => m.from === 'contact').map((m) => m.field),
      ]
      contact = (
        await o.connection.query<Rec>(
          `SELECT ${[...new Set(fields)].join(', ')} FROM Contact WHERE Id = ${soqlString(id)} LIMIT 1`,
        )
      ).records[0]
      if (!contact) throw new InputError('NOT_FOUND', `no Contact ${id}`, ['contactId'])
      accountId = (contact.AccountId as string | null) ?? undefined
    }
    const facts: Record<string, unknown> = {}
    let account: Rec | undefined
    const accountFields = mapping.filter((m) => m.from !== 'contact').map((m) => m.field)
    if (accountId && accountFields.length) {
      account = (
        await o.connection.query<Rec>(
          `SELECT Id, ${[...new Set(accountFields)].join(', ')} FROM Account WHERE Id = ${soqlString(accountId)} LIMIT 1`,
        )
      ).records[0]
    }
    for (const m of mapping) {
      const raw = (m.from === 'contact' ? contact : account)?.[m.field]
      if (raw === null || raw === undefined || raw === '') continue
      facts[m.fact] = typeof raw === 'string' ? (m.values?.[raw] ?? raw) : raw
    }
    if (accountId && o.openCaseFact) {
      const cases = await o.connection.query<Rec>(
        `SELECT Id, CreatedDate FROM Case WHERE AccountId = ${soqlString(accountId)} AND IsClosed = false AND CreatedDate >= ${hoursAgo(o.openCaseHours ?? 48)} ORDER BY CreatedDate DESC LIMIT 1`,
      )
      const created = cases.records[0]?.CreatedDate
      if (typeof created === 'string') facts[o.openCaseFact] = new Date(created).toISOString()
    }
    if (accountId && o.renewal) {
      const deals = await o.connection.query<Rec>(
        `SELECT Id FROM Opportunity WHERE AccountId = ${soqlString(accountId)} AND IsClosed = false AND (${o.renewal.where}) LIMIT 1`,
      )
      if (deals.records.length) facts[o.renewal.fact] = o.renewal.value
    }
    const key = accountId ?? `contact:${id}`
    if (accountId && o.activities && owners.length) await recordActivities(o.activities, accountId, key)
    return {
      accountId: key,
      ...(type === 'contact' ? { contactId: id } : {}),
      ...(typeof contact?.Email === 'string' ? { email: contact.Email } : {}),
      facts,
    }
  }

  async function recordActivities(
    a: NonNullable<SalesforceContextOptions['activities']>,
    accountId: string,
    key: string,
  ) {
    const hours = Math.floor(a.sinceHours ?? 72)
    const who = owners.map(soqlString).join(', ')
    for (const [object, kind, channel, when] of [
      ['Task', 'task', 'crm', 'CreatedDate'],
      ['Event', 'meeting', 'meeting', 'StartDateTime'],
    ] as const) {
      const rows = await o.connection.query<Rec>(
        `SELECT Id, ${when}, OwnerId FROM ${object} WHERE AccountId = ${soqlString(accountId)} AND OwnerId IN (${who}) AND ${when} >= ${hoursAgo(hours)}`,
      )
      for (const r of rows.records) {
        const at = activityTime(r[when], now())
        await a.remit.recordTouch({
          accountId: key,
          kind,
          channel,
          team: a.team,
          outbound: false,
          ...(at ? { at } : {}),
          note: `salesforce ${object} ${r.Id}`,
          // Seen again at the next lookup, after a restart, or sent by the activity flow: once.
          externalId: `salesforce:${object}:${r.Id}`,
        })
      }
    }
  }

  return {
    customer: (type: 'account' | 'contact', id: string): Promise<SalesforceCustomer> => cached(type, id),
  }
}
