import { readFile, rename, writeFile } from 'node:fs/promises'
import fastifyStatic from '@fastify/static'
import {
  type Caller,
  type DecisionLogSink,
  InputError,
  loadPolicyFile,
  openRemit,
  type Remit,
  type Store,
} from '@remit/core'
import { openApiDocument } from '@remit/core/adapter'
import { inputErrorFromZod, PolicySync, resolveCaller, setCandidate } from '@remit/core/internal'
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
  LogController,
  type onRequestHookHandler,
} from 'fastify'
import type { z } from 'zod'
import { consoleRoutes } from './console-routes.ts'
import { CsrfError, ForbiddenError, toHttpError, UnauthorizedError } from './errors.ts'
import { jsonDepth, MAX_JSON_DEPTH } from './json-depth.ts'
import {
  generateKey,
  hashKey,
  type KeyEntry,
  KeyRing,
  KeysWatcher,
  keyLine,
  type Principal,
  readKeysFile,
} from './keys.ts'
import { createMetrics } from './metrics.ts'
import { PolicyService } from './policy-service.ts'
import type { Route } from './route.ts'
import { routes } from './routes.ts'
import { Sessions } from './sessions.ts'

// What the auth hook (authorize, below) sets on a request.
declare module 'fastify' {
  interface FastifyRequest {
    /** Null on routes anyone may call: they have no hook. */
    principal: Principal | null
    /** For an agent key only. */
    caller: Caller | null
  }
}

export interface ServerOptions {
  /** Path of the policy file; it is watched and reloaded on change. */
  policy: string
  store: Store
  /** A keys.yaml path (reloaded on admin call, appended to by key creation) or a KeyRing. */
  keys: string | KeyRing
  /** pino options, or false for silence (default: info level, JSON lines on stdout). */
  logger?: FastifyServerOptions['logger']
  /** Reload the policy when its file changes (default true). */
  watch?: boolean
  /**
   * A candidate policy file to run in shadow, loaded into the store at start (for every instance
   * on it). Without it, the store's candidate, if any, runs.
   */
  candidate?: string
  /** How often the store's policies (a promotion, the candidate) are looked for, in ms (default 2000). */
  policySyncMs?: number
  /** How often pending reviews are checked for expiry (default 30 s). */
  expireEveryMs?: number
  /**
   * Largest request body accepted, bytes (default 64 KiB). Decisions take up to 1 MiB whatever this
   * says (DECISION_BODY_LIMIT: a preview of an e-mail at its bounds), or this when it is larger.
   */
  bodyLimit?: number
  /**
   * Routes that need the raw body and do their own authentication, e.g. a vendor's signed webhook:
   * `{ method: 'POST', url: '/webhooks/sendgrid', handle: eventWebhook(…).handle }`.
   */
  rawRoutes?: RawRoute[]
  /** The console's built files (apps/console/dist): served at /console when given. */
  consoleDir?: string
  /** Mark the session cookie Secure (behind https). Default: false. */
  secureCookies?: boolean
  /** More API operations (an adapter's own, e.g. Salesforce's flow-shaped decision): same keys, same errors, in /openapi.json. */
  routes?: Route[] | ((remit: Remit) => Route[])
  clock?: () => Date
  /**
   * How far an agent's `at` (on decisions and recorded touches) may be from the server's clock, in
   * ms (default 5 minutes). The server's clock decides; an `at` further off is a 400
   * `AT_OUT_OF_RANGE`. Backdated decisions are an admin's: POST /v1/admin/decisions.
   */
  clockSkewMs?: number
  /** How often keys.yaml is checked for changes besides file-system events, in ms (default 2000). */
  keysPollMs?: number
  /** On close, how long in-flight requests may take before their connections are cut, ms (default 10 s). */
  closeGraceMs?: number
  /**
   * The decision log (`openDecisionLog(path | '-')` from @remit/core, or any sink): every decision
   * recorded, one JSON line, customers named — personal data. A line it fails to take is counted
   * (`remit_decision_log_errors_total`) and logged (at most every 10 s); the decision is answered
   * all the same. Closed with the server.
   */
  decisionLog?: DecisionLogSink
}

