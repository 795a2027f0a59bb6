import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { codeBlocks } from '../../../tools/readme/examples.ts'
import { remit } from './remit.ts'

// docs/recipes.md is its own test: every `file=` block is written into an empty folder, and
// `remit test` runs the recipes' cases there. A recipe that stops working fails here, by name.

it('every recipe in docs/recipes.md passes remit test', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'remit-recipes-'))
  const files = codeBlocks(new URL('../../../docs/recipes.md', import.meta.url)).filter((b) => b.file)
  expect(files.map((b) => b.file)).toContain('remit.yaml')
  for (const block of files) writeFileSync(join(dir, block.file as string), block.code)
  const cases = files.reduce((n, b) => n + (b.code.match(/^ {2}- name:/gm)?.length ?? 0), 0)
  const r = await remit('test', dir)
  expect(r.out, r.err).toContain(`${cases} passed, 0 failed`)
  expect(r.code).toBe(0)
})
