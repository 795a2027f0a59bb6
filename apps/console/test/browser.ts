import { createRequire } from 'node:module'
import { type Browser, chromium, type Page } from 'playwright-core'
import { expect } from 'vitest'

// What every browser test of the console shares: Debian's Chromium (playwright-core, never a
// downloaded browser), signing in with a key, and axe-core's verdict on a page.

const axeSource = createRequire(import.meta.url).resolve('axe-core/axe.min.js')

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** A new page on the console at `url`, signed in with `key`, on the review queue. */
export async function signInWith(
  browser: Browser,
  url: string,
  key: string,
  viewport = { width: 1280, height: 900 },
  init?: () => void,
): Promise<Page> {
  const page = await browser.newPage({ viewport })
  if (init) await page.addInitScript(init)
  await page.goto(`${url}/console/`)
  await page.getByLabel('Reviewer or admin key').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Review queue' }).waitFor()
  return page
}

/** axe-core in the page: no serious or critical accessibility violations. */
export async function accessible(page: Page, name: string): Promise<void> {
  await page.addScriptTag({ path: axeSource })
  const result = await page.evaluate(async () =>
    (
      window as unknown as {
        axe: { run: () => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> }
      }
    ).axe.run(),
  )
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(
    bad.map((v) => `${v.id} (${v.nodes.length})`),
    name,
  ).toEqual([])
}
