import { InputError, UnavailableError } from '@remit/core'

// What PostgreSQL's and pg's failures mean to a caller. A lost or refused connection is the store
// being away (503, retry with the same idempotency key); a time PostgreSQL cannot hold is the
// caller's to fix (400); everything else is passed on as it is.

/** Socket errors: the server is down, restarting, or the network between is. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
])

/**
 * SQLSTATEs of a server that is going or not taking connections: 57P01 admin_shutdown (also what
 * pg_terminate_backend sends), 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300
 * too_many_connections. Class 08 (connection exceptions) is matched by prefix.
 */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300'])

/** pg's own words for a connection it lost or could not get in time. */
const PG_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Query read timeout)/

/** 22007 invalid_datetime_format, 22008 datetime_field_overflow. */
const TIME_CODES = new Set(['22007', '22008'])

/** True when `error` says the connection, not the request, failed. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true
  }
  if (PG_MESSAGES.test(error.message)) return true
  // Node reports a host with several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError.
  if (error instanceof AggregateError) return error.errors.some(isConnectionError)
  return error.cause !== undefined && isConnectionError(error.cause)
}

/** The error a store method rejects with: `error` itself unless it is one of the above. */
export function storeError(error: unknown): unknown {
  if (error instanceof UnavailableError || error instanceof InputError) return error
  if (isConnectionError(error)) {
    return new UnavailableError(`PostgreSQL is unavailable: ${(error as Error).message}`, { cause: error })
  }
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && TIME_CODES.has(code)) {
    return new InputError(
      'AT_OUT_OF_RANGE',
      `a time PostgreSQL cannot hold (${(error as Error).message}); it holds 4713 BC to 294276 AD`,
      ['at'],
    )
  }
  return error
}
