import { hash } from 'node:crypto'
import type { Decision } from '../decision/decision.ts'

/**
 * What an approval is bound to: SHA-256 (hex) of the flagged request in canonical JSON — the agent,
 * the action's kind and attributes, and the customer's ids (the address trimmed and lower-cased),
 * with object keys in name order at every depth. A reviewer's client sends back the digest of what
 * it showed; an approval for any other digest is refused (`REVIEW_DIGEST_MISMATCH`), so a reviewer
 * never approves something other than what they read.
 */
export function approvalDigest(
  decision: Pick<Decision, 'agent' | 'action' | 'accountId' | 'contactId' | 'email'>,
): string {
  return hash(
    'sha256',
    canonicalJson({
      agent: decision.agent,
      action: { kind: decision.action.kind, attributes: decision.action.attributes },
      customer: {
        accountId: decision.accountId,
        contactId: decision.contactId ?? null,
        email: decision.email?.trim().toLowerCase() ?? null,
      },
    }),
  )
}

/** JSON with object keys sorted at every depth: equal values give equal text, whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  )
}
