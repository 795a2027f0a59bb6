import { randomUUID } from 'node:crypto'
import type {
  DecisionRecordWire,
  DecisionRequest,
  DecisionWire,
  OutcomeRequest,
  Reason,
  RecheckWire,
  ReviewQuery,
  ReviewWire,
  SuppressionRequest,
  SuppressionWire,
  TimelineWire,
  TouchRequest,
  TouchWire,
} from './wire.ts'

export interface ClientOptions {
  /** Base URL of the Remit server, e.g. http://127.0.0.1:8787 */
  url: string
  /** The bearer key Remit gave this tool. */
  key: string
  /** Per attempt (default 2000 ms). */
  timeoutMs?: number
  /** Extra attempts after a network error, timeout, 429 or 5xx (default 2). */
  retries?: number
  /**
   * When Remit cannot be reached: `closed` (default) answers stop, so the touch is held, never sent
   * ungated; `open` answers go. Either way the answer says `unreachable`.
   */
  failMode?: 'closed' | 'open'
  /** How long a closed fail asks the caller to wait before trying again (default 60 s). */
  retryAfterMs?: number
  fetch?: typeof fetch
}

/** A decision, or the fail mode's answer when Remit could not be reached. */
export type DecideResult = DecisionWire & {
  /** Present when Remit could not be reached and the fail mode answered instead. */
  unreachable?: { failMode: 'closed' | 'open'; error: string }
}

/** Remit answered with an error: a bad request, a key that may not do this, a missing thing. */
export class RemitError extends Error {
  readonly status: number
  readonly code: string
  readonly path: (string | number)[] | undefined
  readonly hint: string | undefined
  constructor(
    status: number,
    body: { error?: { code?: string; message?: string; path?: (string | number)[]; hint?: string } },
  ) {
    const e = body?.error ?? {}
    super(`${status} ${e.code ?? 'ERROR'}: ${e.message ?? 'Remit refused the request'}`)
    this.name = 'RemitError'
    this.status = status
    this.code = e.code ?? 'ERROR'
    this.path = e.path
    this.hint = e.hint
  }
}

/** Remit could not be reached after every retry (only thrown by calls other than `decide`). */
export class RemitUnreachableError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options)
    this.name = 'RemitUnreachableError'
  }
}

const RETRYABLE = new Set([429, 502, 503, 504])

export class RemitClient {
  private readonly o: Required<Omit<ClientOptions, 'fetch'>> & { fetch: typeof fetch }

  constructor(options: ClientOptions) {
    if (!options.url) throw new TypeError('RemitClient: url is required')
    if (!options.key) throw new TypeError('RemitClient: key is required')
    this.o = {
      timeoutMs: 2000,
      retries: 2,
      failMode: 'closed',
      retryAfterMs: 60_000,
      fetch: globalThis.fetch,
      ...options,
      url: options.url.replace(/\/+$/, ''),
    }
  }

  /**
   * Asks Remit before a touch. Retries reuse one idempotency key (the caller's, or one made here),
   * so a retried go is never reserved twice. Never throws for an unreachable Remit: the fail mode
   * answers, marked `unreachable`. Throws `RemitError` for a request Remit refused (fix the call).
   */
  async decide(request: DecisionRequest): Promise<DecideResult> {
    const body = { ...request, idempotencyKey: request.idempotencyKey ?? randomUUID() }
    try {
      return await this.call<DecisionWire>('POST', '/v1/decisions', body)
    } catch (error) {
      if (!(error instanceof RemitUnreachableError)) throw error
      return this.failed(error)
    }
  }

  private failed(error: RemitUnreachableError): DecideResult {
    const open = this.o.failMode === 'open'
    const reason: Reason = {
      rule: 'remit-unreachable',
      sort: 'default',
      message: open
        ? `Remit could not be reached (${error.message}); fail mode is open, so this touch went ungated`
        : `Remit could not be reached (${error.message}); fail mode is closed, so this touch is held`,
    }
    return {
      id: '',
      verdict: open ? 'go' : 'stop',
      reasons: [reason],
      ...(open ? {} : { retryAfter: new Date(Date.now() + this.o.retryAfterMs).toISOString() }),
      notify: [],
      policyVersion: '',
      unreachable: { failMode: this.o.failMode, error: error.message },
    }
  }

  outcome(decisionId: string, status: OutcomeRequest['status']): Promise<TouchWire> {
    return this.call('POST', `/v1/decisions/${encodeURIComponent(decisionId)}/outcome`, { status })
  }

