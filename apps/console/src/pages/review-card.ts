import { type Preview, previewBlock } from '../preview.ts'
import { h, span, when } from '../ui.ts'

// One flag as a reviewer decides it: what will be sent, why it was flagged, what approving does,
// when the agent asked, and where to look further (the customer's timeline, the explanation).

export interface Reason {
  rule: string
  sort: string
  message: string
  /** The rule caused the verdict (absent: it only matched, as a permission does). */
  cause?: true
}

export interface Item {
  review: {
    id: string
    decisionId: string
    team: string
    accountId: string
    agent: string
    createdAt: string
    expiresAt: string
    /** The request's digest: an approval from this card sends it, so it approves only what the card shows. */
    digest?: string
  }
  decision?: {
    tool?: string
    agent: string
    email?: string
    contactId?: string
    action: { kind: string; attributes: Record<string, unknown> }
    facts: Record<string, unknown>
    /** What the customer would see: subject, sender, text, HTML, link. */
    preview?: Preview
    reasons: Reason[]
  }
  recentTouches: {
    kind: string
    team?: string
    agent?: string
    at: string
    status: string
    channel?: string
  }[]
  expiresInMinutes: number
  askedMinutesAgo: number
  /** The outbox channels an approval owes work (hubspot, salesforce, slack, webhook:<name>). */
  owes: string[]
  /** The attributes a reviewer may change before approving (the action's reviewerMayChange). */
  changeable?: { name: string; type: string; enum?: string[] }[]
}

/** Attributes changed before approving: the changed request is decided again, and is what goes. */
export interface Changes {
  attributes: Record<string, unknown>
}

export interface CardHandlers {
  answer: (action: 'approve' | 'reject', changes?: Changes) => void
}

/** The reasons that caused the flag, and those that only matched. */
export function causesOf(reasons: Reason[]): { causes: Reason[]; matched: Reason[] } {
  // Decisions logged before reasons carried `cause`: every rule but a permission held the flag.
  const marked = reasons.some((r) => r.cause)
  const caused = (r: Reason) => (marked ? r.cause === true : r.sort !== 'permission')
  return { causes: reasons.filter(caused), matched: reasons.filter((r) => !caused(r)) }
}

/** What an approval sets in motion on one channel, in a sentence. */
function onApproval(channel: string, tool: string | undefined): string {
  if (channel === 'hubspot') {
    const workflow = tool?.match(/^hubspot:workflow\/(.+)$/)?.[1]
    return workflow
      ? `HubSpot: resumes workflow ${workflow}, which waits for this answer.`
      : 'HubSpot: resumes the workflow that waits for this answer.'
  }
  if (channel === 'salesforce') return 'Salesforce: publishes the answer to the flow that waits for it.'
  if (channel === 'slack') return "Slack: updates the flag's message in the team's channel."
  const webhook = channel.match(/^webhook:(.+)$/)?.[1]
  if (webhook) return `Webhook ${webhook}: sends the signed review event.`
  return `${channel}: delivers the work this answer owes it.`
}

const attributesOf = (attributes: Record<string, unknown>) =>
  Object.entries(attributes)
    .map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(', ')

function reasonItem(r: Reason): HTMLElement {
  return h('li', {}, h('code', {}, r.rule), ` (${r.sort}): ${r.message}`)
}

