import { existsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Remit, Store } from '@remit/core'
import { openDecisionLog, openSqliteStore, parseDuration } from '@remit/core'
import { ifInstalled, optional } from '../optional.ts'
import { type Io, UsageError } from '../output.ts'
import { readHubSpotYaml } from './hubspot.ts'
import { notifications } from './notify.ts'

export interface ServeOptions {
  policy: string
  store: string
  keys: string
  port: string
  host: string
  watch: boolean
  /** A candidate policy file to run in shadow (for every instance on the store). */
  candidate?: string
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
  /** Every decision as one JSON line, appended to this file, or `-` for stdout (logs then go to stderr). */
  decisionLog?: string
  /** slack.yaml: each team's channel and members (Slack is served when REMIT_SLACK_BOT_TOKEN is set). */
  slackConfig?: string
  /** A webhooks file: where review events are POSTed, signed (secrets from the environment). */
  webhooks?: string
}

/**
 * --decision-log: the file (appended to; reopened on SIGHUP, after rotation by rename), or `-`:
 * stdout, which then carries the decision log alone (the server's logs go to stderr).
 */
function decisionLogFor(target: string | undefined) {
  if (!target) return undefined
  try {
    return openDecisionLog(target)
  } catch (error) {
    throw new UsageError(
      `--decision-log: cannot open ${target}: ${(error as Error).message}`,
      'name a file in a directory that exists and this user may write, or - for stdout',
    )
  }
}

/**
 * Opens the store a --store value names: a SQLite file path, or a postgres:// URL (add
 * `?schema=name` to keep Remit's tables in a schema of their own).
 */
export async function openStore(spec: string, o: { create?: boolean } = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const url = new URL(spec)
    const schema = url.searchParams.get('schema') ?? undefined
    url.searchParams.delete('schema')
    const { openPostgresStore } = await optional(
      '@remit/store-postgres',
      '--store postgres://…',
      () => import('@remit/store-postgres'),
    )
    return openPostgresStore(url.toString(), {
      ...(schema ? { schema } : {}),
      ...(o.create === false ? { create: false } : {}),
    })
  }
  return openSqliteFile(spec)
}

/**
 * A SQLite --store file (created when missing). What SQLite says of a path it cannot use ("unable
 * to open database file", "file is not a database") becomes a usage error naming the file.
 */
export function openSqliteFile(path: string): Store {
  try {
    return openSqliteStore(path)
  } catch (error) {
    const e = error as { code?: string; errcode?: number }
    if (e?.code !== 'ERR_SQLITE_ERROR' || typeof e.errcode !== 'number') throw error
    const hint = 'name a SQLite file Remit keeps its ledger in (created when missing), e.g. --store remit.db'
    // 26 SQLITE_NOTADB; 14 SQLITE_CANTOPEN (primary codes, in the low byte of extended ones).
    if ((e.errcode & 0xff) === 26)
      throw new UsageError(`--store ${path}: not a SQLite database (is it the file you meant?)`, hint)
    if ((e.errcode & 0xff) === 14) {
      const folder = dirname(resolve(path))
      if (!existsSync(folder))
        throw new UsageError(
          `--store ${path}: the folder ${folder} does not exist`,
          'create the folder first, or name a file in one that exists',
        )
      if (statSync(resolve(path), { throwIfNoEntry: false })?.isDirectory())
        throw new UsageError(`--store ${path}: it is a folder, not a SQLite file`, hint)
      throw new UsageError(
        `--store ${path}: cannot open it as a SQLite database`,
        'check the permissions of the file and its folder (SQLite writes beside it, too)',
      )
    }
    throw error
  }
}

/** hubspot.yaml, read and checked by @remit/hubspot; its errors become usage errors here. */
async function hubspotConfig(path: string | undefined) {
  if (!path) return {}
  const hubspot = await optional('@remit/hubspot', '--hubspot-config', () => import('@remit/hubspot'))
  return readHubSpotYaml(hubspot, path, 'check the path given to --hubspot-config')
}

/**
 * A HubSpot app, served when its client secret is in the environment: the action, the install pages,
 * callbacks through the outbox, CRM facts and reps' activity (see @remit/hubspot).
 */
