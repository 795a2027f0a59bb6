import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { type CodeBlock, codeBlocks } from '../../../tools/readme/examples.ts'

// The READMEs' code is what people type. Every fenced block either runs here, in order, in an empty
// folder — shell blocks in bash with `remit` (and `./dev remit`) being this CLI, blocks whose fence
// names a file (```yaml file=remit.yaml) saved under that name, TypeScript blocks run by Node — or is marked
// a sketch (```sh sketch, or `<!-- sketch -->` on the line before). Comment lines right after a
// command are its expected output, line by line (`…` stands for anything; `(exit N)` at the end says
// the command exits N, else it must exit 0). A failure names the README's file and line.

const root = new URL('../../../', import.meta.url)
const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
const READMES = ['README.md', 'apps/cli/README.md']

interface Step {
  /** Where it is in the README, for messages: `apps/cli/README.md:42`. */
  where: string
  /** What the step does, in bash. */
  script: string
  /** The command as the README shows it. */
  shown: string
  expect: RegExp[]
  exit: number
}

/** `…` stands for anything; the rest is literal; a line matches as a whole (without its indent). */
function pattern(expected: string): RegExp {
  const literal = expected.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`^${literal.replace(/…/g, '.*')}$`)
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

/** A README's blocks as steps for one bash script; problems found on the way (unrunnable blocks). */
function steps(file: string, side: string, port: number): { steps: Step[]; problems: string[] } {
  const out: Step[] = []
  const problems: string[] = []
  codeBlocks(new URL(file, root)).forEach((block: CodeBlock, index) => {
    const where = `${file}:${block.line}`
    if (block.sketch) return
    if (block.file) {
      // ```yaml file=remit.yaml: the reader saves it under that name.
      const source = join(side, `block-${index}`)
      writeFileSync(source, block.code)
      out.push({
        where,
        script: `cp '${source}' '${block.file}'`,
        shown: `(save ${block.file})`,
        expect: [],
        exit: 0,
      })
    } else if (block.lang === 'ts') {
      const source = join(side, `block-${index}.mts`)
      writeFileSync(source, block.code)
      // `console.log(…) // 'go', …`: the printed line starts with what the comment quotes first.
      const first = /console\.log\(.*\)\s*\/\/\s*'([^']+)'/.exec(block.code)?.[1]
      out.push({
        where,
        script: `node '${source}'`,
        shown: '(the TypeScript block)',
        expect: first ? [new RegExp(`^${first}\\b`)] : [],
        exit: 0,
      })
    } else if (block.lang === 'sh') {
      out.push(...commands(block, file, port, problems))
    } else {
      problems.push(
        `${where}: a \`\`\`${block.lang || '(no language)'} block is neither a file (file=NAME on its fence), a command, an example nor a sketch`,
      )
    }
  })
  return { steps: out, problems }
}

