import { randomUUID } from 'node:crypto'
import type { DecideRequest, Decision, DecisionWrite, Review } from '@remit/core'

// Decisions as a policy would plan them, for tests that are about the store, not the policy.

export const AT = new Date('2026-04-06T09:00:00Z')

export function request(accountId: string, o: Partial<DecideRequest> = {}): DecideRequest {
  const now = o.now ?? AT
  return { accountId, agent: 'marketing-agent', since: new Date(now.getTime() - 30 * 86400e3), now, ...o }
}

/** A go for `accountId` at `at`, with its reserved touch. */
export function goWrite(accountId: string, o: { at?: Date; key?: string } = {}): DecisionWrite {
  const at = o.at ?? AT
  const decision: Decision = {
    id: `dec_${randomUUID()}`,
    at,
    agent: 'marketing-agent',
    team: 'marketing',
    accountId,
    action: { kind: 'email.positioning', attributes: {} },
    facts: {},
    verdict: 'go',
    reasons: [],
    notify: [],
    policyVersion: 'v1',
    dryRun: false,
  }
  if (o.key) decision.idempotencyKey = o.key
  return {
    decision,
    touch: {
      id: `tch_${randomUUID()}`,
      accountId,
      agent: decision.agent,
      team: decision.team,
      kind: decision.action.kind,
      outbound: true,
      at,
      status: 'reserved',
      decisionId: decision.id,
      source: 'decision',
    },
  }
}

/** A flag for `accountId` at AT, with its review pending in sales' queue. */
export function flagWrite(accountId: string): DecisionWrite & { review: Review } {
  const reviewId = `rev_${randomUUID()}`
  const decision: Decision = {
    ...goWrite(accountId).decision,
    verdict: 'flag',
    reviewId,
    reviewTeam: 'sales',
  }
  return {
    decision,
    review: {
      id: reviewId,
      decisionId: decision.id,
      accountId,
      agent: decision.agent,
      team: 'sales',
      status: 'pending',
      createdAt: AT,
      expiresAt: new Date(AT.getTime() + 72 * 3600e3),
    },
  }
}
