/** reserved: a go not yet confirmed; sent: confirmed; failed / cancelled: no longer counts. */
export type TouchStatus = 'reserved' | 'sent' | 'failed' | 'cancelled'
export const COUNTING_STATUSES: readonly TouchStatus[] = ['reserved', 'sent']

/** One touch of a customer: reserved by a go, or recorded from elsewhere (a call in the CRM). */
export interface Touch {
  id: string
  accountId: string
  contactId?: string
  /** The address the request (or the source) named, trimmed and lower-cased. */
  email?: string
  agent?: string
  team?: string
  tool?: string
  kind: string
  channel?: string
  outbound: boolean
  at: Date
  status: TouchStatus
  /** The decision that reserved it; absent for recorded touches. */
  decisionId?: string
  source: 'decision' | 'recorded'
  note?: string
  /**
   * What this touch records, as its source names it (`hubspot:call:123`, a SendGrid event id):
   * unique, so a source that reports the same thing twice is recorded once.
   */
  externalId?: string
  /**
   * The action's attributes as the request sent them (`campaign`, `discountUsd`): what `distinct`
   * and `sum` limits and rules' `t.attributes` read. Absent when it carried none.
   */
  attributes?: Record<string, unknown>
}

/** A promise made to a customer by a go (a discount, a price) that others must not contradict. */
export interface Commitment {
  id: string
  accountId: string
  contactId?: string
  kind: string
  value: Record<string, unknown>
  team: string
  agent: string
  at: Date
  expiresAt?: Date
  decisionId: string
}

/** What a decision sees of one account: the touches that count and the outstanding commitments. */
export interface LedgerView {
  touches: Touch[]
  commitments: Commitment[]
  /**
   * Every suppression of the account still in force, however old: an unsubscribe does not lapse. A
   * lifted one is not here (it stays on record: `Store.listSuppressions`).
   */
  suppressions?: Suppression[]
  /**
   * The links that name the person the view was read for (its contact id or address, and every id
   * and address linked to those, transitively; at most 1,000): empty when it names neither or has
   * no link; absent when read for no one. A contact-scoped limit and a suppression count what any
   * of them names.
   */
  identities?: Identity[]
}

/**
 * A link between a contact id and an address (lower case) in one account, made by a request or a
 * recorded touch that named both: from then on either names the same person.
 */
export interface Identity {
  contactId: string
  email: string
}

/**
 * A customer who must not be contacted (on one channel, or on any): an unsubscribe, a spam report, a
 * hard bounce, or an operator's decision. Unlike a touch it does not age out of the ledger's window,
 * and it stops every outbound touch it covers, on every tool.
 */
export interface Suppression {
  id: string
  accountId: string
  /** Only this contact of the account; with neither contact nor e-mail, the whole account. */
  contactId?: string
  /** Only this address (lower case). */
  email?: string
  /** Only this channel (e.g. `email`); absent: every channel. */
  channel?: string
  /** Why: `unsubscribe`, `spamreport`, `bounce`, `group_unsubscribe`, `manual`… */
  reason: string
  /** Who recorded it (an agent, `sendgrid`, an admin). */
  source: string
  at: Date
  /** What it records at its source (a SendGrid event id): recorded once. */
  externalId?: string
  /**
   * When it was lifted (an operator's call; `Store.liftSuppression`): from then on it stops nothing,
   * and it stays on record, with who lifted it, for the audit. Absent while it is in force.
   */
  liftedAt?: Date
  /** Who lifted it (an admin key's name, an operator). */
  liftedBy?: string
  /** Why, in the words of whoever lifted it. */
  liftNote?: string
}
