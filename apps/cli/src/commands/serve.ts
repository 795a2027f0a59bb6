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
  /** The public https:// origin vendors call (HubSpot signs the URL it called). */
  publicUrl?: string
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

async function hubspotRoutes(o: ServeOptions) {
  const clientSecret = process.env.REMIT_HUBSPOT_CLIENT_SECRET
  if (!clientSecret) return { routes: [], attach: () => {} }
  const [{ Client }, { hubspotAction }] = await Promise.all([
    import('@hubspot/api-client'),
    import('@remit/hubspot'),
  ])
  const token = process.env.REMIT_HUBSPOT_ACCESS_TOKEN
  let action: ReturnType<typeof hubspotAction> | undefined
  const handle =
    (which: 'handle' | 'options') =>
    (
      raw: string,
      headers: Record<string, string | string[] | undefined>,
      req: { method: string; url: string },
    ) =>
      (action as NonNullable<typeof action>)[which](raw, headers, req)
  return {
    routes: [
      { method: 'POST' as const, url: '/hubspot/action', handle: handle('handle') },
      { method: 'POST' as const, url: '/hubspot/options', handle: handle('options') },
    ],
    attach(server: Awaited<ReturnType<typeof import('@remit/server')['createServer']>>) {
      action = hubspotAction({
        remit: server.remit,
        clientSecret,
        ...(o.publicUrl ? { publicBaseUrl: o.publicUrl } : {}),
        ...(token ? { hubspot: new Client({ accessToken: token, numberOfApiCallRetries: 3 }) } : {}),
        log: server.app.log,
      })
      action.listen()
    },
  }
}

/** `remit serve`: the decision API until SIGINT/SIGTERM, then a graceful stop. */
export async function serve(io: Io, o: ServeOptions): Promise<number> {
  const port = Number(o.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0–65535, got "${o.port}"`)
  const { createServer } = await import('@remit/server')
  const store = await openStore(o.store)
  // HubSpot's action endpoints are mounted when the app's client secret is in the environment.
  const hubspot = await hubspotRoutes(o)
  const server = await createServer({
    policy: o.policy,
    store,
    keys: o.keys,
    watch: o.watch,
    logger: { level: o.logLevel, redact: ['req.headers.authorization'] },
    rawRoutes: hubspot.routes,
  }).catch(async (error) => {
    await store.close()
    throw error
  })
  hubspot.attach(server)
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
