import { readFileSync } from 'node:fs'
import { loadPolicy, openRemit, openSqliteStore, type Policy } from '@remit/core'
import { candidateReport } from '@remit/core/internal'
import { describe, expect, it } from 'vitest'
import { runWeek } from './scenario.ts'

// A candidate policy in shadow over the example week: what it would change, and that it changes
// nothing of what the live policy decides, reserves or queues for review.
const text = readFileSync(new URL('remit.yaml', import.meta.url), 'utf8')
const live = loadPolicy(text, { file: 'remit.yaml' })
/** The live policy plus one rule, added to its triggers. */
const withTrigger = (rule: string): Policy =>
  loadPolicy(text.replace('triggers:\n', `triggers:\n  - ${rule}\n`), { file: 'next.yaml' })
const prospectReview = withTrigger(
  `{ id: prospect-review, when: "customer.lifecycle == 'prospect'", then: flag, message: "Prospects are reviewed" }`,
)

async function week(candidate?: Policy) {
  const store = openSqliteStore(':memory:')
  const remit = await openRemit({ policy: live, store })
  remit.setCandidate(candidate)
  const steps = await runWeek(remit)
  return { remit, store, steps }
}

describe('a candidate policy in shadow', () => {
  it('that adds a trigger shows exactly the flips expected on the week', async () => {
    const { store, steps } = await week(prospectReview)
    const decided = steps.flatMap((s) => (s.kind === 'decision' ? [s.decision] : []))
    const at = (iso: string) => decided.find((d) => d.at.toISOString() === iso)?.id
    const diffs = await store.listCandidateDiffs({ candidateVersion: prospectReview.version })
    expect(
      diffs.map((d) => ({
        decisionId: d.decisionId,
        diff: d.diff,
        live: d.live,
        candidate: d.candidate,
        added: d.added,
      })),
    ).toEqual([
      // Tuesday: 10% to Initech, a prospect, went; the candidate would have flagged it.
      {
        decisionId: at('2026-04-07T10:30:00.000Z'),
        diff: 'flip',
        live: 'go',
        candidate: 'flag',
        added: ['prospect-review'],
      },
      // Tuesday: 20% was flagged already (no permission); the candidate flags it for one more reason.
      {
        decisionId: at('2026-04-07T10:00:00.000Z'),
        diff: 'rules',
        live: 'flag',
        candidate: 'flag',
        added: ['prospect-review'],
      },
    ])
    const report = await candidateReport(store, prospectReview, { since: new Date('2026-04-06T00:00:00Z') })
    expect(report).toMatchObject({
      decisions: decided.length,
      differences: 2,
      flips: { 'go→flag': 1 },
      rulesOnly: 1,
      errors: 0,
      topRules: [{ rule: 'prospect-review', flips: 1 }],
      baseline: { policyVersion: live.version, nowSent: 0, nowHeld: 1 },
    })
    expect(report.flagsPerDay.candidate.sales?.['2026-04-07']).toBe(
      (report.flagsPerDay.live.sales?.['2026-04-07'] ?? 0) + 1,
    )
    expect(report.baseline.examples[0]).toMatchObject({
      decisionId: at('2026-04-07T10:30:00.000Z'),
      before: 'go',
      now: 'flag',
    })
  })

  it('reserves nothing and queues no review: the ledger, the reviews and the verdicts are those without it', async () => {
    const without = await week()
    const shadowed = await week(prospectReview)
    const shape = async ({ remit, steps }: Awaited<ReturnType<typeof week>>) => {
      const timelines = await Promise.all(['acme', 'globex', 'initech'].map((a) => remit.timeline(a)))
      return {
        verdicts: steps.flatMap((s) => (s.kind === 'decision' ? [s.decision.verdict] : [])),
        touches: timelines.map((t) => t.touches.map((x) => [x.kind, x.status, x.at.toISOString()])),
        commitments: timelines.map((t) => t.commitments.length),
        reviews: (await remit.reviews.list()).map((r) => [r.team, r.status]),
      }
    }
    expect(await shape(shadowed)).toEqual(await shape(without))
  })

  it('whose condition throws never changes a live verdict: it is recorded as an error', async () => {
    // renewalValue is optional: Acme's facts have it (a real stop), Globex's and Initech's do not (reading it fails).
    const throwing = withTrigger(`{ id: big-renewal, when: "customer.renewalValue > 100000.0", then: stop }`)
    const without = await week()
    const shadowed = await week(throwing)
    const verdicts = (w: Awaited<ReturnType<typeof week>>) =>
      w.steps.flatMap((s) => (s.kind === 'decision' ? [s.decision.verdict] : []))
    expect(verdicts(shadowed)).toEqual(verdicts(without))
    const diffs = await shadowed.store.listCandidateDiffs({ candidateVersion: throwing.version })
    const failed = diffs.filter((d) => d.accountId !== 'acme')
    expect(failed.map((d) => d.accountId).sort()).toEqual(['globex', 'initech', 'initech'])
    for (const d of failed)
      expect(d).toMatchObject({
        diff: 'error',
        error: expect.stringContaining('big-renewal: fact or attribute'),
      })
  })
})
