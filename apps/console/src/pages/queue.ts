import { api } from '../api.ts'
import { h, page, say } from '../ui.ts'
import { type Changes, type Item, reviewCard } from './review-card.ts'

interface Queue {
  items: Item[]
  capacity: { team: string; perDay?: number; today: number; pending: number }[]
}

/** How long an answer waits, undoable, before it is sent. */
export const UNDO_MS = 5000

/** A flag as an answer names it: its review and the digest of the request its card showed. */
interface Answered {
  id: string
  /** The digest of the request the card showed: an approval is bound to it. */
  digest: string | undefined
}

/** The one answer waiting to be sent — a card's, a group's or the selection's: a second `a` meanwhile answers nothing. */
interface Waiting {
  items: Answered[]
  action: 'approve' | 'reject'
  note: string
  /** What is answered: the card's label (who wants what, for whom), or "all 2 flags for acme". */
  what: string
  /** Several flags: sent together (POST /v1/console/reviews/bulk) and reported item by item. */
  many: boolean
  /** One card approved with changes ("Change before approving"): decided again by Remit. */
  changes?: Changes
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

/** The open flags of one customer: the same account, contact and address (what a digest names as the customer). */
interface Group {
  key: string
  accountId: string
  /** The contact id and address, when the flags name them. */
  contact: string
  items: Item[]
  /** When its first flag expires (ms): groups come soonest first. */
  soonest: number
}

/** The flags per customer, in the queue's order within a group; groups by their first expiry. */
export function groupsOf(items: Item[]): Group[] {
  const groups = new Map<string, Group>()
  for (const item of items) {
    const d = item.decision
    const email = d?.email?.trim().toLowerCase()
    const key = JSON.stringify([item.review.accountId, d?.contactId ?? null, email ?? null])
    let g = groups.get(key)
    if (!g) {
      const contact = [email, d?.contactId ? `contact ${d.contactId}` : undefined].filter(Boolean).join(' · ')
      g = { key, accountId: item.review.accountId, contact, items: [], soonest: Number.POSITIVE_INFINITY }
      groups.set(key, g)
    }
    g.items.push(item)
    g.soonest = Math.min(g.soonest, Date.parse(item.review.expiresAt))
  }
  // A stable sort: groups expiring together keep the queue's order.
  return [...groups.values()].sort((a, b) => a.soonest - b.soonest)
}

const customerOf = (g: Group) => `${g.accountId}${g.contact ? ` · ${g.contact}` : ''}`

function render(q: Queue): void {
  const was = cards()[selected]?.dataset.review
  // Notes being typed stay when the queue is redrawn (a new flag arrives).
  const notes = new Map<string, string>()
  for (const el of document.querySelectorAll<HTMLInputElement>('[data-group] input.note'))
    if (el.value) notes.set(noteKey(el), el.value)
  current = q.items.map((i) => i.review.id)
  const groups = groupsOf(q.items)
  const order = groups.flatMap((g) => g.items.map((item) => item.review.id))
  // The current card stays current when flags come and go around it.
  const kept = was ? order.indexOf(was) : -1
  selected = kept >= 0 ? kept : Math.min(selected, Math.max(0, q.items.length - 1))
  const capacity = h(
    'p',
    { class: 'capacity', id: 'capacity' },
    ...q.capacity.map(
      (c) =>
        `${c.team}: ${c.pending} pending; ${c.today} flagged today${c.perDay !== undefined ? ` of a capacity of ${c.perDay}/day` : ''}. `,
    ),
  )
  let n = 0
  const list = h(
    'ol',
    { class: 'groups', 'aria-label': 'Pending flags, by customer' },
    ...groups.map((g, i) =>
      group(
        g,
        i,
        g.items.map((item) => card(item, n++, g)),
      ),
    ),
  )
  const bulk = h(
    'div',
    { class: 'bulk' },
    h('button', { type: 'button', onclick: () => answerSelected('approve') }, 'Approve selected'),
    h(
      'button',
      { type: 'button', class: 'danger', onclick: () => answerSelected('reject') },
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
      "Keys: j / k move, a approve, r reject, A / R approve or reject the current card's whole customer group (each can be undone with u for 5 s), x select; Escape leaves the note field.",
    ),
    q.items.length ? bulk : h('p', { id: 'empty' }, 'Nothing waits for you.'),
    list,
  )
  for (const el of document.querySelectorAll<HTMLInputElement>('[data-group] input.note')) {
    const kept = notes.get(noteKey(el))
    if (kept) el.value = kept
  }
  focusCard()
}

/** Which note a field is: a card's (by its review) or a group's (by its customer). */
function noteKey(el: HTMLElement): string {
  const c = el.closest<HTMLElement>('li.card')
  return c ? `card:${c.dataset.review}` : `group:${el.closest<HTMLElement>('li.group')?.dataset.group}`
}

/** One customer's flags under a header: who, how many, which agents want what, the timeline, answers for all. */
function group(g: Group, i: number, items: HTMLElement[]): HTMLElement {
  const count = g.items.length
  const wants = new Map<string, number>()
  for (const item of g.items) {
    const what = `${item.decision?.agent ?? item.review.agent} wants ${item.decision?.action.kind ?? 'an action'}`
    wants.set(what, (wants.get(what) ?? 0) + 1)
  }
  const note = h('input', {
    type: 'text',
    class: 'note',
    'aria-label': `Note for all ${count} flags for ${g.accountId}`,
    placeholder: 'note for all (optional)',
  })
  note.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return
    e.preventDefault()
    cards()
      .find((c) => c.dataset.group === g.key)
      ?.focus()
  })
  const head = h(
    'div',
    { class: 'group-head' },
    h('h2', { id: `group-${i}` }, customerOf(g)),
    h(
      'p',
      { class: 'group-what' },
      `${count === 1 ? '1 flag' : `${count} flags`}: `,
      [...wants].map(([what, k]) => (k > 1 ? `${what} (${k})` : what)).join('; '),
      '. ',
      h('a', { href: `#/timeline/${encodeURIComponent(g.accountId)}` }, `Timeline of ${g.accountId}`),
    ),
    // One flag: its card's own answers are the group's.
    count > 1
      ? h(
          'div',
          { class: 'group-actions' },
          note,
          h(
            'button',
            { type: 'button', class: 'approve-all', onclick: () => answerGroup(g.key, 'approve') },
            `Approve all ${count}`,
          ),
          h(
            'button',
            { type: 'button', class: 'danger reject-all', onclick: () => answerGroup(g.key, 'reject') },
            `Reject all ${count}`,
          ),
        )
      : undefined,
  )
  return h(
    'li',
    { class: 'group', 'data-group': g.key },
    head,
    h('ol', { class: 'queue', 'aria-label': `Flags for ${g.accountId}` }, ...items),
  )
}

