import type { Store } from '@remit/core'
import { openSqliteStore } from '@remit/core'
import { type Io, UsageError } from '../output.ts'

export interface ServeOptions {
  policy: string
  store: string
  keys: string
  port: string
  host: string
  watch: boolean
  logLevel: string
}

/**
 * Opens the store a --store value names: a SQLite file path, or a postgres:// URL (add
 * `?schema=name` to keep Remit's tables in a schema of their own).
 */
export async function openStore(spec: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const url = new URL(spec)
    const schema = url.searchParams.get('schema') ?? undefined
    url.searchParams.delete('schema')
    const { openPostgresStore } = await import('@remit/store-postgres')
    return openPostgresStore(url.toString(), schema ? { schema } : {})
  }
  return openSqliteStore(spec)
}

/** `remit serve`: the decision API until SIGINT/SIGTERM, then a graceful stop. */
export async function serve(io: Io, o: ServeOptions): Promise<number> {
  const port = Number(o.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0–65535, got "${o.port}"`)
  const { createServer } = await import('@remit/server')
  const store = await openStore(o.store)
  const server = await createServer({
    policy: o.policy,
    store,
    keys: o.keys,
    watch: o.watch,
    logger: { level: o.logLevel, redact: ['req.headers.authorization'] },
  }).catch(async (error) => {
    await store.close()
    throw error
  })
  const url = await server.listen({ port, host: o.host })
  io.err(
    `remit: serving ${url} (policy ${server.remit.policy.version}, store ${o.store.replace(/\/\/[^@/]*@/, '//…@')})`,
  )
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      io.err(`remit: ${signal}, finishing in-flight decisions…`)
      server.close().then(resolve, resolve)
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  io.err('remit: stopped')
  return 0
}
