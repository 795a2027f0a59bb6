import type pg from 'pg'

// remit_touches is partitioned by month of `at` (UTC), one table per month named
// remit_touches_pYYYYMM, and a DEFAULT partition for any time no month holds (a touch imported from
// long ago, a test's far future). Months are made ahead of time — this one and the next two, when a
// store opens and every six hours while it runs — because PostgreSQL refuses to make a month once
// the DEFAULT partition holds rows of it: such a month's rows stay in DEFAULT, which is correct,
// only slower to prune. Pruning drops whole months older than the cut-off and deletes the rest.

const MONTH = /^remit_touches_p(\d{4})(\d{2})$/

/** The month tables to have at `now`: this month and the next two. */
export function monthsAhead(now: Date, ahead = 2): Array<{ name: string; from: Date; to: Date }> {
  const months = []
  for (let i = 0; i <= ahead; i++) {
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1))
    const to = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1))
    const name = `remit_touches_p${from.getUTCFullYear()}${String(from.getUTCMonth() + 1).padStart(2, '0')}`
    months.push({ name, from, to })
  }
  return months
}

/**
 * Makes the months `monthsAhead` names that are missing. Called under the store's migration lock, so
 * two instances never make one month twice. Returns the names it made.
 */
export async function ensureMonths(client: pg.ClientBase, now: Date): Promise<string[]> {
  const made: string[] = []
  for (const month of monthsAhead(now)) {
    const { rows } = await client.query('SELECT to_regclass($1) IS NOT NULL AS there', [month.name])
    if ((rows[0] as { there: boolean }).there) continue
    try {
      await client.query('SAVEPOINT month')
      await client.query(
        `CREATE TABLE ${month.name} PARTITION OF remit_touches FOR VALUES FROM ('${month.from.toISOString()}') TO ('${month.to.toISOString()}')`,
      )
      await client.query('RELEASE SAVEPOINT month')
      made.push(month.name)
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT month')
      // 23514: DEFAULT already holds rows of this month; they stay there (see above).
      if ((error as { code?: string }).code !== '23514') throw error
    }
  }
  return made
}

/** Month tables that end at or before `before`: every row they hold is older than it. */
export async function monthsBefore(client: pg.ClientBase, before: Date): Promise<string[]> {
  const { rows } = await client.query(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'remit_touches'::regclass`,
  )
  return rows
    .map((r) => (r as { relname: string }).relname)
    .filter((name) => {
      const m = MONTH.exec(name)
      if (!m) return false
      const end = Date.UTC(Number(m[1]), Number(m[2]), 1) // month index m[2] is the next month
      return end <= before.getTime()
    })
    .sort()
}
