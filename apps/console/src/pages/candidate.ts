import { api, type Principal } from '../api.ts'
import { h, page, say, when } from '../ui.ts'

// The candidate policy in shadow (docs/candidates.md): what `remit candidate report` prints, the
// sign-offs per team, a reviewer's sign-off for its own team, an admin's promote and rollback, and
// the history. Live: it polls every 3 s and redraws only the sections whose figures moved, so a
// note being typed is not lost.

interface SignOff {
  team: string
  by: string
  at: string
  note?: string
}
interface HistoryEntry {
  event: 'candidate' | 'clear' | 'sign-off' | 'promote' | 'rollback'
  version: string
  at: string
  by: string
  note?: string
  team?: string
  from?: string
  override?: boolean
}
interface CandidateState {
  live: { version: string; promoted: boolean; at?: string; by?: string }
  candidate?: {
    version: string
    file: string
    at: string
    by: string
    signOffs: SignOff[]
    required: string[]
    missing: string[]
  }
  previous: string[]
  history: HistoryEntry[]
}
interface Report {
  candidateVersion: string
  since: string
  until: string
  decisions: number
  differences: number
  flips: Record<string, number>
  rulesOnly: number
  errors: number
  topRules: { rule: string; flips: number }[]
  flagsPerDay: {
    live: Record<string, Record<string, number>>
    candidate: Record<string, Record<string, number>>
  }
  capacity: Record<string, number | undefined>
  overCapacity: { team: string; day: string; flags: number; capacity: number }[]
  baseline: {
    examples: {
      decisionId?: string
      at: string
      agent: string
      kind: string
      accountId: string
      before: string
      now: string
      rules: string[]
    }[]
  }
}

const SINCE = ['24h', '7d', '30d'] as const
const EVENT: Record<HistoryEntry['event'], string> = {
  candidate: 'set as candidate',
  clear: 'candidate cleared',
  'sign-off': 'signed off',
  promote: 'promoted',
  rollback: 'rolled back',
}

let timer: number | undefined
/** Each section's figures as last drawn: a poll redraws a section only when they moved. */
let drawn: Record<string, string> = {}

export async function candidatePage(who: Principal, params: URLSearchParams): Promise<void> {
  window.clearInterval(timer)
  const since = (SINCE as readonly string[]).includes(params.get('since') ?? '')
    ? (params.get('since') as string)
    : '24h'
  drawn = {}
  const sections = {
    summary: h('section', { id: 'candidate-summary' }),
    signOffs: h('section', { id: 'sign-offs', 'aria-labelledby': 'sign-offs-heading' }),
    act: h('section', { id: 'candidate-actions' }),
    report: h('section', { id: 'candidate-report', 'aria-labelledby': 'report-heading' }),
    history: h('section', { id: 'policy-history', 'aria-labelledby': 'history-heading' }),
  }
  const refresh = async () => {
    const state = await api<CandidateState>('GET', '/v1/admin/candidate')
    const report = state.candidate
      ? await api<Report>('GET', `/v1/admin/candidate/report?since=${since}`)
      : undefined
    draw(sections, state, report, who, since)
  }
  await refresh()
  page(
    'Candidate policy',
    sections.summary,
    sections.signOffs,
    sections.act,
    sections.report,
    sections.history,
  )
  // New decisions, sign-offs and promotions appear without a reload.
  timer = window.setInterval(() => {
    if (!location.hash.startsWith('#/candidate')) return window.clearInterval(timer)
    refresh().catch(() => undefined)
  }, 3000)
}

function draw(
  s: Record<'summary' | 'signOffs' | 'act' | 'report' | 'history', HTMLElement>,
  state: CandidateState,
  report: Report | undefined,
  who: Principal,
  since: string,
): void {
  const c = state.candidate
  const redraw = (name: keyof typeof s, shown: unknown, content: () => (Node | string)[]) => {
    const key = JSON.stringify(shown)
    if (drawn[name] === key) return
    drawn[name] = key
    s[name].replaceChildren(...content())
  }
  // The window's ends move with the clock: only the figures count as a change.
  const figures = report && { ...report, since: undefined, until: undefined }
  redraw('summary', [state.live, c, figures], () => summary(state, report, since))
  redraw('signOffs', c, () => (c ? signOffs(c) : []))
  // The forms keep what is typed in them until the candidate, or what promotion waits for, changes.
  const own = c?.signOffs.find((x) => x.team === who.team)
  redraw('act', [who, c?.version, c?.missing, own, state.live.version, state.previous.at(-1)], () =>
    who.kind === 'admin' ? adminActions(state, who, since) : c ? signOffForm(c, who, since) : [],
  )
  redraw('report', figures, () => (report ? reportOf(report) : []))
  redraw('history', state.history, () => history(state.history))
}

