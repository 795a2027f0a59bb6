import { api } from '../api.ts'
import { type Preview, previewBlock } from '../preview.ts'
import { h, page, say, when } from '../ui.ts'

interface Reason {
  rule: string
  sort: string
  message: string
}
interface Item {
  review: { id: string; team: string; accountId: string; agent: string; createdAt: string; expiresAt: string }
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
}
interface Queue {
  items: Item[]
  capacity: { team: string; perDay?: number; today: number; pending: number }[]
}

let timer: number | undefined
let selected = 0

/** The review queue: keyboard-first (j/k move, a approve, r reject, x select), live by polling. */
export async function queuePage(): Promise<void> {
  window.clearInterval(timer)
  const q = await api<Queue>('GET', '/v1/console/queue')
  render(q)
  // New flags appear without a reload.
  timer = window.setInterval(async () => {
    if (!location.hash.startsWith('#/queue') && location.hash !== '') return window.clearInterval(timer)
    const next = await api<Queue>('GET', '/v1/console/queue').catch(() => undefined)
    if (next && next.items.map((i) => i.review.id).join() !== current.join()) render(next)
  }, 3000)
}

let current: string[] = []

function render(q: Queue): void {
  current = q.items.map((i) => i.review.id)
  selected = Math.min(selected, Math.max(0, q.items.length - 1))
  const capacity = h(
    'p',
    { class: 'capacity', id: 'capacity' },
    ...q.capacity.map(
      (c) =>
        `${c.team}: ${c.pending} pending; ${c.today} flagged today${c.perDay !== undefined ? ` of a capacity of ${c.perDay}/day` : ''}. `,
    ),
  )
  const list = h(
    'ol',
    { class: 'queue', 'aria-label': 'Pending flags' },
    ...q.items.map((item, i) => card(item, i)),
  )
  const bulk = h(
    'div',
    { class: 'bulk' },
    h('button', { type: 'button', onclick: () => resolveSelected('approve') }, 'Approve selected'),
    h(
      'button',
      { type: 'button', class: 'danger', onclick: () => resolveSelected('reject') },
      'Reject selected',
    ),
  )
  page(
    'Review queue',
    capacity,
    h(
      'p',
      { class: 'help' },
      'Keys: j / k move, a approve, r reject, x select; the note field applies to the next answer.',
    ),
    q.items.length ? bulk : h('p', { id: 'empty' }, 'Nothing waits for you.'),
    list,
  )
  focusCard()
}

function card(item: Item, i: number): HTMLElement {
  const d = item.decision
  const attrs = Object.entries(d?.action.attributes ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  const note = h('input', {
    type: 'text',
    class: 'note',
    'aria-label': 'Note for this answer',
    placeholder: 'note (optional)',
  })
  const li = h(
    'li',
    {
      class: 'card',
      tabindex: '-1',
      'data-review': item.review.id,
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
    h(
      'ul',
      { class: 'reasons', 'aria-label': 'Reasons' },
      ...(d?.reasons ?? []).map((r) => h('li', {}, h('code', {}, r.rule), ` (${r.sort}): ${r.message}`)),
    ),
    previewBlock(d?.preview),
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
    h(
      'p',
      { class: 'expiry' },
      `Expires in ${Math.floor(item.expiresInMinutes / 60)} h ${item.expiresInMinutes % 60} min`,
    ),
    note,
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        { type: 'button', onclick: () => resolve(item.review.id, 'approve', note.value) },
        'Approve (a)',
      ),
      h(
        'button',
        { type: 'button', class: 'danger', onclick: () => resolve(item.review.id, 'reject', note.value) },
        'Reject (r)',
      ),
    ),
  )
  // Focus anywhere in a card (its text block, a button) makes it the one the keys act on.
  li.addEventListener('focusin', () => {
    selected = i
    for (const [j, el] of cards().entries()) el.classList.toggle('current', j === i)
  })
  return li
}

function cards(): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>('li.card')]
}

function focusCard(): void {
  const c = cards()[selected]
  c?.focus()
  for (const [i, el] of cards().entries()) el.classList.toggle('current', i === selected)
}

async function resolve(id: string, action: 'approve' | 'reject', note: string): Promise<void> {
  try {
    const r = await api<{ outcome?: string; outcomeReasons?: { message: string }[] }>(
      'POST',
      `/v1/reviews/${id}/${action}`,
      note ? { note } : {},
    )
    say(
      `${action === 'approve' ? 'Approved' : 'Rejected'}: ${r.outcome === 'go' ? 'it goes' : 'it is stopped'}${r.outcomeReasons?.[0] ? ` (${r.outcomeReasons[0].message})` : ''}`,
    )
  } catch (error) {
    say(`Could not ${action}: ${(error as Error).message}`)
  }
  await queuePage()
}

async function resolveSelected(action: 'approve' | 'reject'): Promise<void> {
  const ids = cards()
    .filter((c) => c.querySelector<HTMLInputElement>('input.pick')?.checked)
    .map((c) => c.dataset.review as string)
  if (!ids.length) return say('Select flags first (x, or the checkboxes).')
  const out = await api<{ results: { ok: boolean }[] }>('POST', '/v1/console/reviews/bulk', { ids, action })
  say(
    `${out.results.filter((r) => r.ok).length} of ${ids.length} ${action === 'approve' ? 'approved' : 'rejected'}`,
  )
  await queuePage()
}

/** Keyboard-first: keys act on the current card unless typing in a field. */
export function queueKeys(e: KeyboardEvent): void {
  if (!location.hash.startsWith('#/queue') && location.hash !== '') return
  const target = e.target as HTMLElement
  if (target.closest('input, textarea, select') || e.ctrlKey || e.metaKey || e.altKey) return
  const list = cards()
  if (!list.length) return
  const current = list[selected]
  if (e.key === 'j') selected = Math.min(selected + 1, list.length - 1)
  else if (e.key === 'k') selected = Math.max(selected - 1, 0)
  else if (e.key === 'x') {
    const box = current?.querySelector<HTMLInputElement>('input.pick')
    if (box) box.checked = !box.checked
  } else if (e.key === 'a' || e.key === 'r') {
    const id = current?.dataset.review
    const note = current?.querySelector<HTMLInputElement>('input.note')?.value ?? ''
    if (id) void resolve(id, e.key === 'a' ? 'approve' : 'reject', note)
    return
  } else return
  e.preventDefault()
  focusCard()
}
