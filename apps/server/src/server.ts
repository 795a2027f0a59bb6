import { readFile, rename, writeFile } from 'node:fs/promises'
import fastifyStatic from '@fastify/static'
import { inputErrorFromZod, loadPolicyFile, openRemit, type Remit, type Store } from '@remit/core'
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify'
import { consoleRoutes } from './console-routes.ts'
import { toHttpError } from './errors.ts'
import {
  generateKey,
  hashKey,
  type KeyEntry,
  KeyRing,
  keyLine,
  type Principal,
  readKeysFile,
} from './keys.ts'
import { createMetrics } from './metrics.ts'
import { openApiDocument } from './openapi.ts'
import { PolicyService } from './policy-service.ts'
import type { Route } from './route.ts'
import { routes } from './routes.ts'
import { Sessions } from './sessions.ts'

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
  /** How often pending reviews are checked for expiry (default 30 s). */
  expireEveryMs?: number
  /** Largest request body accepted, bytes (default 64 KiB). */
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
}

export interface RawRoute {
  method: 'GET' | 'POST' | 'PUT'
  url: string
  handle: (
    rawBody: string,
    headers: Record<string, string | string[] | undefined>,
    request: { method: string; url: string },
  ) => Promise<{ status: number; body: unknown }>
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
  })
  const metrics = createMetrics(
    async () => (await remit.reviews.list({ status: 'pending', limit: 5000 })).length,
  )
  const policy = new PolicyService(remit, o.policy, app.log, metrics)
  const createKey = async (entry: Omit<KeyEntry, 'sha256'>) => {
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
  const table = [
    ...routes({ remit, policy, keys, metrics, createKey }),
    ...consoleRoutes({ remit, keys, sessions, policy, secureCookies: o.secureCookies ?? false }),
    ...(typeof o.routes === 'function' ? o.routes(remit) : (o.routes ?? [])),
  ]

  app.setErrorHandler((error, request, reply) => {
    const e = toHttpError(error)
    if (e.status >= 500) request.log.error({ err: error }, 'request failed')
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
        key: (request as { principal?: Principal }).principal?.name,
      },
      'request',
    )
  })
  // An empty body on a POST that needs none (approve, reload) is {}; anything else must be JSON.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(null, {})
    // PostgreSQL text cannot hold U+0000; no field of ours needs it, so refuse it at the door.
    if ((body as string).includes('\\u0000')) {
      const error = Object.assign(
        new Error('the body contains a NUL character (\\u0000), which no field accepts'),
        {
          statusCode: 400,
          code: 'BAD_CHARACTER',
        },
      )
      return done(error, undefined)
    }
    try {
      done(null, JSON.parse(body as string))
    } catch {
      const error = Object.assign(new Error('the body is not valid JSON'), {
        statusCode: 400,
        code: 'BAD_JSON',
      })
      done(error, undefined)
    }
  })

  for (const route of table) register(app, route, keys, sessions)
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
        handler: async (request, reply) => {
          const out = await raw.handle((request.body as string | undefined) ?? '', request.headers, {
            method: request.method,
            url: request.url,
          })
          reply.code(out.status)
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
        policy.close()
        // In-flight requests finish; a keep-alive connection is closed as soon as it falls idle
        // (node closes only the connections idle at the moment close begins).
        const reaper = setInterval(() => app.server.closeIdleConnections(), 25)
        try {
          await app.close()
        } finally {
          clearInterval(reaper)
        }
        await remit.close()
      })()
      return closed
    },
  }
}

function register(app: FastifyInstance, route: Route, keys: KeyRing, sessions: Sessions): void {
  app.route({
    method: route.method,
    url: route.url,
    handler: async (request, reply) => {
      let principal: Principal | undefined
      if (route.roles.length) {
        principal = keys.authenticate(request.headers.authorization)
        // The console signs in once and sends its session cookie; anything that changes state must
        // also echo the session's CSRF token.
        if (!principal && request.headers.authorization === undefined) {
          const session = sessions.fromCookie(request.headers.cookie)
          if (
            session &&
            request.method !== 'GET' &&
            !sessions.csrfOk(session, request.headers['x-csrf-token'])
          ) {
            reply.code(403)
            return { error: { code: 'CSRF', message: 'missing or wrong X-CSRF-Token for this session' } }
          }
          principal = session?.principal
        }
        if (!principal) {
          reply.header('www-authenticate', 'Bearer')
          reply.code(401)
          return { error: { code: 'UNAUTHORIZED', message: 'present a key: Authorization: Bearer <key>' } }
        }
        ;(request as { principal?: Principal }).principal = principal
        if (!route.roles.includes(principal.kind)) {
          reply.code(403)
          return {
            error: {
              code: 'FORBIDDEN',
              message: `a ${principal.kind} key may not ${route.summary.toLowerCase()}`,
            },
          }
        }
      }
      for (const [name, value] of Object.entries({
        ...(request.params as object),
        ...(request.query as object),
      })) {
        if (String(value).includes('\u0000')) {
          reply.code(400)
          return {
            error: { code: 'BAD_CHARACTER', message: `${name} contains a NUL character`, path: [name] },
          }
        }
      }
      const parse = (schema: Route['query'] | Route['body'], value: unknown) => {
        if (!schema) return value
        const parsed = schema.safeParse(value)
        if (!parsed.success) throw inputErrorFromZod(parsed.error)
        return parsed.data
      }
      // The decision body is checked by the engine against the policy too; parsing it once is enough.
      const body =
        route.operationId === 'createDecision' ? request.body : parse(route.body, request.body ?? {})
      const out = await route.handler({
        request,
        reply,
        principal: principal as Principal,
        params: request.params as Record<string, string>,
        query: parse(route.query, request.query ?? {}) as Record<string, unknown>,
        body,
      })
      if (route.status && reply.statusCode === 200) reply.code(route.status)
      return out
    },
  })
}

export { VERSION }
