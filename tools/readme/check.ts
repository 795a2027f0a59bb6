import { type ChildProcess, spawn } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type CodeBlock, codeBlocks } from './examples.ts'

// A package README is followed by a new user in an empty folder: they install the package, save the
// files it shows, run its commands and its examples, top to bottom. `typecheckReadme` and
// `runReadme` do that in CI, so every block that is not marked a sketch is checked:
//
// - ```ts blocks are type-checked together (the package's name mapped to its source, so a check never
//   waits for or races the package's own build), and run with node, one after another, in the folder,
//   importing the package as installed: its build (dist/), as npm would give it;
// - blocks whose fence names a file (```yaml file=remit.yaml) are saved under that name;
// - ```sh blocks run in bash, one command at a time, in the same shell state (what one `export`s, the
//   next sees). `npm install` lines are skipped: the folder's node_modules holds the package (its
//   build) and what it depends on, as installing it would; `remit` (and `npx remit`) is the
//   repository's built CLI (apps/cli/dist).
// - a command or example that serves (`remit serve`, a ts block that calls `.listen(`) runs in the
//   background from when its port answers until the end, when it is sent SIGTERM and must stop.
//
// The README's port 8787 is replaced by a free one, so READMEs tested at once never collide. Anything
// else (`text`, or no language) is output shown to the reader and is not run. Failures name the
// README and the block's line.

const repo = fileURLToPath(new URL('../../', import.meta.url))
const cli = join(repo, 'apps/cli/dist/bin.js')
const tsc = join(repo, 'node_modules/.bin/tsc')

const isTs = (b: CodeBlock) => b.lang === 'ts' || b.lang === 'typescript'
const isShell = (b: CodeBlock) => ['sh', 'bash', 'shell', 'console'].includes(b.lang)
const isOutput = (b: CodeBlock) => b.lang === '' || b.lang === 'text'

interface Package {
  dir: string
  name: string
  readme: string
  /** The README's path from the repository's root, for messages. */
  where: string
}

function packageOf(readme: URL, installed?: URL): Package {
  const file = fileURLToPath(readme)
  const dir = installed ? fileURLToPath(installed) : dirname(file)
  const { name } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }
  return { dir, name, readme: file, where: relative(repo, file) }
}

