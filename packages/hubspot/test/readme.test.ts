import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

// The README's "In code" example is what users copy: it is compiled here, importing the package by
// its name as users do (mapped to its entry's source: the test must not wait for a build).

it("the README's example compiles against the package's public types", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const example = /## In code\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1]
  expect(example, 'a ```ts block under "## In code"').toBeTruthy()
  const dir = fileURLToPath(new URL('../.readme-example/', import.meta.url))
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir)
  try {
    writeFileSync(`${dir}example.ts`, `${example}\nexport {}\n`)
    writeFileSync(
      `${dir}tsconfig.json`,
      JSON.stringify({
        extends: '../../../tsconfig.base.json',
        compilerOptions: { noEmit: true, paths: { '@remit/hubspot': ['../src/index.ts'] } },
        include: ['example.ts'],
      }),
    )
    const tsc = fileURLToPath(new URL('../../../node_modules/.bin/tsc', import.meta.url))
    let output = ''
    try {
      execFileSync(tsc, ['-p', dir], { encoding: 'utf8' })
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error)
    }
    expect(output).toBe('')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
