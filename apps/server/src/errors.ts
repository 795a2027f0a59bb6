import {
  ConflictError,
  InputError,
  NotFoundError,
  PolicyChangeError,
  PolicyError,
  ReviewStateError,
  UnavailableError,
} from '@remit/core'

/** The key is known but may not do this. */
export class ForbiddenError extends Error {
  readonly code = 'FORBIDDEN'
  constructor(message: string) {
    super(message)
    this.name = 'ForbiddenError'
  }
}

/** No key, or a key not in service (removed from keys.yaml, or a session whose key was removed). */
export class UnauthorizedError extends Error {
  readonly code = 'UNAUTHORIZED'
  constructor(message = 'present a key: Authorization: Bearer <key>') {
    super(message)
    this.name = 'UnauthorizedError'
  }
}

/** A signed-in console session that changes state without its CSRF token. */
export class CsrfError extends Error {
  readonly code = 'CSRF'
  constructor() {
    super('missing or wrong X-CSRF-Token for this session')
    this.name = 'CsrfError'
  }
}

export interface HttpError {
  status: number
  headers?: Record<string, string>
  body: {
    error: {
      code: string
      message: string
      path?: (string | number)[]
      hint?: string
      issues?: unknown[]
      teams?: string[]
    }
  }
}

type ErrorClass = abstract new (...args: never[]) => Error

/**
 * The one registry of errors a caller can meet, and the status each answers with. Routes throw;
 * nothing writes an error body inline. The order matters only where classes inherit.
 */
const REGISTRY: [ErrorClass, (error: never) => Omit<HttpError, 'body'> & { extra?: object }][] = [
  [
    InputError,
    (e: InputError) => ({ status: 400, extra: { path: e.path, ...(e.hint ? { hint: e.hint } : {}) } }),
  ],
  [UnauthorizedError, () => ({ status: 401, headers: { 'www-authenticate': 'Bearer' } })],
  [ForbiddenError, () => ({ status: 403 })],
  [CsrfError, () => ({ status: 403 })],
  [NotFoundError, () => ({ status: 404 })],
  [ReviewStateError, () => ({ status: 409 })],
  [ConflictError, () => ({ status: 409 })],
  [
    PolicyChangeError,
    (e: PolicyChangeError) => ({
      status: 409,
      extra: { ...(e.hint ? { hint: e.hint } : {}), ...(e.teams.length ? { teams: e.teams } : {}) },
    }),
  ],
  [PolicyError, (e: PolicyError) => ({ status: 422, extra: { issues: e.issues } })],
  [
    UnavailableError,
    (e: UnavailableError) => ({
      status: 503,
      headers: { 'retry-after': String(Math.max(1, Math.ceil(e.retryAfterSeconds))) },
    }),
  ],
]

/**
 * Every error a caller can cause maps to a 4xx naming what to fix; a store that is away is a 503
 * with Retry-After. Fastify's own (bad JSON, body too large, wrong content type) keep their status.
 * Anything else is a 500 and a bug.
 */
export function toHttpError(error: unknown): HttpError {
  for (const [type, map] of REGISTRY) {
    if (!(error instanceof type)) continue
    const { extra, ...rest } = map(error as never)
    const e = error as Error & { code: string }
    return { ...rest, body: { error: { code: e.code, message: e.message, ...extra } } }
  }
  const e = error as { statusCode?: number; code?: string; message?: string }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return {
      status: e.statusCode,
      body: { error: { code: e.code ?? 'BAD_REQUEST', message: e.message ?? 'bad request', path: [] } },
    }
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error; it has been logged' } } }
}
