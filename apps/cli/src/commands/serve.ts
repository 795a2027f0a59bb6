import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Remit, Store } from '@remit/core'
import { openSqliteStore, parseDuration } from '@remit/core'
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
  /** hubspot.yaml: how HubSpot records become customers and facts. */
  hubspotConfig?: string
  /** An `sf` org alias to publish Remit_Review__e to. */
  salesforceOrg?: string
  /** The console's built files, or false for none. */
  console?: string | false
  /** How far an agent's `at` may be from the server's clock (a duration, e.g. `5m`). */
  clockSkew?: string
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

/** hubspot.yaml, read and checked by @remit/hubspot; its errors become usage errors here. */
async function hubspotConfig(path: string | undefined) {
  if (!path) return {}
  const { readHubSpotConfig, HubSpotConfigError } = await import('@remit/hubspot')
  try {
    return await readHubSpotConfig(path)
  } catch (error) {
    if (error instanceof HubSpotConfigError)
      throw new UsageError(error.message, 'see the @remit/hubspot README for the hubspot.yaml shape')
    throw error
  }
}

/**
 * A HubSpot app, served when its client secret is in the environment: the action, the install pages,
 * callbacks through the outbox, CRM facts and reps' activity (see @remit/hubspot).
 */
async function hubspotApp(o: ServeOptions) {
  const clientSecret = process.env.REMIT_HUBSPOT_CLIENT_SECRET
  if (!clientSecret) return { routes: [], attach: (_server: { remit: Remit }) => {} }
  const config = await hubspotConfig(o.hubspotConfig)
  const hubspot = await import('@remit/hubspot')
  const clientId = process.env.REMIT_HUBSPOT_CLIENT_ID
  if (!clientId)
    throw new UsageError(
      'REMIT_HUBSPOT_CLIENT_SECRET is set: set REMIT_HUBSPOT_CLIENT_ID, the app’s client id, too',
    )
  if (process.env.REMIT_HUBSPOT_ACCESS_TOKEN)
    throw new UsageError(
      'REMIT_HUBSPOT_ACCESS_TOKEN is no longer read: HubSpot access tokens expire after 30 minutes',
      'unset it and install the app from /hubspot/install: Remit keeps each portal’s refresh token, sealed',
    )
  let secretKey: Buffer
  try {
    secretKey = hubspot.secretKey(process.env.REMIT_SECRET_KEY)
  } catch (error) {
    if (error instanceof hubspot.SecretKeyError) throw new UsageError(error.message)
    throw error
  }
  const publicUrl = o.publicUrl ?? config.publicUrl
  if (!publicUrl)
    throw new UsageError(
      'HubSpot needs the https:// URL it reaches this server at: --public-url, or publicUrl in hubspot.yaml',
    )
  const app = hubspot.hubspotApp({
    config,
    clientId,
    clientSecret,
    secretKey,
    publicUrl,
    // Another base URL for HubSpot's API and authorize page (a proxy, or a test double).
    ...(process.env.REMIT_HUBSPOT_API_URL ? { basePath: process.env.REMIT_HUBSPOT_API_URL } : {}),
    ...(process.env.REMIT_HUBSPOT_AUTHORIZE_URL
      ? { authorizeBaseUrl: process.env.REMIT_HUBSPOT_AUTHORIZE_URL }
      : {}),
  })
  return {
    routes: app.routes,
    attach: (server: { remit: Remit; app: { log: Parameters<typeof app.attach>[1] } }) =>
      app.attach(server.remit, server.app.log),
  }
}

/**
 * The console's built files: --console; else the ones shipped inside @remit/server (an install from
 * npm); else, in a source checkout, apps/console/dist when it has been built.
 */
async function consoleDir(o: ServeOptions): Promise<string | undefined> {
  if (o.console === false) return undefined
  if (typeof o.console === 'string') return resolve(o.console)
  const { bundledConsoleDir } = await import('@remit/server')
  const bundled = bundledConsoleDir()
  if (bundled) return bundled
  const local = fileURLToPath(new URL('../../../console/dist', import.meta.url))
  return existsSync(join(local, 'index.html')) ? local : undefined
}

/** `remit serve`: the decision API until SIGINT/SIGTERM, then a graceful stop. */
export async function serve(io: Io, o: ServeOptions): Promise<number> {
  const port = Number(o.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0–65535, got "${o.port}"`)
  const clockSkewMs = parseDuration(o.clockSkew ?? '5m')
  if (clockSkewMs === undefined)
    throw new UsageError(`--clock-skew must be a duration such as 5m or 30s, got "${o.clockSkew}"`)
  const { createServer } = await import('@remit/server')
  const consoleFiles = await consoleDir(o)
  const store = await openStore(o.store)
  // HubSpot's action endpoints are mounted when the app's client secret is in the environment.
  const hubspot = await hubspotApp(o)
  const server = await createServer({
    policy: o.policy,
    store,
    keys: o.keys,
    watch: o.watch,
    clockSkewMs,
    logger: { level: o.logLevel, redact: ['req.headers.authorization'] },
    rawRoutes: hubspot.routes,
    ...(consoleFiles ? { consoleDir: consoleFiles } : {}),
    // Salesforce flows call the flow-shaped decision operation with their agent's key.
    routes: (await import('@remit/salesforce')).salesforceRoutes,
  }).catch(async (error) => {
    await store.close()
    throw error
  })
  hubspot.attach(server)
  if (o.salesforceOrg) {
    // Review outcomes of Salesforce flows' flags go back as Remit_Review__e, so paused flows resume.
    const { connectionFor, publishReviews } = await import('@remit/salesforce')
    publishReviews(server.remit, await connectionFor(o.salesforceOrg), server.app.log)
  }
  const url = await server.listen({ port, host: o.host })
  if (consoleFiles) io.err(`remit: console at ${url}/console/ (sign in with a reviewer or admin key)`)
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
