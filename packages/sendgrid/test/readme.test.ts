import { expect, it } from 'vitest'
import { compileExamples, readmeBlock } from '../../../tools/readme/examples.ts'

// The README's examples are what users copy: each is compiled against the real @sendgrid/mail and
// @sendgrid/client types, importing this package by its name. A cast in them would hide exactly what
// this checks.

const pkg = new URL('../', import.meta.url)
const examples = {
  'mail.ts': readmeBlock(pkg, '## The one-line change'),
  'client.ts': readmeBlock(pkg, '### A @sendgrid/client Client'),
}

it("the README's gate examples compile against the real SDK types, with no cast", () => {
  for (const [name, code] of Object.entries(examples)) {
    expect(code, `a \`\`\`ts block for ${name}`).toBeTruthy()
    expect(code, `${name} needs no cast`).not.toMatch(/\bas (unknown|any|never)\b/)
  }
  expect(compileExamples(pkg, '@remit/sendgrid', examples as Record<string, string>)).toBe('')
}, 60_000)
