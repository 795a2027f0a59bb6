import type { Decision, Review } from '@remit/core'
import type { ViewsOpenArguments } from '@slack/web-api'

// A review as a Slack message (Block Kit): what is asked, why it was flagged, what would be sent, when
// it expires, and the buttons while it is pending; once answered, who answered and what became of it.
// Everything from the request (names, attributes, the content) is the agent's text: it is shown as
// plain text or escaped mrkdwn, never as markup, and HTML content is reduced to its text.

/**
 * The buttons' action ids. Their value is the review id, `:` and the review's digest, so the click
 * answers the request this message showed and no other (`buttonValue`).
 */
export const APPROVE = 'remit_approve'
export const REJECT = 'remit_reject'

/** The Reject modal (`rejectModal`): its callback id, and where its note is in `view.state.values`. */
export const REJECT_VIEW = 'remit_reject'
export const NOTE_BLOCK = 'remit_note'
export const NOTE_ACTION = 'note'
/** The longest note the modal takes (its input's `max_length`; checked again on submission). */
export const NOTE_MAX = 500

/** A button's value read back: the review, and the digest the message showed (absent on older messages). */
export function buttonValue(value: string): { reviewId: string; digest?: string } {
  const [reviewId = '', digest] = value.split(':')
  return digest ? { reviewId, digest } : { reviewId }
}

/** Slack's bounds: a section's text, a field, a header (characters). */
const SECTION_MAX = 3000
const FIELD_MAX = 2000
const HEADER_MAX = 150

export type Block = Record<string, unknown>
export interface SlackMessage {
  /** The notification's text (and what clients without blocks show). */
  text: string
  blocks: Block[]
}

/** Slack's control characters in mrkdwn: `&`, `<` and `>` escaped, so no text becomes a link or a mention. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' }

/** The text of an HTML body: scripts, styles and tags dropped, a few entities read, whitespace folded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(br|\/p|\/div|\/li|\/h[1-6]|\/tr)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (all, name: string) => {
      if (name[0] === '#') {
        const code =
          name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1))
        return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' '
      }
      return ENTITIES[name.toLowerCase()] ?? all
    })
    .replace(/[<>]/g, ' ')
    .replace(/[ \t\f\v\r]+/g, ' ')
    .replace(/ *\n[\n ]*/g, '\n')
    .trim()
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text)
const plain = (text: string, max = SECTION_MAX) => ({
  type: 'plain_text' as const,
  text: clip(text, max),
  emoji: false,
})
const mrkdwn = (text: string, max = SECTION_MAX) => ({ type: 'mrkdwn' as const, text: clip(text, max) })

function customerOf(decision: Decision): string {
  const parts = [decision.accountId]
  if (decision.contactId) parts.push(`contact ${decision.contactId}`)
  if (decision.email) parts.push(decision.email)
  return parts.join(' · ')
}

