import { readdirSync, readFileSync } from 'node:fs'
import { expect, it } from 'vitest'

const root = new URL('../../../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), 'utf8')
const json = (path: string) => JSON.parse(read(path))
const published = ['packages', 'apps'].flatMap((dir) =>
  readdirSync(new URL(`${dir}/`, root))
    .map((name) => ({ dir: `${dir}/${name}`, pkg: json(`${dir}/${name}/package.json`) }))
    .filter(({ pkg }) => !pkg.private),
)

// The repository states the Node version once (the root package.json's engines, which ./dev checks);
// every published package repeats it for npm, and must not drift.
it('every package states the Node version the root package.json states', () => {
  const want = json('package.json').engines.node
  expect(want).toMatch(/^>=\d+\.\d+$/)
  for (const { dir, pkg } of published) expect(pkg.engines?.node, dir).toBe(want)
})

// What npm shows and what `npm publish` needs, stated once in the root package.json (its license and
// repository) and repeated by every package: a package with its own LICENSE file, the repository
// with the package's folder, public access for the @remit scope, and a prepack that builds.
it('every package carries the root license, repository and publish settings', () => {
  const rootPkg = json('package.json')
  const license = read('LICENSE')
  expect(rootPkg.license).toBe('Apache-2.0')
  expect(license).toContain('Apache License')
  for (const { dir, pkg } of published) {
    expect(pkg.license, dir).toBe(rootPkg.license)
    expect(read(`${dir}/LICENSE`), `${dir}/LICENSE`).toBe(license)
    expect(pkg.files, dir).toEqual(expect.arrayContaining(['dist', 'README.md', 'LICENSE']))
    expect(pkg.repository, dir).toEqual({ ...rootPkg.repository, directory: dir })
    const repo = rootPkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '')
    expect(pkg.bugs?.url, dir).toBe(`${repo}/issues`)
    expect(pkg.homepage, dir).toBe(`${repo}/tree/main/${dir}#readme`)
    expect(pkg.keywords, dir).toContain('remit')
    expect(pkg.publishConfig?.access, dir).toBe('public')
    expect(pkg.scripts?.prepack, dir).toMatch(/pnpm run build/)
    expect(pkg.type, dir).toBe('module')
  }
})