function summary(state: CandidateState, report: Report | undefined, since: string): (Node | string)[] {
  const c = state.candidate
  const live = state.live
  return [
    h(
      'p',
      {},
      `Live: version ${live.version}`,
      live.promoted ? `, promoted by ${live.by} ${live.at ? when(live.at) : ''}.` : ', the policy file.',
    ),
    c
      ? h(
          'p',
          { id: 'candidate-version' },
          `Candidate: version ${c.version} (${c.file}), set by ${c.by} ${when(c.at)}, in shadow on every instance.`,
        )
      : h(
          'p',
          { id: 'no-candidate' },
          'No candidate in shadow. An admin sets one with remit candidate set next.yaml.',
        ),
    c
      ? h(
          'form',
          {
            class: 'filters',
            onsubmit: (e: Event) => {
              e.preventDefault()
              const value = new FormData(e.target as HTMLFormElement).get('since')
              location.hash = `#/candidate?since=${value}`
            },
          },
          h(
            'label',
            {},
            'Live traffic since',
            h(
              'select',
              { name: 'since' },
              ...SINCE.map((v) => h('option', { value: v, selected: v === since }, `the last ${v}`)),
            ),
          ),
          h('button', { type: 'submit' }, 'Show'),
        )
      : '',
    report
      ? h(
          'p',
          { class: 'capacity', id: 'candidate-totals' },
          `${report.decisions} live decision${report.decisions === 1 ? '' : 's'} since ${when(report.since)}; the candidate would have answered ${report.differences} otherwise.`,
        )
      : '',
  ]
}

function signOffs(c: NonNullable<CandidateState['candidate']>): (Node | string)[] {
  const teams = [...new Set([...c.required, ...c.signOffs.map((x) => x.team)])].sort()
  return [
    h('h2', { id: 'sign-offs-heading' }, 'Sign-off by team'),
    h(
      'p',
      { id: 'missing' },
      c.missing.length
        ? `Promotion waits for: ${c.missing.join(', ')}.`
        : c.required.length
          ? 'Every team it changes things for has signed off.'
          : 'No team needs to sign off yet: the candidate has changed nothing so far.',
    ),
    teams.length
      ? scroll(
          table(
            'sign-off-table',
            `Sign-offs for version ${c.version}`,
            ['Team', 'Needed', 'Signed', 'Note'],
            teams.map((team) => {
              const signed = c.signOffs.find((x) => x.team === team)
              return [
                team,
                c.required.includes(team) ? 'yes' : 'no',
                signed ? `${signed.by}, ${when(signed.at)}` : 'not yet',
                signed?.note ?? '',
              ]
            }),
          ),
        )
      : '',
  ]
}

function signOffForm(c: NonNullable<CandidateState['candidate']>, who: Principal, since: string): Node[] {
  const team = who.team as string
  const own = c.signOffs.find((x) => x.team === team)
  const note = h('textarea', { id: 'sign-off-note', name: 'note', rows: '2', maxlength: '2000' })
  return [
    h('h2', { id: 'sign-off-heading' }, `Sign off for ${team}`),
    h(
      'form',
      {
        class: 'act',
        'aria-labelledby': 'sign-off-heading',
        onsubmit: async (e: Event) => {
          e.preventDefault()
          try {
            await api('POST', '/v1/admin/candidate/sign-offs', {
              version: c.version,
              ...(note.value.trim() ? { note: note.value.trim() } : {}),
            })
            say(`${team} signed off version ${c.version}`)
          } catch (error) {
            say(`Could not sign off: ${(error as Error).message}`)
          }
          await candidatePage(who, new URLSearchParams({ since }))
        },
      },
      h(
        'p',
        { class: 'help' },
        own
          ? `${own.by} signed for ${team} ${when(own.at)}; signing again replaces it.`
          : `You agree, for ${team}, that version ${c.version} may go live: your name and note are recorded.`,
      ),
      h('label', { for: 'sign-off-note' }, 'Note (optional)'),
      note,
      h('button', { type: 'submit' }, `Sign off for ${team}`),
    ),
  ]
}

