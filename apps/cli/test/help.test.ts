import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { run } from '../src/index.ts'

// Help and README say the same as the CLI does: every command's --help has examples and its exit
// codes, and every option a command's --help lists is documented in that command's README section.

async function help(path: string[]): Promise<string> {
  const out: string[] = []
  const code = await run([...path, '--help'], {
    out: (l) => out.push(l),
    err: (l) => out.push(l),
    color: false,
  })
  expect(code, `remit ${path.join(' ')} --help`).toBe(0)
  return out.join('\n')
}

/** The subcommands a --help lists (without commander's `help`). */
function subcommands(text: string): string[] {
  const section = /\nCommands:\n([\s\S]*?)(\n\n|$)/.exec(text)?.[1] ?? ''
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1] as string).filter((c) => c !== 'help')
}

/** Every command, as its path from the root ([] is `remit` itself), with its --help. */
async function everyCommand(path: string[] = []): Promise<{ path: string[]; text: string }[]> {
  const text = await help(path)
  const below = await Promise.all(subcommands(text).map((c) => everyCommand([...path, c])))
  return [{ path, text }, ...below.flat()]
}

/** The long options a --help lists, e.g. --store, --no-watch (not --help). */
function longOptions(text: string): string[] {
  const section = /\nOptions:\n([\s\S]*?)(\n\n|$)/.exec(text)?.[1] ?? ''
  return [...section.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)]
    .map((m) => m[1] as string)
    .filter((o) => o !== '--help')
}

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

/** The README's `### \`remit …\`` sections: the commands each names, and its text. */
function readmeSections(): { commands: string[]; text: string }[] {
  const parts = readme.split(/^(?=#{2,3} )/m)
  return parts
    .filter((p) => p.startsWith('### `remit'))
    .map((p) => {
      const title = p.split('\n')[0] as string
      // "### `remit outbox list` and `remit outbox retry <id>`" names two commands.
      const commands = [...title.matchAll(/`remit((?: [a-z][\w-]*)*)/g)].map((m) => (m[1] as string).trim())
      return { commands, text: p }
    })
}

describe('remit --help', () => {
  it('every command, group and the root has examples and says what its exit codes mean', async () => {
    const all = await everyCommand()
    expect(all.map((c) => c.path.join(' '))).toEqual(
      expect.arrayContaining(['', 'validate', 'keys', 'keys new', 'outbox retry', 'salesforce deploy']),
    )
    for (const { path, text } of all) {
      const name = `remit ${path.join(' ')}`.trim()
      expect(text, name).toMatch(/\nExamples?:\n {2}\S/)
      expect(text, name).toMatch(/\nExit codes:\n {2}0 .*\n(.*\n)* {2}2 .*bad input.*\n {2}3 /)
    }
  })

  it('the exit codes it lists are the ones the commands use: validate and test have a 1', async () => {
    expect(await help(['validate'])).toMatch(
      /Exit codes:\n {2}0 {2}valid.*\n {2}1 {2}warnings, with --strict/,
    )
    expect(await help(['test'])).toMatch(/Exit codes:\n {2}0 {2}every test passed\n {2}1 {2}a test failed/)
    expect(await help(['decide'])).not.toMatch(/\n {2}1 {2}/)
  })

  it('the root lists the whole scheme, 1 included (some commands use it)', async () => {
    expect(await help([])).toMatch(
      /Exit codes:\n {2}0 {2}done.*\n {2}1 {2}.*validate --strict.*test.*\n {2}2 {2}bad input.*\n {2}3 /,
    )
  })
})

describe('the CLI README', () => {
  it('documents every option of every command in that command’s section', async () => {
    const sections = readmeSections()
    const missing: string[] = []
    for (const { path, text } of await everyCommand()) {
      const name = path.join(' ')
      const options = longOptions(text)
      // Groups (remit keys, remit outbox, …) have no options of their own.
      if (!options.length && subcommands(text).length) continue
      const section = sections.find((s) => s.commands.includes(name))
      if (!section) {
        missing.push(`no "### \`remit ${name}\`" section`)
        continue
      }
      for (const option of options)
        if (!new RegExp(`${option}(?![\\w-])`).test(section.text))
          missing.push(`remit ${name} ${option} is not in its README section`)
    }
    expect(missing).toEqual([])
  })
})
