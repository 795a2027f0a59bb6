import { createHash } from 'node:crypto'
import { type ClientOptions, type Reason, RemitClient, RemitError } from '@remit/client'
import { ConflictError, InputError, NotFoundError, type Remit, ReviewStateError } from '@remit/core'
import type { CallRequest } from './map/request.ts'

// The one seam between the gateway and Remit: an embedded engine (openRemit on a store) or a Remit
// server over HTTP (@remit/client). The gateway asks the same four things of either.

/** What Remit answered a call. */
export interface Answer {
  decisionId: string
  verdict: 'go' | 'flag' | 'stop'
  reasons: Reason[]
  retryAfter?: string
  reviewId?: string
  reviewTeam?: string
}

/** A flag's review as the gateway reads it. */
export interface HeldReview {
  id: string
  decisionId: string
  status: 'pending' | 'approved' | 'rejected' | 'expired'
  expiresAt: string
  /** The final word once resolved: go only when approved and no stop held at approval. */
  outcome?: 'go' | 'stop'
  outcomeReasons?: Reason[]
  /** Approved with changes: the attributes a reviewer changed, and their new values. */
  changes?: { attributes: Record<string, unknown> }
}

/** An approved review's stops, re-checked as the call is released: `ok`, or the stops that hold now. */
export interface Recheck {
  ok: boolean
  reasons: Reason[]
}

export interface RemitSeam {
  /**
   * Who the calls are made as (`agent:<id>`, or `key:<its hash>` for a server's key), so that one
   * agent's approval never releases another's identical call. Unknown for a RemitClient passed in.
   */
  caller?: string
  decide(
    request: CallRequest & { preview?: { subject?: string; text?: string }; acceptsChanges?: string[] },
  ): Promise<Answer>
  /** `cancelled`: an approved call that was never sent (a stop held when it was released). */
  outcome(decisionId: string, status: 'sent' | 'failed' | 'cancelled'): Promise<void>
  review(id: string): Promise<HeldReview>
  /** Re-checks approved review `id`'s stops now, as approval checked them (writes nothing). */
  recheck(id: string): Promise<Recheck>
}

/**
 * Remit could not answer (unreachable, a closed store, a refused request): the call is denied and
 * never forwarded. `message` says why in words an agent's user can act on.
 */
export class RemitUnavailable extends Error {
  readonly code = 'REMIT_UNAVAILABLE'
}

/** Where the gateway asks: an embedded engine acting as `agent`, or a server (the key decides the agent). */
export type RemitTarget = { remit: Remit; agent: string } | RemitClient | ClientOptions

export function remitSeam(target: RemitTarget): RemitSeam {
  if (target instanceof RemitClient) return clientSeam(target)
  if ('remit' in target) return engineSeam(target.remit, target.agent)
  const keyHash = createHash('sha256').update(target.key).digest('hex').slice(0, 32)
  return { ...clientSeam(new RemitClient(target)), caller: `key:${keyHash}` }
}

function engineSeam(remit: Remit, agent: string): RemitSeam {
  return {
    caller: `agent:${agent}`,
    decide: (request) =>
      asked(async () => {
        const d = await remit.decide({ agent }, request)
        return answer({ ...d, decisionId: d.id, retryAfter: d.retryAfter?.toISOString() })
      }),
    outcome: (decisionId, status) => asked(async () => void (await remit.outcome(decisionId, status))),
    review: (id) =>
      asked(async () => {
        const r = await remit.reviews.get(id)
        if (!r) throw new RemitUnavailable(`review ${id} is not in Remit's store`)
        return {
          id: r.id,
          decisionId: r.decisionId,
          status: r.status,
          expiresAt: r.expiresAt.toISOString(),
          ...(r.outcome ? { outcome: r.outcome } : {}),
          ...(r.outcomeReasons ? { outcomeReasons: r.outcomeReasons } : {}),
          ...(r.changes ? { changes: r.changes } : {}),
        }
      }),
    recheck: (id) => asked(() => remit.reviews.recheck(id)),
  }
}

function clientSeam(client: RemitClient): RemitSeam {
  return {
    decide: (request) =>
      asked(async () => {
        const d = await client.decide(request)
        // The client answers an unreachable Remit with its fail mode; the gateway never fails open.
        if (d.unreachable) throw new RemitUnavailable(`Remit could not be reached (${d.unreachable.error})`)
        return answer({ ...d, decisionId: d.id })
      }),
    outcome: (decisionId, status) => asked(async () => void (await client.outcome(decisionId, status))),
    review: (id) =>
      asked(async () => {
        const r = await client.getReview(id)
        return {
          id: r.id,
          decisionId: r.decisionId,
          status: r.status,
          expiresAt: r.expiresAt,
          ...(r.outcome ? { outcome: r.outcome } : {}),
          ...(r.outcomeReasons ? { outcomeReasons: r.outcomeReasons } : {}),
          ...(r.changes ? { changes: r.changes } : {}),
        }
      }),
    recheck: (id) => asked(() => client.recheckReview(id)),
  }
}

function answer(d: Answer & Record<string, unknown>): Answer {
  return {
    decisionId: d.decisionId,
    verdict: d.verdict,
    reasons: d.reasons,
    ...(d.retryAfter ? { retryAfter: d.retryAfter } : {}),
    ...(d.reviewId ? { reviewId: d.reviewId } : {}),
    ...(d.reviewTeam ? { reviewTeam: d.reviewTeam } : {}),
  }
}

/** Every failure to get Remit's answer becomes a RemitUnavailable naming the cause. */
async function asked<T>(ask: () => Promise<T>): Promise<T> {
  try {
    return await ask()
  } catch (error) {
    if (error instanceof RemitUnavailable) throw error
    const e = error as { message?: string; hint?: string }
    // A request Remit refused (fix the mapping or the key) reads differently from one it could not answer.
    const refused = [RemitError, InputError, ConflictError, NotFoundError, ReviewStateError].some(
      (refusal) => error instanceof refusal,
    )
    const why = refused
      ? `Remit refused the request: ${e.message}${e.hint ? ` (${e.hint})` : ''}`
      : `Remit could not answer: ${e.message ?? String(error)}`
    throw new RemitUnavailable(why, { cause: error })
  }
}