function card(item: Item, i: number, g: Group): HTMLElement {
  const note = h('input', {
    type: 'text',
    class: 'note',
    'aria-label': 'Note for this answer',
    placeholder: 'note (optional)',
  })
  const li = reviewCard(item, note, {
    answer: (action, changes) => answer(item.review.id, action, note.value, changes),
  })
  li.dataset.group = g.key
  // Escape leaves the note (or a change's field) for the card, where the keys act again.
  for (const field of [note, ...li.querySelectorAll<HTMLElement>('.change')])
    field.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return
      e.preventDefault()
      li.focus()
    })
  if (waiting?.items.some((w) => w.id === item.review.id)) li.classList.add('answering')
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

/** The flag of a card as shown: its id and the digest the card carries. */
function shown(card: HTMLElement): Answered {
  return { id: card.dataset.review as string, digest: card.dataset.digest }
}

/** Answers one card (with changes, approved as changed): held for UNDO_MS, then sent. */
function answer(id: string, action: 'approve' | 'reject', note: string, changes?: Changes): void {
  const c = cards().find((el) => el.dataset.review === id)
  const label = c?.getAttribute('aria-label') ?? id
  const what = changes
    ? `${label}, changed to ${Object.entries(changes.attributes)
        .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
        .join(', ')}`
    : label
  hold([c ? shown(c) : { id, digest: undefined }], action, note, what, false, changes)
}

/** Answers every flag of a customer's group, as their cards show them, with the group's note. */
function answerGroup(key: string, action: 'approve' | 'reject'): void {
  const members = cards().filter((c) => c.dataset.group === key)
  if (!members.length) return
  const head = document.querySelector<HTMLElement>(`li.group[data-group="${CSS.escape(key)}"]`)
  if (members.length === 1) {
    const only = members[0] as HTMLElement
    answer(
      only.dataset.review as string,
      action,
      only.querySelector<HTMLInputElement>('input.note')?.value ?? '',
    )
    return
  }
  const note = head?.querySelector<HTMLInputElement>('.group-head input.note')?.value ?? ''
  const who = head?.querySelector('.group-head h2')?.textContent ?? ''
  hold(members.map(shown), action, note, `all ${members.length} flags for ${who}`, true)
}

/** Answers the selected cards (x, or the checkboxes) together. */
function answerSelected(action: 'approve' | 'reject'): void {
  const picked = cards().filter((c) => c.querySelector<HTMLInputElement>('input.pick')?.checked)
  if (!picked.length) {
    say('Select flags first (x, or the checkboxes).')
    return
  }
  hold(picked.map(shown), action, '', `${picked.length} selected flag${picked.length === 1 ? '' : 's'}`, true)
}

