import { api } from '../api.ts'
import { h, page, when } from '../ui.ts'

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

export async function policyPage(): Promise<void> {
  const p = await api<PolicyStats>('GET', '/v1/console/policy')
  page(
    'Policy in service',
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
