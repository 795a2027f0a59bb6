import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ConsoleDemo, startConsoleDemo } from '@remit/example-seed-week/console-demo'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accessible, launchChromium, signInWith } from './browser.ts'

// End to end in Debian's Chromium (playwright-core, never a downloaded browser), against a server
// started here with the seed's week loaded and its flags open.
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

function signedIn(
  key: string,
  viewport?: { width: number; height: number },
  init?: () => void,
): Promise<Page> {
  return signInWith(browser, demo.url, key, viewport, init)
}

describe('the console', () => {
  it("sales signs in, sees Monday's flag, approves it with a key press, and Acme's timeline shows the touch", async () => {
    const page = await signedIn(demo.keys.sales)
    const monday = page.locator('li.card', { hasText: 'acme' }).filter({ hasText: 'email.positioning' })
    // The heading can come before the queue's cards: wait for the card itself.
    await monday.first().waitFor()
    await expect(monday.count()).resolves.toBe(1)
    await expect(monday.textContent()).resolves.toContain(
      'renewal-flag (trigger): Account is in active renewal',
    )
    await expect(page.locator('#capacity').textContent()).resolves.toMatch(
      /sales: \d+ pending; \d+ flagged today of a capacity of 40\/day/,
    )
    await page.screenshot({ path: join(artifacts, 'console-queue.png'), fullPage: true })
    await accessible(page, 'queue')
    // Keyboard-first: move to Monday's card and press a.
    const ids = await page
      .locator('li.card')
      .evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.review))
    const target = await monday.getAttribute('data-review')
    for (let i = 0; i < ids.indexOf(target as string); i++) await page.keyboard.press('j')
    // The approval names the digest of the request the card showed: it approves that and nothing else.
    const digest = await monday.getAttribute('data-digest')
    expect(digest).toMatch(/^[0-9a-f]{64}$/)
    const approval = page.waitForRequest((r) => r.url().endsWith(`/v1/reviews/${target}/approve`))
    await page.keyboard.press('a')
    expect((await approval).postDataJSON()).toMatchObject({ digest })
    await page.locator('#status', { hasText: 'Approved' }).waitFor()
    // The card leaves when the queue is redrawn, which may come a moment after the status line: wait
    // for what the user sees, not a fixed time (a bounded wait; it fails if the card stays).
    await page.locator(`li.card[data-review="${target}"]`).waitFor({ state: 'detached', timeout: 10_000 })

    await page.goto(`${demo.url}/console/#/timeline`)
    await page.getByLabel('Account, contact or e-mail').fill('jane@acme.example')
    await page.getByRole('button', { name: 'Show' }).click()
    await page.getByRole('heading', { name: 'Timeline: acme' }).waitFor()
    const timeline = await page.locator('#timeline').textContent()
    expect(timeline).toContain('review approved by Dana (sales manager) → go')
    expect(timeline).toContain('touch reserved · marketing-agent · email.positioning')
    expect(timeline).toContain('STOP · marketing-agent · email.cold_prospect')
    await page.screenshot({ path: join(artifacts, 'console-timeline.png'), fullPage: true })
    await accessible(page, 'timeline')
    await page.close()
  })

  it('the decision log filters, explains one decision and exports NDJSON; the policy page shows rules and how often they fired', async () => {
    const page = await signedIn(demo.keys.sales)
    await page.goto(`${demo.url}/console/#/log?verdict=stop`)
    await page.locator('#log tbody tr').first().waitFor()
    const rows = await page.locator('#log tbody tr').allTextContents()
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.every((r) => r.includes('stop'))).toBe(true)
    await page
      .locator('#log tbody tr', { hasText: 'email.cold_prospect' })
      .getByRole('button', { name: 'Explain' })
      .click()
    await page.locator('#explanation .because').waitFor()
    await expect(page.locator('#explanation').textContent()).resolves.toContain('no-cold-to-customers')
    const href = await page.getByRole('link', { name: 'Export these as NDJSON' }).getAttribute('href')
    const exported = await page.evaluate(async (u) => (await fetch(u as string)).text(), href)
    expect(
      exported
        .trim()
        .split('\n')
        .every((l) => JSON.parse(l).verdict === 'stop'),
    ).toBe(true)
    await page.screenshot({ path: join(artifacts, 'console-log.png'), fullPage: true })
    await accessible(page, 'log')
    await page.goto(`${demo.url}/console/#/policy`)
    await page.getByRole('heading', { name: 'Triggers' }).waitFor()
    await expect(page.locator('table.rules', { hasText: 'renewal-flag' }).textContent()).resolves.toMatch(
      /renewal-flag.*\d/,
    )
    await page.screenshot({ path: join(artifacts, 'console-policy.png'), fullPage: true })
    await accessible(page, 'policy')
    await page.close()
  })

  it("support signs in and cannot reach sales's queue, not even by crafting a request", async () => {
    const page = await signedIn(demo.keys.support)
    const cards = await page.locator('li.card').allTextContents()
    expect(cards.some((c) => c.includes('acme'))).toBe(false)
    const salesReview = (await demo.server.remit.reviews.list({ status: 'pending', team: 'sales' }))[0]
      ?.id as string
    const crafted = await page.evaluate(async (id) => {
      const s = await (await fetch('/v1/console/session')).json()
      const res = await fetch(`/v1/reviews/${id}/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf },
        body: '{}',
      })
      return res.status
    }, salesReview)
    expect(crafted).toBe(404)
    expect((await demo.server.remit.reviews.get(salesReview))?.status).toBe('pending')
    await accessible(page, 'support queue')
    await page.close()
  })

  it('sets an HttpOnly, SameSite=Strict cookie, and refuses state changes without the CSRF token', async () => {
    const signIn = await fetch(`${demo.url}/v1/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: demo.keys.sales }),
    })
    const cookie = signIn.headers.get('set-cookie') as string
    expect(cookie).toMatch(/^remit_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\//)
    const session = cookie.split(';')[0] as string
    const review = (await demo.server.remit.reviews.list({ status: 'pending', team: 'sales' }))[0]?.id
    const noToken = await fetch(`${demo.url}/v1/reviews/${review}/reject`, {
      method: 'POST',
      headers: { cookie: session, 'content-type': 'application/json' },
      body: '{}',
    })
    expect(noToken.status).toBe(403)
    expect(((await noToken.json()) as { error: { code: string } }).error.code).toBe('CSRF')
    const read = await fetch(`${demo.url}/v1/console/queue`, { headers: { cookie: session } })
    expect(read.status).toBe(200)
    const agentSignIn = await fetch(`${demo.url}/v1/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: demo.keys.marketingAgent }),
    })
    expect(agentSignIn.status).toBe(403)
    // JavaScript in the page cannot read the cookie.
    const page = await signedIn(demo.keys.sales)
    expect(await page.evaluate(() => document.cookie)).toBe('')
    await page.close()
  })

  it('new flags appear without a reload, and it works on a phone-sized screen', async () => {
    const page = await signedIn(demo.keys.sales, { width: 390, height: 844 })
    const before = await page.locator('li.card').count()
    await demo.server.remit.decide(
      { tool: 'hubspot:workflow/1001' },
      {
        action: { kind: 'email.positioning' },
        customer: { accountId: 'hooli', facts: { lifecycle: 'renewal', tier: 'smb' } },
      },
    )
    await page.locator('li.card', { hasText: 'hooli' }).waitFor({ timeout: 10_000 })
    expect(await page.locator('li.card').count()).toBe(before + 1)
    const width = await page.evaluate(() => document.documentElement.scrollWidth)
    expect(width).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(artifacts, 'console-phone.png'), fullPage: true })
    await accessible(page, 'phone')
    await page.close()
  })

  it("a flagged e-mail's card shows its subject, sender, link and text, as text", async () => {
    const remit = demo.server.remit
    const preview = {
      subject: 'Umbrella, your renewal <b>now</b>',
      from: 'news@remit.example',
      text: 'Hi Ana,\n\nthree things changed this quarter. <img src=x onerror="document.title=1">',
      link: 'https://remit.example/renewal',
    }
    const d = await remit.decide(
      { tool: 'hubspot:workflow/1001' },
      {
        action: { kind: 'email.positioning' },
        customer: { accountId: 'umbrella', facts: { lifecycle: 'renewal', tier: 'smb' } },
        preview,
      },
    )
    try {
      const page = await signedIn(demo.keys.sales)
      const card = page.locator('li.card', { hasText: 'umbrella' })
      await card.waitFor()
      const block = card.getByRole('region', { name: 'What the customer would see' })
      // Markup in the agent's words is shown as the characters it is, never as markup.
      await expect(block.locator('.subject').textContent()).resolves.toBe(`Subject: ${preview.subject}`)
      await expect(block.locator('.from').textContent()).resolves.toBe('From: news@remit.example')
      await expect(block.locator('.link').textContent()).resolves.toBe(`Link: ${preview.link}`)
      await expect(block.locator('a').count()).resolves.toBe(0)
      await expect(block.locator('pre.body-text').textContent()).resolves.toBe(preview.text)
      await expect(block.locator('b, img, iframe').count()).resolves.toBe(0)
      expect(await page.title()).toBe('Review queue · Remit console')
      // The text block scrolls and takes focus; the keys still act on the card holding it.
      await block.locator('pre.body-text').focus()
      await expect(card.getAttribute('class')).resolves.toContain('current')
      await accessible(page, 'queue with a preview')
      await page.close()
    } finally {
      await remit.reviews.reject(d.reviewId as string, { by: 'test' })
    }
  })

  it("a preview's HTML is sanitized, shown in an empty sandbox under a CSP: no script, handler or remote load runs", async () => {
    const remit = demo.server.remit
    const html = [
      '<style>p { color: #333 }</style>',
      '<p id="hello">Hello <b>Ana</b>, <a href="https://tracker.example/click">see what changed</a></p>',
      '<script>document.title = "pwned"; parent.document.title = "pwned"; parent.postMessage("script ran", "*")</script>',
      "<img src=\"x\" onerror=\"document.title = 'pwned'; parent.postMessage('onerror ran', '*')\">",
      '<img src="https://tracker.example/pixel.gif" alt="">',
      "<svg><a xlink:href=\"javascript:parent.postMessage('svg ran', '*')\"><text>x</text></a></svg>",
    ].join('')
    const d = await remit.decide(
      { tool: 'hubspot:workflow/1001' },
      {
        action: { kind: 'email.positioning' },
        customer: { accountId: 'wayne', facts: { lifecycle: 'renewal', tier: 'smb' } },
        preview: { subject: 'Wayne, your renewal', text: 'Hello Ana', html },
      },
    )
    try {
      // Whatever a frame posts to the console is kept, from before the queue loads.
      const page = await signedIn(demo.keys.sales, undefined, () => {
        const w = window as unknown as { posted: string[] }
        w.posted = []
        window.addEventListener('message', (e) => w.posted.push(String(e.data)))
      })
      const requests: string[] = []
      page.on('request', (r) => requests.push(r.url()))
      const card = page.locator('li.card', { hasText: 'wayne' })
      await card.waitFor()
      const frame = card.locator('iframe.body-html')
      await expect(frame.getAttribute('sandbox')).resolves.toBe('')
      const srcdoc = (await frame.getAttribute('srcdoc')) as string
      expect(srcdoc).toContain(
        `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`,
      )
      expect(srcdoc).not.toMatch(/<script|onerror|javascript:|href=/i)
      expect(srcdoc).toContain('title="https://tracker.example/click"')
      // The pixel is not named to the frame at all: nothing for a preload scanner to fetch.
      expect(srcdoc).not.toContain('src="https://tracker.example/pixel.gif"')
      // The message itself is there to read.
      const inside = page.frameLocator('li.card iframe.body-html')
      await expect(inside.locator('#hello').textContent()).resolves.toBe('Hello Ana, see what changed')
      // Give anything that could run time to run: nothing did, here or in the console.
      await page.waitForTimeout(500)
      expect(await page.title()).toBe('Review queue · Remit console')
      expect(await page.evaluate(() => (window as unknown as { posted: string[] }).posted)).toEqual([])
      expect(requests.filter((u) => u.includes('tracker.example'))).toEqual([])
      await card.screenshot({ path: join(artifacts, 'console-preview.png') })
      await accessible(page, 'queue with an HTML preview')
      await page.close()
    } finally {
      await remit.reviews.reject(d.reviewId as string, { by: 'test' })
    }
  })

  it('an admin sees work owed to a vendor that was given up, and sends it again', async () => {
    const remit = demo.server.remit
    let vendorUp = false
    const delivered: string[] = []
    const unroute = remit.outbox.route('hubspot', (review) => ({ review: review.id }))
    const stop = remit.outbox.deliver(
      'hubspot',
      async (m) => {
        if (!vendorUp) throw new Error('401 Unauthorized: the access token was revoked')
        delivered.push(m.id)
      },
      { maxAttempts: 1, everyMs: 50 },
    )
    try {
      const d = await remit.decide(
        { tool: 'hubspot:workflow/1001' },
        {
          action: { kind: 'email.positioning' },
          customer: { accountId: 'pied-piper', facts: { lifecycle: 'renewal', tier: 'smb' } },
        },
      )
      await remit.reviews.reject(d.reviewId as string, { by: 'ops' })
      const page = await signedIn(demo.keys.admin)
      await page.goto(`${demo.url}/console/#/policy`)
      const section = page.getByRole('alert').filter({ hasText: 'given up' })
      await section.waitFor()
      expect(await section.textContent()).toContain('401 Unauthorized: the access token was revoked')
      await accessible(page, 'policy with dead letters')
      vendorUp = true
      await section
        .getByRole('button', { name: /Send again: obx_/ })
        .first()
        .click()
      await page.locator('#status', { hasText: 'again' }).waitFor()
      for (let i = 0; i < 100 && !delivered.length; i++) await new Promise((r) => setTimeout(r, 50))
      expect(delivered).toHaveLength(1)
      await page.close()
    } finally {
      stop()
      unroute()
    }
  })
})
