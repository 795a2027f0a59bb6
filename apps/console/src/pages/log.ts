import { api } from '../api.ts'
import { h, page, when } from '../ui.ts'

interface Row {
  id: string
  at: string
  agent: string
  team: string
  accountId: string
  action: { kind: string }
  verdict: string
  reasons: { rule: string; sort: string; message: string }[]
}

const FIELDS = ['verdict', 'team', 'agent', 'rule', 'since', 'until'] as const

/**
 * The decision log: filters, one decision's explanation, NDJSON export of the filtered set.
 * `#/log?decision=<id>` opens with that decision explained (the candidate page's examples link here).
 */
export async function logPage(params: URLSearchParams): Promise<void> {
  const query = new URLSearchParams(
    [...params].filter(([k, v]) => (FIELDS as readonly string[]).includes(k) && v),
  )
  const rows = (await api<{ decisions: Row[] }>('GET', `/v1/decisions?${query}&limit=200`)).decisions
  const field = (name: (typeof FIELDS)[number], label: string, type = 'text') =>
    name === 'verdict'
      ? h(
          'label',
          {},
          label,
          h(
            'select',
            { name },
            ...['', 'go', 'flag', 'stop'].map((v) =>
              h('option', { value: v, selected: query.get(name) === v }, v || 'any'),
            ),
          ),
        )
      : h('label', {}, label, h('input', { name, type, value: query.get(name) ?? '' }))
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e: Event) => {
        e.preventDefault()
        const data = new FormData(e.target as HTMLFormElement)
        const next = new URLSearchParams()
        for (const f of FIELDS) {
          const v = String(data.get(f) ?? '').trim()
          if (v) next.set(f, f === 'since' || f === 'until' ? new Date(v).toISOString() : v)
        }
        location.hash = `#/log?${next}`
      },
    },
    field('verdict', 'Verdict'),
    field('team', 'Team'),
    field('agent', 'Agent'),
    field('rule', 'Rule'),
    field('since', 'Since', 'date'),
    field('until', 'Until', 'date'),
    h('button', { type: 'submit' }, 'Filter'),
  )
  // Focusable, so opening an explanation takes the reader (and a screen reader) to it.
  const detail = h('section', { id: 'explanation', 'aria-live': 'polite', tabindex: '-1' })
  const table = h(
    'table',
    { id: 'log' },
    h('caption', {}, `${rows.length} decision${rows.length === 1 ? '' : 's'}, newest first`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['When', 'Verdict', 'Agent', 'Account', 'Action', 'Rules', ''].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      ...rows.map((r) =>
        h(
          'tr',
          { class: `verdict-${r.verdict}` },
          h('td', {}, when(r.at)),
          h('td', {}, r.verdict),
          h('td', {}, r.agent),
          h('td', {}, h('a', { href: `#/timeline/${encodeURIComponent(r.accountId)}` }, r.accountId)),
          h('td', {}, r.action.kind),
          h('td', {}, r.reasons.map((x) => x.rule).join(', ')),
          h(
            'td',
            {},
            h('button', { type: 'button', onclick: () => showExplanation(r.id, detail) }, 'Explain'),
          ),
        ),
      ),
    ),
  )
  page(
    'Decision log',
    form,
    h(
      'p',
      {},
      h(
        'a',
        { href: `/v1/console/decisions.ndjson?${query}`, download: 'remit-decisions.ndjson' },
        'Export these as NDJSON',
      ),
    ),
    table,
    detail,
  )
  const decision = params.get('decision')
  if (decision) {
    await showExplanation(decision, detail)
    detail.scrollIntoView()
  }
}

interface Explained {
  explanation?: {
    applied: {
      id: string
      sort: string
      when?: string
      result: string
      reads: { name: string; value: unknown }[]
      error?: string
    }[]
    outOfScope: number
    because: string
  }
  unavailable?: string
  samePolicy?: boolean
}

async function showExplanation(id: string, into: HTMLElement): Promise<void> {
  const x = await api<Explained>('GET', `/v1/console/decisions/${id}/explain`)
  if (!x.explanation) {
    into.replaceChildren(h('h2', {}, 'Explanation'), h('p', {}, x.unavailable ?? 'Not available.'))
    return
  }
  const e = x.explanation
  into.replaceChildren(
    h('h2', {}, 'Explanation'),
    x.samePolicy === false
      ? h(
          'p',
          { class: 'help' },
          'Explained under the policy in service now, which differs from the one that decided.',
        )
      : '',
    h('p', { class: 'because' }, e.because),
    h('p', {}, `${e.applied.length} rules in scope; ${e.outOfScope} out of scope did not run.`),
    h(
      'ul',
      { class: 'trace' },
      ...e.applied.map((r) =>
        h(
          'li',
          {},
          h('code', {}, r.id),
          ` (${r.sort}): ${r.result}${r.error ? ` — ${r.error}` : ''}`,
          r.when ? h('div', { class: 'when' }, h('code', {}, r.when)) : '',
          r.reads.length
            ? h(
                'div',
                { class: 'reads' },
                r.reads.map((x) => `${x.name} = ${JSON.stringify(x.value) ?? 'missing'}`).join('; '),
              )
            : '',
        ),
      ),
    ),
  )
  into.focus()
}
