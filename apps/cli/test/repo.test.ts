import { readdirSync, readFileSync } from 'node:fs'
import { expect, it } from 'vitest'

// The repository states the Node version once (the root package.json's engines, which ./dev checks);
// every published package repeats it for npm, and must not drift.
it('every package states the Node version the root package.json states', () => {
  const root = new URL('../../../', import.meta.url)
  const read = (path: string) => JSON.parse(readFileSync(new URL(path, root), 'utf8'))
  const want = read('package.json').engines.node
  expect(want).toMatch(/^>=\d+\.\d+$/)
  for (const dir of ['packages', 'apps']) {
    for (const name of readdirSync(new URL(`${dir}/`, root))) {
      const pkg = read(`${dir}/${name}/package.json`)
      if (pkg.private) continue
      expect(pkg.engines?.node, `${dir}/${name}`).toBe(want)
    }
  }
})
