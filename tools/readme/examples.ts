import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// A package README's code is what users copy. Packages' tests compile its examples here, importing
// the package by its name as users do (mapped to its entry's source, so a test never waits for, or
// races, the package's own build), under the repository's compiler settings.

/** The first ```ts block after `heading` in the README of the package at `packageDir`. */
export function readmeBlock(packageDir: URL, heading: string): string | undefined {
  const readme = readFileSync(new URL('README.md', packageDir), 'utf8')
  const at = readme.indexOf(heading)
  if (at < 0) return undefined
  return /```ts\n([\s\S]*?)```/.exec(readme.slice(at + heading.length))?.[1]
}

/**
 * Type-checks `files` (name → code) as modules beside the package at `packageDir`, `packageName`
 * resolving to its `src/index.ts`. Returns the compiler's complaints, '' when there are none.
 */
export function compileExamples(packageDir: URL, packageName: string, files: Record<string, string>): string {
  const dir = fileURLToPath(new URL('.readme-example/', packageDir))
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir)
  try {
    for (const [name, code] of Object.entries(files)) writeFileSync(`${dir}${name}`, `${code}\nexport {}\n`)
    writeFileSync(
      `${dir}tsconfig.json`,
      JSON.stringify({
        extends: '../../../tsconfig.base.json',
        compilerOptions: { noEmit: true, paths: { [packageName]: ['../src/index.ts'] } },
        include: Object.keys(files),
      }),
    )
    const tsc = fileURLToPath(new URL('../../node_modules/.bin/tsc', import.meta.url))
    try {
      execFileSync(tsc, ['-p', dir], { encoding: 'utf8' })
      return ''
    } catch (error) {
      return String((error as { stdout?: string }).stdout ?? error)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
