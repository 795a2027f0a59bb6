import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ConsoleDemo, startConsoleDemo } from '@remit/example-seed-week/console-demo'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accessible, launchChromium, signInWith } from './browser.ts'

// The candidate page end to end, on a server of its own (promotion changes the live policy): a
// candidate adding a trigger runs in shadow, its flips show and move live, sales signs off, and an
// admin can promote only once every team has signed (or says it overrides), then rolls back.
const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url))
let demo: ConsoleDemo
let browser: Browser
let live: string
let candidate: string

/** The demo's policy plus a trigger flagging marketing's positioning e-mails to smb customers (reviewed by sales). */
const withTrigger = (policy: string) =>
  policy.replace(
    'triggers:\n',
    `triggers:\n  - { id: smb-positioning-review, team: marketing, action: email.positioning, when: "customer.tier == 'smb' && customer.lifecycle == 'customer'", then: flag }\n`,
  )

const admin = async (path: string, body: unknown) => {
  const res = await fetch(`${demo.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${demo.keys.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(res.status, path).toBe(200)
  return (await res.json()) as { live: { version: string }; candidate?: { version: string } }
}

/** A positioning e-mail to an smb customer: the live policy lets it go, the candidate would flag it. */
let accounts = 0
const decideSmb = () =>
  demo.server.remit.decide(
    { tool: 'hubspot:workflow/1001' },
    {
      action: { kind: 'email.positioning' },
      customer: { accountId: `initech-${++accounts}`, facts: { lifecycle: 'customer', tier: 'smb' } },
    },
  )

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  demo = await startConsoleDemo({ consoleDir: fileURLToPath(new URL('../dist', import.meta.url)) })
  browser = await launchChromium()
  const set = await admin('/v1/admin/candidate', {
    source: withTrigger(readFileSync(demo.policyPath, 'utf8')),
    file: 'next.yaml',
  })
  live = set.live.version
  candidate = set.candidate?.version as string
  for (let i = 0; i < 2; i++) expect((await decideSmb()).verdict).toBe('go')
})
afterAll(async () => {
  await browser?.close()
  await demo?.close()
})

describe('the candidate page', () => {
  it('shows the flips of a candidate that adds a trigger, and new ones appear without a reload', async () => {
    const page = await signInWith(browser, demo.url, demo.keys.sales)
    await page.goto(`${demo.url}/console/#/candidate`)
    await page.getByRole('heading', { name: 'Candidate policy' }).waitFor()
    await expect(page.locator('#candidate-version').textContent()).resolves.toContain(
      `Candidate: version ${candidate} (next.yaml), set by ops`,
    )
    const flips = page.locator('#flips tbody tr', { hasText: 'go→flag' })
    await expect(flips.locator('td').textContent()).resolves.toBe('2')
    await expect(page.locator('#top-rules').textContent()).resolves.toContain('smb-positioning-review')
    // Sales would review them: the candidate's column counts them against sales's capacity of 40.
    const today = new Date().toISOString().slice(0, 10)
    const load = page.locator('#review-load tbody tr', { hasText: today }).filter({ hasText: 'sales' })
    await expect(load.locator('td').allTextContents()).resolves.toEqual([
      today,
      expect.any(String),
      expect.any(String),
      '40',
      '',
    ])
    const [liveFlags, shadowFlags] = (await load.locator('td').allTextContents()).slice(1, 3).map(Number)
    expect((shadowFlags as number) - (liveFlags as number)).toBe(2)
    expect(await page.locator('#examples tbody tr').count()).toBe(2)
    expect(await page.locator('#sign-off-table tbody tr').allTextContents()).toEqual([
      'marketingyesnot yet',
      'salesyesnot yet',
    ])
    await page.screenshot({ path: join(artifacts, 'console-candidate.png'), fullPage: true })
    await accessible(page, 'candidate')

    await decideSmb()
    await expect.poll(() => flips.locator('td').textContent(), { timeout: 10_000, interval: 250 }).toBe('3')
    expect(await page.locator('#examples tbody tr').count()).toBe(3)

    // An example opens the decision log with that decision explained.
    await page
      .locator('#examples tbody tr')
      .first()
      .getByRole('link', { name: /^Explain/ })
      .click()
    await page.locator('#explanation .because').waitFor()
    await expect(page.locator('#explanation').textContent()).resolves.toContain('mkt-positioning')
    await page.close()
  })

  it('a reviewer signs off for its own team with a note, and sees no promote', async () => {
    const page = await signInWith(browser, demo.url, demo.keys.sales)
    await page.goto(`${demo.url}/console/#/candidate`)
    await page.getByRole('heading', { name: 'Sign off for sales' }).waitFor()
    expect(await page.getByRole('button', { name: /^Promote/ }).count()).toBe(0)
    await page.getByLabel('Note (optional)').fill('we can take the load')
    await page.getByRole('button', { name: 'Sign off for sales' }).click()
    await page.locator('#status', { hasText: 'sales signed off' }).waitFor()
    const row = page.locator('#sign-off-table tbody tr', { hasText: 'sales' })
    await expect.poll(() => row.textContent()).toContain('Dana (sales manager)')
    expect(await row.textContent()).toContain('we can take the load')
    await expect(page.locator('#missing').textContent()).resolves.toBe('Promotion waits for: marketing.')
    await expect(page.locator('#history').textContent()).resolves.toContain('signed off for sales')
    await accessible(page, 'candidate, signed')
    await page.close()
  })

  it('promote is disabled, naming the teams missing, until every team has signed; then an admin promotes and rolls back', async () => {
    const page = await signInWith(browser, demo.url, demo.keys.admin, { width: 390, height: 844 })
    await page.goto(`${demo.url}/console/#/candidate`)
    const promote = page.getByRole('button', { name: `Promote ${candidate}` })
    await promote.waitFor()
    expect(await promote.isDisabled()).toBe(true)
    await expect(page.locator('#promote-waits').textContent()).resolves.toBe(
      'Waiting for a sign-off from: marketing.',
    )
    // The override is explicit, and says it is recorded as one.
    const override = page.getByRole('checkbox', { name: /Promote without every sign-off/ })
    await override.check()
    expect(await promote.isEnabled()).toBe(true)
    await override.uncheck()
    expect(await promote.isDisabled()).toBe(true)
    expect(await page.locator('#candidate-actions').textContent()).toContain(
      'Recorded in the history as an override',
    )
    await accessible(page, 'candidate, admin')
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)

    // Marketing signs (an admin naming the team): the page sees it without a reload.
    await admin('/v1/admin/candidate/sign-offs', { team: 'marketing', note: 'fine by us' })
    await expect.poll(() => promote.isEnabled(), { timeout: 10_000, interval: 250 }).toBe(true)
    await page.locator('#promote-note').fill('both teams agreed')
    await promote.click()
    await page.locator('#status', { hasText: `Promoted ${candidate}` }).waitFor()
    expect(demo.server.remit.policy.version).toBe(candidate)
    await expect
      .poll(() => page.locator('#candidate-summary').textContent())
      .toContain(`Live: version ${candidate}, promoted by ops`)
    await expect(page.locator('#no-candidate').count()).resolves.toBe(1)
    const promoted = page.locator('#history tbody tr', { hasText: 'promoted' })
    await expect(promoted.textContent()).resolves.toContain(`(was ${live})`)
    await expect(promoted.textContent()).resolves.toContain('both teams agreed')

    await page.getByRole('button', { name: `Roll back to ${live}` }).click()
    await page.locator('#status', { hasText: `Rolled back to ${live}` }).waitFor()
    expect(demo.server.remit.policy.version).toBe(live)
    // The history is redrawn a moment after the status line: wait for it, bounded.
    await expect.poll(() => page.locator('#history tbody tr').first().textContent()).toContain('rolled back')
    await page.close()
  })
})
