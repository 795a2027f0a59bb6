import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { z } from 'zod'

// keys.yaml holds only SHA-256 hashes of keys (DESIGN.md, "Running it"). A key is one of:
//   { name, sha256, agent: <agent id>, tool?: <tool> }  decides as that agent, and only as it
//   { name, sha256, reviewer: <team> }                   acts on that team's reviews
//   { name, sha256, admin: true }                        reloads policy, manages keys, sees all

const entrySchema = z
  .strictObject({
    name: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected the hex SHA-256 of the key (64 characters)'),
    agent: z.string().min(1).optional(),
    tool: z.string().min(1).optional(),
    reviewer: z.string().min(1).optional(),
    admin: z.literal(true).optional(),
  })
  .refine((e) => [e.agent, e.reviewer, e.admin].filter((x) => x !== undefined).length === 1, {
    message: 'a key is exactly one of: agent, reviewer or admin',
  })
  .refine((e) => e.tool === undefined || e.agent !== undefined, { message: 'tool is only for agent keys' })
export const keysFileSchema = z.array(entrySchema)
export type KeyEntry = z.infer<typeof entrySchema>

export type Principal =
  | { kind: 'agent'; name: string; agent: string; tool?: string }
  | { kind: 'reviewer'; name: string; team: string }
  | { kind: 'admin'; name: string }

export class KeysError extends Error {
  readonly code = 'KEYS_INVALID'
  constructor(message: string) {
    super(message)
    this.name = 'KeysError'
  }
}

/** A new key: 32 random bytes, base64url, prefixed so it is recognisable in a secret scanner. */
export function generateKey(): string {
  return `rk_${randomBytes(32).toString('base64url')}`
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/** The keys in service. Lookup compares the presented key's hash against every entry, in constant time. */
export class KeyRing {
  private entries: { hash: Buffer; principal: Principal }[] = []

  constructor(entries: KeyEntry[] = []) {
    this.replace(entries)
  }

  static async fromFile(path: string): Promise<KeyRing> {
    return new KeyRing(await readKeysFile(path))
  }

  replace(entries: KeyEntry[]): void {
    this.entries = entries.map((e) => ({ hash: Buffer.from(e.sha256, 'hex'), principal: principalOf(e) }))
  }

  add(entry: KeyEntry): void {
    this.entries.push({ hash: Buffer.from(entry.sha256, 'hex'), principal: principalOf(entry) })
  }

  list(): Principal[] {
    return this.entries.map((e) => e.principal)
  }

  /** The principal for an `Authorization: Bearer <key>` header, or undefined. */
  authenticate(header: string | undefined): Principal | undefined {
    const key = /^Bearer\s+(\S{1,512})\s*$/i.exec(header ?? '')?.[1]
    if (!key) return undefined
    const presented = createHash('sha256').update(key).digest()
    let found: Principal | undefined
    // Every entry is compared, whether or not one already matched: the time taken says nothing.
    for (const e of this.entries) if (timingSafeEqual(e.hash, presented)) found ??= e.principal
    return found
  }
}

export async function readKeysFile(path: string): Promise<KeyEntry[]> {
  let raw: unknown
  try {
    raw = parse(await readFile(path, 'utf8')) ?? []
  } catch (error) {
    throw new KeysError(`${path}: ${(error as Error).message.split('\n')[0]}`)
  }
  const parsed = keysFileSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue
    throw new KeysError(
      `${path}: entry ${issue.path.join('.') || '(file)'}: ${issue.message.replace(/^Invalid input: /, '')}`,
    )
  }
  const names = new Set<string>()
  for (const e of parsed.data) {
    if (names.has(e.name)) throw new KeysError(`${path}: two keys are named "${e.name}"`)
    names.add(e.name)
  }
  return parsed.data
}

function principalOf(e: KeyEntry): Principal {
  if (e.agent) return { kind: 'agent', name: e.name, agent: e.agent, ...(e.tool ? { tool: e.tool } : {}) }
  if (e.reviewer) return { kind: 'reviewer', name: e.name, team: e.reviewer }
  return { kind: 'admin', name: e.name }
}

/** The keys.yaml line for a key (the key itself is never written anywhere). */
export function keyLine(entry: Omit<KeyEntry, 'sha256'>, key: string): string {
  const role = entry.agent
    ? `agent: ${entry.agent}${entry.tool ? `, tool: ${JSON.stringify(entry.tool)}` : ''}`
    : entry.reviewer
      ? `reviewer: ${entry.reviewer}`
      : 'admin: true'
  return `- { name: ${JSON.stringify(entry.name)}, sha256: "${hashKey(key)}", ${role} }`
}
