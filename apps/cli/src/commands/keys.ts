import { type Io, UsageError } from '../output.ts'

export interface KeysNewOptions {
  agent?: string
  tool?: string
  reviewer?: string
  admin?: boolean
  name?: string
}

/** `remit keys new`: prints a new key once, and the keys.yaml line holding only its hash. */
export async function keysNew(io: Io, o: KeysNewOptions): Promise<number> {
  const roles = [o.agent, o.reviewer, o.admin ? true : undefined].filter((x) => x !== undefined)
  if (roles.length !== 1)
    throw new UsageError('give exactly one of --agent <id>, --reviewer <team> or --admin')
  if (o.tool && !o.agent) throw new UsageError('--tool goes with --agent')
  const { generateKey, keyLine } = await import('@remit/server')
  const name = o.name ?? (o.agent ? `${o.agent}-key` : o.reviewer ? `${o.reviewer}-reviewers` : 'admin')
  const key = generateKey()
  const entry = o.agent
    ? { name, agent: o.agent, ...(o.tool ? { tool: o.tool } : {}) }
    : o.reviewer
      ? { name, reviewer: o.reviewer }
      : { name, admin: true as const }
  io.out(`key: ${key}`)
  io.out('(shown once: give it to the tool; Remit keeps only its hash)')
  io.out('')
  io.out('add this line to keys.yaml:')
  io.out(keyLine(entry, key))
  return 0
}