async function hubspotApp(o: ServeOptions) {
  const clientSecret = process.env.REMIT_HUBSPOT_CLIENT_SECRET
  if (!clientSecret) return { routes: [], attach: (_server: { remit: Remit }) => {} }
  const config = await hubspotConfig(o.hubspotConfig)
  const hubspot = await optional(
    '@remit/hubspot',
    'HubSpot (REMIT_HUBSPOT_CLIENT_SECRET is set)',
    () => import('@remit/hubspot'),
  )
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
  if (typeof o.console === 'string') {
    // A folder that is not a console build is a mistake, not a console that answers 404.
    const dir = resolve(o.console)
    if (!existsSync(join(dir, 'index.html')))
      throw new UsageError(
        existsSync(dir)
          ? `--console ${o.console}: no index.html in it (not a console build)`
          : `--console ${o.console}: no such folder`,
        "name the console's built files (apps/console/dist after `pnpm build`), or leave --console out for the bundled console",
      )
    return dir
  }
  const { bundledConsoleDir } = await import('@remit/server')
  const bundled = bundledConsoleDir()
  if (bundled) return bundled
  const local = fileURLToPath(new URL('../../../console/dist', import.meta.url))
  return existsSync(join(local, 'index.html')) ? local : undefined
}

/** The `sf` login of --salesforce-org, and what publishes review outcomes to it. */
async function salesforceOrg(alias: string | undefined) {
  if (!alias) return undefined
  const { connectionFor, publishReviews } = await optional(
    '@remit/salesforce',
    '--salesforce-org',
    () => import('@remit/salesforce'),
  )
  return { connection: await connectionFor(alias), publishReviews }
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
  // HubSpot's action endpoints are mounted when the app's client secret is in the environment.
  const hubspot = await hubspotApp(o)
  // The Salesforce login before anything is opened: without one, serve stops with NO_ORG and how to
  // log in (a SalesforceError, printed with its hint), not a half-started server.
  const salesforce = await salesforceOrg(o.salesforceOrg)
  // Slack and webhooks read and checked before anything is opened, like HubSpot's config.
  const notify = await notifications(o)
  const decisionLog = decisionLogFor(o.decisionLog)
  const store = await openStore(o.store)
  const server = await createServer({
    policy: o.policy,
    store,
    keys: o.keys,
    watch: o.watch,
    ...(o.candidate ? { candidate: o.candidate } : {}),
    clockSkewMs,
    logger: {
      level: o.logLevel,
      redact: ['req.headers.authorization'],
      // stdout is the decision log's alone: pino's lines go to stderr, never between its lines.
      ...(o.decisionLog === '-' ? { stream: process.stderr } : {}),
    },
    ...(decisionLog ? { decisionLog } : {}),
    rawRoutes: [...hubspot.routes, ...notify.routes],
    ...(consoleFiles ? { consoleDir: consoleFiles } : {}),
    // Salesforce flows call the flow-shaped decision operation with their agent's key (when
    // @remit/salesforce is installed: serving them needs nothing else).
    routes:
      (await ifInstalled('@remit/salesforce', () => import('@remit/salesforce')))?.salesforceRoutes ?? [],
  }).catch(async (error) => {
    await store.close()
    await decisionLog?.close()
    throw error
  })
  try {
    hubspot.attach(server)
    notify.attach(server)
  } catch (error) {
    // hubspot.yaml read well but does not fit the policy (e.g. an owner's team it lacks).
    await server.close()
    if (error instanceof UsageError) throw error
    if ((error as { code?: string }).code === 'HUBSPOT_CONFIG_INVALID')
      throw new UsageError((error as Error).message, "make hubspot.yaml name the policy's teams and agents")
    throw error
  }
  // Review outcomes of Salesforce flows' flags go back as Remit_Review__e, so paused flows resume.
  if (salesforce) salesforce.publishReviews(server.remit, salesforce.connection, server.app.log)
  const url = await server.listen({ port, host: o.host }).catch(async (error) => {
    await server.close()
    throw error
  })
  if (consoleFiles) io.err(`remit: console at ${url}/console/ (sign in with a reviewer or admin key)`)
  if (decisionLog && o.decisionLog !== '-') {
    // Log rotation by rename: `kill -HUP` makes the next lines go to a new file of the same name.
    process.on('SIGHUP', () => {
      try {
        decisionLog.reopen()
        server.app.log.info('decision log reopened')
      } catch (error) {
        server.app.log.error({ err: error }, 'decision log: reopening failed; writing on to the old file')
      }
    })
  }
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
