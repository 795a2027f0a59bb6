import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll } from 'vitest'

// A real PostgreSQL (127.0.0.1:5432 here and in CI; .ci/run checks it is up). Each store gets a
// schema of its own, dropped at the end.
export const url = process.env.REMIT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Makes fresh schema names for this test file; every one is dropped after its tests. */
export function schemas(): () => string {
  const made: string[] = []
  afterAll(async () => {
    await sql(async (client) => {
      for (const s of made) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`)
    })
  })
  return () => {
    const schema = `remit_t_${randomBytes(6).toString('hex')}`
    made.push(schema)
    return schema
  }
}

/** `fn` on a connection of its own, outside any store. */
export async function sql<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url)
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Ends every backend a store opened with `application_name` = `name`, waiting until they are gone. */
export async function terminate(name: string): Promise<number> {
  const { rows } = await sql((client) =>
    client.query(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`,
      [name],
    ),
  )
  return (rows[0] as { n: number }).n
}

/** Waits until `check` holds (polling every 20 ms), for at most `ms`. */
export async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not so after ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** How many of `name`'s backends wait on a lock. */
export async function waitingOnLocks(name: string): Promise<number> {
  const { rows } = await sql((client) =>
    client.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
      [name],
    ),
  )
  return (rows[0] as { n: number }).n
}
