import { api } from '../api.ts'
import { h, page, say } from '../ui.ts'
import { type Item, reviewCard } from './review-card.ts'

interface Queue {
  items: Item[]
  capacity: { team: string; perDay?: number; today: number; pending: number }[]
}

/** How long an answer waits, undoable, before it is sent. */
export const UNDO_MS = 5000

/** The one answer waiting to be sent: a second `a` meanwhile answers nothing. */
interface Waiting {
  id: string
  action: 'approve' | 'reject'
  note: string
  /** The digest of the request the card showed: an approval is bound to it. */
  digest: string | undefined
  /** The card's label: who wants what, for whom. */
  what: string
  timer: number
}
let waiting: Waiting | undefined

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
    undoBar(),
    h(
      'p',
      { class: 'help' },
      'Keys: j / k move, a approve, r reject (each can be undone with u for 5 s), x select; Escape leaves the note field.',
    ),
    q.items.length ? bulk : h('p', { id: 'empty' }, 'Nothing waits for you.'),
    list,
  )
  focusCard()
}

function card(item: Item, i: number): HTMLElement {
  const note = h('input', {
    type: 'text',
    class: 'note',
    'aria-label': 'Note for this answer',
    placeholder: 'note (optional)',
  })
  const li = reviewCard(item, note, { answer: (action) => answer(item.review.id, action, note.value) })
  // Escape leaves the note for the card, where the keys act again.
  note.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return
    e.preventDefault()
    li.focus()
  })
  if (waiting?.id === item.review.id) li.classList.add('answering')
  // Focus anywhere in a card (its text block, a button) makes it the one the keys act on.
  li.addEventListener('focusin', () => {
    selected = i
    for (const [j, el] of cards().entries()) el.classList.toggle('current', j === i)
  })
  return li
}

/** The bar that says which answer waits to be sent, with its Undo. */
function undoBar(): HTMLElement {
  const bar = h('div', { id: 'undo', class: 'undo', role: 'status' })
  if (waiting) showWaiting(bar, waiting)
  return bar
}

function showWaiting(bar: HTMLElement, w: Waiting): void {
  bar.replaceChildren(
    `${w.action === 'approve' ? 'Approving' : 'Rejecting'}: ${w.what}, in ${UNDO_MS / 1000} s. `,
    h('button', { type: 'button', onclick: () => undo() }, 'Undo (u)'),
  )
}

/** Holds an answer for UNDO_MS, then sends it; one at a time. */
function answer(id: string, action: 'approve' | 'reject', note: string): void {
  if (waiting) {
    say(
      `One answer at a time: ${waiting.action === 'approve' ? 'approving' : 'rejecting'} is waiting (u undoes it).`,
    )
    return
  }
  const shown = cards().find((c) => c.dataset.review === id)
  const digest = shown?.dataset.digest
  waiting = {
    id,
    action,
    note,
    digest,
    what: shown?.getAttribute('aria-label') ?? id,
    timer: window.setTimeout(() => {
      waiting = undefined
      document.getElementById('undo')?.replaceChildren()
      void resolve(id, action, note, digest)
    }, UNDO_MS),
  }
  for (const c of cards()) c.classList.toggle('answering', c.dataset.review === id)
  const bar = document.getElementById('undo')
  if (bar) showWaiting(bar, waiting)
}

function undo(): void {
  if (!waiting) return
  window.clearTimeout(waiting.timer)
  const { id, action } = waiting
  waiting = undefined
  document.getElementById('undo')?.replaceChildren()
  for (const c of cards()) c.classList.remove('answering')
  say(`${action === 'approve' ? 'Approval' : 'Rejection'} undone: nothing was sent.`)
  cards()
    .find((c) => c.dataset.review === id)
    ?.focus()
}

function cards(): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>('li.card')]
}

function focusCard(): void {
  const c = cards()[selected]
  c?.focus()
  for (const [i, el] of cards().entries()) el.classList.toggle('current', i === selected)
}

async function resolve(
  id: string,
  action: 'approve' | 'reject',
  note: string,
  digest: string | undefined,
): Promise<void> {
  try {
    // An approval names the digest the card showed: if the request is not that one, it is refused (409).
    const r = await api<{ outcome?: string; outcomeReasons?: { message: string }[] }>(
      'POST',
      `/v1/reviews/${id}/${action}`,
      { note: note || undefined, digest: action === 'approve' ? digest : undefined },
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
    if (id) answer(id, e.key === 'a' ? 'approve' : 'reject', note)
    return
  } else if (e.key === 'u') undo()
  else return
  e.preventDefault()
  focusCard()
}
