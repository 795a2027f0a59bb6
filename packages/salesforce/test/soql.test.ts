import type { Remit } from '@remit/core'
import type { Connection } from '@salesforce/core'
import { describe, expect, it } from 'vitest'
import { salesforceContext } from '../src/context.ts'
import { answerSoql, dateLiteralRange, normalizeId, runSoql, SoqlError, type SoqlOptions } from './soql.ts'

// A Thursday; its week (en_US, Sunday first) began on Sunday 2026-04-05.
const NOW = new Date('2026-04-09T18:30:00Z')
const A1 = '001000000000001AAA'
const A2 = '001000000000002AAA'
const A3 = '001000000000003AAA'
const C1 = '003000000000001AAA'
const C2 = '003000000000002AAA'
const C3 = '003000000000003AAA'
const C4 = '003000000000004AAA'
const REP = '005000000000001AAA'
const OTHER_REP = '005000000000002AAA'

type Row = Record<string, unknown>
type Tables = Record<string, Row[]>

function fixture(): Tables {
  return {
    User: [
      { Id: REP, Name: 'Rita Rep', IsActive: true },
      { Id: OTHER_REP, Name: 'Otto Other', IsActive: false },
    ],
    Account: [
      {
        Id: A1,
        Name: 'Acme',
        OwnerId: REP,
        AnnualRevenue: 5_000_000,
        Tier__c: 'Enterprise',
        CreatedDate: '2025-01-10T09:00:00.000+0000',
      },
      {
        Id: A2,
        Name: 'globex',
        OwnerId: OTHER_REP,
        AnnualRevenue: 250_000,
        Tier__c: 'SMB',
        CreatedDate: '2026-04-08T12:00:00.000+0000',
      },
      { Id: A3, Name: null, AnnualRevenue: null, Tier__c: null, CreatedDate: '2026-04-09T01:00:00.000+0000' },
    ],
    Contact: [
      { Id: C1, AccountId: A1, LastName: "O'Brien", Email: 'jane@acme.example' },
      { Id: C2, AccountId: null, LastName: 'Solo', Email: null },
      { Id: C3, AccountId: A2, LastName: '50%_off\\deal', Email: 'p@globex.example' },
      { Id: C4, AccountId: '001000000000009AAA', LastName: 'Ghost', Email: 'g@example.com' },
    ],
    Opportunity: [
      {
        Id: '006000000000001AAA',
        AccountId: A1,
        Name: 'Acme renewal',
        Amount: 1200.5,
        CloseDate: '2026-04-30',
      },
      { Id: '006000000000002AAA', AccountId: A1, Name: 'Acme upsell', Amount: 99, CloseDate: '2026-04-09' },
      { Id: '006000000000003AAA', AccountId: A2, Name: 'Globex', Amount: null, CloseDate: '2026-03-31' },
    ],
  }
}

const run = (soql: string, tables: Tables = fixture(), now = NOW, options?: SoqlOptions) =>
  runSoql(soql, tables, now, options)
const ids = (soql: string, tables?: Tables, now?: Date) => run(soql, tables, now).records.map((r) => r.Id)

function rejects(soql: string, errorCode: string, message: RegExp, tables: Tables = fixture()) {
  let error: unknown
  try {
    runSoql(soql, tables, NOW)
  } catch (e) {
    error = e
  }
  expect(error, soql).toBeInstanceOf(SoqlError)
  expect(error, soql).toMatchObject({ errorCode })
  expect((error as Error).message, soql).toMatch(message)
}

describe('the result shape', () => {
  it('answers like the REST query resource: totalSize, done, records with attributes { type, url }', () => {
    expect(run(`SELECT Id, Name FROM Account WHERE Id = '${A1}'`)).toEqual({
      totalSize: 1,
      done: true,
      records: [
        {
          attributes: { type: 'Account', url: `/services/data/v62.0/sobjects/Account/${A1}` },
          Id: A1,
          Name: 'Acme',
        },
      ],
    })
  })

  it('returns only the selected fields, in SELECT order, with null for empty or absent values', () => {
    const [r] = run(`SELECT Email, LastName, Title FROM Contact WHERE Id = '${C2}'`).records
    expect(Object.keys(r as Row)).toEqual(['attributes', 'Email', 'LastName', 'Title'])
    expect(r).toMatchObject({ Email: null, LastName: 'Solo', Title: null })
  })

  it('matches object and field names case-insensitively and answers in schema casing', () => {
    const [r] = run(`select id, EMAIL, accountid from contact where ID = '${C1}'`).records
    expect(r).toEqual({
      attributes: { type: 'Contact', url: `/services/data/v62.0/sobjects/Contact/${C1}` },
      Id: C1,
      Email: 'jane@acme.example',
      AccountId: A1,
    })
  })

  it('answers a checkbox field that a row leaves out as false, as Salesforce never returns null for one', () => {
    const [r] = run('SELECT Id, IsClosed FROM Opportunity LIMIT 1').records
    expect(r?.IsClosed).toBe(false)
  })

  it('uses the API version given for attributes.url', () => {
    const [r] = run('SELECT Id FROM Account LIMIT 1', fixture(), NOW, { apiVersion: '60.0' }).records
    expect(r?.attributes).toEqual({ type: 'Account', url: `/services/data/v60.0/sobjects/Account/${A1}` })
  })
})

