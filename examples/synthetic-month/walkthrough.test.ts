import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from '@remit/cli'
import { chromium } from 'playwright-core'
import { expect, it } from 'vitest'
import { month, writeMonth } from './generate.ts'

const here = fileURLToPath(new URL('.', import.meta.url))

it('the generator is deterministic', () => {
  const a = [...month({ attempts: 200 })]
  expect([...month({ attempts: 200 })]).toEqual(a)
  expect(a.filter((l) => l.includes('"tool"'))).toHaveLength(200)
})

it("the README's replay walkthrough prints the numbers the README shows, and its HTML report renders", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'remit-month-'))
  const history = join(dir, 'history.ndjson')
  await writeMonth(history)
  const html = join(dir, 'report.html')
  const out: string[] = []
  const code = await run(
    [
      'replay',
      '--policy',
      join(here, 'remit.yaml'),
      '--baseline',
      join(here, 'baseline.yaml'),
      '--touches',
      history,
      '--html',
      html,
    ],
    { out: (l) => out.push(l), err: () => {}, color: false },
  )
  expect(code).toBe(0)
  const printed = out
    .join('\n')
    .replaceAll(history, 'history.ndjson')
    .replaceAll(join(here, 'remit.yaml'), 'remit.yaml')
  const readme = readFileSync(join(here, 'README.md'), 'utf8')
  const block = /```\n(Replay of[\s\S]*?)```/.exec(readme)?.[1] as string
  const expected = block.split('\n').filter((l) => l.trim() && l.trim() !== '…')
  expect(expected.length).toBeGreaterThan(8)
  for (const line of expected) expect(printed).toContain(line)
  expect(readme).toContain(
    readFileSync(history, 'utf8')
      .split('\n')
      .find((l) => l.includes('"tool"')),
  )

  // The report in a real browser: Debian's Chromium, driven by playwright-core.
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
    await page.goto(`file://${html}`)
    expect(await page.locator('h1').textContent()).toBe('Remit replay')
    expect(await page.locator('figure svg rect.bar').count()).toBeGreaterThanOrEqual(30)
    expect(await page.locator('figure svg rect.bar.over').count()).toBe(14)
    expect(await page.locator('svg line.capacity').count()).toBe(1)
    expect(await page.locator('#verdicts tbody tr').count()).toBe(4)
    expect(await page.locator('#rules tbody tr').count()).toBeGreaterThan(5)
    expect(await page.locator('#baseline tbody tr').count()).toBeGreaterThan(0)
    const artifacts = join(here, 'artifacts')
    mkdirSync(artifacts, { recursive: true })
    await page.screenshot({ path: join(artifacts, 'replay-report.png'), fullPage: true })
  } finally {
    await browser.close()
  }
})