  recordTouch(touch: TouchRequest): Promise<TouchWire> {
    return this.call('POST', '/v1/touches', touch)
  }

  /** Records that a customer must not be contacted (on a channel, or any): every later outbound action it covers stops. */
  recordSuppression(suppression: SuppressionRequest): Promise<SuppressionWire> {
    return this.call('POST', '/v1/suppressions', suppression)
  }

  /** Lifts a suppression (an admin key only): it stops nothing from then on, and stays on record. */
  liftSuppression(id: string, note?: string): Promise<SuppressionWire> {
    return this.call('POST', `/v1/suppressions/${encodeURIComponent(id)}/lift`, note ? { note } : {})
  }

  getDecision(id: string): Promise<DecisionRecordWire> {
    return this.call('GET', `/v1/decisions/${encodeURIComponent(id)}`)
  }

  async listReviews(query: Partial<ReviewQuery> = {}): Promise<ReviewWire[]> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))
    return (await this.call<{ reviews: ReviewWire[] }>('GET', `/v1/reviews${qs.size ? `?${qs}` : ''}`))
      .reviews
  }

  getReview(reviewId: string): Promise<ReviewWire> {
    return this.call('GET', `/v1/reviews/${encodeURIComponent(reviewId)}`)
  }

  /**
   * Re-checks an approved review's stops now, before sending an action approved earlier (writes
   * nothing). `ok: false`: don't send, and report the decision's touch `cancelled` (`outcome`).
   */
  recheckReview(reviewId: string): Promise<RecheckWire> {
    return this.call('GET', `/v1/reviews/${encodeURIComponent(reviewId)}/recheck`)
  }

  /**
   * Approves a flag. With `digest` (the review's, as shown to the reviewer) the approval is bound to
   * that request: another digest is refused with 409 REVIEW_DIGEST_MISMATCH and nothing changes.
   * With `changes` (attributes the action's `reviewerMayChange` lists) it approves the changed
   * request, decided again: 409 CHANGED_REQUEST_STOPPED or CHANGED_REQUEST_FLAGGED when it would not
   * go as this approval, 400 CHANGE_NOT_ALLOWED for an attribute the policy does not list.
   */
  approve(
    reviewId: string,
    note?: string,
    options: { digest?: string; changes?: { attributes: Record<string, unknown> } } = {},
  ): Promise<ReviewWire> {
    return this.call('POST', `/v1/reviews/${encodeURIComponent(reviewId)}/approve`, {
      ...(note ? { note } : {}),
      ...(options.digest ? { digest: options.digest } : {}),
      ...(options.changes ? { changes: options.changes } : {}),
    })
  }

  reject(reviewId: string, note?: string): Promise<ReviewWire> {
    return this.call('POST', `/v1/reviews/${encodeURIComponent(reviewId)}/reject`, note ? { note } : {})
  }

  timeline(accountId: string): Promise<TimelineWire> {
    return this.call('GET', `/v1/customers/${encodeURIComponent(accountId)}/timeline`)
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let last: unknown
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      if (attempt > 0) await sleep(backoff(attempt, last))
      let res: Response
      try {
        res = await this.o.fetch(`${this.o.url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.o.key}`,
            accept: 'application/json',
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(this.o.timeoutMs),
        })
      } catch (error) {
        last = error
        continue
      }
      if (RETRYABLE.has(res.status)) {
        last = res
        await res.arrayBuffer().catch(() => {})
        continue
      }
      const text = await res.text()
      const json = text ? safeJson(text) : undefined
      if (!res.ok) throw new RemitError(res.status, (json ?? {}) as never)
      return json as T
    }
    throw new RemitUnreachableError(describe(last), { cause: last })
  }
}

export function createClient(options: ClientOptions): RemitClient {
  return new RemitClient(options)
}

function backoff(attempt: number, last: unknown): number {
  const retryAfter = last instanceof Response ? Number(last.headers.get('retry-after')) : Number.NaN
  if (Number.isFinite(retryAfter) && retryAfter >= 0) return Math.min(retryAfter * 1000, 10_000)
  // 100 ms, 200 ms, 400 ms… with jitter, so many clients do not retry in step.
  return 100 * 2 ** (attempt - 1) * (0.5 + Math.random())
}

function describe(last: unknown): string {
  if (last instanceof Response) return `HTTP ${last.status}`
  const e = last as { name?: string; message?: string; cause?: { code?: string } }
  if (e?.name === 'TimeoutError') return 'timed out'
  return e?.cause?.code ?? e?.message ?? 'unreachable'
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return { error: { code: 'BAD_RESPONSE', message: text.slice(0, 200) } }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
