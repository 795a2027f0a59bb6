import { randomBytes } from 'node:crypto'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { type Decision, type Store, UnavailableError } from '@remit/core'
import type pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../src/index.ts'
import { schemas, sql, terminate, until, url, waitingOnLocks } from './database.ts'
import { goWrite, request } from './writes.ts'

// PostgreSQL going away under a running store: a killed backend, a server that refuses or never
// answers, a full pool. Each must reach the caller as UnavailableError (a 503 with Retry-After),
// never as an uncaught error that ends the process, and the store must carry on once it is back.

const fresh = schemas()
const opened: Store[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close()
})

/** A store whose connections carry a name of their own, so a test can end exactly those. */
async function open(o: { url?: string; maxConnections?: number; pool?: pg.PoolConfig } = {}) {
  const name = `remit_fault_${randomBytes(4).toString('hex')}`
  const schema = fresh()
  // Migrated first, with the default timeouts: a fault test's short connection timeout is for the
  // fault, not for the migrations of a fresh schema on a busy machine (a flake once there were 7).
  await (await openPostgresStore(url, { schema })).close()
  const store = await openPostgresStore(o.url ?? url, {
    schema,
    maxConnections: o.maxConnections ?? 16,
    pool: { application_name: name, ...o.pool },
  })
  opened.push(store)
  return { store, name, schema }
}

/** Holds the account's decide lock from another connection while `fn` runs. */
async function holdingAccount(accountId: string, fn: () => Promise<void>): Promise<void> {
  await sql(async (client) => {
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [accountId])
    try {
      await fn()
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [accountId])
    }
  })
}

/** A TCP hop in front of PostgreSQL that can be cut and restored, or made to swallow connections. */
async function hop(first: { blackhole?: boolean } = {}) {
  const sockets = new Set<Socket>()
  let server: Server | undefined
  let port = 0
  const track = (s: Socket) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  }
  const database = new URL(url)
  const start = async (o = first) => {
    server = createServer((downstream) => {
      track(downstream)
      if (o.blackhole) return
      const upstream = connect(Number(database.port || 5432), database.hostname)
      track(upstream)
      downstream.pipe(upstream).pipe(downstream)
      downstream.on('close', () => upstream.destroy())
      upstream.on('close', () => downstream.destroy())
    })
    server.listen(port, '127.0.0.1')
    await new Promise((resolve) => server?.once('listening', resolve))
    port = (server.address() as { port: number }).port
  }
  await start()
  const address = new URL(url)
  address.hostname = '127.0.0.1'
  address.port = String(port)
  return {
    url: address.toString(),
    start,
    /** Refuses new connections and cuts the open ones, as a stopped server does. */
    stop: async () => {
      const closed = new Promise((resolve) => server?.close(resolve))
      for (const s of sockets) s.destroy()
      await closed
    },
  }
}

