import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ConsoleDemo, startConsoleDemo } from '@remit/example-seed-week/console-demo'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accessible, launchChromium, signInWith } from './browser.ts'

// The review card a reviewer decides from, and answers that can be undone, in Debian's Chromium.
const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url))
let demo: ConsoleDemo
let browser: Browser

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  demo = await startConsoleDemo({ consoleDir: fileURLToPath(new URL('../dist', import.meta.url)) })
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
  await demo?.close()
})

/** A new flag for `accountId`, routed to sales (a renewal: the trigger and sales's ownership flag it). */
async function flag(accountId: string): Promise<string> {
  const d = await demo.server.remit.decide(
    { tool: 'hubspot:workflow/1001' },
    {
      action: { kind: 'email.positioning' },
      customer: { accountId, facts: { lifecycle: 'renewal', tier: 'smb' } },
    },
  )
  return d.reviewId as string
}

const status = async (id: string) => (await demo.server.remit.reviews.get(id))?.status

/** Signed in as sales, with the card of `reviewId` current (clicked, as a reviewer would). */
async function onCard(reviewId: string): Promise<Page> {
  const page = await signInWith(browser, demo.url, demo.keys.sales)
  const card = page.locator(`li.card[data-review="${reviewId}"]`)
  await card.locator('h2').click()
  await expect(card.getAttribute('class')).resolves.toContain('current')
  return page
}

describe('the review card', () => {
  it('shows the rules that caused the flag apart from the permission that only matched, what approving does, and when it was asked', async () => {
    const unroute = demo.server.remit.outbox.route('hubspot', (review) => ({ review: review.id }))
    const id = await flag('soylent')
    try {
      const page = await onCard(id)
      const card = page.locator(`li.card[data-review="${id}"]`)
      const causes = await card.getByRole('list', { name: 'Rules that caused the flag' }).textContent()
      expect(causes).toContain('renewal-flag (trigger)')
      expect(causes).not.toContain('mkt-positioning')
      // Folded away, and there to open.
      const matched = card.locator('details.matched')
      await matched.locator('summary').click()
      await expect(
        matched.getByRole('list', { name: 'Rules that only matched' }).textContent(),
      ).resolves.toContain('mkt-positioning (permission)')
      // No preview: the action and its attributes are what will be sent.
      await expect(card.getByRole('region', { name: 'What will be sent' }).textContent()).resolves.toContain(
        'No preview: email.positioning',
      )
      const approving = (await card.getByRole('region', { name: 'What approving does' }).textContent()) ?? ''
      expect(approving).toContain('Re-checks stops and limits')
      expect(approving).toContain('HubSpot: resumes workflow 1001')
      // Days, not "expires in 335 h"; and when the agent asked, relative and absolute.
      await expect(card.locator('.when').textContent()).resolves.toMatch(
        /^Asked (just now|\d+ min ago) \(.+ UTC\); expires in 1[34] d( \d+ h)? \(.+ UTC\)\.$/,
      )
      await expect(card.getByRole('link', { name: "soylent's timeline" }).getAttribute('href')).resolves.toBe(
        '#/timeline/soylent',
      )
      await card.screenshot({ path: join(artifacts, 'console-review-card.png') })
      await accessible(page, 'review card')
      // The explanation opens with the focus on it.
      await card.getByRole('link', { name: 'Explain this decision' }).click()
      await page.locator('#explanation .because').waitFor()
      await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('explanation')
      await page.close()
    } finally {
      unroute()
      await demo.server.remit.reviews.reject(id, { by: 'test' })
    }
  })

  it("on a phone, the title, the capacity and a card's buttons stay on screen while it scrolls", async () => {
    const id = await flag('massive-dynamic')
    try {
      const page = await signInWith(browser, demo.url, demo.keys.sales, { width: 390, height: 844 })
      const card = page.locator(`li.card[data-review="${id}"]`)
      await card.waitFor()
      // Halfway down the card: its top is long gone, its bottom not yet there.
      await card.evaluate((el: HTMLElement) => window.scrollTo(0, el.offsetTop + el.offsetHeight / 2 - 422))
      const seen = async (selector: string) => {
        const box = await page.locator(selector).boundingBox()
        return box !== null && box.y >= 0 && box.y + box.height <= 844
      }
      const box = await card.boundingBox()
      expect(box && box.y < 0 && box.y + box.height > 844).toBe(true)
      await expect(seen('h1')).resolves.toBe(true)
      await expect(seen('#capacity')).resolves.toBe(true)
      await expect(seen(`li.card[data-review="${id}"] button.approve`)).resolves.toBe(true)
      await expect(page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(
        390,
      )
      await page.screenshot({ path: join(artifacts, 'console-phone-card.png') })
      await accessible(page, 'phone card')
      await page.close()
    } finally {
      await demo.server.remit.reviews.reject(id, { by: 'test' })
    }
  })

  it('an approval by key waits, and u undoes it: nothing is answered', async () => {
    const id = await flag('tyrell')
    try {
      const page = await onCard(id)
      await page.keyboard.press('a')
      await page.locator('#undo', { hasText: 'Approving' }).waitFor()
      await page.keyboard.press('u')
      await page.locator('#status', { hasText: 'undone' }).waitFor()
      await expect(page.locator('#undo').textContent()).resolves.toBe('')
      // Past the time it would have been sent: still pending.
      await page.waitForTimeout(6000)
      expect(await status(id)).toBe('pending')
      await page.close()
    } finally {
      await demo.server.remit.reviews.reject(id, { by: 'test' })
    }
  })

  it('a double a answers one flag, not the next one too', async () => {
    const first = await flag('cyberdyne')
    const second = await flag('cyberdyne-2')
    try {
      const page = await onCard(first)
      await page.keyboard.press('a')
      await page.keyboard.press('a')
      await page.locator('#status', { hasText: 'Approved' }).waitFor({ timeout: 15_000 })
      await page.locator(`li.card[data-review="${first}"]`).waitFor({ state: 'detached', timeout: 10_000 })
      expect(await status(first)).toBe('approved')
      expect(await status(second)).toBe('pending')
      await page.close()
    } finally {
      await demo.server.remit.reviews.reject(second, { by: 'test' })
    }
  })

  it('Escape leaves the note field for the card, keeping the note; keys typed in the note answer nothing', async () => {
    const id = await flag('initrode')
    try {
      const page = await onCard(id)
      const card = page.locator(`li.card[data-review="${id}"]`)
      const note = card.getByLabel('Note for this answer')
      await note.click()
      await page.keyboard.type('ask Dana')
      await page.keyboard.press('Escape')
      await expect(page.evaluate(() => (document.activeElement as HTMLElement).dataset.review)).resolves.toBe(
        id,
      )
      await expect(note.inputValue()).resolves.toBe('ask Dana')
      await expect(page.locator('#undo').textContent()).resolves.toBe('')
      // Back on the card, the keys act again: r waits to reject, and u undoes it.
      await page.keyboard.press('r')
      await page.locator('#undo', { hasText: 'Rejecting' }).waitFor()
      await page.keyboard.press('u')
      expect(await status(id)).toBe('pending')
      await page.close()
    } finally {
      await demo.server.remit.reviews.reject(id, { by: 'test' })
    }
  })
})
