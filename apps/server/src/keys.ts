import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { type FSWatcher, readFileSync, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import type { Principal } from '@remit/core/adapter'
import { parse } from 'yaml'
import { z } from 'zod'

// keys.yaml holds only SHA-256 hashes of keys (SECURITY.md). A key is one of:
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

export type { Principal } from '@remit/core/adapter'

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

/** Keys recently accepted, kept so that a caller's every request does not hash its key again. */
const RECENT_KEYS = 1024

/** The keys in service. Lookup compares the presented key's hash against every entry, in constant time. */
export class KeyRing {
  private entries: { hash: Buffer; principal: Principal }[] = []
  /**
   * Presented key → its principal, for keys accepted lately (at most RECENT_KEYS, the oldest
   * dropped first). Only keys in service are kept, so a hit tells a caller nothing the answer does
   * not; replacing the keys (a reload, a revocation) empties it.
   */
  private recent = new Map<string, Principal>()

  constructor(entries: KeyEntry[] = []) {
    this.replace(entries)
  }

  static async fromFile(path: string): Promise<KeyRing> {
    return new KeyRing(await readKeysFile(path))
  }

  replace(entries: KeyEntry[]): void {
    this.entries = entries.map((e) => ({ hash: Buffer.from(e.sha256, 'hex'), principal: principalOf(e) }))
    this.recent = new Map()
  }

  add(entry: KeyEntry): void {
    this.entries.push({ hash: Buffer.from(entry.sha256, 'hex'), principal: principalOf(entry) })
  }

  list(): Principal[] {
    return this.entries.map((e) => e.principal)
  }

  /** Whether a key with this hex SHA-256 is in service. */
  has(sha256: string): boolean {
    return this.byHash(sha256) !== undefined
  }

  /** The principal of the key with this hex SHA-256, while it is in service (console sessions keep only the hash). */
  byHash(sha256: string): Principal | undefined {
    const wanted = Buffer.from(sha256, 'hex')
    if (wanted.length !== 32) return undefined
    let found: Principal | undefined
    for (const e of this.entries) if (timingSafeEqual(e.hash, wanted)) found ??= e.principal
    return found
  }

  /** The principal for an `Authorization: Bearer <key>` header, or undefined. */
  authenticate(header: string | undefined): Principal | undefined {
    const key = /^Bearer\s+(\S{1,512})\s*$/i.exec(header ?? '')?.[1]
    if (!key) return undefined
    const known = this.recent.get(key)
    if (known) return known
    const presented = createHash('sha256').update(key).digest()
    let found: Principal | undefined
    // Every entry is compared, whether or not one already matched: the time taken says nothing.
    for (const e of this.entries) if (timingSafeEqual(e.hash, presented)) found ??= e.principal
    if (found) {
      if (this.recent.size >= RECENT_KEYS) this.recent.delete(this.recent.keys().next().value as string)
      this.recent.set(key, found)
    }
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

interface Log {
  info(o: object, message: string): void
  error(o: object, message: string): void
}

/**
 * Keeps a KeyRing equal to its keys.yaml: reloaded on file-system events and, since those can be
 * missed (network file systems, editors that rename), on a poll of the file's text. A file that does
 * not read or validate leaves the keys in service as they were, and says so in the log.
 */
export class KeysWatcher {
  private watcher: FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private last: string | undefined
  private reading = false

  private readonly path: string
  private readonly keys: KeyRing
  private readonly log: Log
  private readonly changed: () => void

  constructor(path: string, keys: KeyRing, log: Log, changed: () => void = () => {}) {
    this.path = path
    this.keys = keys
    this.log = log
    this.changed = changed
  }

  start(pollMs: number): void {
    // Read now, not later: a change written before the first check must not be taken as the start.
    try {
      this.last = readFileSync(this.path, 'utf8')
    } catch {
      this.last = undefined
    }
    try {
      const name = basename(this.path)
      this.watcher = watch(dirname(this.path), (_event, file) => {
        if (file === name) void this.check()
      })
      this.watcher.on('error', () => {})
      this.watcher.unref()
    } catch {
      // The poll below still catches every change.
    }
    this.timer = setInterval(() => void this.check(), Math.max(100, pollMs))
    this.timer.unref()
  }

  /** Re-reads the file; applies it when its text changed and it is valid. */
  async check(): Promise<void> {
    if (this.reading) return
    this.reading = true
    try {
      let text: string
      try {
        text = await readFile(this.path, 'utf8')
      } catch (error) {
        if (this.last !== undefined)
          this.log.error({ err: error }, 'keys file unreadable: the keys in service stay')
        this.last = undefined
        return
      }
      if (text === this.last) return
      this.last = text
      try {
        const entries = await readKeysFile(this.path)
        this.keys.replace(entries)
        this.log.info({ keys: entries.length }, 'keys reloaded')
        this.changed()
      } catch (error) {
        this.log.error({ err: error }, 'keys file refused: the keys in service stay')
      }
    } finally {
      this.reading = false
    }
  }

  close(): void {
    clearInterval(this.timer)
    this.watcher?.close()
  }
}
