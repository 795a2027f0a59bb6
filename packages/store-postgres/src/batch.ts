import type { Commitment, DecideRequest, Decision, DecisionWrite, LedgerView, Touch } from '@remit/core'
import { replayOf } from '@remit/core/internal'

// Group commit: the decisions that arrive while others are being written are decided together, in
// one transaction of two round trips — [BEGIN, lock every account of the batch, read every prior
// decision of the batch's idempotency keys, read every ledger] and [every write, COMMIT] — instead of
// two round trips and a commit each. What makes it the same as deciding them one by one, in order:
// - a later decision for an account sees what the earlier ones of the batch reserved and promised
//   (`Batch.view`); one naming a person, after an earlier one linked an identity in its account, waits
//   for the next batch, whose read sees the link (a link can join the person to others the read did
//   not reach);
// - a key used twice in a batch replays (or refuses, `replayOf`) the first, as it would the stored one;
// - every promise settles after COMMIT: an answered go is committed.

/** The most decisions in one transaction (its SQL is ~1 kB a decision). */
export const MAX_BATCH = 64

/** The most decisions waiting for a batch; more are refused at once (503), not queued without end. */
export const MAX_PENDING = 10_000

export interface Pending {
  /** When it was asked for (ms): one that waits too long for a batch is refused (`PostgresStore`). */
  queuedAt: number
  request: DecideRequest
  plan: (ledger: LedgerView) => DecisionWrite
  resolve: (decision: Decision) => void
  reject: (error: unknown) => void
}

/** What one request of a batch came to: a decision, an error of its own, or the next batch. */
export type Outcome = { decision: Decision } | { error: unknown } | { defer: true }

/** A decision the batch made, by agent and key, and the request hash it was made for. */
interface Keyed {
  decision: Decision
  requestHash: string | undefined
}

/**
 * Plans a batch's requests in order over what the store read (`priors`: stored decisions by agent
 * and key; `views`: each request's ledger as committed), returning each one's outcome and the writes
 * to make. Pure: nothing here touches the database.
 */
export function planBatch(
  batch: Pending[],
  priors: Map<string, { body: Decision; requestHash: string | null }>,
  views: LedgerView[],
): { outcomes: Outcome[]; writes: Array<{ write: DecisionWrite; requestHash: string | undefined }> } {
  const outcomes: Outcome[] = []
  const writes: Array<{ write: DecisionWrite; requestHash: string | undefined }> = []
  const keyed = new Map<string, Keyed>()
  const written = new Map<string, DecisionWrite[]>()
  const linked = new Set<string>()
  const decideOne = ({ request, plan }: Pending, view: LedgerView): Outcome => {
    const key =
      request.idempotencyKey === undefined ? undefined : keyOf(request.agent, request.idempotencyKey)
    const earlier = key === undefined ? undefined : keyed.get(key)
    if (earlier) return { decision: replayOf(request, earlier.decision, earlier.requestHash) }
    const stored = key === undefined ? undefined : priors.get(key)
    if (stored) return { decision: replayOf(request, stored.body, stored.requestHash) }
    if (request.person && linked.has(request.accountId)) return { defer: true }
    const write = plan(withWrites(view, written.get(request.accountId) ?? [], request))
    writes.push({ write, requestHash: request.requestHash })
    if (key !== undefined) keyed.set(key, { decision: write.decision, requestHash: request.requestHash })
    const mine = written.get(request.accountId)
    if (mine) mine.push(write)
    else written.set(request.accountId, [write])
    if (write.identity) linked.add(request.accountId)
    return { decision: write.decision }
  }
  for (const [i, pending] of batch.entries()) {
    try {
      outcomes.push(decideOne(pending, views[i] as LedgerView))
    } catch (error) {
      outcomes.push({ error })
    }
  }
  return { outcomes, writes }
}

/** Agent and key as one map key (an agent id never holds a NUL). */
export const keyOf = (agent: string, key: string) => `${agent}\u0000${key}`

/**
 * The ledger as read, plus what earlier decisions of the batch wrote to the account: their counting
 * touches at or after `since` and their commitments outstanding at `now` — what the read would have
 * returned had they been committed — each in time order as the read returns them.
 */
function withWrites(view: LedgerView, earlier: DecisionWrite[], request: DecideRequest): LedgerView {
  if (!earlier.length) return view
  const touches = [...view.touches]
  const commitments = [...view.commitments]
  for (const w of earlier) {
    const t = w.touch
    if (t && (t.status === 'reserved' || t.status === 'sent') && t.at >= request.since)
      insertByTime(touches, t)
    const c = w.commitment
    if (c && (c.expiresAt === undefined || c.expiresAt > request.now)) insertByTime(commitments, c)
  }
  return { ...view, touches, commitments }
}

function insertByTime<T extends Touch | Commitment>(xs: T[], x: T): void {
  let i = xs.length
  while (i > 0 && (xs[i - 1] as T).at > x.at) i--
  xs.splice(i, 0, x)
}