/** A reader's folder: `work/`, and above it the node_modules installing the package would give it. */
function folder(pkg: Package): { root: string; work: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'remit-readme-'))
  const modules = join(root, 'node_modules')
  const link = (target: string, at: string) => {
    mkdirSync(dirname(at), { recursive: true })
    symlinkSync(target, at, 'dir')
  }
  const installed = join(pkg.dir, 'node_modules')
  for (const entry of readdirSync(installed)) {
    if (entry.startsWith('.')) continue
    if (!entry.startsWith('@')) link(join(installed, entry), join(modules, entry))
    else
      for (const sub of readdirSync(join(installed, entry)))
        link(join(installed, entry, sub), join(modules, entry, sub))
  }
  link(pkg.dir, join(modules, pkg.name))
  // What a TypeScript user has installed anyway, for the type check.
  try {
    link(join(repo, 'node_modules/@types/node'), join(modules, '@types/node'))
  } catch {}
  writeFileSync(join(root, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`)
  const work = join(root, 'work')
  mkdirSync(work)
  return { root, work, remove: () => rmSync(root, { recursive: true, force: true }) }
}

/** Each entry point of the package (`name`, `name/sub`) → its source file, from its exports. */
function sourcePaths(pkg: Package): Record<string, string[]> {
  const manifest = JSON.parse(readFileSync(join(pkg.dir, 'package.json'), 'utf8')) as {
    exports?: Record<string, string | { default?: string }>
  }
  const paths: Record<string, string[]> = {}
  for (const [sub, target] of Object.entries(manifest.exports ?? {})) {
    const built = typeof target === 'string' ? target : target.default
    const source = built && /^\.\/dist\/(.*)\.js$/.exec(built)?.[1]
    if (source) paths[join(pkg.name, sub)] = [join(pkg.dir, 'src', `${source}.ts`)]
  }
  return paths
}

/**
 * Type-checks every ```ts block of the README that is not a sketch, each as a module of its own in a
 * reader's folder, under the repository's compiler settings. Throws the compiler's complaints at the
 * README's lines; resolves to how many blocks were checked. `installed`: as for `runReadme`.
 */
export async function typecheckReadme(readme: URL, o: { installed?: URL } = {}): Promise<number> {
  const pkg = packageOf(readme, o.installed)
  const blocks = codeBlocks(readme).filter((b) => isTs(b) && !b.sketch)
  if (blocks.length === 0) return 0
  const { root, remove } = folder(pkg)
  try {
    const dir = join(root, 'check')
    mkdirSync(dir)
    const name = (b: CodeBlock) => `L${b.line}.ts`
    for (const b of blocks) writeFileSync(join(dir, name(b)), `${b.code}\nexport {}\n`)
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(repo, 'tsconfig.base.json'),
        compilerOptions: { noEmit: true, paths: sourcePaths(pkg) },
        include: blocks.map(name),
      }),
    )
    const { code, stdout, stderr } = await run(tsc, ['-p', dir], { cwd: dir, timeoutMs: 60_000 })
    if (code === 0) return blocks.length
    const at = (line: number, row: number, col: string) => `${pkg.where}:${line + Number(row)}:${col}`
    const complaints = `${stdout}${stderr}`.replace(
      /\bL(\d+)\.ts[(:](\d+)[,:](\d+)\)?/g,
      (_, line, row, col) => at(Number(line), Number(row), col),
    )
    throw new Error(`${pkg.where}: its TypeScript examples do not type-check:\n${complaints}`)
  } finally {
    remove()
  }
}

/** The text of the block the README has the reader save as `file` (```yaml file=remit.yaml). */
export function savedFile(readme: URL, file: string): string {
  const block = codeBlocks(readme).find((b) => b.file === file)
  if (!block) throw new Error(`${relative(repo, fileURLToPath(readme))} has no block saved as ${file}`)
  return block.code
}

export interface RunOptions {
  /**
   * The package the reader installed (its folder, a URL ending in /): default the README's own. A
   * README outside a package (the repository's) names the one its examples import.
   */
  installed?: URL
  /** Files the reader already has (name → text), e.g. the remit.yaml another README had them write. */
  files?: Record<string, string>
  /** Shell commands the reader ran before this README (another README's steps). */
  before?: string[]
  /** Shell commands run after the README's blocks, still in its folder and shell, to check the result. */
  after?: string[]
  /** Environment the reader has. */
  env?: Record<string, string>
  /** Text replaced in every block before it is saved or run: what stands for the reader's own values. */
  replace?: [string | RegExp, string][]
  /** The port the README's 8787 becomes (default: a free one). */
  port?: number
  /** Which ```ts blocks run (default: all; the others are only type-checked, e.g. needing a vendor). */
  run?: (block: CodeBlock) => boolean
  /** Which ```ts blocks serve, running in the background (default: those that call `.listen(`). */
  serves?: (block: CodeBlock) => boolean
  /** Per block or command (default 30 s). */
  timeoutMs?: number
}

export interface Session {
  /** The reader's folder. */
  dir: string
  /** The port the README's 8787 became. */
  port: number
  /** What each block that ran printed (its stdout), by the line of its fence. */
  output: Map<number, string>
  /** Every block of the README, and what was done with it. */
  done: {
    line: number
    lang: string
    /** `install`: a block of `npm install` lines only, which the folder's node_modules stands for. */
    as: 'ran' | 'served' | 'saved' | 'type-checked' | 'install' | 'sketch' | 'output'
  }[]
  /** Stops what serves (checking it stops) and removes the folder. */
  close(): Promise<void>
}

/**
 * Follows the README top to bottom in an empty folder: saves its files, runs its commands and its
 * ```ts examples (see the top of this file). Throws at the first block that fails, naming the README
 * and the block's line; the session stays open for the caller to look at, and must be closed.
 */
