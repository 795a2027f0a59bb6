import type { Identity, Touch } from './types.ts'

// Who a contact is: its contact id or its e-mail address, and every id and address linked to those.
// A request (or a recorded touch) that names both a contact id and an address links them, in its
// account, for good: later requests naming either count the touches of both. Links are kept per
// account (decisions are serialized per account; a link never reaches across accounts).

/** Whom a request names: a contact id, an e-mail address (normalized), both, or neither. */
export interface Person {
  contactId?: string
  email?: string
}

/** Most links one person's view holds: an address shared by thousands of contacts stops there. */
export const MAX_IDENTITIES = 1000

/** An address as the ledger keeps and compares it: trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

/** Whom a request or decision names, its address normalized; undefined when it names neither. */
export function personOf(c: {
  contactId?: string | undefined
  email?: string | undefined
}): Person | undefined {
  const email = c.email === undefined ? undefined : normalizeEmail(c.email)
  if (c.contactId === undefined && !email) return undefined
  return { ...(c.contactId !== undefined ? { contactId: c.contactId } : {}), ...(email ? { email } : {}) }
}

/** The link a request naming both a contact id and an address makes; undefined otherwise. */
export function linkOf(person: Person | undefined): Identity | undefined {
  return person?.contactId !== undefined && person.email
    ? { contactId: person.contactId, email: person.email }
    : undefined
}

/**
 * "Is this touch (or suppression) this person's?": its contact id is one of the person's ids, or its
 * address one of the person's addresses — the person's own and those `links` (the ledger view's
 * identities, already the person's) name. A request that names neither matches only touches that
 * name neither (the account itself).
 */
export function samePerson(
  person: Person | undefined,
  links: readonly Identity[] | undefined,
): (x: Pick<Touch, 'contactId' | 'email'>) => boolean {
  if (!person) return (x) => x.contactId === undefined && x.email === undefined
  if (!links?.length) {
    const { contactId, email } = person
    return (x) =>
      (contactId !== undefined && x.contactId === contactId) || (email !== undefined && x.email === email)
  }
  const ids = new Set<string>()
  const emails = new Set<string>()
  if (person.contactId !== undefined) ids.add(person.contactId)
  if (person.email !== undefined) emails.add(person.email)
  for (const l of links) {
    ids.add(l.contactId)
    emails.add(l.email)
  }
  return (x) =>
    (x.contactId !== undefined && ids.has(x.contactId)) || (x.email !== undefined && emails.has(x.email))
}
