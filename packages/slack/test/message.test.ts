import type { Decision, Review } from '@remit/core'
import { describe, expect, it } from 'vitest'
import { reviewMessage } from '../src/index.ts'

const review = {
  id: 'rev_1',
  decisionId: 'dec_1',
  accountId: 'acme',
  agent: 'sales-agent',
  team: 'sales',
  status: 'pending',
  createdAt: new Date('2026-04-06T09:00:00Z'),
  expiresAt: new Date('2026-04-09T09:00:00Z'),
} as Review

const decisionWith = (reasons: Decision['reasons']) =>
  ({
    id: 'dec_1',
    agent: 'sales-agent',
    team: 'sales',
    accountId: 'acme',
    action: { kind: 'offer.discount', attributes: {} },
    facts: {},
    verdict: 'flag',
    reasons,
    notify: [],
  }) as unknown as Decision

const why = (d: Decision) => {
  const block = reviewMessage(review, d).blocks.find((b) =>
    JSON.stringify(b).includes('Why it was flagged'),
  ) as { text: { text: string } }
  return block.text.text
}

describe('why it was flagged', () => {
  it('shows the causes first, and the rules that only matched under "also matched"', () => {
    const text = why(
      decisionWith([
        { rule: 'sales-may-email', sort: 'permission', message: 'sales may e-mail' },
        { rule: 'renewal-flag', sort: 'trigger', message: 'renewal in progress', cause: true },
      ]),
    )
    expect(text).toBe(
      '*Why it was flagged*\n• renewal-flag: renewal in progress\n_Also matched_\n• sales-may-email: sales may e-mail',
    )
  })

  it('a decision logged before `cause`: every rule but a permission is a cause', () => {
    const text = why(
      decisionWith([
        { rule: 'sales-may-email', sort: 'permission', message: 'sales may e-mail' },
        { rule: 'renewal-flag', sort: 'trigger', message: 'renewal in progress' },
      ]),
    )
    expect(text).toBe(
      '*Why it was flagged*\n• renewal-flag: renewal in progress\n_Also matched_\n• sales-may-email: sales may e-mail',
    )
  })
})

describe('an answered review', () => {
  it('approved with changes says what goes: the changed values, not the ones asked', () => {
    const approved = {
      ...review,
      status: 'approved',
      outcome: 'go',
      resolvedBy: 'slack:dana',
      changes: { attributes: { discountPct: 15 } },
    } as Review
    const text = JSON.stringify(reviewMessage(approved, decisionWith([])).blocks)
    expect(text).toContain(
      '*Approved with changes* by slack:dana: the action goes ahead with discountPct 15.',
    )
  })
})