describe('PostgreSQL faults', () => {
  it('a connection ended mid-decide rejects with UnavailableError, writes nothing, and the store carries on', async () => {
    const { store, name } = await open()
    await holdingAccount('acme', async () => {
      const deciding = store.decide(request('acme'), () => goWrite('acme'))
      deciding.catch(() => {})
      await until(async () => (await waitingOnLocks(name)) === 1)
      expect(await terminate(name)).toBe(1)
      const error = await deciding.catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UnavailableError)
      expect((error as UnavailableError).retryAfterSeconds).toBeGreaterThan(0)
      expect((error as Error).cause).toMatchObject({ code: '57P01' })
    })
    expect(await store.listDecisions()).toEqual([])
    expect((await store.decide(request('acme'), () => goWrite('acme'))).verdict).toBe('go')
  })

  it('a connection cut mid-decide without a word from the server (a network drop) is UnavailableError too', async () => {
    // pg emits 'error' on the checked-out client here; unheard, it would end this process.
    const server = await hop()
    const { store, name } = await open({ url: server.url })
    await holdingAccount('acme', async () => {
      const deciding = store.decide(request('acme'), () => goWrite('acme'))
      deciding.catch(() => {})
      await until(async () => (await waitingOnLocks(name)) === 1)
      await server.stop()
      const error = await deciding.catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UnavailableError)
      expect((error as Error).message).toMatch(/Connection terminated unexpectedly/)
    })
    await server.start()
    expect((await store.decide(request('acme'), () => goWrite('acme'))).verdict).toBe('go')
  })

  it('a connection ended while the writes wait: nothing half-written, and the retry with the key decides once', async () => {
    const { store, name, schema } = await open()
    const asked = request('acme', { idempotencyKey: 'k-1', requestHash: 'h-1' })
    await sql(async (other) => {
      // Another transaction holds the key's index entry, so the decision's insert waits on it.
      await other.query('BEGIN')
      await other.query(
        `INSERT INTO ${schema}.remit_decisions (id, at, account_id, agent, team, verdict, idempotency_key, body)
         VALUES ('dec_other', now(), 'acme', 'marketing-agent', 'marketing', 'stop', 'k-1', '{}')`,
      )
      const deciding = store.decide(asked, () => goWrite('acme', { key: 'k-1' }))
      deciding.catch(() => {})
      await until(async () => (await waitingOnLocks(name)) === 1)
      await terminate(name)
      expect(await deciding.catch((e: unknown) => e)).toBeInstanceOf(UnavailableError)
      await other.query('ROLLBACK')
    })
    const before = await store.timeline('acme')
    expect([before.decisions, before.touches]).toEqual([[], []])
    const decided = await store.decide(asked, () => goWrite('acme', { key: 'k-1' }))
    expect(decided.replayed).toBeUndefined()
    expect(await store.decide(asked, () => goWrite('acme', { key: 'k-1' }))).toEqual({
      ...decided,
      replayed: true,
    })
    expect((await store.timeline('acme')).touches).toHaveLength(1)
  })

  it('every backend ended at once: the next call succeeds on new connections, without a restart', async () => {
    const { store, name } = await open()
    await Promise.all(['a', 'b', 'c', 'd'].map((a) => store.decide(request(a), () => goWrite(a))))
    expect(await terminate(name)).toBeGreaterThan(0)
    expect((await store.decide(request('e'), () => goWrite('e'))).verdict).toBe('go')
    expect(await store.listDecisions()).toHaveLength(5)
  })

  it('a server that refuses connections is UnavailableError at once; when it is back, the same store carries on', async () => {
    const server = await hop()
    const { store } = await open({ url: server.url })
    await store.decide(request('acme'), () => goWrite('acme'))
    await server.stop()
    const started = Date.now()
    for (const call of [
      () => store.decide(request('acme'), () => goWrite('acme')),
      () => store.ledger('acme', new Date(0), new Date()),
      () => store.getDecision('dec_x'),
      () => store.setTouchStatus('dec_x', 'sent'),
      () => store.timeline('acme'),
    ]) {
      const error = await call().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UnavailableError)
      expect((error as Error).message).toMatch(/PostgreSQL is unavailable/)
    }
    expect(Date.now() - started).toBeLessThan(10_000)
    await server.start()
    expect((await store.decide(request('globex'), () => goWrite('globex'))).verdict).toBe('go')
    expect(await store.listDecisions()).toHaveLength(2)
  })

  it('a server that stops answering is UnavailableError once the connection timeout has passed', async () => {
    const server = await hop()
    const { store } = await open({ url: server.url, pool: { connectionTimeoutMillis: 300 } })
    await server.stop()
    // Once the pool has seen its idle connection close, the next call must open a new one.
    await new Promise((resolve) => setTimeout(resolve, 50))
    await server.start({ blackhole: true })
    const decide = () => store.decide(request('acme'), () => goWrite('acme')).catch((e: unknown) => e)
    let started = Date.now()
    let error = await decide()
    // On a busy machine the pool may not have seen its idle connection close yet: that call fails on
    // the dead connection (also UnavailableError), and the next one must wait for a new one.
    if (/Connection terminated/.test((error as Error).message)) {
      started = Date.now()
      error = await decide()
    }
    expect(error).toBeInstanceOf(UnavailableError)
    expect((error as Error).message).toMatch(/timeout|did not take this decision within 300 ms/)
    expect(Date.now() - started).toBeLessThan(10_000)
    await server.stop()
  })

  it('a server that never answers fails the opening within the connection timeout', async () => {
    const silent = await hop({ blackhole: true })
    const started = Date.now()
    await expect(openPostgresStore(silent.url, { pool: { connectionTimeoutMillis: 300 } })).rejects.toThrow(
      /timeout/,
    )
    expect(Date.now() - started).toBeLessThan(10_000)
    await silent.stop()
  })

  it("batches stuck behind a held account lock do not hold other accounts' decisions: they are refused after the connection timeout", async () => {
    // Two connections: one batch at a time. Acme's batch waits on acme's lock; globex's decision
    // waits for a batch, and is refused after the connection timeout rather than waiting for acme.
    const { store, name } = await open({ maxConnections: 2, pool: { connectionTimeoutMillis: 300 } })
    let deciding: Promise<Decision> | undefined
    await holdingAccount('acme', async () => {
      deciding = store.decide(request('acme'), () => goWrite('acme'))
      await until(async () => (await waitingOnLocks(name)) === 1)
      const started = Date.now()
      const error = await store.decide(request('globex'), () => goWrite('globex')).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UnavailableError)
      expect((error as Error).message).toMatch(/did not take this decision within 300 ms/)
      expect(Date.now() - started).toBeLessThan(10_000)
    })
    expect((await deciding)?.verdict).toBe('go')
    expect((await store.listDecisions()).map((d) => d.accountId)).toEqual(['acme'])
    // And the store goes on: the next decision for globex is made.
    expect((await store.decide(request('globex'), () => goWrite('globex'))).verdict).toBe('go')
  })

  it('a full pool is UnavailableError once the connection timeout has passed, not a wait without end', async () => {
    const { store, name } = await open({ maxConnections: 1, pool: { connectionTimeoutMillis: 300 } })
    let deciding: Promise<Decision> | undefined
    await holdingAccount('acme', async () => {
      // The one connection waits on the account's lock; the next call waits for a connection.
      deciding = store.decide(request('acme'), () => goWrite('acme'))
      await until(async () => (await waitingOnLocks(name)) === 1)
      const started = Date.now()
      const error = await store.getDecision('dec_x').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UnavailableError)
      expect((error as Error).message).toMatch(/timeout exceeded when trying to connect/)
      expect(Date.now() - started).toBeLessThan(10_000)
    })
    expect((await deciding)?.verdict).toBe('go')
    expect(await store.listDecisions()).toHaveLength(1)
  })
})