describe('parent relationship fields', () => {
  it('resolves Account.X through AccountId and nests it the way Salesforce does', () => {
    const [r] = run(`SELECT Id, Account.Name, Account.Tier__c FROM Contact WHERE Id = '${C1}'`).records
    expect(r).toEqual({
      attributes: { type: 'Contact', url: `/services/data/v62.0/sobjects/Contact/${C1}` },
      Id: C1,
      Account: {
        attributes: { type: 'Account', url: `/services/data/v62.0/sobjects/Account/${A1}` },
        Name: 'Acme',
        Tier__c: 'Enterprise',
      },
    })
  })

  it('answers Account: null when the lookup is empty or points at no record', () => {
    const records = run(`SELECT Id, Account.Name FROM Contact WHERE Id IN ('${C2}', '${C4}')`).records
    expect(records.map((r) => [r.Id, r.Account])).toEqual([
      [C2, null],
      [C4, null],
    ])
  })

  it('follows several levels (Account.Owner.Name through OwnerId to User)', () => {
    const [r] = run(`SELECT Account.Owner.Name FROM Contact WHERE Id = '${C3}'`).records
    expect(r?.Account).toMatchObject({
      attributes: { type: 'Account' },
      Owner: {
        attributes: { type: 'User', url: `/services/data/v62.0/sobjects/User/${OTHER_REP}` },
        Name: 'Otto Other',
      },
    })
  })

  it('filters and orders on relationship fields; an empty lookup is a null value', () => {
    expect(ids("SELECT Id FROM Contact WHERE Account.Name = 'ACME'")).toEqual([C1])
    expect(ids("SELECT Id FROM Contact WHERE Account.Name != 'Acme'")).toEqual([C2, C3, C4])
    expect(ids('SELECT Id FROM Contact ORDER BY Account.Name DESC NULLS LAST')).toEqual([C3, C1, C2, C4])
  })

  it('follows a custom __r relationship declared in the schema option', () => {
    const tables = {
      ...fixture(),
      Partner__c: [{ Id: 'a00000000000001AAA', Name: 'Reseller', Account__c: A2 }],
    }
    const schema = { Partner__c: { Account__c: { type: 'reference', to: 'Account' } as const } }
    const [r] = run('SELECT Name, Account__r.Name FROM Partner__c', tables, NOW, { schema }).records
    expect(r).toMatchObject({
      Name: 'Reseller',
      Account__r: { attributes: { type: 'Account' }, Name: 'globex' },
    })
  })

  it('rejects a relationship the object does not have, as INVALID_FIELD', () => {
    rejects('SELECT Id, Nope.Name FROM Contact', 'INVALID_FIELD', /Didn't understand relationship 'Nope'/)
    rejects('SELECT Id, Email.Name FROM Contact', 'INVALID_FIELD', /Didn't understand relationship 'Email'/)
    rejects(
      'SELECT Id, Account.Nope FROM Contact',
      'INVALID_FIELD',
      /No such column 'Nope' on entity 'Account'/,
    )
  })
})

describe('WHERE logic', () => {
  const q = (where: string) => ids(`SELECT Id FROM Account WHERE ${where}`)

  it('evaluates AND, OR and NOT with parentheses', () => {
    expect(q("Name = 'Acme' AND AnnualRevenue > 1000000")).toEqual([A1])
    expect(q("Name = 'Acme' OR Name = 'globex'")).toEqual([A1, A2])
    expect(q("Name = 'Acme' OR Name = 'globex' OR Name = null")).toEqual([A1, A2, A3])
    expect(q("NOT Name = 'Acme'")).toEqual([A2, A3])
    expect(q("Name != null AND (NOT Name = 'Acme')")).toEqual([A2])
    expect(q("(Name = 'Acme' OR Name = 'globex') AND AnnualRevenue < 1000000")).toEqual([A2])
    expect(q("Name = 'Acme' OR (Name = 'globex' AND AnnualRevenue < 1000)")).toEqual([A1])
    expect(q("NOT (Name = 'Acme' OR Name = null)")).toEqual([A2])
    expect(q("((Name = 'Acme')) AND ((AnnualRevenue > 0) OR (AnnualRevenue = null))")).toEqual([A1])
  })

  it('rejects mixing AND and OR without parentheses, as Salesforce does', () => {
    rejects(
      "SELECT Id FROM Account WHERE Name = 'Acme' AND AnnualRevenue > 0 OR Name = 'globex'",
      'MALFORMED_QUERY',
      /unexpected token: OR/,
    )
    rejects(
      "SELECT Id FROM Account WHERE Name = 'Acme' OR Name = 'globex' AND AnnualRevenue > 0",
      'MALFORMED_QUERY',
      /unexpected token: AND/,
    )
  })

  it('rejects NOT straight after AND/OR, and NOT combined with AND/OR without parentheses', () => {
    rejects("SELECT Id FROM Account WHERE Name != null AND NOT Name = 'Acme'", 'MALFORMED_QUERY', /NOT/)
    rejects("SELECT Id FROM Account WHERE NOT Name = 'Acme' AND Name != null", 'MALFORMED_QUERY', /AND/)
    rejects("SELECT Id FROM Account WHERE NOT (Name = 'Acme') AND Name != null", 'MALFORMED_QUERY', /AND/)
  })
})

describe('comparison operators', () => {
  const q = (where: string, object = 'Account') => ids(`SELECT Id FROM ${object} WHERE ${where}`)

  it('compares strings case-insensitively with =, != and <>', () => {
    expect(q("Name = 'GLOBEX'")).toEqual([A2])
    expect(q("Name != 'globex'")).toEqual([A1, A3])
    expect(q("Name <> 'globex'")).toEqual([A1, A3])
  })

  it('orders numbers, strings and dates with <, <=, > and >=; a null never satisfies them', () => {
    expect(q('AnnualRevenue > 250000')).toEqual([A1])
    expect(q('AnnualRevenue >= 250000')).toEqual([A1, A2])
    expect(q('AnnualRevenue < 5000000')).toEqual([A2])
    expect(q('AnnualRevenue <= 5000000')).toEqual([A1, A2])
    expect(q("Name < 'B'")).toEqual([A1])
    expect(q("Name >= 'b'")).toEqual([A2])
    expect(q('Amount > 99.5', 'Opportunity')).toEqual(['006000000000001AAA'])
    expect(q('CloseDate < 2026-04-09', 'Opportunity')).toEqual(['006000000000003AAA'])
    expect(q('CloseDate <= 2026-04-09', 'Opportunity')).toEqual(['006000000000002AAA', '006000000000003AAA'])
  })

  it('treats null as a value: = null, != null, and != matches rows whose field is null', () => {
    expect(q('Name = null')).toEqual([A3])
    expect(q('Name != null')).toEqual([A1, A2])
    expect(q("Tier__c != 'SMB'")).toEqual([A1, A3])
    expect(q("Name IN ('acme', null)")).toEqual([A1, A3])
  })

  it('matches LIKE case-insensitively with % and _, and \\% \\_ as the characters themselves', () => {
    expect(q("Name LIKE 'ac%'")).toEqual([A1])
    expect(q("Name LIKE '%B%'")).toEqual([A2])
    expect(q("Name LIKE 'Ac_e'")).toEqual([A1])
    expect(q("Name LIKE 'Ac_'")).toEqual([])
    expect(q("Name LIKE '%'")).toEqual([A1, A2])
    expect(q("LastName LIKE '50\\%\\_off%'", 'Contact')).toEqual([C3])
    expect(q("LastName LIKE '50\\%\\_off\\\\deal'", 'Contact')).toEqual([C3])
    expect(q("LastName LIKE '5_%off%'", 'Contact')).toEqual([C3])
    expect(q("LastName LIKE '50\\%\\_x%'", 'Contact')).toEqual([])
  })

  it('matches IN and NOT IN lists (NOT IN keeps nulls)', () => {
    expect(q("Name IN ('Acme', 'GLOBEX')")).toEqual([A1, A2])
    expect(q("Name NOT IN ('Acme')")).toEqual([A2, A3])
    expect(q('AnnualRevenue IN (250000, 1)')).toEqual([A2])
    expect(q(`AccountId IN ('${A1}', '${A2}')`, 'Contact')).toEqual([C1, C3])
    expect(q(`AccountId NOT IN ('${A1}')`, 'Contact')).toEqual([C2, C3, C4])
  })

  it('matches booleans, including a checkbox a row leaves out (false)', () => {
    const tables = fixture()
    ;(tables.Opportunity as Row[])[0] = { ...(tables.Opportunity as Row[])[0], IsClosed: true }
    expect(ids('SELECT Id FROM Opportunity WHERE IsClosed = true', tables)).toEqual(['006000000000001AAA'])
    expect(ids('SELECT Id FROM Opportunity WHERE IsClosed = FALSE', tables)).toEqual([
      '006000000000002AAA',
      '006000000000003AAA',
    ])
    expect(ids('SELECT Id FROM Opportunity WHERE IsClosed != false', tables)).toEqual(['006000000000001AAA'])
    expect(ids('SELECT Id FROM User WHERE IsActive = true')).toEqual([REP])
  })

  it('compares ids as 18-character ids: a 15-character id matches its 18-character record', () => {
    expect(normalizeId('001000000000001')).toBe(normalizeId(A1))
    expect(normalizeId('001Ab0000000001')).toBe('001ab0000000001iaa')
    expect(q("Id = '001000000000001'")).toEqual([A1])
    expect(q("Id = '001000000000001aaa'")).toEqual([A1])
    const tables = { Account: [{ Id: '001Ab0000000001IAA', Name: 'Mixed' }] }
    expect(ids("SELECT Id FROM Account WHERE Id = '001Ab0000000001'", tables)).toEqual(['001Ab0000000001IAA'])
    expect(ids("SELECT Id FROM Account WHERE Id = '001ab0000000001'", tables)).toEqual([])
  })

  it('rejects an id literal that is not an id, as INVALID_QUERY_FILTER_OPERATOR', () => {
    rejects(
      "SELECT Id FROM Account WHERE Id = 'nope'",
      'INVALID_QUERY_FILTER_OPERATOR',
      /invalid ID field: nope/,
    )
    rejects(
      "SELECT Id FROM Contact WHERE AccountId IN ('001000000000001AAA', '1')",
      'INVALID_QUERY_FILTER_OPERATOR',
      /invalid ID field: 1/,
    )
  })

  it('rejects operators a field type does not have', () => {
    rejects("SELECT Id FROM Account WHERE AnnualRevenue LIKE '5%'", 'INVALID_QUERY_FILTER_OPERATOR', /LIKE/)
    rejects('SELECT Id FROM Opportunity WHERE IsClosed > false', 'INVALID_QUERY_FILTER_OPERATOR', /boolean/)
    rejects(`SELECT Id FROM Contact WHERE AccountId LIKE '001%'`, 'INVALID_QUERY_FILTER_OPERATOR', /LIKE/)
    rejects('SELECT Id FROM Account WHERE Name > null', 'MALFORMED_QUERY', /null/)
  })
})

describe('typed literals', () => {
  it("reads SOQL string escapes: \\' \\\\ \\n \\t and their upper-case forms", () => {
    const tables = { Contact: [{ Id: C1, LastName: "O'Brien \\ x", Title: 'a\nb\tc' }] }
    expect(ids("SELECT Id FROM Contact WHERE LastName = 'O\\'Brien \\\\ x'", tables)).toEqual([C1])
    expect(ids("SELECT Id FROM Contact WHERE Title = 'a\\nb\\tc'", tables)).toEqual([C1])
    expect(ids("SELECT Id FROM Contact WHERE Title = 'a\\Nb\\Tc'", tables)).toEqual([C1])
  })

  it('rejects any other backslash sequence, and \\% \\_ outside LIKE', () => {
    rejects(
      "SELECT Id FROM Contact WHERE LastName = 'a\\qb'",
      'MALFORMED_QUERY',
      /Illegal character sequence '\\q'/,
    )
    rejects(
      "SELECT Id FROM Contact WHERE LastName = '50\\%'",
      'MALFORMED_QUERY',
      /Illegal character sequence '\\%'/,
    )
  })

  it('reads integers, decimals and signed numbers', () => {
    const q = (where: string) => ids(`SELECT Id FROM Opportunity WHERE ${where}`)
    expect(q('Amount = 1200.5')).toEqual(['006000000000001AAA'])
    expect(q('Amount = 99')).toEqual(['006000000000002AAA'])
    expect(q('Amount > -1 AND Amount < 100')).toEqual(['006000000000002AAA'])
    expect(q('Amount >= +1200.50')).toEqual(['006000000000001AAA'])
  })

  it('compares dateTime literals (Z, offsets, fractions) as instants and date literals as days', () => {
    const q = (where: string) => ids(`SELECT Id FROM Account WHERE ${where}`)
    expect(q('CreatedDate > 2026-04-08T12:00:00Z')).toEqual([A3])
    expect(q('CreatedDate >= 2026-04-08T12:00:00Z')).toEqual([A2, A3])
    expect(q('CreatedDate = 2026-04-08T14:00:00+02:00')).toEqual([A2])
    expect(q('CreatedDate = 2026-04-08T04:00:00-08:00')).toEqual([A2])
    expect(q('CreatedDate > 2026-04-08T11:59:59.999Z')).toEqual([A2, A3])
    expect(ids('SELECT Id FROM Opportunity WHERE CloseDate = 2026-04-30')).toEqual(['006000000000001AAA'])
  })

  it('rejects a literal of the wrong type for its field, as INVALID_FIELD', () => {
    rejects("SELECT Id FROM Account WHERE AnnualRevenue = '5'", 'INVALID_FIELD', /must be of type number/)
    rejects(
      'SELECT Id FROM Account WHERE Name = 5',
      'INVALID_FIELD',
      /must be of type string and should be enclosed/,
    )
    rejects("SELECT Id FROM Opportunity WHERE IsClosed = 'false'", 'INVALID_FIELD', /must be of type boolean/)
    rejects(
      'SELECT Id FROM Account WHERE CreatedDate > 2026-04-08',
      'INVALID_FIELD',
      /must be of type dateTime/,
    )
    rejects("SELECT Id FROM Account WHERE CreatedDate > '2026-04-08T00:00:00Z'", 'INVALID_FIELD', /dateTime/)
    rejects('SELECT Id FROM Opportunity WHERE CloseDate = 2026-04-30T00:00:00Z', 'INVALID_FIELD', /type date/)
    rejects(`SELECT Id FROM Contact WHERE AccountId = 1`, 'INVALID_FIELD', /must be of type id/)
  })

  it('rejects impossible dates', () => {
    rejects('SELECT Id FROM Opportunity WHERE CloseDate = 2026-02-30', 'MALFORMED_QUERY', /invalid date/)
  })
})

describe('date literals ("SOQL and SOSL Reference: Date Formats and Date Literals"), in UTC', () => {
  const day = (s: string) => Date.parse(`${s}T00:00:00Z`)
  // [literal, first day in range, first day after it] at NOW, Thursday 2026-04-09 18:30 UTC.
  const table: [string, string, string][] = [
    ['YESTERDAY', '2026-04-08', '2026-04-09'],
    ['TODAY', '2026-04-09', '2026-04-10'],
    ['TOMORROW', '2026-04-10', '2026-04-11'],
    ['LAST_WEEK', '2026-03-29', '2026-04-05'],
    ['THIS_WEEK', '2026-04-05', '2026-04-12'],
    ['NEXT_WEEK', '2026-04-12', '2026-04-19'],
    ['LAST_MONTH', '2026-03-01', '2026-04-01'],
    ['THIS_MONTH', '2026-04-01', '2026-05-01'],
    ['NEXT_MONTH', '2026-05-01', '2026-06-01'],
    ['LAST_90_DAYS', '2026-01-09', '2026-04-10'],
    ['NEXT_90_DAYS', '2026-04-10', '2026-07-09'],
    ['LAST_N_DAYS:7', '2026-04-02', '2026-04-10'],
    ['LAST_N_DAYS:0', '2026-04-09', '2026-04-10'],
    ['NEXT_N_DAYS:3', '2026-04-10', '2026-04-13'],
    ['N_DAYS_AGO:2', '2026-04-07', '2026-04-08'],
    ['LAST_N_WEEKS:2', '2026-03-22', '2026-04-05'],
    ['NEXT_N_WEEKS:2', '2026-04-12', '2026-04-26'],
    ['N_WEEKS_AGO:1', '2026-03-29', '2026-04-05'],
    ['LAST_N_MONTHS:2', '2026-02-01', '2026-04-01'],
    ['NEXT_N_MONTHS:2', '2026-05-01', '2026-07-01'],
    ['N_MONTHS_AGO:1', '2026-03-01', '2026-04-01'],
    ['THIS_QUARTER', '2026-04-01', '2026-07-01'],
    ['LAST_QUARTER', '2026-01-01', '2026-04-01'],
    ['NEXT_QUARTER', '2026-07-01', '2026-10-01'],
    ['LAST_N_QUARTERS:2', '2025-10-01', '2026-04-01'],
    ['NEXT_N_QUARTERS:2', '2026-07-01', '2027-01-01'],
    ['N_QUARTERS_AGO:4', '2025-04-01', '2025-07-01'],
    ['THIS_YEAR', '2026-01-01', '2027-01-01'],
    ['LAST_YEAR', '2025-01-01', '2026-01-01'],
    ['NEXT_YEAR', '2027-01-01', '2028-01-01'],
    ['LAST_N_YEARS:2', '2024-01-01', '2026-01-01'],
    ['NEXT_N_YEARS:2', '2027-01-01', '2029-01-01'],
    ['N_YEARS_AGO:3', '2023-01-01', '2024-01-01'],
  ]
  it.each(table)('%s runs from %s up to %s', (literal, start, end) => {
    expect(dateLiteralRange(literal, NOW)).toEqual({ start: day(start), end: day(end) })
  })

  it('starts the week on Sunday and rolls months and quarters over year ends', () => {
    const sunday = new Date('2026-04-05T00:00:00Z')
    expect(dateLiteralRange('THIS_WEEK', sunday)).toEqual({
      start: day('2026-04-05'),
      end: day('2026-04-12'),
    })
    const saturdayNight = new Date('2026-04-04T23:59:59Z')
    expect(dateLiteralRange('THIS_WEEK', saturdayNight)).toEqual({
      start: day('2026-03-29'),
      end: day('2026-04-05'),
    })
    const january = new Date('2026-01-15T12:00:00Z')
    expect(dateLiteralRange('LAST_MONTH', january)).toEqual({
      start: day('2025-12-01'),
      end: day('2026-01-01'),
    })
    expect(dateLiteralRange('LAST_QUARTER', january)).toEqual({
      start: day('2025-10-01'),
      end: day('2026-01-01'),
    })
    expect(dateLiteralRange('YESTERDAY', new Date('2026-01-01T00:00:00Z'))).toEqual({
      start: day('2025-12-31'),
      end: day('2026-01-01'),
    })
  })

  const created = (dates: string[]): Tables => ({
    Case: dates.map((d, i) => ({ Id: `500${String(i).padStart(12, '0')}AAA`, CreatedDate: d })),
  })
  const cases = created([
    '2026-04-08T23:59:59.000+0000', // 0: yesterday, last second
    '2026-04-09T00:00:00.000+0000', // 1: today, first second
    '2026-04-09T23:59:59.000+0000', // 2: today, later than now
    '2026-04-10T00:00:00.000+0000', // 3: tomorrow
    '2026-04-02T00:00:00.000+0000', // 4: 7 days ago
    '2026-04-01T23:59:59.000+0000', // 5: 8 days ago
  ])
  const matching = (where: string) =>
    run(`SELECT Id FROM Case WHERE ${where}`, cases).records.map((r) => Number((r.Id as string).slice(3, 15)))

  it('= matches inside the range, != outside it, at its exact boundaries', () => {
    expect(matching('CreatedDate = TODAY')).toEqual([1, 2])
    expect(matching('CreatedDate = YESTERDAY')).toEqual([0])
    expect(matching('CreatedDate != TODAY')).toEqual([0, 3, 4, 5])
    expect(matching('CreatedDate = LAST_N_DAYS:7')).toEqual([0, 1, 2, 4])
    expect(matching('CreatedDate = NEXT_N_DAYS:1')).toEqual([3])
  })

  it('< is before the range, > after it, >= from its start, <= to its end', () => {
    expect(matching('CreatedDate < TODAY')).toEqual([0, 4, 5])
    expect(matching('CreatedDate > TODAY')).toEqual([3])
    expect(matching('CreatedDate >= TODAY')).toEqual([1, 2, 3])
    expect(matching('CreatedDate <= TODAY')).toEqual([0, 1, 2, 4, 5])
  })

  it('applies to date fields by day and in IN lists', () => {
    expect(ids('SELECT Id FROM Opportunity WHERE CloseDate = THIS_MONTH')).toEqual([
      '006000000000001AAA',
      '006000000000002AAA',
    ])
    expect(ids('SELECT Id FROM Opportunity WHERE CloseDate = TODAY')).toEqual(['006000000000002AAA'])
    expect(ids('SELECT Id FROM Opportunity WHERE CloseDate IN (LAST_MONTH, TODAY)')).toEqual([
      '006000000000002AAA',
      '006000000000003AAA',
    ])
  })

  it('rejects LAST_N_HOURS:n, which is not a SOQL date literal, as MALFORMED_QUERY', () => {
    rejects(
      'SELECT Id FROM Case WHERE CreatedDate = LAST_N_HOURS:48',
      'MALFORMED_QUERY',
      /LAST_N_HOURS/,
      cases,
    )
  })

  it('throws for fiscal literals (no fiscal year is configured here) and for literals on text fields', () => {
    rejects(
      'SELECT Id FROM Case WHERE CreatedDate = THIS_FISCAL_YEAR',
      'MALFORMED_QUERY',
      /not implemented/,
      cases,
    )
    rejects('SELECT Id FROM Account WHERE Name = TODAY', 'INVALID_FIELD', /must be of type string/)
  })
})

describe('ORDER BY, LIMIT and OFFSET', () => {
  const names = (soql: string) => run(soql).records.map((r) => r.Name)

  it('sorts ascending by default, case-insensitively, with nulls first', () => {
    expect(names('SELECT Name FROM Account ORDER BY Name')).toEqual([null, 'Acme', 'globex'])
    expect(names('SELECT Name FROM Account ORDER BY Name ASC NULLS LAST')).toEqual(['Acme', 'globex', null])
  })

  it('sorts descending with nulls still first unless NULLS LAST', () => {
    expect(names('SELECT Name FROM Account ORDER BY Name DESC')).toEqual([null, 'globex', 'Acme'])
    expect(names('SELECT Name FROM Account ORDER BY Name DESC NULLS LAST')).toEqual(['globex', 'Acme', null])
  })

  it('sorts numbers and dateTimes by value, and by several keys in turn', () => {
    expect(names('SELECT Name FROM Account ORDER BY AnnualRevenue DESC NULLS LAST')).toEqual([
      'Acme',
      'globex',
      null,
    ])
    expect(names('SELECT Name FROM Account ORDER BY CreatedDate DESC')).toEqual([null, 'globex', 'Acme'])
    expect(ids('SELECT Id FROM Opportunity ORDER BY AccountId DESC, Amount ASC')).toEqual([
      '006000000000003AAA',
      '006000000000002AAA',
      '006000000000001AAA',
    ])
  })

  it('applies LIMIT and OFFSET after sorting; totalSize counts what is returned', () => {
    const r = run('SELECT Name FROM Account ORDER BY Name NULLS LAST LIMIT 1 OFFSET 1')
    expect(r.records.map((x) => x.Name)).toEqual(['globex'])
    expect(r.totalSize).toBe(1)
    expect(run('SELECT Id FROM Account LIMIT 0').records).toEqual([])
    expect(names('SELECT Name FROM Account ORDER BY Name NULLS LAST OFFSET 2')).toEqual([null])
  })

  it('rejects ordering on an unknown field or a function', () => {
    rejects('SELECT Id FROM Account ORDER BY Nope', 'INVALID_FIELD', /No such column 'Nope'/)
    rejects(
      'SELECT Id FROM Account ORDER BY CALENDAR_YEAR(CreatedDate)',
      'MALFORMED_QUERY',
      /not implemented/,
    )
  })
})

describe('COUNT()', () => {
  it('answers the count in totalSize with no records', () => {
    expect(run("SELECT COUNT() FROM Contact WHERE AccountId != null AND Email LIKE '%.example'")).toEqual({
      totalSize: 2,
      done: true,
      records: [],
    })
    expect(run('SELECT COUNT() FROM Opportunity WHERE Amount > 1000000').totalSize).toBe(0)
  })

  it('must be alone in the SELECT list', () => {
    rejects('SELECT Id, COUNT() FROM Contact', 'MALFORMED_QUERY', /COUNT\(\) must be the only element/)
  })
})

describe('semi-joins and anti-joins', () => {
  it('matches ids IN / NOT IN the one field a subquery selects', () => {
    expect(
      ids(
        "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity WHERE Name LIKE '%renewal')",
      ),
    ).toEqual([A1])
    expect(ids('SELECT Id FROM Account WHERE Id NOT IN (SELECT AccountId FROM Opportunity)')).toEqual([A3])
    expect(
      ids(
        `SELECT Id FROM Contact WHERE Email != null AND AccountId IN (SELECT Id FROM Account WHERE OwnerId = '${REP}')`,
      ),
    ).toEqual([C1])
  })

  it('rejects a semi-join under OR or NOT, a subquery of more than one field, and a non-id left side', () => {
    rejects(
      "SELECT Id FROM Account WHERE Name = 'x' OR Id IN (SELECT AccountId FROM Contact)",
      'MALFORMED_QUERY',
      /only allowed at the top level/,
    )
    rejects(
      'SELECT Id FROM Account WHERE Id IN (SELECT AccountId, Id FROM Contact)',
      'MALFORMED_QUERY',
      /exactly one/,
    )
    rejects(
      'SELECT Id FROM Account WHERE Name IN (SELECT AccountId FROM Contact)',
      'MALFORMED_QUERY',
      /id or reference/,
    )
  })
})

describe('unknown names and unimplemented SOQL throw instead of matching everything', () => {
  it('rejects an unknown object as INVALID_TYPE', () => {
    rejects('SELECT Id FROM Acount', 'INVALID_TYPE', /sObject type 'Acount' is not supported/)
  })

  it('rejects an unknown field as INVALID_FIELD, wherever it appears, even on an empty table', () => {
    rejects('SELECT Id, Tier FROM Account', 'INVALID_FIELD', /No such column 'Tier' on entity 'Account'/)
    rejects("SELECT Id FROM Account WHERE Tier = 'x'", 'INVALID_FIELD', /No such column 'Tier'/)
    rejects(
      "SELECT Id FROM Case WHERE Nope__c = 'x'",
      'INVALID_FIELD',
      /No such column 'Nope__c' on entity 'Case'/,
      {
        Case: [],
      },
    )
  })

  it('knows custom fields from the rows or the schema option', () => {
    expect(run("SELECT Id FROM Account WHERE Tier__c = 'smb'").records.map((r) => r.Id)).toEqual([A2])
    const schema = { Case: { Severity__c: 'string' as const } }
    expect(
      run("SELECT Id FROM Case WHERE Severity__c = 'high'", { Case: [] }, NOW, { schema }).totalSize,
    ).toBe(0)
  })

  it('rejects what the parser cannot read as MALFORMED_QUERY', () => {
    rejects('SELECT Id FROM Account WHERE', 'MALFORMED_QUERY', /./)
    rejects(
      "SELECT Id FROM Account WHERE Name = 'a' LIMIT 1 extra",
      'MALFORMED_QUERY',
      /unexpected token: 'extra'/,
    )
    rejects('SELECT Id FROM Account WHERE Name = :name', 'MALFORMED_QUERY', /./)
  })

  it.each([
    ['SELECT Id FROM Account GROUP BY Id', /GROUP BY/],
    ['SELECT COUNT(Id) FROM Account', /COUNT\(Id\)/],
    ['SELECT MAX(AnnualRevenue) FROM Account', /MAX/],
    ['SELECT FIELDS(ALL) FROM Account LIMIT 1', /FIELDS\(ALL\)/],
    ['SELECT toLabel(Name) FROM Account', /toLabel/],
    ['SELECT Id, (SELECT Id FROM Contacts) FROM Account', /child relationship subquery/],
    ['SELECT TYPEOF What WHEN Account THEN Name END FROM Task', /TYPEOF/],
    ['SELECT Id, What.Name FROM Task', /polymorphic/],
    ['SELECT Id FROM Account WHERE CALENDAR_YEAR(CreatedDate) = 2026', /CALENDAR_YEAR/],
    ["SELECT Id FROM Account WHERE Tier__c INCLUDES ('a')", /INCLUDES/],
    ['SELECT Id FROM Account WHERE AnnualRevenue > USD100', /currency/],
    ['SELECT Name n FROM Account', /alias/],
    ["SELECT Id FROM Account a WHERE a.Name = 'x'", /object alias/],
    ['SELECT Id FROM Account USING SCOPE mine', /USING SCOPE/],
    ['SELECT Id FROM Account WITH SECURITY_ENFORCED', /SECURITY_ENFORCED/],
    ['SELECT Id FROM Account FOR VIEW', /FOR VIEW/],
  ])('%s → MALFORMED_QUERY, not implemented', (soql, what) => {
    rejects(soql, 'MALFORMED_QUERY', what)
    rejects(soql, 'MALFORMED_QUERY', /not implemented/)
  })

  it('rejects a duplicate field in the SELECT list', () => {
    rejects('SELECT Id, Name, name FROM Account', 'MALFORMED_QUERY', /duplicate field selected: name/)
  })

  it('gives the fake a 200 or a 400 with Salesforce error body', () => {
    expect(answerSoql('SELECT Id FROM Account LIMIT 1', fixture(), NOW)).toMatchObject({
      status: 200,
      body: { totalSize: 1, done: true },
    })
    expect(answerSoql('SELECT Nope FROM Account', fixture(), NOW)).toEqual({
      status: 400,
      body: [{ errorCode: 'INVALID_FIELD', message: expect.stringMatching(/No such column 'Nope'/) }],
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Every query src/context.ts builds, through the real salesforceContext and a Connection whose
// query() runs the SOQL here.

function connection(
  tables: Tables,
  seen: string[],
  rewrite: (soql: string) => string = (s) => s,
): Connection {
  return {
    query: async (soql: string) => {
      seen.push(soql)
      return runSoql(rewrite(soql), tables, NOW)
    },
  } as unknown as Connection
}

function remit() {
  const touches: Record<string, unknown>[] = []
  return {
    touches,
    remit: { recordTouch: async (t: Record<string, unknown>) => void touches.push(t) } as unknown as Remit,
  }
}

const hoursAgo = (h: number) =>
  new Date(NOW.getTime() - h * 3_600_000).toISOString().replace('.000Z', '.000+0000')

/** context.ts's facts data: rows inside the windows (Cases 48 h, activities 72 h) and rows outside them. */
function crm(): Tables {
  return {
    ...fixture(),
    Contact: [
      { Id: C1, AccountId: A1, Email: 'jane@acme.example', Region__c: 'EMEA' },
      { Id: C2, AccountId: null, Email: 'solo@example.com', Region__c: null },
    ],
    Case: [
      { Id: '500000000000001AAA', AccountId: A1, IsClosed: false, CreatedDate: hoursAgo(30) },
      { Id: '500000000000002AAA', AccountId: A1, IsClosed: false, CreatedDate: hoursAgo(5) }, // newest open, inside
      { Id: '500000000000003AAA', AccountId: A1, IsClosed: true, CreatedDate: hoursAgo(1) }, // closed
      { Id: '500000000000004AAA', AccountId: A1, IsClosed: false, CreatedDate: hoursAgo(49) }, // outside 48 h
      { Id: '500000000000005AAA', AccountId: A2, IsClosed: false, CreatedDate: hoursAgo(0.5) }, // other account
    ],
    Opportunity: [
      { Id: '006000000000001AAA', AccountId: A1, Type: 'Renewal', IsClosed: true },
      { Id: '006000000000002AAA', AccountId: A1, Type: 'New Business', IsClosed: false },
      { Id: '006000000000003AAA', AccountId: A2, Type: 'Renewal', IsClosed: false },
    ],
    Task: [
      { Id: '00T000000000001AAA', AccountId: A1, OwnerId: REP, CreatedDate: hoursAgo(2) }, // inside
      { Id: '00T000000000002AAA', AccountId: A1, OwnerId: REP, CreatedDate: hoursAgo(73) }, // outside 72 h
      { Id: '00T000000000003AAA', AccountId: A1, OwnerId: OTHER_REP, CreatedDate: hoursAgo(2) }, // other owner
      { Id: '00T000000000004AAA', AccountId: A2, OwnerId: REP, CreatedDate: hoursAgo(2) }, // other account
    ],
    Event: [
      { Id: '00U000000000001AAA', AccountId: A1, OwnerId: REP, StartDateTime: hoursAgo(71) }, // inside
      { Id: '00U000000000002AAA', AccountId: A1, OwnerId: REP, StartDateTime: hoursAgo(80) }, // outside
      { Id: '00U000000000003AAA', AccountId: A1, OwnerId: REP, StartDateTime: hoursAgo(-24) }, // tomorrow: no upper bound in the query
    ],
  }
}

describe("src/context.ts's queries, as salesforceContext builds them", () => {
  it('reads a Contact, its Account fields and an open renewal Opportunity, ignoring other records', async () => {
    const seen: string[] = []
    const context = salesforceContext({
      connection: connection(crm(), seen),
      fields: {
        tier: { field: 'Tier__c', values: { Enterprise: 'enterprise' } },
        region: { field: 'Region__c', from: 'contact' },
        email: { field: 'Email', from: 'contact' },
      },
      renewal: { where: "Type = 'Renewal' OR Type LIKE 'renew%'", fact: 'lifecycle', value: 'renewal' },
    })
    expect(await context.customer('contact', C1)).toEqual({
      accountId: A1,
      contactId: C1,
      email: 'jane@acme.example',
      facts: { tier: 'enterprise', region: 'EMEA', email: 'jane@acme.example' },
    })
    // The open renewal on another account does not count; the one on A1 is closed.
    expect(seen).toEqual([
      `SELECT Id, Email, AccountId, Region__c FROM Contact WHERE Id = '${C1}' LIMIT 1`,
      `SELECT Id, Tier__c FROM Account WHERE Id = '${A1}' LIMIT 1`,
      `SELECT Id FROM Opportunity WHERE AccountId = '${A1}' AND IsClosed = false AND (Type = 'Renewal' OR Type LIKE 'renew%') LIMIT 1`,
    ])
    const renewing = salesforceContext({
      connection: connection(crm(), []),
      renewal: { where: "Type = 'Renewal'", fact: 'lifecycle', value: 'renewal' },
    })
    expect((await renewing.customer('account', A2)).facts).toEqual({ lifecycle: 'renewal' })
  })

  it('reads an Account by its 15-character id and a Contact with no Account', async () => {
    const context = salesforceContext({ connection: connection(crm(), []), fields: { tier: 'Tier__c' } })
    expect((await context.customer('account', '001000000000002')).facts).toEqual({ tier: 'SMB' })
    expect(await context.customer('contact', C2)).toEqual({
      accountId: `contact:${C2}`,
      contactId: C2,
      email: 'solo@example.com',
      facts: {},
    })
  })

  it('surfaces a renewal condition Salesforce would refuse instead of treating it as matching', async () => {
    const context = salesforceContext({
      connection: connection(crm(), []),
      renewal: {
        where: "Type = 'Renewal' AND Stage = 'Open' OR IsWon = true",
        fact: 'lifecycle',
        value: 'renewal',
      },
    })
    await expect(context.customer('account', A1)).rejects.toMatchObject({ errorCode: 'MALFORMED_QUERY' })
  })

  // Salesforce has no hour date literal (the Date Formats and Date Literals page lists none), so
  // context.ts writes its windows as the dateTime literal they stand for (now − n hours).
  const cutoff = (hours: number) =>
    new Date(NOW.getTime() - hours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z')

  it('with the window as a dateTime cutoff: the newest open Case inside 48 h, Tasks and Events inside 72 h by the owners', async () => {
    const seen: string[] = []
    const { remit: engine, touches } = remit()
    const context = salesforceContext({
      now: () => NOW.getTime(),
      connection: connection(crm(), seen),
      openCaseFact: 'lastTicketOpenedAt',
      activities: { remit: engine, team: 'sales', owners: [REP, '005000000000003'] },
    })
    const c = await context.customer('account', A1)
    expect(c.facts).toEqual({ lastTicketOpenedAt: new Date(NOW.getTime() - 5 * 3_600_000).toISOString() })
    expect(touches.map((t) => [t.kind, t.note])).toEqual([
      ['task', 'salesforce Task 00T000000000001AAA'],
      ['meeting', 'salesforce Event 00U000000000001AAA'],
      ['meeting', 'salesforce Event 00U000000000003AAA'],
    ])
    expect(seen).toEqual([
      `SELECT Id, CreatedDate FROM Case WHERE AccountId = '${A1}' AND IsClosed = false AND CreatedDate >= ${cutoff(48)} ORDER BY CreatedDate DESC LIMIT 1`,
      `SELECT Id, CreatedDate, OwnerId FROM Task WHERE AccountId = '${A1}' AND OwnerId IN ('${REP}', '005000000000003') AND CreatedDate >= ${cutoff(72)}`,
      `SELECT Id, StartDateTime, OwnerId FROM Event WHERE AccountId = '${A1}' AND OwnerId IN ('${REP}', '005000000000003') AND StartDateTime >= ${cutoff(72)}`,
    ])
  })

  it('with the window as a dateTime cutoff: no open Case inside the window sets no fact', async () => {
    const tables = crm()
    tables.Case = (tables.Case as Row[]).filter((r) => r.Id === '500000000000004AAA') // 49 h old only
    const context = salesforceContext({
      now: () => NOW.getTime(),
      connection: connection(tables, []),
      openCaseFact: 'lastTicketOpenedAt',
      openCaseHours: 48,
    })
    expect((await context.customer('account', A1)).facts).toEqual({})
    const wider = salesforceContext({
      now: () => NOW.getTime(),
      connection: connection(tables, []),
      openCaseFact: 'lastTicketOpenedAt',
      openCaseHours: 50,
    })
    expect((await wider.customer('account', A1)).facts).toEqual({
      lastTicketOpenedAt: new Date(NOW.getTime() - 49 * 3_600_000).toISOString(),
    })
  })
})