export async function runReadme(readme: URL, options: RunOptions = {}): Promise<Session> {
  const pkg = packageOf(readme, options.installed)
  const { root, work, remove } = folder(pkg)
  const port = options.port ?? (await freePort())
  const timeoutMs = options.timeoutMs ?? 30_000
  const bin = join(root, 'bin')
  mkdirSync(bin)
  // `remit` is the built CLI; `remit serve` listens on the session's port unless it names one.
  writeFileSync(
    join(bin, 'remit'),
    [
      '#!/bin/sh',
      'if [ "$1" = serve ]; then',
      '  case " $* " in *" --port "*|*" --port="*) ;; *) set -- "$@" --port "$REMIT_README_PORT" ;; esac',
      '  echo $$ > "$REMIT_README_SERVING"', // the pid that will be node's: SIGTERM goes to it
      'fi',
      `exec "${process.execPath}" "${cli}" "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  )
  // `npx remit` is that CLI too, as it is once @remit/cli is installed; npx never fetches anything here.
  writeFileSync(
    join(bin, 'npx'),
    [
      '#!/bin/sh',
      'if [ "$1" = remit ]; then shift; exec remit "$@"; fi',
      'echo "npx $1: only npx remit is installed in this folder" >&2; exit 127',
      '',
    ].join('\n'),
    { mode: 0o755 },
  )
  let env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(VITEST|NODE_OPTIONS$|NODE_ENV$|TEST$)/.test(k)) env[k] = v
  env = { ...env, ...options.env, PATH: `${bin}:${env.PATH ?? ''}`, REMIT_README_PORT: String(port) }

  const replace: [string | RegExp, string][] = [[/\b8787\b/g, String(port)], ...(options.replace ?? [])]
  const substitute = (text: string) =>
    replace.reduce(
      (t, [from, to]) => (typeof from === 'string' ? t.replaceAll(from, to) : t.replace(from, to)),
      text,
    )
  const background: {
    what: string
    child: ChildProcess
    /** What serves: the child itself, or the `remit serve` its shell runs. */
    pid: () => number
    log: () => string
    exited: Promise<number | null>
  }[] = []
  const session: Session = {
    dir: work,
    port,
    output: new Map(),
    done: [],
    async close() {
      try {
        await stopAll()
      } finally {
        remove()
      }
    },
  }
  const stopAll = async () => {
    const problems: string[] = []
    for (const b of background.splice(0).reverse()) {
      if (b.child.exitCode !== null || b.child.signalCode !== null) {
        const how = b.child.exitCode ?? b.child.signalCode
        if (how !== 0) problems.push(`${b.what}: stopped by itself (${how}) while serving\n${b.log()}`)
        continue
      }
      try {
        process.kill(b.pid(), 'SIGTERM')
      } catch {
        process.kill(-(b.child.pid as number), 'SIGTERM')
      }
      const code = await Promise.race([b.exited, sleep(10_000).then(() => 'hung' as const)])
      if (code === 'hung') {
        process.kill(-(b.child.pid as number), 'SIGKILL') // its process group: all it started
        problems.push(`${b.what}: did not stop within 10 s of SIGTERM\n${b.log()}`)
      } else if (code !== 0) problems.push(`${b.what}: exited with ${code} on SIGTERM\n${b.log()}`)
    }
    if (problems.length) throw new Error(problems.join('\n\n'))
  }

  const envFile = join(root, 'env')
  /** One shell command, in the session's shell state. */
  const shell = async (command: string, what: string) => {
    if (/(^|[;&|(]\s*|\s)remit\s+serve\b/.test(command)) {
      // The shell waits for `remit serve` and exits with its code, once SIGTERM has stopped it.
      await serve(what, 'bash', ['-c', `set -a -o pipefail\n${command}\n`], join(root, 'serving'))
      return ''
    }
    // `export X=$(…)` hides the failure of what it runs; `X=$(…)` under `set -a` exports X as well,
    // and fails when it fails.
    const strict = command.replace(/^export\s+([A-Za-z_]\w*=\$\(.*\))(\s+#.*)?$/, '$1$2')
    const script = `set -a -e -o pipefail\n${strict}\nenv -0 > '${envFile}'\n`
    const result = await run('bash', ['-c', script], { cwd: work, env, timeoutMs })
    if (result.code !== 0)
      throw new Error(`${what}: exit code ${result.code}\n$ ${command}\n${result.stdout}${result.stderr}`)
    env = parseEnv(await readFile(envFile, 'utf8'))
    return result.stdout
  }
  /** Starts what serves, and waits until its port answers. */
  const serve = async (what: string, command: string, args: string[], pidFile?: string) => {
    const child = spawn(command, args, {
      cwd: work,
      env: { ...env, ...(pidFile ? { REMIT_README_SERVING: pidFile } : {}) },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let log = ''
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-20_000)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const pid = () => (pidFile ? Number(readFileSync(pidFile, 'utf8')) : (child.pid as number))
    background.push({ what, child, pid, log: () => log, exited })
    const deadline = Date.now() + timeoutMs
    while (!(await answers(port))) {
      if (child.exitCode !== null)
        throw new Error(`${what}: exited with ${child.exitCode} before serving\n${log}`)
      if (Date.now() > deadline)
        throw new Error(`${what}: not serving on port ${port} after ${timeoutMs} ms\n${log}`)
      await sleep(50)
    }
  }

  try {
    for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(join(work, name), text)
    for (const command of options.before ?? []) await shell(command, `before ${pkg.where}`)
    for (const block of codeBlocks(readme)) {
      const what = `${pkg.where}:${block.line} (\`\`\`${block.lang} under "${block.heading}")`
      const done = (as: Session['done'][number]['as']) =>
        session.done.push({ line: block.line, lang: block.lang, as })
      if (block.sketch) done('sketch')
      else if (isTs(block)) {
        const file = block.file ?? `readme-${block.line}.ts`
        await writeFile(join(work, file), substitute(block.code))
        if (options.run?.(block) ?? true) await example(block, file, what, done)
        else done('type-checked')
      } else if (block.file) {
        await writeFile(join(work, block.file), substitute(block.code))
        done('saved')
      } else if (isShell(block)) {
        const all = commands(block.code)
        const run = all.filter((command) => !/^npm\s+(install|i)\b/.test(command))
        let out = ''
        for (const command of run) out += await shell(substitute(command), what)
        session.output.set(block.line, out)
        done(run.length === 0 && all.length > 0 ? 'install' : 'ran')
      } else if (isOutput(block)) done('output')
      else
        throw new Error(
          `${what}: neither a file (file=NAME on its fence), a command, an example nor a sketch`,
        )
    }
    for (const command of options.after ?? []) await shell(command, `after ${pkg.where}`)
    return session
  } catch (error) {
    await session.close().catch(() => {})
    throw error
  }

  async function example(block: CodeBlock, file: string, what: string, done: (as: 'ran' | 'served') => void) {
    if (options.serves?.(block) ?? /\.listen\(/.test(block.code)) {
      await serve(`${what}, served`, process.execPath, [file])
      done('served')
      return
    }
    const result = await run(process.execPath, [file], { cwd: work, env, timeoutMs })
    if (result.code !== 0)
      throw new Error(`${what}: node ${file}: exit code ${result.code}\n${result.stdout}${result.stderr}`)
    session.output.set(block.line, result.stdout)
    done('ran')
  }
}

/** A shell block's commands: continued lines joined, blank and comment-only lines left out. */
export function commands(code: string): string[] {
  return code
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
}

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const entry of text.split('\0')) {
    const at = entry.indexOf('=')
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1)
  }
  return env
}

function run(
  command: string,
  args: string[],
  o: { cwd: string; env?: Record<string, string>; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: o.cwd,
      env: o.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      stderr += `\n(killed after ${o.timeoutMs} ms)`
    }, o.timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
