import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

// The README's examples are what users copy: each is compiled here against the real @sendgrid/mail and
// @sendgrid/client types, importing this package by its name as users do (mapped to its entry's
// source: the test must not wait for a build). A cast in them would hide exactly what this checks.

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const block = (heading: string) =>
  new RegExp(`${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(
    readme,
  )?.[1]

const examples = {
  'mail.ts': block('## The one-line change'),
  'client.ts': block('### A @sendgrid/client Client'),
}

it("the README's gate examples compile against the real SDK types, with no cast", () => {
  for (const [name, code] of Object.entries(examples)) {
    expect(code, `a \`\`\`ts block for ${name}`).toBeTruthy()
    expect(code, `${name} needs no cast`).not.toMatch(/\bas (unknown|any|never)\b/)
  }
  const dir = fileURLToPath(new URL('../.readme-example/', import.meta.url))
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir)
  try {
    for (const [name, code] of Object.entries(examples))
      writeFileSync(`${dir}${name}`, `${code}\nexport {}\n`)
    writeFileSync(
      `${dir}tsconfig.json`,
      JSON.stringify({
        extends: '../../../tsconfig.base.json',
        compilerOptions: { noEmit: true, paths: { '@remit/sendgrid': ['../src/index.ts'] } },
        include: Object.keys(examples),
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
}, 60_000)