export interface RawRoute {
  method: 'GET' | 'POST' | 'PUT'
  url: string
  /**
   * Largest body this route accepts, bytes (default: the server's `bodyLimit`); a larger one is a
   * 413. A vendor's batches can be larger than any API body, e.g. SendGrid's event webhook (1 MiB).
   */
  bodyLimit?: number
  handle: (
    rawBody: string,
    headers: Record<string, string | string[] | undefined>,
    request: { method: string; url: string },
  ) => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>
}

export interface RemitServer {
  app: FastifyInstance
  remit: Remit
  policy: PolicyService
  keys: KeyRing
  /** Starts listening; resolves to the base URL. */
  listen(options?: { port?: number; host?: string }): Promise<string>
  /** Stops taking requests, lets in-flight ones finish, flushes the store. */
  close(): Promise<void>
}

const VERSION = '0.1.0'

export async function createServer(o: ServerOptions): Promise<RemitServer> {
  const remit = await openRemit({
    policy: await loadPolicyFile(o.policy),
    store: o.store,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.decisionLog
      ? { decisionLog: o.decisionLog, onDecisionLogError: (error: unknown) => decisionLogFailed(error) }
      : {}),
  })
  const keysPath = typeof o.keys === 'string' ? o.keys : undefined
  const keys = typeof o.keys === 'string' ? await KeyRing.fromFile(o.keys) : o.keys
  const app = Fastify({
    logger: o.logger ?? {
      level: 'info',
      redact: ['req.headers.authorization'],
      // Request lines name the route pattern, never the raw URL: account ids can be e-mail addresses.
      serializers: { req: (req) => ({ method: req.method, route: req.routeOptions?.url, id: req.id }) },
    },
    // Request lines are ours (onResponse below): they name the route pattern, not the raw URL.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimit ?? 64 * 1024,
    return503OnClosing: true,
    // A request must arrive whole within 30 s, and an idle connection is closed after 72 s: a peer
    // that sends half a request and waits holds nothing for long (nor a shutdown, see close()).
    requestTimeout: 30_000,
    // Ids are up to 256 characters, percent-encoded up to three times as long.
    routerOptions: { maxParamLength: 1024 },
    // The router's own refusals (a malformed URL, an over-long parameter) in our error shape too.
    frameworkErrors: (error, _request, reply) => {
      const e = toHttpError(
        new InputError(
          (error as { code?: string }).code === 'FST_ERR_BAD_URL' ? 'BAD_URL' : 'BAD_REQUEST',
          error.message,
          [],
        ),
      )
      ;(reply as FastifyReply).code(e.status).send(e.body)
    },
  })
  const metrics = createMetrics(
    async () => (await remit.reviews.list({ status: 'pending', limit: 5000 })).length,
  )
  // The store's policies: the promoted live version, if any, and the candidate in shadow.
  const sync = new PolicySync(remit, (error) => app.log.error({ err: error }, 'policy sync failed'))
  if (o.candidate) await setCandidate(o.store, await loadPolicyFile(o.candidate), 'serve --candidate')
  await sync.poll()
  sync.start(o.policySyncMs ?? 2000)
  const policy = new PolicyService(remit, o.policy, app.log, metrics, sync)
  // Every failed line is counted; the log hears of them at most every 10 s (a full disk fails them all).
  let unlogged = 0
  let loggedAt = 0
  const decisionLogFailed = (error: unknown) => {
    metrics.decisionLogErrors.inc()
    unlogged++
    if (Date.now() - loggedAt < 10_000) return
    loggedAt = Date.now()
    app.log.error({ err: error, lines: unlogged }, 'decision log: lines not written')
    unlogged = 0
  }
  // Key creation reads, appends and renames keys.yaml: one at a time, or two admins at once would
  // each write a file without the other's key (or two keys of one name).
  let keysWritten: Promise<unknown> = Promise.resolve()
  const createKey = (entry: Omit<KeyEntry, 'sha256'>): Promise<string> => {
    const next = keysWritten.then(() => writeKey(entry))
    keysWritten = next.catch(() => {})
    return next
  }
  const writeKey = async (entry: Omit<KeyEntry, 'sha256'>) => {
    if (keys.list().some((k) => k.name === entry.name))
      throw new InputError('DUPLICATE_KEY', `a key named "${entry.name}" exists`, ['name'])
    const key = generateKey()
    if (keysPath) {
      // Write a new file and rename it over the old: a crash mid-write never leaves a broken keys file.
      const text = await readFile(keysPath, 'utf8')
      const next = `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${keyLine(entry, key)}\n`
      await writeFile(`${keysPath}.tmp`, next, { mode: 0o600 })
      await rename(`${keysPath}.tmp`, keysPath)
      keys.replace(await readKeysFile(keysPath))
    } else keys.add({ ...entry, sha256: hashKey(key) })
    app.log.info({ key: entry.name }, 'key created')
    return key
  }
  const sessions = new Sessions()
  const clock = o.clock ?? (() => new Date())
  const table = [
    ...routes({ remit, policy, keys, metrics, createKey, clock, clockSkewMs: o.clockSkewMs ?? 5 * 60_000 }),
    ...consoleRoutes({ remit, keys, sessions, policy, secureCookies: o.secureCookies ?? false }),
    ...(typeof o.routes === 'function' ? o.routes(remit) : (o.routes ?? [])),
  ]

  app.setErrorHandler((error, request, reply) => {
    const e = toHttpError(error)
    if (e.status >= 500) request.log.error({ err: error }, 'request failed')
    if (e.headers) reply.headers(e.headers)
    reply.code(e.status).send(e.body)
  })
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    })
  })
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) })
    const level = reply.statusCode >= 500 ? 'error' : reply.statusCode >= 400 ? 'warn' : 'info'
    request.log[level](
      {
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        key: request.principal?.name,
      },
      'request',
    )
  })
  // An empty body on a POST that needs none (approve, reload) is {}; anything else must be JSON.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(null, {})
    // Refused before parsing: no field of ours nests deeper, and deep input costs stack further on.
    if (jsonDepth(body as string) > MAX_JSON_DEPTH) {
      return done(
        new InputError('TOO_DEEP', `the body nests deeper than ${MAX_JSON_DEPTH} levels`, []),
        undefined,
      )
    }
    // PostgreSQL text cannot hold U+0000; no field of ours needs it, so refuse it at the door.
    if ((body as string).includes('\\u0000')) {
      return done(
        new InputError(
          'BAD_CHARACTER',
          'the body contains a NUL character (\\u0000), which no field accepts',
          [],
        ),
        undefined,
      )
    }
    try {
      done(null, parseJson(body as string))
    } catch (error) {
      if (error instanceof InputError) return done(error, undefined)
      done(new InputError('BAD_JSON', 'the body is not valid JSON', []), undefined)
    }
  })

  // Authentication and authorization are one hook, `authorize`, on every route in the table (the
  // console's and adapters' included): routes never check keys themselves. The request properties
  // are declared up front, so every request object keeps one shape for V8.
  app.decorateRequest('principal', null)
  app.decorateRequest('caller', null)
  // A callback hook, not an async one: it runs on every request, and needs no promise.
  const authorize =
    (route: Route): onRequestHookHandler =>
    (request, _reply, done) => {
      try {
        const principal = authenticate(request, keys, sessions)
        request.principal = principal
        if (!route.roles.includes(principal.kind)) throw new ForbiddenError(forbidden(principal.kind, route))
        if (principal.kind === 'agent') request.caller = callerOf(remit, principal)
        done()
      } catch (error) {
        done(error as Error)
      }
    }
  const bodyLimit = o.bodyLimit ?? 64 * 1024
  for (const route of table) register(app, route, authorize(route), bodyLimit)
  if (o.consoleDir) {
    await app.register(fastifyStatic, { root: o.consoleDir, prefix: '/console/', index: 'index.html' })
    app.get('/console', (_request, reply) => reply.redirect('/console/'))
  }
  for (const raw of o.rawRoutes ?? []) {
    // Its own scope, so the body reaches the handler as the exact bytes that were signed.
    app.register(async (scope) => {
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body))
      scope.route({
        method: raw.method,
        url: raw.url,
        ...(raw.bodyLimit !== undefined ? { bodyLimit: raw.bodyLimit } : {}),
        handler: async (request, reply) => {
          const out = await raw.handle((request.body as string | undefined) ?? '', request.headers, {
            method: request.method,
            url: request.url,
          })
          reply.code(out.status)
          if (out.headers) reply.headers(out.headers)
          return out.body
        },
      })
    })
  }
  const document = () => openApiDocument(table, { version: VERSION })
  app.get('/openapi.json', async () => document())
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })

  if (o.watch !== false) policy.watch()
  // keys.yaml is watched whatever `watch` says: a removed key must stop working within seconds.
  const keysWatcher = keysPath
    ? new KeysWatcher(keysPath, keys, app.log, () => sessions.prune((hash) => keys.has(hash)))
    : undefined
  keysWatcher?.start(o.keysPollMs ?? 2000)
  const expiry = setInterval(() => {
    remit.reviews.expire().then(
      (expired) => expired.length && app.log.info({ count: expired.length }, 'reviews expired'),
      (error) => app.log.error({ err: error }, 'review expiry failed'),
    )
  }, o.expireEveryMs ?? 30_000)
  expiry.unref()

  let closed: Promise<void> | undefined
  return {
    app,
    remit,
    policy,
    keys,
    async listen({ port = 8787, host = '127.0.0.1' } = {}) {
      return app.listen({ port, host })
    },
    close() {
      closed ??= (async () => {
        clearInterval(expiry)
        sync.stop()
        policy.close()
        keysWatcher?.close()
        // In-flight requests finish; a keep-alive connection is closed as soon as it falls idle
        // (node closes only the connections idle at the moment close begins).
        const reaper = setInterval(() => app.server.closeIdleConnections(), 25)
        // A connection still busy after the grace period (a peer that never finishes its request)
        // is cut: a shutdown cannot be held open from outside.
        const cut = setTimeout(() => app.server.closeAllConnections(), o.closeGraceMs ?? 10_000)
        try {
          await app.close()
        } finally {
          clearInterval(reaper)
          clearTimeout(cut)
        }
        await remit.close()
      })()
      return closed
    },
  }
}