function attributesOf(decision: Decision): string {
  const entries = Object.entries(decision.action.attributes ?? {})
  if (!entries.length) return 'none'
  return entries
    .map(([name, value]) => `${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join('\n')
}

/**
 * Why it was flagged: the rules that caused the flag (`cause: true`) first, then the others that only
 * matched (permissions, a flag a stop outweighed). A decision logged before `cause` existed has none:
 * every rule but a permission is taken as a cause.
 */
function whyFlagged(decision: Decision): string {
  const legacy = !decision.reasons.some((r) => r.cause !== undefined)
  const caused = (r: Decision['reasons'][number]) => (legacy ? r.sort !== 'permission' : r.cause === true)
  const causes = decision.reasons.filter(caused)
  const others = decision.reasons.filter((r) => !caused(r))
  const bullets = (rs: Decision['reasons']) =>
    rs.map((r) => `• ${escapeMrkdwn(r.rule)}: ${escapeMrkdwn(r.message)}`).join('\n')
  if (!causes.length && !others.length) return 'flagged by the policy'
  const parts = [causes.length ? bullets(causes) : 'flagged by the policy']
  if (others.length) parts.push(`_Also matched_\n${bullets(others)}`)
  return parts.join('\n')
}

/** The content the action would send, as text: subject, sender, body (HTML reduced to text), link. */
function previewBlocks(decision: Decision): Block[] {
  const p = decision.preview
  if (!p) return []
  const lines: string[] = []
  if (p.subject) lines.push(`Subject: ${p.subject}`)
  if (p.from) lines.push(`From: ${p.from}`)
  if (p.link) lines.push(`Link: ${p.link}`)
  const body = p.text ?? (p.html ? htmlToText(p.html) : undefined)
  const blocks: Block[] = [{ type: 'section', text: mrkdwn('*What would be sent*') }]
  if (lines.length) blocks.push({ type: 'section', text: plain(lines.join('\n')) })
  if (body) blocks.push({ type: 'section', text: plain(body) })
  return blocks
}

/** The answer, once there is one: who, when, and what it came to (a stop that still won says so). */
function outcomeText(review: Review): string {
  const by = escapeMrkdwn(review.resolvedBy ?? 'someone')
  const note = review.note ? ` — “${escapeMrkdwn(review.note)}”` : ''
  if (review.status === 'expired') return ':hourglass: *Expired* without an answer: the action is stopped.'
  if (review.status === 'rejected')
    return `:no_entry_sign: *Rejected* by ${by}${note}: the action is stopped.`
  if (review.outcome === 'go' && review.changes) {
    const changed = Object.entries(review.changes.attributes)
      .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
      .join(', ')
    return `:white_check_mark: *Approved with changes* by ${by}${note}: the action goes ahead with ${escapeMrkdwn(changed)}.`
  }
  if (review.outcome === 'go') return `:white_check_mark: *Approved* by ${by}${note}: the action goes ahead.`
  const why = (review.outcomeReasons ?? []).map((r) => escapeMrkdwn(r.message)).join('; ')
  return `:octagonal_sign: *Approved* by ${by}${note}, *but a stop won*: ${why || 'a rule stops it now'}. Nothing is sent.`
}

/** The message for `review` as it stands: with the buttons while pending, with its answer after. */
export function reviewMessage(review: Review, decision: Decision): SlackMessage {
  const title = `${decision.action.kind} for ${decision.accountId}`
  const blocks: Block[] = [
    { type: 'header', text: plain(`Remit: review ${title}`, HEADER_MAX) },
    {
      type: 'section',
      fields: [
        mrkdwn(`*Customer*\n${escapeMrkdwn(customerOf(decision))}`, FIELD_MAX),
        mrkdwn(
          `*Agent*\n${escapeMrkdwn(decision.agent)}${decision.tool ? ` (${escapeMrkdwn(decision.tool)})` : ''}`,
          FIELD_MAX,
        ),
        mrkdwn(`*Action*\n${escapeMrkdwn(decision.action.kind)}`, FIELD_MAX),
        mrkdwn(`*Attributes*\n${escapeMrkdwn(attributesOf(decision))}`, FIELD_MAX),
      ],
    },
    { type: 'section', text: mrkdwn(`*Why it was flagged*\n${whyFlagged(decision)}`) },
    ...previewBlocks(decision),
  ]
  if (review.status === 'pending') {
    blocks.push(
      {
        type: 'context',
        elements: [
          mrkdwn(
            `Team ${escapeMrkdwn(review.team)} · expires ${review.expiresAt.toISOString()} · review ${review.id}`,
          ),
        ],
      },
      {
        type: 'actions',
        block_id: `remit_review_${review.id}`.slice(0, 255),
        elements: [
          {
            type: 'button',
            action_id: APPROVE,
            style: 'primary',
            value: review.digest ? `${review.id}:${review.digest}` : review.id,
            text: plain('Approve'),
          },
          {
            type: 'button',
            action_id: REJECT,
            style: 'danger',
            value: review.digest ? `${review.id}:${review.digest}` : review.id,
            text: plain('Reject'),
          },
        ],
      },
    )
    return { text: clip(`Remit: ${title} needs ${review.team}'s review`, 3000), blocks }
  }
  blocks.push(
    { type: 'section', text: mrkdwn(outcomeText(review)) },
    { type: 'context', elements: [mrkdwn(`Team ${escapeMrkdwn(review.team)} · review ${review.id}`)] },
  )
  return { text: clip(`Remit: ${title}: ${review.status}`, 3000), blocks }
}

/** What the Reject modal carries to its submission: the review, and the digest the message showed. */
export interface RejectMetadata {
  reviewId: string
  digest?: string
}

/** The modal's `private_metadata` read back (undefined when it is not one of Remit's). */
export function rejectMetadata(text: string | undefined): RejectMetadata | undefined {
  try {
    const m = JSON.parse(text ?? '') as { reviewId?: unknown; digest?: unknown }
    if (typeof m?.reviewId !== 'string' || !m.reviewId) return undefined
    return typeof m.digest === 'string' && m.digest
      ? { reviewId: m.reviewId, digest: m.digest }
      : { reviewId: m.reviewId }
  } catch {
    return undefined
  }
}

/**
 * The modal a Reject click opens (`views.open`): what is rejected, and an optional note (multiline,
 * at most `NOTE_MAX` characters) kept with the review. Its submission (`view_submission`, callback
 * `REJECT_VIEW`) rejects the review `meta` names.
 */
export function rejectModal(
  review: Review,
  decision: Decision,
  meta: RejectMetadata,
): ViewsOpenArguments['view'] {
  const title = `${decision.action.kind} for ${decision.accountId}`
  return {
    type: 'modal',
    callback_id: REJECT_VIEW,
    private_metadata: JSON.stringify(meta),
    title: plain('Reject', 24),
    submit: plain('Reject', 24),
    close: plain('Cancel', 24),
    blocks: [
      {
        type: 'section',
        text: mrkdwn(
          `Reject *${escapeMrkdwn(title)}* (team ${escapeMrkdwn(review.team)}, review ${review.id})? The action is stopped for good.`,
        ),
      },
      {
        type: 'input',
        block_id: NOTE_BLOCK,
        optional: true,
        label: plain('Why (the agent and the log see this)', 2000),
        element: {
          type: 'plain_text_input',
          action_id: NOTE_ACTION,
          multiline: true,
          max_length: NOTE_MAX,
        },
      },
    ],
  }
}
