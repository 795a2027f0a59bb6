import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { globex, type Harness, harness, seedPolicy } from './helpers.ts'

// The candidate policy over the API: set by an admin, run in shadow, reported, signed off by the
// teams it changes things for, promoted and rolled back.
const live = readFileSync(seedPolicy, 'utf8')
/** The seed policy plus a trigger that flags marketing's positioning e-mails to smb customers (reviewed by sales, the default team). */
const next = live.replace(
  'triggers:\n',
  `triggers:\n  - { id: smb-positioning-review, team: marketing, action: email.positioning, when: "customer.tier == 'smb'", then: flag }\n`,
)

describe('a candidate policy over the API', () => {
  let h: Harness
  afterEach(async () => h?.server.close())

  // Each on an account of its own: the 72-hour limit holds one account's second e-mail.
  let accounts = 0
  const decideGlobex = () =>
    h.call('POST', '/v1/decisions', h.key.marketing, {
      action: { kind: 'email.positioning' },
      customer: { ...globex, accountId: `globex-${++accounts}` },
    })

  it('is set by an admin only, and then every decision is evaluated against it in shadow', async () => {
    h = await harness()
    expect((await h.call('POST', '/v1/admin/candidate', h.key.salesReviewer, { source: next })).status).toBe(
      403,
    )
    const set = await h.call('POST', '/v1/admin/candidate', h.key.admin, { source: next, file: 'next.yaml' })
    expect(set.status).toBe(200)
    expect(set.body.candidate).toMatchObject({ file: 'next.yaml', by: 'ops', signOffs: [] })
    const decision = await decideGlobex()
    expect(decision.body.verdict).toBe('go')
    const report = await h.call('GET', '/v1/admin/candidate/report?since=1h', h.key.admin)
    expect(report.status).toBe(200)
    expect(report.body).toMatchObject({
      decisions: 1,
      flips: { 'go→flag': 1 },
      topRules: [{ rule: 'smb-positioning-review', flips: 1 }],
      baseline: { nowHeld: 1, examples: [{ decisionId: decision.body.id, before: 'go', now: 'flag' }] },
    })
    expect((await h.call('GET', '/v1/reviews', h.key.admin)).body.reviews).toEqual([])
  })

  it("a report's since is a duration or a date within a century back and not after now: anything else is a 400, never a 500", async () => {
    h = await harness()
    const report = (since: string) =>
      h.call('GET', `/v1/admin/candidate/report?since=${encodeURIComponent(since)}`, h.key.admin)
    // No candidate: the same conflict as promoting without one.
    expect((await report('24h')).body.error).toMatchObject({ code: 'NO_CANDIDATE' })
    expect((await report('24h')).status).toBe(409)
    await h.call('POST', '/v1/admin/candidate', h.key.admin, { source: next })
    // 99999999999d was a 500 (an invalid Date); 0 read as the year 2000; 2026-02-30 as March 2.
    for (const since of [
      '99999999999d',
      '9999999999999999999999h',
      '0',
      '1',
      '2026-02-30',
      '2999-01-01',
      'abc',
    ]) {
      const r = await report(since)
      expect(r.status, since).toBe(400)
      expect(r.body.error, since).toMatchObject({ code: 'BAD_SINCE' })
      expect(r.body.error.message, since).not.toMatch(/since: since/)
    }
    for (const since of ['24h', '7d', '2026-01-01', '2026-01-01T09:00:00Z'])
      expect((await report(since)).status, since).toBe(200)
  })

  it('takes a candidate policy of hundreds of kilobytes (the schema allows a million characters), and refuses one over', async () => {
    h = await harness()
    // 400 KB of comments after the policy: far over the server's 64 KiB for small requests.
    const big = `${next}\n${'# padding padding padding padding padding padding padding padding\n'.repeat(6000)}`
    expect(big.length).toBeGreaterThan(300_000)
    expect((await h.call('POST', '/v1/admin/candidate', h.key.admin, { source: big })).status).toBe(200)
    const over = await h.call('POST', '/v1/admin/candidate', h.key.admin, { source: 'x'.repeat(1_000_001) })
    expect(over.status).toBe(400)
  })

  it("an agent's key may not sign off, and is told in words who may", async () => {
    h = await harness()
    await h.call('POST', '/v1/admin/candidate', h.key.admin, { source: next })
    const r = await h.call('POST', '/v1/admin/candidate/sign-offs', h.key.marketing, {})
    expect(r.status).toBe(403)
    expect(r.body.error.message).toBe(
      'an agent key may not sign off on the candidate; a reviewer key, or an admin key, may',
    )
  })

  it('refuses a candidate that does not load, with every issue', async () => {
    h = await harness()
    const bad = await h.call('POST', '/v1/admin/candidate', h.key.admin, { source: 'version: 2' })
    expect(bad.status).toBe(422)
    expect((await h.call('GET', '/v1/admin/candidate', h.key.admin)).body.candidate).toBeUndefined()
  })

  it('is promoted only once every team it changes things for has signed off, or an admin overrides', async () => {
    h = await harness()
    await h.call('POST', '/v1/admin/candidate', h.key.admin, { source: next })
    await decideGlobex()
    const state = (await h.call('GET', '/v1/admin/candidate', h.key.salesReviewer)).body
    // Marketing's rule changed (and its decision flipped); the flag would go to sales, the default team.
    expect(state.candidate).toMatchObject({
      required: ['marketing', 'sales'],
      missing: ['marketing', 'sales'],
    })
    const refused = await h.call('POST', '/v1/admin/policy/promote', h.key.admin, {})
    expect(refused.status).toBe(409)
    expect(refused.body.error).toMatchObject({ code: 'SIGN_OFF_MISSING', teams: ['marketing', 'sales'] })
    const signed = await h.call('POST', '/v1/admin/candidate/sign-offs', h.key.salesReviewer, {
      note: 'we can take the load',
    })
    expect(signed.body.candidate.missing).toEqual(['marketing'])
    // A reviewer signs for its own team only.
    const other = await h.call('POST', '/v1/admin/candidate/sign-offs', h.key.salesReviewer, {
      team: 'marketing',
    })
    expect(other.status).toBe(403)
    expect((await h.call('POST', '/v1/admin/policy/promote', h.key.admin, {})).status).toBe(409)
    const overridden = await h.call('POST', '/v1/admin/policy/promote', h.key.admin, {
      override: true,
      note: 'launch',
    })
    expect(overridden.status).toBe(200)
    expect(overridden.body.live).toMatchObject({ promoted: true, by: 'ops' })
    expect(overridden.body.history.at(-1)).toMatchObject({
      event: 'promote',
      by: 'ops',
      override: true,
      required: ['marketing', 'sales'],
      signOffs: [{ team: 'sales', by: 'sales-reviewers', note: 'we can take the load' }],
    })
    expect((await decideGlobex()).body.verdict).toBe('flag')
    const back = await h.call('POST', '/v1/admin/policy/rollback', h.key.admin, {})
    expect(back.body.history.at(-1)).toMatchObject({ event: 'rollback', by: 'ops' })
    expect((await decideGlobex()).body.verdict).toBe('go')
  })

  it('promotes with every sign-off given, no override recorded', async () => {
    h = await harness()
    await h.call('POST', '/v1/admin/candidate', h.key.admin, { source: next })
    await decideGlobex()
    await h.call('POST', '/v1/admin/candidate/sign-offs', h.key.salesReviewer, {})
    await h.call('POST', '/v1/admin/candidate/sign-offs', h.key.admin, { team: 'marketing', note: 'ok' })
    const promoted = await h.call('POST', '/v1/admin/policy/promote', h.key.admin, {})
    expect(promoted.status).toBe(200)
    expect(promoted.body.history.at(-1).override).toBeUndefined()
    expect(promoted.body.candidate).toBeUndefined()
  })

  it('records a promotion and a rollback in the decision log, with who did it and whether it was an override', async () => {
    const lines: string[] = []
    h = await harness({ decisionLog: { write: (line) => void lines.push(line) } })
    const policyLines = () => lines.map((line) => JSON.parse(line)).filter((entry) => entry.type === 'policy')
    const before = (await h.call('GET', '/v1/admin/candidate', h.key.admin)).body.live.version
    const set = await h.call('POST', '/v1/admin/candidate', h.key.admin, { source: next })
    const candidate = set.body.candidate.version
    await decideGlobex()
    await h.call('POST', '/v1/admin/candidate/sign-offs', h.key.salesReviewer, {
      note: 'we can take the load',
    })
    // A refused promotion changes nothing, and records nothing.
    expect((await h.call('POST', '/v1/admin/policy/promote', h.key.admin, {})).status).toBe(409)
    expect(policyLines()).toEqual([])
    const promoted = await h.call('POST', '/v1/admin/policy/promote', h.key.admin, {
      override: true,
      note: 'launch',
    })
    expect(promoted.status).toBe(200)
    expect(policyLines()).toEqual([
      {
        at: promoted.body.history.at(-1).at,
        type: 'policy',
        event: 'promoted',
        version: candidate,
        previousVersion: before,
        by: 'ops',
        override: true,
        note: 'launch',
        signOffs: [
          { team: 'sales', by: 'sales-reviewers', at: expect.any(String), note: 'we can take the load' },
        ],
      },
    ])
    const back = await h.call('POST', '/v1/admin/policy/rollback', h.key.admin, {})
    expect(back.status).toBe(200)
    expect(policyLines()).toHaveLength(2)
    expect(policyLines()[1]).toEqual({
      at: back.body.history.at(-1).at,
      type: 'policy',
      event: 'rolled-back',
      version: before,
      previousVersion: candidate,
      by: 'ops',
    })
    // The decisions' lines are there too, each without a type.
    expect(lines.map((line) => JSON.parse(line)).filter((entry) => !entry.type)).toHaveLength(1)
  })
})