/**
 * JSON.parse, refusing `__proto__` keys: parsed, they are own properties, but any copy made of the
 * object (a schema's output, a spread) turns them into a prototype, and the field silently vanishes.
 */
function parseJson(text: string): unknown {
  // A key can spell __proto__ with escapes ("\u005f_proto__"): any escape takes the careful path.
  if (!text.includes('__proto__') && !text.includes('\\u')) return JSON.parse(text)
  return JSON.parse(text, (key, value) => {
    if (key === '__proto__') throw new InputError('RESERVED_NAME', '"__proto__" is not a field name', [key])
    return value
  })
}

/**
 * Who presents the request: a bearer key, or else the console's session cookie — whose key must
 * still be in service, and which must echo its CSRF token on anything that changes state.
 */
function authenticate(
  request: { headers: Record<string, string | string[] | undefined>; method: string },
  keys: KeyRing,
  sessions: Sessions,
): Principal {
  const authorization = request.headers.authorization as string | undefined
  if (authorization !== undefined) {
    const principal = keys.authenticate(authorization)
    if (!principal) throw new UnauthorizedError('that key is not in service')
    return principal
  }
  const session = sessions.fromCookie(request.headers.cookie as string | undefined)
  if (!session) throw new UnauthorizedError()
  const principal = keys.byHash(session.keyHash)
  if (!principal) {
    sessions.end(session.id)
    throw new UnauthorizedError('the key this session signed in with is no longer in service')
  }
  if (request.method !== 'GET' && !sessions.csrfOk(session, request.headers['x-csrf-token']))
    throw new CsrfError()
  return principal
}