/** Holds an answer for UNDO_MS, then sends it; one at a time. */
function hold(
  items: Answered[],
  action: 'approve' | 'reject',
  note: string,
  what: string,
  many: boolean,
  changes?: Changes,
): void {
  if (waiting) {
    say(
      `One answer at a time: ${waiting.action === 'approve' ? 'approving' : 'rejecting'} is waiting (u undoes it).`,
    )
    return
  }
  waiting = {
    items,
    action,
    note,
    what,
    many,
    ...(changes ? { changes } : {}),
    timer: window.setTimeout(() => {
      waiting = undefined
      document.getElementById('undo')?.replaceChildren()
      const [one] = items
      if (many) void resolveMany(items, action, note)
      else if (one) void resolve(one.id, action, note, one.digest, changes)
    }, UNDO_MS),
  }
  const ids = new Set(items.map((w) => w.id))
  for (const c of cards()) c.classList.toggle('answering', ids.has(c.dataset.review ?? ''))
  const bar = document.getElementById('undo')
  if (bar) showWaiting(bar, waiting)
}

function undo(): void {
  if (!waiting) return
  window.clearTimeout(waiting.timer)
  const { items, action } = waiting
  waiting = undefined
  document.getElementById('undo')?.replaceChildren()
  for (const c of cards()) c.classList.remove('answering')
  say(`${action === 'approve' ? 'Approval' : 'Rejection'} undone: nothing was sent.`)
  cards()
    .find((c) => c.dataset.review === items[0]?.id)
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
  changes?: Changes,
): Promise<void> {
  try {
    // An approval names the digest the card showed: if the request is not that one, it is refused
    // (409). With changes, Remit decides the changed request again: refused (409) if it would not go.
    const r = await api<{ outcome?: string; outcomeReasons?: { message: string }[] }>(
      'POST',
      `/v1/reviews/${id}/${action}`,
      {
        note: note || undefined,
        digest: action === 'approve' ? digest : undefined,
        changes: action === 'approve' ? changes : undefined,
      },
    )
    say(
      `${action === 'approve' ? 'Approved' : 'Rejected'}: ${r.outcome === 'go' ? 'it goes' : 'it is stopped'}${r.outcomeReasons?.[0] ? ` (${r.outcomeReasons[0].message})` : ''}`,
    )
  } catch (error) {
    say(`Could not ${action}: ${(error as Error).message}`)
  }
  await queuePage()
}

/** One item of a bulk answer: answered (an approval a stop now wins has outcome stop), or refused. */
interface BulkResult {
  id: string
  ok: boolean
  code?: string
  error?: string
  review?: { outcome?: string; outcomeReasons?: { message: string }[] }
}

/** "3 of 4 approved; 1 refused: a stop now holds: …": what each item came to. */
export function reportOf(action: 'approve' | 'reject', results: BulkResult[]): string {
  const done = (r: BulkResult) => r.ok && (action === 'reject' || r.review?.outcome === 'go')
  const why = (r: BulkResult) => {
    // Approved, but a stop that holds now won: the review says which ("approved, but a stop now holds: …").
    if (r.ok)
      return r.review?.outcomeReasons?.[0]?.message.replace(/^approved, but /, '') ?? 'a stop now holds'
    if (r.code === 'REVIEW_DIGEST_MISMATCH')
      return 'the request is not the one shown; reload and read it again'
    return r.error ?? 'refused'
  }
  const refused = results.filter((r) => !done(r))
  const reasons = [...new Set(refused.map(why))]
  return `${results.length - refused.length} of ${results.length} ${action === 'approve' ? 'approved' : 'rejected'}${
    refused.length ? `; ${refused.length} refused: ${reasons.join('; ')}` : ''
  }`
}

/** Sends several answers at once, each approval bound to its card's digest; reports them item by item. */
async function resolveMany(items: Answered[], action: 'approve' | 'reject', note: string): Promise<void> {
  try {
    const out = await api<{ results: BulkResult[] }>('POST', '/v1/console/reviews/bulk', {
      action,
      items: items.map(({ id, digest }) => (action === 'approve' ? { id, digest } : { id })),
      note: note || undefined,
    })
    say(reportOf(action, out.results))
  } catch (error) {
    say(`Could not ${action}: ${(error as Error).message}`)
  }
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
  } else if (e.key === 'A' || e.key === 'R') {
    const key = current?.dataset.group
    if (key) answerGroup(key, e.key === 'A' ? 'approve' : 'reject')
    return
  } else if (e.key === 'u') undo()
  else return
  e.preventDefault()
  focusCard()
}
