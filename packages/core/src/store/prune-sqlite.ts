import type { DatabaseSync } from 'node:sqlite'
import type { PruneRequest } from './store.ts'

// `Store.prune` on the embedded store: plain DELETEs, 10,000 rows a transaction (times are epoch
// milliseconds), each chunk a job on the store's write path, so it never interleaves with a
// decision's transaction.

const CHUNK = 10_000

const WHERE = {
  touches: 'touches WHERE at < ?',
  decisions: `decisions d WHERE d.at < ? AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.decision_id = d.id AND r.status = 'pending')`,
  reviews: `reviews WHERE created_at < ? AND status <> 'pending'`,
  commitments:
    'commitments WHERE at < ? AND (withdrawn <> 0 OR (expires_at IS NOT NULL AND expires_at <= ?))',
} as const

function args(request: PruneRequest, kind: keyof typeof WHERE): number[] {
  if (kind === 'touches') return [request.touchesBefore.getTime()]
  if (kind === 'commitments') return [request.decisionsBefore.getTime(), request.now.getTime()]
  return [request.decisionsBefore.getTime()]
}

export const PRUNED = Object.keys(WHERE) as Array<keyof typeof WHERE>

/**
 * A candidate's diffs go with the decisions they were written with: those before the decisions'
 * cut-off whose decision is gone (a decision kept, its review pending, keeps its diff).
 */
const ORPHAN_DIFFS =
  'DELETE FROM candidate_diffs WHERE at < ? AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.id = candidate_diffs.decision_id)'

/** The diffs a prune would remove: before the cut-off, their decision gone or going with it. */
const DIFFS_GOING = `SELECT count(*) AS n FROM candidate_diffs c WHERE c.at < ? AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.id = c.decision_id AND (d.at >= ? OR EXISTS (SELECT 1 FROM reviews r WHERE r.decision_id = d.id AND r.status = 'pending')))`

/** How many candidate diffs the request would remove. */
export function pruneCountCandidateDiffs(db: DatabaseSync, request: PruneRequest): number {
  const cut = request.decisionsBefore.getTime()
  return Number((db.prepare(DIFFS_GOING).get(cut, cut) as { n: number }).n)
}

/** How many rows of `kind` the request would remove. */
export function pruneCount(db: DatabaseSync, request: PruneRequest, kind: keyof typeof WHERE): number {
  const row = db.prepare(`SELECT count(*) AS n FROM ${WHERE[kind]}`).get(...args(request, kind)) as {
    n: number
  }
  return Number(row.n)
}

/**
 * Removes up to 10,000 rows of `kind`, inside the caller's transaction, and with decisions their
 * candidate diffs; returns how many of each. The caller repeats it, a transaction each, until it
 * removes fewer.
 */
export function pruneChunk(
  db: DatabaseSync,
  request: PruneRequest,
  kind: keyof typeof WHERE,
): { removed: number; candidateDiffs: number } {
  const where = WHERE[kind]
  const table = where.split(' ')[0] as string
  const remove = db.prepare(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${where} LIMIT ${CHUNK})`)
  const removed = Number(remove.run(...args(request, kind)).changes)
  const candidateDiffs =
    kind === 'decisions' ? Number(db.prepare(ORPHAN_DIFFS).run(request.decisionsBefore.getTime()).changes) : 0
  return { removed, candidateDiffs }
}

export const PRUNE_CHUNK = CHUNK