/** The card of one pending flag; `note` is the field whose text goes with the answer. */
export function reviewCard(item: Item, note: HTMLInputElement, on: CardHandlers): HTMLElement {
  const d = item.decision
  const attrs = attributesOf(d?.action.attributes ?? {})
  const { causes, matched } = causesOf(d?.reasons ?? [])
  const preview = previewBlock(d?.preview)
  const sent = h(
    'section',
    { class: 'sent', 'aria-label': 'What will be sent' },
    h('h3', {}, 'What will be sent'),
    preview ??
      h(
        'p',
        { class: 'no-preview' },
        'No preview: ',
        h('strong', {}, d?.action.kind ?? ''),
        attrs ? ` with ${attrs}` : ' with no attributes',
        '.',
      ),
  )
  const why = h(
    'section',
    { class: 'why', 'aria-label': 'Why it was flagged' },
    h('h3', {}, 'Why it was flagged'),
    h(
      'ul',
      { class: 'reasons causes', 'aria-label': 'Rules that caused the flag' },
      ...causes.map(reasonItem),
    ),
    matched.length
      ? h(
          'details',
          { class: 'matched' },
          h('summary', {}, `Also matched, without causing it (${matched.length})`),
          h('ul', { class: 'reasons', 'aria-label': 'Rules that only matched' }, ...matched.map(reasonItem)),
        )
      : undefined,
  )
  const owed = item.owes.map((channel) => onApproval(channel, d?.tool))
  // SendGrid's gate holds the mail itself and polls its review: no outbox channel owes it.
  if (d?.tool?.startsWith('sendgrid:'))
    owed.push('SendGrid: its gate releases the held mail, re-checking stops first.')
  if (!owed.length)
    owed.push(
      'No vendor waits on this answer: the agent reads it from the review, and its gateway re-checks stops before it sends.',
    )
  const approving = h(
    'section',
    { class: 'approving', 'aria-label': 'What approving does' },
    h('h3', {}, 'What approving does'),
    h(
      'ul',
      {},
      h('li', {}, 'Re-checks stops and limits as they are now: a stop that holds by then wins.'),
      h('li', {}, 'Reserves the touch, so it counts toward limits.'),
      ...owed.map((sentence) => h('li', {}, sentence)),
    ),
  )
  const change = changeSection(item, on)
  const asked = h(
    'p',
    { class: 'when' },
    'Asked ',
    h(
      'time',
      { datetime: item.review.createdAt },
      `${item.askedMinutesAgo ? `${span(item.askedMinutesAgo)} ago` : 'just now'} (${when(item.review.createdAt)} UTC)`,
    ),
    '; expires in ',
    h(
      'time',
      { datetime: item.review.expiresAt },
      `${span(item.expiresInMinutes)} (${when(item.review.expiresAt)} UTC)`,
    ),
    '.',
  )
  const links = h(
    'p',
    { class: 'links' },
    h(
      'a',
      { href: `#/timeline/${encodeURIComponent(item.review.accountId)}` },
      `${item.review.accountId}'s timeline`,
    ),
    ' · ',
    h('a', { href: `#/log?decision=${encodeURIComponent(item.review.decisionId)}` }, 'Explain this decision'),
  )
  return h(
    'li',
    {
      class: 'card',
      tabindex: '-1',
      'data-review': item.review.id,
      'data-digest': item.review.digest,
      'aria-label': `${d?.agent} wants ${d?.action.kind} for ${item.review.accountId}`,
    },
    h(
      'label',
      { class: 'select' },
      h('input', {
        type: 'checkbox',
        class: 'pick',
        'aria-label': `Select the flag for ${item.review.accountId}`,
      }),
      ' select',
    ),
    h('h2', {}, `${item.review.accountId}${d?.email ? ` · ${d.email}` : ''}`),
    h(
      'p',
      { class: 'what' },
      h('strong', {}, d?.agent ?? item.review.agent),
      ` (${d?.tool ?? 'API'}) wants `,
      h('strong', {}, d?.action.kind ?? ''),
      attrs ? ` — ${attrs}` : '',
    ),
    asked,
    sent,
    why,
    approving,
    h(
      'p',
      { class: 'facts' },
      `Facts: ${
        Object.entries(d?.facts ?? {})
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none'
      }`,
    ),
    h(
      'details',
      {},
      h('summary', {}, `Recent touches on this account (${item.recentTouches.length})`),
      h(
        'ul',
        {},
        ...item.recentTouches.map((t) =>
          h('li', {}, `${when(t.at)} · ${t.team ?? t.agent ?? ''} · ${t.kind} (${t.status})`),
        ),
      ),
    ),
    links,
    change,
    h(
      'div',
      { class: 'actions' },
      note,
      h('button', { type: 'button', class: 'approve', onclick: () => on.answer('approve') }, 'Approve (a)'),
      h(
        'button',
        { type: 'button', class: 'danger reject', onclick: () => on.answer('reject') },
        'Reject (r)',
      ),
    ),
  )
}

