import type { Decision } from '../decision/decision.ts'
import { type ResolvedRequest, requestOf } from '../decision/request.ts'
import type { Verdict } from '../decision/schema.ts'
import { type Evaluation, evaluate } from '../evaluate/evaluate.ts'
import type { LedgerView } from '../ledger/types.ts'
import type { Policy } from '../policy/model.ts'

// Shadow evaluation: the candidate policy run on a live decision's request against the ledger view
// that decision read, inside the store's transaction. It only reads: the plan reserves, reviews and
// sends what the live policy says, and what the candidate says is kept beside it when it differs.

/**
 * How a candidate's answer differs from the live decision's: `flip` (another verdict), `rules` (the
 * same verdict for other reasons, or routed to another team), `error` (the candidate could not
 * evaluate it: a condition that fails, a request it does not read).
 */
export type CandidateDiffKind = 'flip' | 'rules' | 'error'

/** One live decision the candidate would have answered otherwise, kept with the decision. */
export interface CandidateDiff {
  decisionId: string
  at: Date
  accountId: string
  agent: string
  team: string
  /** The action's kind. */
  kind: string
  policyVersion: string
  candidateVersion: string
  diff: CandidateDiffKind
  live: Verdict
  /** Absent when the candidate could not evaluate the request (`diff: 'error'`). */
  candidate?: Verdict
  liveReviewTeam?: string
  candidateReviewTeam?: string
  /** Rules among the candidate's reasons and not the live decision's. */
  added: string[]
  /** Rules among the live decision's reasons and not the candidate's. */
  removed: string[]
  /** What the candidate failed on (`diff: 'error'`). */
  error?: string
}

/** Whether two policies read requests alike (same facts and attributes), so one resolution serves both. */
const sameShape = new WeakMap<Policy, WeakMap<Policy, boolean>>()
function readsAlike(live: Policy, candidate: Policy): boolean {
  let byCandidate = sameShape.get(live)
  if (!byCandidate) {
    byCandidate = new WeakMap()
    sameShape.set(live, byCandidate)
  }
  let same = byCandidate.get(candidate)
  if (same === undefined) {
    same =
      JSON.stringify(live.facts) === JSON.stringify(candidate.facts) &&
      JSON.stringify(live.attributes) === JSON.stringify(candidate.attributes)
    byCandidate.set(candidate, same)
  }
  return same
}

/**
 * The live request as the candidate reads it: the live resolution with the candidate's agent and
 * action when both policies type requests alike (no second parse on the hot path), else resolved again.
 */
function candidateRequest(live: Policy, candidate: Policy, req: ResolvedRequest, decision: Decision) {
  const agent = candidate.agents.get(req.agent.id)
  const action = candidate.actions.get(req.action.kind)
  const toolAgrees = !req.tool || candidate.tools.get(req.tool) === req.agent.id
  if (agent && action && toolAgrees && readsAlike(live, candidate)) return { ...req, agent, action }
  return requestOf(candidate, decision, req.now)
}

/**
 * What the candidate makes of a live decision, or undefined when it agrees (same verdict, same
 * reasons, same review team). Never throws: whatever the candidate fails on is an `error` diff.
 */
export function shadowDecision(
  live: Policy,
  candidate: Policy,
  req: ResolvedRequest,
  ledger: LedgerView,
  decision: Decision,
  evaluation: Evaluation,
): CandidateDiff | undefined {
  let shadow: Evaluation
  try {
    const { touches, commitments, suppressions, identities } = ledger
    shadow = evaluate(candidate, {
      ...candidateRequest(live, candidate, req, decision),
      touches,
      commitments,
      ...(suppressions ? { suppressions } : {}),
      ...(identities?.length ? { identities } : {}),
    })
  } catch (error) {
    return diffOf(
      decision,
      candidate,
      evaluation,
      undefined,
      error instanceof Error ? error.message : String(error),
    )
  }
  // What the candidate could not evaluate and the live policy could: the candidate's own error.
  const errors = [
    ...(shadow.aborted ?? [])
      .filter((a) => !evaluation.aborted?.some((b) => b.rule === a.rule))
      .map((a) => `${a.rule}: ${a.message}`),
    ...(shadow.failed ?? []).filter((f) => !evaluation.failed?.includes(f)),
  ]
  if (errors.length) return diffOf(decision, candidate, evaluation, shadow, errors.join('; '))
  return diffOf(decision, candidate, evaluation, shadow)
}

function diffOf(
  decision: Decision,
  candidate: Policy,
  live: Evaluation,
  shadow: Evaluation | undefined,
  error?: string,
): CandidateDiff | undefined {
  if (error === undefined && shadow && agrees(live, shadow)) return undefined
  const liveRules = new Set(live.reasons.map((r) => r.rule))
  const shadowRules = new Set(shadow?.reasons.map((r) => r.rule))
  const added = [...shadowRules].filter((r) => !liveRules.has(r))
  const removed = shadow ? [...liveRules].filter((r) => !shadowRules.has(r)) : []
  const kind: CandidateDiffKind | undefined =
    error !== undefined
      ? 'error'
      : shadow?.verdict !== live.verdict
        ? 'flip'
        : added.length || removed.length || shadow?.reviewTeam !== live.reviewTeam
          ? 'rules'
          : undefined
  if (!kind) return undefined
  const diff: CandidateDiff = {
    decisionId: decision.id,
    at: decision.at,
    accountId: decision.accountId,
    agent: decision.agent,
    team: decision.team,
    kind: decision.action.kind,
    policyVersion: decision.policyVersion,
    candidateVersion: candidate.version,
    diff: kind,
    live: live.verdict,
    added,
    removed,
  }
  if (shadow) diff.candidate = shadow.verdict
  if (live.reviewTeam) diff.liveReviewTeam = live.reviewTeam
  if (shadow?.reviewTeam) diff.candidateReviewTeam = shadow.reviewTeam
  if (error !== undefined) diff.error = error
  return diff
}

/** The common case, without a set made: same verdict, same review team, the same rules in the same order. */
function agrees(live: Evaluation, shadow: Evaluation): boolean {
  if (live.verdict !== shadow.verdict || live.reviewTeam !== shadow.reviewTeam) return false
  if (live.reasons.length !== shadow.reasons.length) return false
  for (let i = 0; i < live.reasons.length; i++)
    if (live.reasons[i]?.rule !== shadow.reasons[i]?.rule) return false
  return true
}

/** A stored diff's JSON back to its types. */
export function parseCandidateDiff(body: unknown): CandidateDiff {
  const d = (typeof body === 'string' ? JSON.parse(body) : { ...(body as object) }) as CandidateDiff
  d.at = new Date(d.at)
  return d
}