function adminActions(state: CandidateState, who: Principal, since: string): Node[] {
  const c = state.candidate
  const back = state.previous.at(-1)
  const reload = () => candidatePage(who, new URLSearchParams({ since }))
  const out: Node[] = []
  if (c) {
    const note = h('input', { id: 'promote-note', name: 'note', type: 'text', maxlength: '2000' })
    const override = h('input', { id: 'override', name: 'override', type: 'checkbox' })
    const button = h(
      'button',
      { type: 'submit', disabled: c.missing.length > 0, 'aria-describedby': 'promote-waits' },
      `Promote ${c.version}`,
    )
    override.addEventListener('change', () => {
      button.disabled = c.missing.length > 0 && !override.checked
    })
    out.push(
      h('h2', { id: 'promote-heading' }, 'Promote'),
      h(
        'form',
        {
          class: 'act',
          'aria-labelledby': 'promote-heading',
          onsubmit: async (e: Event) => {
            e.preventDefault()
            try {
              await api('POST', '/v1/admin/policy/promote', {
                ...(override.checked ? { override: true } : {}),
                ...(note.value.trim() ? { note: note.value.trim() } : {}),
              })
              say(`Promoted ${c.version}: every instance serves it within seconds`)
            } catch (error) {
              say(`Could not promote: ${(error as Error).message}`)
            }
            await reload()
          },
        },
        h(
          'p',
          { id: 'promote-waits', class: c.missing.length ? 'error' : 'help' },
          c.missing.length
            ? `Waiting for a sign-off from: ${c.missing.join(', ')}.`
            : 'Every team it changes things for has signed off.',
        ),
        c.missing.length
          ? h(
              'label',
              { class: 'check' },
              h('span', {}, override, ' Promote without every sign-off'),
              h(
                'span',
                { class: 'help' },
                `Recorded in the history as an override, with the missing teams (${c.missing.join(', ')}).`,
              ),
            )
          : '',
        h('label', { for: 'promote-note' }, 'Note (optional)'),
        note,
        button,
      ),
    )
  }
  const note = h('input', { id: 'rollback-note', name: 'note', type: 'text', maxlength: '2000' })
  out.push(
    h('h2', { id: 'rollback-heading' }, 'Roll back'),
    h(
      'form',
      {
        class: 'act',
        'aria-labelledby': 'rollback-heading',
        onsubmit: async (e: Event) => {
          e.preventDefault()
          try {
            await api(
              'POST',
              '/v1/admin/policy/rollback',
              note.value.trim() ? { note: note.value.trim() } : {},
            )
            say(`Rolled back to ${back}: every instance serves it within seconds`)
          } catch (error) {
            say(`Could not roll back: ${(error as Error).message}`)
          }
          await reload()
        },
      },
      h(
        'p',
        { id: 'rollback-to', class: 'help' },
        back
          ? `Every instance returns to version ${back}, the live version before ${state.live.version}.`
          : 'Nothing to roll back to: no version was promoted before this one.',
      ),
      h('label', { for: 'rollback-note' }, 'Note (optional)'),
      note,
      h(
        'button',
        { type: 'submit', class: 'danger', disabled: !back, 'aria-describedby': 'rollback-to' },
        back ? `Roll back to ${back}` : 'Roll back',
      ),
    ),
  )
  return out
}

