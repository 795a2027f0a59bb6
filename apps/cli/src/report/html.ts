import type { ReplayReport } from '@remit/core'

// A self-contained page (no scripts, no external files): tables and one SVG chart per team of
// flags per day against the team's review capacity.

const esc = (s: unknown) =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

function chart(team: string, days: Record<string, number>, capacity: number | undefined): string {
  const entries = Object.entries(days).sort()
  const w = 720
  const h = 220
  const pad = 36
  const max = Math.max(capacity ?? 0, ...entries.map(([, n]) => n), 1)
  const bw = (w - 2 * pad) / Math.max(entries.length, 1)
  const y = (n: number) => h - pad - ((h - 2 * pad) * n) / max
  const bars = entries
    .map(([d, n], i) => {
      const over = capacity !== undefined && n > capacity
      return `<rect class="bar${over ? ' over' : ''}" x="${(pad + i * bw + 1).toFixed(1)}" y="${y(n).toFixed(1)}" width="${Math.max(bw - 2, 1).toFixed(1)}" height="${(h - pad - y(n)).toFixed(1)}"><title>${esc(d)}: ${n} flags</title></rect>`
    })
    .join('')
  const line =
    capacity === undefined
      ? ''
      : `<line class="capacity" x1="${pad}" x2="${w - pad}" y1="${y(capacity).toFixed(1)}" y2="${y(capacity).toFixed(1)}"/><text x="${w - pad}" y="${(y(capacity) - 4).toFixed(1)}" text-anchor="end">capacity ${capacity}/day</text>`
  const first = entries[0]?.[0] ?? ''
  const last = entries.at(-1)?.[0] ?? ''
  return `<figure><svg role="img" aria-label="Flags per day for ${esc(team)} against capacity" viewBox="0 0 ${w} ${h}" width="100%">
<line class="axis" x1="${pad}" x2="${w - pad}" y1="${h - pad}" y2="${h - pad}"/><text x="${pad}" y="${h - 12}">${esc(first)}</text><text x="${w - pad}" y="${h - 12}" text-anchor="end">${esc(last)}</text><text x="4" y="${pad}">${max}</text>
${bars}${line}</svg><figcaption>${esc(team)}: flags per day${capacity === undefined ? ' (no capacity set)' : ` against a capacity of ${capacity}`}</figcaption></figure>`
}

export function htmlReport(
  r: ReplayReport,
  meta: { policy: string; history: string; baseline?: string },
): string {
  const teams = Object.keys(r.byTeam).sort()
  const rows = (cells: unknown[][]) =>
    cells
      .map(
        (c) =>
          `<tr>${c.map((x, i) => (i === 0 ? `<th scope="row">${esc(x)}</th>` : `<td>${esc(x)}</td>`)).join('')}</tr>`,
      )
      .join('')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Remit replay: ${esc(meta.history)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0}
th,td{padding:.25rem .75rem;border-bottom:1px solid #d0d7de;text-align:right}th[scope=row],thead th:first-child{text-align:left}
.bar{fill:#0969da}.bar.over{fill:#cf222e}.capacity{stroke:#1b1f24;stroke-dasharray:6 4}.axis{stroke:#57606a}
svg text{font-size:11px;fill:#57606a}figure{margin:1rem 0}figcaption{color:#57606a}.over-list li{color:#a40e26}
</style></head><body>
<h1>Remit replay</h1>
<p><strong>${esc(meta.history)}</strong> under <strong>${esc(meta.policy)}</strong> (version ${esc(r.policyVersion)}): ${r.attempts} attempts and ${r.recorded} recorded touches, ${esc(r.from?.slice(0, 10) ?? '')} to ${esc(r.to?.slice(0, 10) ?? '')}.</p>
<h2>Verdicts</h2>
<table id="verdicts"><thead><tr><th>team</th><th>go</th><th>flag</th><th>stop</th></tr></thead><tbody>
${rows(teams.map((t) => [t, r.byTeam[t]?.go, r.byTeam[t]?.flag, r.byTeam[t]?.stop]))}
${rows([['all', r.verdicts.go, r.verdicts.flag, r.verdicts.stop]])}
</tbody></table>
<h2>Review load</h2>
${Object.entries(r.flagsPerDay)
  .sort()
  .map(([team, days]) => chart(team, days, r.capacity[team]))
  .join('\n')}
${r.overCapacity.length ? `<p>Days over capacity, when "review everything" quietly becomes "review nothing":</p><ul class="over-list">${r.overCapacity.map((x) => `<li>${esc(x.team)} ${esc(x.day)}: ${x.flags} flags for ${x.capacity}</li>`).join('')}</ul>` : '<p>No day over capacity.</p>'}
<h2>Rules</h2>
<table id="rules"><thead><tr><th>rule</th><th>matched</th></tr></thead><tbody>${rows(Object.entries(r.byRule).sort((a, b) => b[1] - a[1]))}</tbody></table>
${
  r.baseline
    ? `<h2>Against ${esc(meta.baseline ?? 'the baseline')}</h2><p>${r.baseline.nowSent} would now go out that the baseline held back; ${r.baseline.nowHeld} the baseline let go are now held back.</p>
<table id="baseline"><thead><tr><th>line</th><th>at</th><th>agent</th><th>kind</th><th>account</th><th>before</th><th>now</th><th>rules</th></tr></thead><tbody>${rows(r.baseline.examples.map((e) => [e.line, e.at.slice(0, 16), e.agent, e.kind, e.accountId, e.before, e.now, e.rules.join(', ')]))}</tbody></table>`
    : ''
}
${r.errorCount ? `<h2>Lines not replayed</h2><p>${r.errorCount}</p>` : ''}
</body></html>
`
}