/** A shell block's commands, each with the output comments right after it. */
function commands(block: CodeBlock, file: string, port: number, problems: string[]): Step[] {
  const out: Step[] = []
  let current: Step | undefined
  let continued = false
  let expecting = false
  block.code.split('\n').forEach((text, i) => {
    const where = `${file}:${block.line + 1 + i}`
    if (continued && current) {
      current.shown += `\n${text}`
      continued = text.endsWith('\\')
      return
    }
    if (/^\s*#/.test(text)) {
      if (!current || !expecting) return
      let expected = text.replace(/^\s*# ?/, '')
      const exit = /\s*\(exit (\d+)\)\s*$/.exec(expected)
      if (exit) {
        current.exit = Number(exit[1])
        expected = expected.slice(0, exit.index)
      }
      if (expected.trim()) current.expect.push(pattern(expected))
      return
    }
    if (!text.trim()) {
      expecting = false
      return
    }
    if (/(^|[\s;&|(])\.\/dev (?!remit\b)/.test(text))
      problems.push(`${where}: only \`./dev remit\` can run here; mark the block a sketch`)
    current = { where, script: '', shown: text, expect: [], exit: 0 }
    out.push(current)
    continued = text.endsWith('\\')
    expecting = true
  })
  for (const step of out) {
    step.script = step.shown.replace(/\.\/dev remit\b/g, 'remit').replace(/\b8787\b/g, String(port))
    if (/\bremit serve\b/.test(step.shown)) {
      if (!/&\s*(#.*)?$/.test(step.shown))
        problems.push(
          `${step.where}: \`remit serve\` must run in the background (&) for the next steps to run`,
        )
      if (!/--port 8787\b/.test(step.shown))
        problems.push(
          `${step.where}: give \`remit serve\` --port 8787, so that the test can move it to a free port`,
        )
    }
  }
  return out
}

/** Runs a README's steps in an empty folder; every problem, by README line. */
async function runReadme(file: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'remit-readme-'))
  const side = join(dir, '.readme')
  const work = join(dir, 'work')
  mkdirSync(join(side, 'bin'), { recursive: true })
  mkdirSync(work)
  // `remit` is this CLI; TypeScript blocks import @remit/core as users do.
  writeFileSync(join(side, 'bin', 'remit'), `#!/bin/sh\nexec '${process.execPath}' '${bin}' "$@"\n`)
  chmodSync(join(side, 'bin', 'remit'), 0o755)
  mkdirSync(join(dir, 'node_modules', '@remit'), { recursive: true })
  symlinkSync(fileURLToPath(new URL('packages/core', root)), join(dir, 'node_modules', '@remit', 'core'))

  const port = await freePort()
  const { steps: all, problems } = steps(file, side, port)
  if (problems.length) return problems
  const script = [
    'exec 2>&1',
    // Whatever the README left running (the server) stops with the script.
    "trap 'kill $(jobs -p) 2>/dev/null' EXIT",
    ...all.map(
      (s, i) =>
        `${s.script}\n__rc=$?; printf '\\n@@END ${i} %s\\n' $__rc; [ "$__rc" = ${s.exit} ] || exit 99\n`,
    ),
  ].join('\n')
  writeFileSync(join(side, 'run.sh'), script)
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REMIT_')))
  const output = await new Promise<string>((resolve) => {
    const child = spawn('bash', [join(side, 'run.sh')], {
      cwd: work,
      env: { ...env, PATH: `${join(side, 'bin')}:${process.env.PATH}`, NO_COLOR: '1' },
      detached: true,
    })
    let text = ''
    child.stdout.on('data', (chunk) => {
      text += chunk
    })
    const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 150_000)
    child.once('exit', () => {
      clearTimeout(timer)
      // Anything the script started and left behind goes with it.
      try {
        process.kill(-(child.pid as number), 'SIGKILL')
      } catch {
        // nothing was left
      }
      resolve(text)
    })
  })

  const found: string[] = []
  // [output of step 0, "0", its exit code, output of step 1, "1", …]: the script stops at a failure.
  const chunks = output.split(/^@@END \d+ (\d+)$/m)
  for (const [i, step] of all.entries()) {
    const printed = (chunks[2 * i] ?? '').replace(/^\n/, '')
    const rc = chunks[2 * i + 1]
    if (rc === undefined) {
      found.push(`${step.where}: \`${step.shown}\` did not finish:\n${printed}`)
      break
    }
    if (Number(rc) !== step.exit) {
      found.push(`${step.where}: \`${step.shown}\` exited ${rc}, not ${step.exit}:\n${printed}`)
      break
    }
    const lines = printed.split('\n').map((l) => l.trim())
    let from = 0
    for (const want of step.expect) {
      const hit = lines.findIndex((l, j) => j >= from && want.test(l))
      if (hit < 0) {
        found.push(
          `${step.where}: \`${step.shown}\` printed no line like ${want} (in this order):\n${printed}`,
        )
        break
      }
      from = hit + 1
    }
  }
  return found
}

describe('the READMEs run as written', () => {
  for (const file of READMES)
    it(`${file}: every block runs in order in an empty folder, and prints what it shows`, async () => {
      expect(await runReadme(file)).toEqual([])
    }, 180_000)

  it("the root README's misspelt fact is reported where, and as, the README says", () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8')
    const claim = /\(`customer\.(\w+)`\) and you get\s+`([^`]+)` and\s+`([^`]+)`, exit code (\d)/.exec(readme)
    expect(claim, 'the README tells what a misspelt fact gives').not.toBeNull()
    const [, typo, error, hint, code] = claim as unknown as string[]
    const policy = codeBlocks(new URL('README.md', root)).find((b) => b.lang === 'yaml')?.code as string
    const dir = mkdtempSync(join(tmpdir(), 'remit-readme-typo-'))
    writeFileSync(join(dir, 'remit.yaml'), policy.replace('customer.lifecycle ==', `customer.${typo} ==`))
    const r = spawnSync(process.execPath, [bin, 'validate', 'remit.yaml'], { cwd: dir, encoding: 'utf8' })
    expect(r.status).toBe(Number(code))
    expect(r.stdout).toContain(error)
    expect(r.stdout).toContain(hint)
  })
})
