import { api, type Principal } from '../api.ts'
import { h, page, say, when } from '../ui.ts'

interface OutboxMessage {
  id: string
  channel: string
  status: 'pending' | 'delivered' | 'dead'
  reviewId?: string
  attempts: number
  nextAt: string
  lastError?: string
}

interface PolicyStats {
  version: string
  file: string
  loadedAt: string
  groups: { sort: string; rules: { id: string; when?: string; message?: string; fired: number }[] }[]
  lastRefusal?: {
    at: string
    issues: { message: string; code: string; position?: { line: number; column: number } }[]
  }
}

export async function policyPage(who?: Principal): Promise<void> {
  const p = await api<PolicyStats>('GET', '/v1/console/policy')
  // Operators see the work owed to vendors that was given up, and can send it again.
  const dead =
    who?.kind === 'admin'
      ? (await api<{ messages: OutboxMessage[] }>('GET', '/v1/admin/outbox?status=dead')).messages
      : []
  page(
    'Policy in service',
    dead.length ? outboxSection(dead, who) : '',
    h('p', {}, `Version ${p.version}, from ${p.file}, loaded ${when(p.loadedAt)}.`),
    p.lastRefusal
      ? h(
          'section',
          { class: 'refusal', role: 'alert' },
          h('h2', {}, `A reload was refused ${when(p.lastRefusal.at)}; this version stays in service`),
          h(
            'ul',
            {},
            ...p.lastRefusal.issues.map((i) =>
              h(
                'li',
                {},
                `${i.position ? `${i.position.line}:${i.position.column} ` : ''}${i.message} (${i.code})`,
              ),
            ),
          ),
        )
      : '',
    ...p.groups
      .filter((g) => g.rules.length)
      .map((g) =>
        h(
          'section',
          {},
          h(
            'h2',
            {},
            g.sort === 'ownership' ? 'Ownership' : `${g.sort[0]?.toUpperCase()}${g.sort.slice(1)}s`,
          ),
          h(
            'table',
            { class: 'rules' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Rule'),
                h('th', { scope: 'col' }, 'Condition'),
                h('th', { scope: 'col' }, 'Fired, last 7 days'),
              ),
            ),
            h(
              'tbody',
              {},
              ...g.rules.map((r) =>
                h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, r.id),
                  h('td', {}, h('code', {}, r.when ?? 'always')),
                  h('td', { class: 'num' }, String(r.fired)),
                ),
              ),
            ),
          ),
        ),
      ),
  )
}

function outboxSection(dead: OutboxMessage[], who: Principal | undefined): HTMLElement {
  return h(
    'section',
    { class: 'refusal', role: 'alert', 'aria-labelledby': 'outbox-heading' },
    h('h2', { id: 'outbox-heading' }, `${dead.length} message(s) to vendors were given up`),
    h(
      'p',
      {},
      'Each is work an answered review owed a vendor (a HubSpot callback, a Salesforce event) that failed every attempt. Fix the cause (a revoked token, a removed workflow), then send it again.',
    ),
    h(
      'table',
      { class: 'rules' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Message'),
          h('th', { scope: 'col' }, 'Vendor'),
          h('th', { scope: 'col' }, 'Last error'),
          h('th', { scope: 'col' }, 'Attempts'),
          h('th', { scope: 'col' }, ''),
        ),
      ),
      h(
        'tbody',
        {},
        ...dead.map((m) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, h('code', {}, m.id)),
            h('td', {}, m.channel),
            h('td', {}, m.lastError ?? ''),
            h('td', { class: 'num' }, String(m.attempts)),
            h(
              'td',
              {},
              h(
                'button',
                {
                  type: 'button',
                  'aria-label': `Send again: ${m.id}`,
                  onclick: async () => {
                    await api('POST', `/v1/admin/outbox/${encodeURIComponent(m.id)}/retry`)
                    say(`Sending ${m.id} again`)
                    await policyPage(who)
                  },
                },
                'Send again',
              ),
            ),
          ),
        ),
      ),
    ),
  )
}
