// How @sendgrid/mail addresses a message, made explicit: every message becomes a list of
// personalizations, each with its own to / cc / bcc, exactly as the Mail helper would build them
// (`to: [...]` is one personalization; with isMultiple, one per `to`, each with the cc and bcc).

export type EmailData = string | { email: string; name?: string }

export interface Personalization {
  to?: EmailData | EmailData[]
  cc?: EmailData | EmailData[]
  bcc?: EmailData | EmailData[]
  [key: string]: unknown
}

export interface MailData {
  to?: EmailData | EmailData[]
  cc?: EmailData | EmailData[]
  bcc?: EmailData | EmailData[]
  personalizations?: Personalization[]
  isMultiple?: boolean
  categories?: string[]
  customArgs?: Record<string, string>
  [key: string]: unknown
}

/** A v3 mail send body, as a @sendgrid/client request carries it to `POST /v3/mail/send`. */
export interface V3Mail {
  personalizations: Personalization[]
  from?: EmailData
  categories?: string[]
  custom_args?: Record<string, string>
  [key: string]: unknown
}

export type Role = 'to' | 'cc' | 'bcc'
export const ROLES: Role[] = ['to', 'cc', 'bcc']

const list = (x: EmailData | EmailData[] | undefined): EmailData[] =>
  x === undefined ? [] : Array.isArray(x) ? x : [x]

/** The address in `jane@acme.example`, `Jane <jane@acme.example>` or `{ email }`, lower-cased. */
export function address(e: EmailData): string {
  const raw = typeof e === 'string' ? (/<([^>]+)>/.exec(e)?.[1] ?? e) : e.email
  return raw.trim().toLowerCase()
}

export function personalizationsOf(data: MailData, isMultiple: boolean): Personalization[] {
  if (data.personalizations) return data.personalizations.map((p) => ({ ...p }))
  const { to, cc, bcc } = data
  if ((data.isMultiple ?? isMultiple) && Array.isArray(to)) {
    return to.map((t) => ({
      to: [t],
      ...(cc !== undefined ? { cc } : {}),
      ...(bcc !== undefined ? { bcc } : {}),
    }))
  }
  return [
    {
      ...(to !== undefined ? { to } : {}),
      ...(cc !== undefined ? { cc } : {}),
      ...(bcc !== undefined ? { bcc } : {}),
    },
  ]
}

/** Every recipient of every personalization, once per address. */
export function recipientsOf(ps: Personalization[]): Map<string, EmailData> {
  const out = new Map<string, EmailData>()
  for (const p of ps)
    for (const role of ROLES) for (const e of list(p[role])) if (!out.has(address(e))) out.set(address(e), e)
  return out
}

/**
 * Keeps the recipients `keep` allows. A personalization left with no `to` is dropped whole (SendGrid
 * needs one); the recipients it still had are returned as `orphans`.
 */
export function filterPersonalizations(ps: Personalization[], keep: (email: string) => boolean) {
  const kept: Personalization[] = []
  const orphans = new Set<string>()
  for (const p of ps) {
    const next: Personalization = { ...p }
    for (const role of ROLES) {
      const left = list(p[role]).filter((e) => keep(address(e)))
      if (left.length) next[role] = left
      else delete next[role]
    }
    if (next.to) kept.push(next)
    else for (const role of ROLES) for (const e of list(next[role])) orphans.add(address(e))
  }
  return { kept, orphans }
}

/** The message as one recipient would have received it: their personalization, with them as `to`. */
export function messageFor(data: MailData, ps: Personalization[], email: string): MailData {
  const p = ps.find((x) => ROLES.some((role) => list(x[role]).some((e) => address(e) === email))) ?? {}
  const recipient = ROLES.flatMap((role) => list(p[role])).find((e) => address(e) === email) as EmailData
  const { to: _to, cc: _cc, bcc: _bcc, personalizations: _ps, isMultiple: _m, ...rest } = data
  const { to: _pto, cc: _pcc, bcc: _pbcc, ...own } = p
  return { ...rest, personalizations: [{ ...own, to: [recipient] }] }
}
