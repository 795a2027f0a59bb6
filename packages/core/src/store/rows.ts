import type { Commitment, Touch, TouchStatus } from '../ledger/types.ts'

// Touches and commitments as both stores keep them: one row shape (snake_case columns), read back
// one way. Each store says only how its driver hands over a time, a boolean and JSON.

export type Row = Record<string, unknown>

export interface RowReader {
  date: (value: unknown) => Date
  bool: (value: unknown) => boolean
  json: (value: unknown) => Record<string, unknown>
}

export function touchFromRow(r: Row, read: RowReader): Touch {
  const t: Touch = {
    id: r.id as string,
    accountId: r.account_id as string,
    kind: r.kind as string,
    outbound: read.bool(r.outbound),
    at: read.date(r.at),
    status: r.status as TouchStatus,
    source: r.source as Touch['source'],
  }
  if (r.contact_id != null) t.contactId = r.contact_id as string
  if (r.email != null) t.email = r.email as string
  if (r.agent != null) t.agent = r.agent as string
  if (r.team != null) t.team = r.team as string
  if (r.tool != null) t.tool = r.tool as string
  if (r.channel != null) t.channel = r.channel as string
  if (r.decision_id != null) t.decisionId = r.decision_id as string
  if (r.note != null) t.note = r.note as string
  if (r.external_id != null) t.externalId = r.external_id as string
  if (r.attributes != null) t.attributes = read.json(r.attributes)
  return t
}

export function commitmentFromRow(r: Row, read: RowReader): Commitment {
  const c: Commitment = {
    id: r.id as string,
    accountId: r.account_id as string,
    kind: r.kind as string,
    value: read.json(r.value),
    team: r.team as string,
    agent: r.agent as string,
    at: read.date(r.at),
    decisionId: r.decision_id as string,
  }
  if (r.contact_id != null) c.contactId = r.contact_id as string
  if (r.expires_at != null) c.expiresAt = read.date(r.expires_at)
  return c
}
