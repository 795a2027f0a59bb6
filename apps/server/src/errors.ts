import { InputError, NotFoundError, PolicyError, ReviewStateError } from '@remit/core'

/** The key is known but may not do this. */
export class ForbiddenError extends Error {
  readonly code = 'FORBIDDEN'
  constructor(message: string) {
    super(message)
    this.name = 'ForbiddenError'
  }
}

export interface HttpError {
  status: number
  body: {
    error: { code: string; message: string; path?: (string | number)[]; hint?: string; issues?: unknown[] }
  }
}

/**
 * Every error a caller can cause maps to a 4xx naming what to fix. Fastify's own (bad JSON, body
 * too large, wrong content type) keep their status. Anything else is a 500 and a bug.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof InputError) {
    return {
      status: 400,
      body: {
        error: {
          code: error.code,
          message: error.message,
          path: error.path,
          ...(error.hint ? { hint: error.hint } : {}),
        },
      },
    }
  }
  if (error instanceof ForbiddenError)
    return { status: 403, body: { error: { code: error.code, message: error.message } } }
  if (error instanceof NotFoundError)
    return { status: 404, body: { error: { code: error.code, message: error.message } } }
  if (error instanceof ReviewStateError) {
    const status = error.code === 'REVIEW_FORBIDDEN' ? 403 : 409
    return { status, body: { error: { code: error.code, message: error.message } } }
  }
  if (error instanceof PolicyError) {
    return {
      status: 422,
      body: { error: { code: error.code, message: error.message, issues: error.issues } },
    }
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
