import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ConsoleDemo, startConsoleDemo } from '@remit/example-seed-week/console-demo'
import type { Browser, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accessible, launchChromium, signInWith } from './browser.ts'

// The queue groups open flags per customer; a reviewer answers a customer's flags together, through
// the same 5 s undo as one answer, each approval bound to the digest its card showed.
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

/** A new flag for the customer, routed to sales (a renewal: the trigger and sales's ownership flag it). */
async function flag(accountId: string, email?: string): Promise<string> {
  const d = await demo.server.remit.decide(
    { tool: 'hubspot:workflow/1001' },
    {
      action: { kind: 'email.positioning' },
      customer: { accountId, ...(email ? { email } : {}), facts: { lifecycle: 'renewal', tier: 'smb' } },
    },
  )
  return d.reviewId as string
}

const review = (id: string) => demo.server.remit.reviews.get(id)
const status = async (id: string) => (await review(id))?.status

/** Pending flags left by a test are rejected, so the next one starts from the seed's queue. */
async function clear(...ids: string[]): Promise<void> {
  for (const id of ids)
    if ((await status(id)) === 'pending') await demo.server.remit.reviews.reject(id, { by: 'test' })
}

describe('the queue, grouped per customer', () => {
  it('shows one group per customer; "Approve all 2" waits 5 s, then approves both with their digests, reported per item, the other customer untouched', async () => {
    const first = await flag('wonka', 'charlie@wonka.example')
    const second = await flag('wonka', 'charlie@wonka.example')
    const other = await flag('gringotts')
    try {
      const page = await signInWith(browser, demo.url, demo.keys.sales)
      const wonka = page.locator('li.group', { has: page.locator(`li.card[data-review="${first}"]`) })
      const gringotts = page.locator('li.group', { has: page.locator(`li.card[data-review="${other}"]`) })
      await wonka.waitFor()
      // Two groups: both of wonka's flags in one, gringotts's in its own.
      await expect(wonka.locator('li.card').count()).resolves.toBe(2)
      await expect(wonka.locator(`li.card[data-review="${second}"]`).count()).resolves.toBe(1)
      await expect(gringotts.locator('li.card').count()).resolves.toBe(1)
      await expect(gringotts.locator(`li.card[data-review="${first}"]`).count()).resolves.toBe(0)
      // The header: the customer with its address, how many, who wants what, the timeline.
      await expect(wonka.locator('.group-head h2').textContent()).resolves.toBe(
        'wonka · charlie@wonka.example',
      )
      await expect(wonka.locator('.group-what').textContent()).resolves.toMatch(
        /^2 flags: marketing-agent wants email\.positioning \(2\)\. Timeline of wonka$/,
      )
      await expect(wonka.getByRole('link', { name: 'Timeline of wonka' }).getAttribute('href')).resolves.toBe(
        '#/timeline/wonka',
      )
      // One flag: its card's own buttons answer it; no "all 1".
      await expect(gringotts.getByRole('button', { name: /all/ }).count()).resolves.toBe(0)
      // Soonest expiry first: wonka's flags were asked before gringotts's.
      const order = await page
        .locator('li.group')
        .evaluateAll((els) => els.map((el) => el.querySelector('.group-head h2')?.textContent))
      expect(order.indexOf('wonka · charlie@wonka.example')).toBeLessThan(order.indexOf('gringotts'))
      await expect(page.locator('.help').textContent()).resolves.toContain('A / R')
      await page.screenshot({ path: join(artifacts, 'console-queue-groups.png'), fullPage: true })
      await accessible(page, 'grouped queue')

      const sent: Request[] = []
      page.on('request', (r) => {
        if (r.url().endsWith('/v1/console/reviews/bulk')) sent.push(r)
      })
      const shownDigests = await wonka
        .locator('li.card')
        .evaluateAll((els) =>
          els.map((el) => [(el as HTMLElement).dataset.review, (el as HTMLElement).dataset.digest]),
        )
      await wonka.getByLabel('Note for all 2 flags for wonka').fill('both fine')
      const clicked = Date.now()
      await wonka.getByRole('button', { name: 'Approve all 2' }).click()
      await page
        .locator('#undo', { hasText: 'Approving: all 2 flags for wonka · charlie@wonka.example' })
        .waitFor()
      // One answer at a time: the group's is the one waiting, so a single a answers nothing.
      await page.locator(`li.card[data-review="${other}"] h2`).click()
      await page.keyboard.press('a')
      await page.locator('#status', { hasText: 'One answer at a time' }).waitFor()
      await page.waitForTimeout(3000)
      expect(await status(first)).toBe('pending')
      expect(await status(second)).toBe('pending')
      expect(sent).toHaveLength(0)
      await page.locator('#status', { hasText: /approved|Could not/ }).waitFor({ timeout: 15_000 })
      // Each item reported: one touch per account per 72 h, so the second approval meets a stop.
      await expect(page.locator('#status').textContent()).resolves.toBe(
        '1 of 2 approved; 1 refused: a stop now holds: at most 1 outbound touch per account per 72h: 1 already in the window',
      )
      expect(Date.now() - clicked).toBeGreaterThanOrEqual(5000)
      expect(sent).toHaveLength(1)
      const body = sent[0]?.postDataJSON()
      expect(body).toEqual({
        action: 'approve',
        note: 'both fine',
        items: shownDigests.map(([id, digest]) => ({ id, digest })),
      })
      // Both approved, each bound to the digest its card showed; the first goes, the second's stop wins.
      for (const [id, outcome] of [
        [first, 'go'],
        [second, 'stop'],
      ] as const) {
        const r = await review(id)
        expect(r).toMatchObject({
          status: 'approved',
          outcome,
          note: 'both fine',
          resolvedBy: 'Dana (sales manager)',
        })
        expect(body.items.find((i: { id: string }) => i.id === id).digest).toBe(r?.digest)
      }
      expect(await status(other)).toBe('pending')
      await wonka.waitFor({ state: 'detached', timeout: 10_000 })
      await page.locator(`li.card[data-review="${other}"]`).waitFor()
      await page.close()
    } finally {
      await clear(first, second, other)
    }
  })

  it("R answers the current card's whole group, and u within the window sends nothing", async () => {
    const first = await flag('stark')
    const second = await flag('stark')
    const other = await flag('wayne-ent')
    try {
      const page = await signInWith(browser, demo.url, demo.keys.sales)
      const sent: string[] = []
      page.on('request', (r) => {
        if (r.method() === 'POST' && r.url().includes('/v1/')) sent.push(r.url())
      })
      const card = page.locator(`li.card[data-review="${second}"]`)
      await card.locator('h2').click()
      await page.keyboard.press('Shift+R')
      await page.locator('#undo', { hasText: 'Rejecting: all 2 flags for stark' }).waitFor()
      await expect(page.locator('li.card.answering').count()).resolves.toBe(2)
      await page.keyboard.press('u')
      await page.locator('#status', { hasText: 'undone' }).waitFor()
      // Past the time it would have been sent: nothing answered, nothing sent.
      await page.waitForTimeout(6000)
      expect(sent).toEqual([])
      for (const id of [first, second, other]) expect(await status(id)).toBe('pending')
      // The group button, undone likewise.
      const stark = page.locator('li.group', { has: card })
      await stark.getByRole('button', { name: 'Approve all 2' }).click()
      await page.locator('#undo', { hasText: 'Approving: all 2 flags for stark' }).waitFor()
      await page.locator('#undo').getByRole('button', { name: 'Undo (u)' }).click()
      await page.waitForTimeout(6000)
      expect(sent).toEqual([])
      for (const id of [first, second, other]) expect(await status(id)).toBe('pending')
      await page.close()
    } finally {
      await clear(first, second, other)
    }
  })
})