function reportOf(r: Report): Node[] {
  const flips = Object.entries(r.flips).sort((a, b) => b[1] - a[1])
  const teams = [...new Set([...Object.keys(r.flagsPerDay.live), ...Object.keys(r.flagsPerDay.candidate)])]
  const load = teams.sort().flatMap((team) => {
    const days = new Set([
      ...Object.keys(r.flagsPerDay.live[team] ?? {}),
      ...Object.keys(r.flagsPerDay.candidate[team] ?? {}),
    ])
    return [...days].sort().map((day) => {
      const flags = r.flagsPerDay.candidate[team]?.[day] ?? 0
      const capacity = r.capacity[team]
      return [
        team,
        day,
        String(r.flagsPerDay.live[team]?.[day] ?? 0),
        String(flags),
        capacity === undefined ? 'not set' : String(capacity),
        capacity !== undefined && flags > capacity ? h('strong', { class: 'error' }, 'over capacity') : '',
      ]
    })
  })
  return [
    h('h2', { id: 'report-heading' }, 'What the candidate would have changed'),
    h('p', {}, `Same verdict, other rules or review team: ${r.rulesOnly}. Could not evaluate: ${r.errors}.`),
    h('h3', {}, 'Flips by kind'),
    flips.length
      ? scroll(
          table(
            'flips',
            'Live verdict → candidate verdict',
            ['Flip', 'Decisions'],
            flips.map(([kind, n]) => [kind, String(n)]),
            [1],
          ),
        )
      : h('p', {}, 'No verdict would have flipped.'),
    h('h3', {}, 'Review load'),
    load.length
      ? scroll(
          table(
            'review-load',
            "Flags per reviewing team per day (UTC), as decided and as the candidate would have routed them, against the team's reviewCapacityPerDay",
            ['Team', 'Day', 'Live', 'Candidate', 'Capacity', ''],
            load,
            [2, 3, 4],
          ),
        )
      : h('p', {}, 'No flags either way.'),
    h('h3', {}, 'Top rules causing flips'),
    r.topRules.length
      ? scroll(
          table(
            'top-rules',
            'Rules the candidate adds to or removes from the reasons of a flipped decision',
            ['Rule', 'Flips'],
            r.topRules.slice(0, 10).map((t) => [h('code', {}, t.rule), String(t.flips)]),
            [1],
          ),
        )
      : h('p', {}, 'None.'),
    h('h3', {}, 'Examples'),
    r.baseline.examples.length
      ? scroll(
          table(
            'examples',
            'Decisions the candidate would have answered otherwise, oldest first',
            ['When', 'Agent', 'Action', 'Account', 'Live → candidate', 'Rules', ''],
            r.baseline.examples.map((e) => [
              when(e.at),
              e.agent,
              e.kind,
              h('a', { href: `#/timeline/${encodeURIComponent(e.accountId)}` }, e.accountId),
              `${e.before} → ${e.now}`,
              e.rules.join(', '),
              e.decisionId
                ? h(
                    'a',
                    {
                      href: `#/log?decision=${encodeURIComponent(e.decisionId)}`,
                      'aria-label': `Explain the decision for ${e.accountId} at ${when(e.at)}`,
                    },
                    'Explain',
                  )
                : '',
            ]),
          ),
        )
      : h('p', {}, 'None yet.'),
  ]
}

function history(entries: HistoryEntry[]): Node[] {
  return [
    h('h2', { id: 'history-heading' }, 'Version history'),
    entries.length
      ? scroll(
          table(
            'history',
            'Who set, signed, promoted and rolled back which version, newest first',
            ['When', 'What', 'Version', 'By', 'Note'],
            [...entries]
              .reverse()
              .map((e) => [
                when(e.at),
                `${EVENT[e.event]}${e.team ? ` for ${e.team}` : ''}${e.override ? ' (override)' : ''}`,
                `${e.version}${e.from ? ` (was ${e.from})` : ''}`,
                e.by,
                e.note ?? '',
              ]),
          ),
        )
      : h('p', {}, 'No policy change yet.'),
  ]
}

function table(
  id: string,
  caption: string,
  head: string[],
  rows: (Node | string)[][],
  numeric: number[] = [],
): HTMLTableElement {
  return h(
    'table',
    { id, class: 'figures' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, c)))),
    h(
      'tbody',
      {},
      ...rows.map((cells) =>
        h(
          'tr',
          {},
          ...cells.map((cell, i) =>
            i === 0
              ? h('th', { scope: 'row' }, cell)
              : h('td', { class: numeric.includes(i) ? 'num' : undefined }, cell),
          ),
        ),
      ),
    ),
  )
}

/** Wide tables scroll inside their box on a narrow screen, never the page (a stop for the keyboard too). */
function scroll(el: HTMLTableElement): HTMLElement {
  return h(
    'div',
    { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': el.caption?.textContent ?? '' },
    el,
  )
}
