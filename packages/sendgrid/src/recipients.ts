import type { Preview } from '@remit/client'

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

/** A body part as v3 (and @sendgrid/mail's `content`) spells it. */
export interface MailContent {
  type: string
  value: string
}

export interface MailData {
  from?: EmailData
  subject?: string
  text?: string
  html?: string
  content?: MailContent[]
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
  const p = personalizationOf(ps, email) ?? {}
  const recipient = ROLES.flatMap((role) => list(p[role])).find((e) => address(e) === email) as EmailData
  const { to: _to, cc: _cc, bcc: _bcc, personalizations: _ps, isMultiple: _m, ...rest } = data
  const { to: _pto, cc: _pcc, bcc: _pbcc, ...own } = p
  return { ...rest, personalizations: [{ ...own, to: [recipient] }] }
}

/**
 * The bounds of a preview's parts, in characters: Remit's own (PREVIEW_LIMITS in @remit/core/api),
 * which refuses more. The gate truncates to them, so a long e-mail is previewed, never refused.
 */
export const PREVIEW_LIMITS = { subject: 300, from: 320, text: 20_000, html: 100_000 } as const

/**
 * At most `max` characters of well-formed text, ending in an ellipsis when cut: never half a
 * surrogate pair, no lone surrogate and no NUL (Remit refuses both).
 */
export function bounded(s: string, max: number): string {
  const clean = s.toWellFormed().replaceAll('\u0000', '')
  if (clean.length <= max) return clean
  let cut = max - 1
  // Not between the halves of a surrogate pair.
  const code = clean.charCodeAt(cut - 1)
  if (code >= 0xd800 && code <= 0xdbff) cut--
  return `${clean.slice(0, cut)}…`
}

const part = (data: MailData, type: string): string | undefined => {
  const own = type === 'text/plain' ? data.text : data.html
  if (typeof own === 'string') return own
  const found = Array.isArray(data.content)
    ? data.content.find((c) => typeof c?.type === 'string' && c.type.toLowerCase() === type)
    : undefined
  return typeof found?.value === 'string' ? found.value : undefined
}

/**
 * What a message shows its recipients, for the reviewer of a flag: its subject, sender (the
 * address), and text and HTML bodies, each truncated to Remit's bounds. As the message has them:
 * substitutions and templates are SendGrid's to apply, so `-name-` stays `-name-` (a dynamic
 * template's message has no body here; the subject and sender are still shown). Undefined when the
 * message has none of these.
 */
export function previewOf(data: MailData): Preview | undefined {
  const text = part(data, 'text/plain')
  const html = part(data, 'text/html')
  const from = data.from !== undefined && data.from !== null ? safeAddress(data.from) : undefined
  const subject = typeof data.subject === 'string' ? data.subject : undefined
  const preview: Preview = {
    ...(subject ? { subject: bounded(subject, PREVIEW_LIMITS.subject) } : {}),
    ...(from ? { from: bounded(from, PREVIEW_LIMITS.from) } : {}),
    ...(text ? { text: bounded(text, PREVIEW_LIMITS.text) } : {}),
    ...(html ? { html: bounded(html, PREVIEW_LIMITS.html) } : {}),
  }
  return Object.keys(preview).length ? preview : undefined
}

/**
 * The recipients whose personalization has its own subject, with that subject (bounded): one pass,
 * so a 1,000-personalization send does not search them once per recipient. The first that names a
 * recipient is theirs, as in messageFor.
 */
export function ownSubjects(ps: Personalization[]): Map<string, string> {
  const out = new Map<string, string>()
  const seen = new Set<string>()
  for (const p of ps) {
    const subject =
      typeof p.subject === 'string' && p.subject ? bounded(p.subject, PREVIEW_LIMITS.subject) : ''
    for (const role of ROLES)
      for (const e of list(p[role])) {
        const email = address(e)
        if (seen.has(email)) continue
        seen.add(email)
        if (subject) out.set(email, subject)
      }
  }
  return out
}

/** The recipient's personalization (the first that names them). */
function personalizationOf(ps: Personalization[], email: string): Personalization | undefined {
  return ps.find((x) => ROLES.some((role) => list(x[role]).some((e) => address(e) === email)))
}

function safeAddress(e: EmailData): string | undefined {
  try {
    return address(e) || undefined
  } catch {
    return undefined
  }
}