/** Who an agent key decides as; a key bound to a tool only while the policy gives that tool to its agent. */
function callerOf(remit: Remit, p: Extract<Principal, { kind: 'agent' }>): Caller {
  const caller = p.tool ? { tool: p.tool } : { agent: p.agent }
  let agent: string | undefined
  try {
    agent = resolveCaller(remit.policy, caller).agent.id
  } catch {
    agent = undefined
  }
  if (agent !== p.agent) {
    throw new ForbiddenError(
      p.tool
        ? `key ${p.name}: tool ${p.tool} is not ${p.agent}'s in the policy in service`
        : `key ${p.name}: agent ${p.agent} is not in the policy in service`,
    )
  }
  return caller
}

function register(
  app: FastifyInstance,
  route: Route,
  authorize: onRequestHookHandler,
  bodyLimit: number,
): void {
  // Typed as Fastify's router and query-string parser produce them; the route's schemas narrow them.
  app.route<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>({
    method: route.method,
    url: route.url,
    // A route may need more room than the server's limit (a decision with an e-mail's preview), never less.
    ...(route.bodyLimit !== undefined && route.bodyLimit > bodyLimit ? { bodyLimit: route.bodyLimit } : {}),
    // Routes anyone may call (health, sign-in) have no hook at all.
    ...(route.roles.length ? { onRequest: authorize } : {}),
    handler: async (request, reply) => {
      // Each on its own: a query key must not hide a path parameter of the same name.
      for (const [name, value] of [
        ...Object.entries(request.params ?? {}),
        ...Object.entries(request.query ?? {}),
      ]) {
        if (String(value).includes('\u0000'))
          throw new InputError('BAD_CHARACTER', 'contains a NUL character', [name])
        if (!String(value).isWellFormed())
          throw new InputError('BAD_CHARACTER', 'is not well-formed Unicode (a lone surrogate)', [name])
      }
      const parse = <S extends z.ZodType>(schema: S, value: unknown): z.output<S> => {
        const parsed = schema.safeParse(value)
        if (!parsed.success) throw inputErrorFromZod(parsed.error)
        return parsed.data
      }
      const query = request.query ?? {}
      const body = request.body ?? {}
      const out = await route.handler({
        request,
        reply,
        principal: request.principal,
        caller: request.caller ?? undefined,
        params: request.params,
        query: route.query ? parse(route.query, query) : query,
        // The decision body is checked by the engine against the policy too; parsing it once is enough.
        body: route.uncheckedBody ? request.body : route.body ? parse(route.body, body) : body,
      })
      if (route.status && reply.statusCode === 200) reply.code(route.status)
      return out
    },
  })
}

export { VERSION }

/**
 * Why a key's role may not call a route, and whose may: "an agent key may not approve a flag; a
 * reviewer key of the review's team, or an admin key, may".
 */
function forbidden(kind: string, route: Route): string {
  const an = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`)
  const head = route.summary.split(/:|;| \(/)[0]?.trim() ?? ''
  const what = head.charAt(0).toLowerCase() + head.slice(1)
  const team = route.method === 'POST' && route.url.includes('/reviews') ? " of the review's team" : ''
  const who = route.roles.map((r) => `${an(r)} key${r === 'reviewer' ? team : ''}`)
  return `${an(kind)} key may not ${route.method === 'GET' ? `read this (${what})` : what}; ${
    who.length > 1 ? `${who.slice(0, -1).join(', ')}, or ${who.at(-1)},` : who[0]
  } may`
}
