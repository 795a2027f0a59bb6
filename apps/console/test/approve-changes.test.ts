import { fileURLToPath } from 'node:url'
import { type ConsoleDemo, startConsoleDemo } from '@remit/example-seed-week/console-demo'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accessible, launchChromium, signInWith } from './browser.ts'

// Approve with changes from the review card, in Debian's Chromium: the week's policy lets a reviewer
// change an offer's discountPct (reviewerMayChange), and Remit decides the changed request again.
let demo: ConsoleDemo
let browser: Browser

beforeAll(async () => {
  demo = await startConsoleDemo({ consoleDir: fileURLToPath(new URL('../dist', import.meta.url)) })
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await demo?.close()
})

/** A 20% offer from the sales agent: over its 15% permission, so flagged to sales. */
async function offer(accountId: string): Promise<string> {
  const d = await demo.server.remit.decide(
    { agent: 'sales-agent' },
    {
      action: { kind: 'offer.discount', discountPct: 20 },
      customer: { accountId, facts: { lifecycle: 'customer', tier: 'smb' } },
      // Its caller can send the offer with a reviewer's discount.
      acceptsChanges: ['discountPct'],
    },
  )
  expect(d.verdict).toBe('flag')
  return d.reviewId as string
}

describe('approve with changes in the console', () => {
  it('lowered to 12% on the card, it waits out the undo, then goes as changed', async () => {
    const id = await offer('hooli')
    const page = await signInWith(browser, demo.url, demo.keys.sales)
    const card = page.locator(`li.card[data-review="${id}"]`)
    const change = card.getByRole('region', { name: 'Change before approving' })
    const field = change.getByLabel('New discountPct')
    await expect(field.inputValue()).resolves.toBe('20')
    await field.fill('12')
    await change.getByRole('button', { name: 'Approve with changes' }).click()
    await page.locator('#undo', { hasText: 'changed to discountPct 12' }).waitFor()
    await page.locator('#status', { hasText: 'Approved' }).waitFor({ timeout: 15_000 })
    const review = await demo.server.remit.reviews.get(id)
    expect(review).toMatchObject({
      status: 'approved',
      outcome: 'go',
      changes: { attributes: { discountPct: 12 } },
    })
    const { touches } = await demo.server.remit.timeline('hooli')
    expect(touches.map((t) => t.attributes)).toEqual([{ discountPct: 12 }])
    await page.close()
  })

  it('a change Remit refuses (a hard stop) leaves the flag pending, and the card says why', async () => {
    const id = await offer('pied-piper')
    try {
      const page = await signInWith(browser, demo.url, demo.keys.sales)
      const card = page.locator(`li.card[data-review="${id}"]`)
      const change = card.getByRole('region', { name: 'Change before approving' })
      await accessible(page, 'approve-changes')
      // Not a number: said on the card, nothing waits.
      await change.getByLabel('New discountPct').fill('')
      await change.getByRole('button', { name: 'Approve with changes' }).click()
      await expect(change.getByRole('alert').textContent()).resolves.toBe('discountPct: enter a number')
      await expect(page.locator('#undo').textContent()).resolves.toBe('')
      // As asked: nothing to send as a change.
      await change.getByLabel('New discountPct').fill('20')
      await change.getByRole('button', { name: 'Approve with changes' }).click()
      await expect(change.getByRole('alert').textContent()).resolves.toContain('Nothing is changed')
      // Another e-mail already went to pied-piper: one touch per 72 h stops any change.
      await demo.server.remit.recordTouch({
        accountId: 'pied-piper',
        kind: 'email.positioning',
        channel: 'email',
      })
      await change.getByLabel('New discountPct').fill('10')
      await change.getByRole('button', { name: 'Approve with changes' }).click()
      await page.locator('#status', { hasText: 'Could not approve' }).waitFor({ timeout: 15_000 })
      await expect(page.locator('#status').textContent()).resolves.toContain('the changed request is stopped')
      expect((await demo.server.remit.reviews.get(id))?.status).toBe('pending')
      await page.close()
    } finally {
      await demo.server.remit.reviews.reject(id, { by: 'test' })
    }
  })

  it('a flag whose caller cannot send it changed (a HubSpot workflow) shows no change section', async () => {
    const d = await demo.server.remit.decide(
      { tool: 'hubspot:workflow/1001' },
      {
        action: { kind: 'email.positioning' },
        customer: { accountId: 'globex-2', facts: { lifecycle: 'renewal', tier: 'smb' } },
      },
    )
    try {
      const page = await signInWith(browser, demo.url, demo.keys.sales)
      const card = page.locator(`li.card[data-review="${d.reviewId}"]`)
      await card.waitFor()
      expect(await card.getByRole('region', { name: 'Change before approving' }).count()).toBe(0)
      await page.close()
    } finally {
      await demo.server.remit.reviews.reject(d.reviewId as string, { by: 'test' })
    }
  })
})