/**
 * "Change before approving", where the policy lets a reviewer change some attributes: one field per
 * attribute, filled with what the agent asked; its button approves the changed request (decided
 * again by Remit; refused, with the reason, if it would not go). Undefined when nothing may change.
 */
function changeSection(item: Item, on: CardHandlers): HTMLElement | undefined {
  // Lists and times are not edited here: the API takes them (changes.attributes).
  const fields = (item.changeable ?? []).filter((f) => ['number', 'string', 'boolean'].includes(f.type))
  if (!fields.length || !item.decision) return undefined
  const asked = item.decision.action.attributes
  const inputs = fields.map((f) => {
    const value = asked[f.name]
    const label = `New ${f.name}`
    // A choice among values (an enum, true/false) keeps "as asked: none" when the agent sent none.
    const choices = f.enum ?? (f.type === 'boolean' ? ['true', 'false'] : undefined)
    const input: HTMLInputElement | HTMLSelectElement = choices
      ? h(
          'select',
          { class: 'change', 'data-name': f.name, 'aria-label': label },
          ...(value === undefined ? [h('option', { value: '', selected: true }, '(none, as asked)')] : []),
          ...choices.map((v) => h('option', { value: v, selected: String(value) === v }, v)),
        )
      : h('input', {
          class: 'change',
          'data-name': f.name,
          'aria-label': label,
          type: f.type === 'number' ? 'number' : 'text',
          ...(f.type === 'number' ? { step: 'any' } : {}),
          value: value === undefined ? '' : String(value),
        })
    return h(
      'label',
      {},
      `${f.name} `,
      input,
      ` (asked: ${value === undefined ? 'none' : JSON.stringify(value)})`,
    )
  })
  /** Only what the reviewer changed: a field left as asked (or empty where the agent sent none) is not sent. */
  const read = (): Changes | string => {
    const attributes: Record<string, unknown> = {}
    for (const [i, f] of fields.entries()) {
      const input = inputs[i]?.querySelector<HTMLInputElement | HTMLSelectElement>('.change')
      if (!input) continue
      const raw = input.value
      const was = asked[f.name]
      if (raw.trim() === '') {
        if (was === undefined) continue
        if (f.type === 'number') return `${f.name}: enter a number`
      }
      let value: unknown = raw
      if (f.type === 'boolean') value = raw === 'true'
      else if (f.type === 'number') {
        value = Number(raw)
        if (!Number.isFinite(value)) return `${f.name}: enter a number`
      }
      if (JSON.stringify(value) !== JSON.stringify(was)) attributes[f.name] = value
    }
    if (!Object.keys(attributes).length) return 'Nothing is changed: Approve (a) approves it as asked.'
    return { attributes }
  }
  const problem = h('p', { class: 'change-problem', role: 'alert' })
  return h(
    'section',
    { class: 'change', 'aria-label': 'Change before approving' },
    h('h3', {}, 'Change before approving'),
    h(
      'p',
      { class: 'change-help' },
      'Remit decides the changed request again: it goes only if no stop holds and no other review is needed.',
    ),
    ...inputs,
    h(
      'button',
      {
        type: 'button',
        class: 'approve-changed',
        onclick: () => {
          const changes = read()
          if (typeof changes === 'string') {
            problem.textContent = changes
            return
          }
          problem.textContent = ''
          on.answer('approve', changes)
        },
      },
      'Approve with changes',
    ),
    problem,
  )
}
