import { existsSync } from 'node:fs'
import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { loadPolicyFile, type Policy } from '@remit/core'
import { closest } from '@remit/core/internal'
import { parse, parseDocument } from 'yaml'
import { type Io, UsageError } from '../output.ts'

export interface KeysNewOptions {
  agent?: string
  tool?: string
  reviewer?: string
  admin?: boolean
  name?: string
  /** The keys.yaml to add the entry to; false (`--no-file`) writes nothing. */
  file?: string | false
  /** The policy to check the agent, tool or team against; false (`--no-policy`) checks nothing. */
  policy?: string | false
}

type Entry =
  | { name: string; agent: string; tool?: string }
  | { name: string; reviewer: string }
  | { name: string; admin: true }

/** A new file starts with what it is. */
const HEADER = `# Remit's API keys: only their SHA-256 hashes (\`remit keys new\` adds a line; \`remit serve\` re-reads
# this file when it changes). One entry per line: { name, sha256, agent [, tool] | reviewer | admin }.
`

/**
 * `remit keys new`: makes a key, adds the keys.yaml line holding its hash (unless `--no-file`), and
 * prints the key once: alone on stdout, so `KEY=$(remit keys new …)` works; the rest goes to stderr.
 */
export async function keysNew(io: Io, o: KeysNewOptions): Promise<number> {
  const roles = [o.agent, o.reviewer, o.admin ? true : undefined].filter((x) => x !== undefined)
  if (roles.length !== 1)
    throw new UsageError('give exactly one of --agent <id>, --reviewer <team> or --admin')
  if (o.tool && !o.agent) throw new UsageError('--tool goes with --agent')
  const policyPath =
    o.policy === false ? undefined : (o.policy ?? (existsSync('remit.yaml') ? 'remit.yaml' : undefined))
  if (policyPath) check(await loadPolicyFile(policyPath), policyPath, o)
  const name = o.name ?? (o.agent ? `${o.agent}-key` : o.reviewer ? `${o.reviewer}-reviewers` : 'admin')
  const entry: Entry = o.agent
    ? { name, agent: o.agent, ...(o.tool ? { tool: o.tool } : {}) }
    : o.reviewer
      ? { name, reviewer: o.reviewer }
      : { name, admin: true as const }
  const { generateKey, keyLine, readKeysFile } = await import('@remit/server')
  const key = generateKey()
  const line = keyLine(entry, key)
  const file = o.file === false ? undefined : (o.file ?? 'keys.yaml')
  if (file) {
    const before = existsSync(file) ? await readFile(file, 'utf8') : undefined
    if (before === undefined) {
      if (!existsSync(dirname(resolve(file))))
        throw new UsageError(
          `no folder ${dirname(file)} to write ${file} in`,
          'create it, or give --file another path',
        )
      // Created for its owner only: `wx` fails rather than overwrite a file made meanwhile.
      await writeFile(file, `${HEADER}${line}\n`, { mode: 0o600, flag: 'wx' })
    } else {
      // The file as it stands must be valid (a broken one is refused, not appended to)…
      const entries = await readKeysFile(file)
      const taken = entries.find((e) => e.name === name)
      if (taken)
        throw new UsageError(
          `${file} already has a key named "${name}" (line ${lineOf(before, entries.indexOf(taken))}: ${role(taken)})`,
          `name this one: --name ${freeName(name, entries)}`,
        )
      // …and hold one more entry with this line added (a flow-style list cannot take it).
      const addition = `${before === '' || before.endsWith('\n') ? '' : '\n'}${line}\n`
      const after = tryParse(before + addition)
      if (!Array.isArray(after) || after.length !== entries.length + 1)
        throw new UsageError(
          `${file} is not a list with one entry per line, so this key was not added`,
          'write it as a block list (each entry a line starting with "- "), or print the line with --no-file',
        )
      await appendFile(file, addition)
    }
  }
  io.out(key)
  if (file) {
    io.err(`remit: added "${name}" (${role(entry)}) to ${file}; a running \`remit serve\` picks it up`)
  } else {
    io.err('remit: add this line to keys.yaml:')
    io.err(line)
  }
  io.err('  the key above is shown once: give it to the tool or person; Remit keeps only its hash')
  if (!policyPath && o.policy !== false && !o.admin)
    io.err(`  note: no remit.yaml here, so "${o.agent ?? o.reviewer}" was not checked (--policy <file>)`)
  return 0
}

/** The agent, its tool or the reviewing team must be in the policy the server will run. */
function check(policy: Policy, path: string, o: KeysNewOptions): void {
  const unknown = (what: string, name: string, known: string[]) => {
    const near = closest(name, known)
    return new UsageError(
      `${path} has no ${what} "${name}"`,
      `${near ? `did you mean "${near}"? ` : ''}${what}s: ${known.join(', ') || 'none'}`,
    )
  }
  if (o.agent) {
    const agent = policy.agents.get(o.agent)
    if (!agent) throw unknown('agent', o.agent, [...policy.agents.keys()])
    if (o.tool && !agent.tools.includes(o.tool)) {
      const near = closest(o.tool, agent.tools)
      throw new UsageError(
        `${o.tool} is not one of ${o.agent}'s tools in ${path}`,
        `${near ? `did you mean "${near}"? ` : ''}its tools: ${agent.tools.join(', ') || 'none (add tools: [...] to the agent)'}`,
      )
    }
  }
  if (o.reviewer && !policy.teams.has(o.reviewer)) throw unknown('team', o.reviewer, [...policy.teams.keys()])
}

function tryParse(text: string): unknown {
  try {
    return parse(text)
  } catch {
    return undefined
  }
}

/** How an entry acts, in words. */
function role(e: { agent?: string; tool?: string; reviewer?: string; admin?: boolean }): string {
  if (e.agent) return `agent ${e.agent}${e.tool ? ` as ${e.tool}` : ''}`
  if (e.reviewer) return `reviewer for ${e.reviewer}`
  return 'admin'
}

/** The 1-based line where the index-th entry of keys.yaml starts. */
function lineOf(text: string, index: number): number {
  const items = (parseDocument(text).contents as { items?: { range?: [number, number, number] }[] } | null)
    ?.items
  const offset = items?.[index]?.range?.[0] ?? 0
  return text.slice(0, offset).split('\n').length
}

/** The name with the first free suffix: sales-agent-key-2, -3, … */
function freeName(name: string, entries: { name: string }[]): string {
  const names = new Set(entries.map((e) => e.name))
  let n = 2
  while (names.has(`${name}-${n}`)) n++
  return `${name}-${n}`
}
