import type { Decision } from '../decision/decision.ts'
import { newId } from '../ids.ts'
import type { Policy } from '../policy/model.ts'
import { normalizeEmail } from './identity.ts'
import type { Commitment, Touch } from './types.ts'

// What a go writes to the ledger: the touch it reserves and, for an action that promises something,
// the commitment. The same for a go decided at once and one approved later.

/** The touch a go reserves, counting toward limits until its outcome says otherwise. */
export function reserve(decision: Decision, channel: string | undefined, outbound: boolean, at: Date): Touch {
  const touch: Touch = {
    id: newId('tch'),
    accountId: decision.accountId,
    agent: decision.agent,
    team: decision.team,
    kind: decision.action.kind,
    outbound,
    at,
    status: 'reserved',
    decisionId: decision.id,
    source: 'decision',
  }
  if (decision.contactId) touch.contactId = decision.contactId
  if (decision.email) touch.email = normalizeEmail(decision.email)
  if (decision.tool) touch.tool = decision.tool
  if (channel) touch.channel = channel
  // Validated and bounded with the request; kept so limits and rules can read them later.
  if (Object.keys(decision.action.attributes).length) touch.attributes = decision.action.attributes
  return touch
}

/** The commitment a go makes when its action kind promises one (`commitment: discount`). */
export function commitmentFor(policy: Policy, decision: Decision, at: Date): Commitment | undefined {
  const action = policy.actions.get(decision.action.kind)
  if (!action?.commitment) return undefined
  const c: Commitment = {
    id: newId('cmt'),
    accountId: decision.accountId,
    kind: action.commitment,
    value: decision.action.attributes,
    team: decision.team,
    agent: decision.agent,
    at,
    decisionId: decision.id,
  }
  if (decision.contactId) c.contactId = decision.contactId
  if (action.commitmentLastsMs) c.expiresAt = new Date(at.getTime() + action.commitmentLastsMs)
  return c
}
