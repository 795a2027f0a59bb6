import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKey, keyLine } from '@remit/server'
import { afterEach, describe, expect, it } from 'vitest'
import { clusterFiles, dropSchema, type Instance, startInstance } from './cluster.ts'
import { remit } from './remit.ts'
import { startServe } from './serve-process.ts'

// A candidate policy across two `remit serve` processes sharing one PostgreSQL database: set on one,
// run in shadow on both, reported, signed off, promoted on both and rolled back on both.
let instances: Instance[] = []
let schema = ''
afterEach(async () => {
  for (const i of instances) i.process.kill('SIGKILL')
  instances = []
  if (schema) await dropSchema(schema)
})

const health = async (i: Instance) =>
  ((await (await fetch(`${i.url}/healthz`)).json()) as { policyVersion: string }).policyVersion

/** Waits until every instance serves `version` (they look at the store every 2 s). */
async function serving(version: string): Promise<void> {
  const until = Date.now() + 15_000
  while ((await Promise.all(instances.map(health))).some((v) => v !== version)) {
    if (Date.now() > until)
      throw new Error(`instances serve ${await Promise.all(instances.map(health))}, not ${version}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe('a candidate policy on two instances sharing PostgreSQL', () => {
  it('runs in shadow on both, is promoted on both after sign-off, and rolled back on both', {
    timeout: 90_000,
  }, async () => {
    const files = clusterFiles()
    schema = files.schema
    const admin = generateKey()
    const salesReviewer = generateKey()
    const marketingReviewer = generateKey()
    appendFileSync(
      files.keys,
      [
        keyLine({ name: 'ops', admin: true }, admin),
        keyLine({ name: 'dana', reviewer: 'sales' }, salesReviewer),
        keyLine({ name: 'mia', reviewer: 'marketing' }, marketingReviewer),
      ].join('\n'),
    )
    const live = readFileSync(files.policy, 'utf8')
    const next = join(files.dir, 'next.yaml')
    writeFileSync(
      next,
      live.replace(
        'triggers:\n',
        `triggers:\n  - { id: smb-review, team: marketing, when: "customer.tier == 'smb'", then: flag }\n`,
      ),
    )
    const a = await startServe([
      '--policy',
      files.policy,
      '--store',
      files.store,
      '--keys',
      files.keys,
      '--candidate',
      next,
    ])
    instances.push(a)
    instances.push(await startInstance(files))
    const [liveVersion] = await Promise.all(instances.map(health))
    let n = 0
    const decide = async (i: Instance) => {
      const res = await fetch(`${i.url}/v1/decisions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${files.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          action: { kind: 'email.positioning' },
          customer: { accountId: `acct-${++n}`, facts: { lifecycle: 'customer', tier: 'smb' } },
        }),
      })
      return ((await res.json()) as { verdict: string }).verdict
    }
    // Both instances run the candidate: each decision goes, and each is recorded as a flip.
    expect(await Promise.all(instances.map(decide))).toEqual(['go', 'go'])
    const server = ['--server', a.url]
    const report = await remit('candidate', 'report', ...server, '--key', admin, '--since', '1h')
    expect(report.code).toBe(0)
    expect(report.out).toContain('2 live decisions; the candidate would have answered 2 otherwise')
    expect(report.out).toContain('flips: go→flag 2')
    expect(report.out).toMatch(/smb-review\s+2/)
    const json = JSON.parse((await remit('candidate', 'report', ...server, '--key', admin, '--json')).out)
    expect(json.baseline).toMatchObject({ nowHeld: 2, nowSent: 0 })

    // Marketing's rule changed and its decisions flipped; sales reviews the flags: both must agree.
    const refused = await remit('promote', ...server, '--key', admin)
    expect(refused.code).toBe(1)
    expect(refused.err).toContain('still needs sign-off from marketing, sales (SIGN_OFF_MISSING)')
    expect(
      (await remit('candidate', 'sign-off', ...server, '--key', salesReviewer, '--note', 'ok')).code,
    ).toBe(0)
    expect((await remit('promote', ...server, '--key', salesReviewer)).code).toBe(1)
    expect((await remit('candidate', 'sign-off', ...server, '--key', marketingReviewer)).code).toBe(0)
    const promoted = await remit('promote', ...server, '--key', admin, '--note', 'go live')
    expect(promoted.code).toBe(0)
    const candidateVersion = json.candidateVersion as string
    await serving(candidateVersion)
    expect(await Promise.all(instances.map(decide))).toEqual(['flag', 'flag'])

    const back = await remit('rollback', ...server, '--key', admin)
    expect(back.code).toBe(0)
    await serving(liveVersion as string)
    expect(await Promise.all(instances.map(decide))).toEqual(['go', 'go'])
    const history = JSON.parse(
      (await remit('candidate', 'show', ...server, '--key', admin, '--json')).out,
    ).history
    expect(history.map((h: { event: string; by: string; team?: string }) => [h.event, h.by, h.team])).toEqual(
      [
        ['candidate', 'serve --candidate', undefined],
        ['sign-off', 'dana', 'sales'],
        ['sign-off', 'mia', 'marketing'],
        ['promote', 'ops', undefined],
        ['rollback', 'ops', undefined],
      ],
    )
  })
})
