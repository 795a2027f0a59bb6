import { api } from '../api.ts'
import { h, page, when } from '../ui.ts'

interface Timeline {
  accountId: string
  touches: {
    id: string
    kind: string
    team?: string
    agent?: string
    at: string
    status: string
    channel?: string
    source: string
    note?: string
  }[]
  decisions: {
    id: string
    at: string
    agent: string
    team: string
    action: { kind: string }
    verdict: string
    reasons: { rule: string; sort: string }[]
  }[]
  reviews: {
    id: string
    status: string
    resolvedAt?: string
    resolvedBy?: string
    outcome?: string
    team: string
    note?: string
  }[]
  commitments: { kind: string; at: string; team: string; value: Record<string, unknown> }[]
}

/** One account on one time axis: every touch, decision, review and commitment, coloured by team. */
export async function timelinePage(account?: string): Promise<void> {
  const input = h('input', {
    id: 'q',
    name: 'q',
    type: 'search',
    value: account ?? '',
    placeholder: 'acme, a contact id or jane@acme.example',
  })
  const form = h(
    'form',
    {
      role: 'search',
      onsubmit: async (e: Event) => {
        e.preventDefault()
        const q = input.value.trim()
        if (!q) return
        const found = await api<{ accounts: string[] }>(
          'GET',
          `/v1/console/search?q=${encodeURIComponent(q)}`,
        )
        location.hash = `#/timeline/${encodeURIComponent(found.accounts[0] ?? q)}`
      },
    },
    h('label', { for: 'q' }, 'Account, contact or e-mail'),
    input,
    h('button', { type: 'submit' }, 'Show'),
  )
  if (!account) {
    page(
      'Customer timeline',
      form,
      h('p', {}, 'Every touch, decision, review and commitment for one account, from every agent and tool.'),
    )
    return
  }
  const t = await api<Timeline>('GET', `/v1/customers/${encodeURIComponent(account)}/timeline`)
  type Row = { at: string; team: string; label: string; cls: string }
  const rows: Row[] = [
    ...t.decisions.map((d) => ({
      at: d.at,
      team: d.team,
      cls: `verdict-${d.verdict}`,
      label: `${d.verdict.toUpperCase()} · ${d.agent} · ${d.action.kind}${
        d.verdict !== 'go'
          ? ` (${d.reasons
              .filter((r) => r.sort !== 'permission')
              .map((r) => r.rule)
              .join(', ')})`
          : ''
      }`,
    })),
    ...t.touches.map((x) => ({
      at: x.at,
      team: x.team ?? '',
      cls: `touch-${x.status}`,
      label: `touch ${x.status} · ${x.agent ?? x.team ?? ''} · ${x.kind}${x.channel ? ` (${x.channel})` : ''}${x.note ? ` — ${x.note}` : ''}`,
    })),
    ...t.reviews
      .filter((r) => r.resolvedAt)
      .map((r) => ({
        at: r.resolvedAt as string,
        team: r.team,
        cls: `review-${r.status}`,
        label: `review ${r.status} by ${r.resolvedBy ?? r.team} → ${r.outcome}${r.note ? ` — “${r.note}”` : ''}`,
      })),
    ...t.commitments.map((c) => ({
      at: c.at,
      team: c.team,
      cls: 'commitment',
      label: `commitment · ${c.kind} ${JSON.stringify(c.value)}`,
    })),
  ].sort((a, b) => a.at.localeCompare(b.at))
  page(
    `Timeline: ${t.accountId}`,
    form,
    h(
      'p',
      {},
      `${t.decisions.length} decisions, ${t.touches.length} touches, ${t.reviews.length} reviews, ${t.commitments.length} commitments.`,
    ),
    rows.length
      ? h(
          'ol',
          { class: 'timeline', id: 'timeline' },
          ...rows.map((r) =>
            h(
              'li',
              { class: `event ${r.cls} team-${r.team}` },
              h('time', { datetime: r.at }, when(r.at)),
              h('span', { class: 'team' }, r.team || '—'),
              h('span', { class: 'label' }, r.label),
            ),
          ),
        )
      : h('p', {}, 'Nothing recorded for this account.'),
  )
}
