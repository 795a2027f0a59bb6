/**
 * `@remit/server/testing` — a Remit server for an adapter's or a client's tests: a copy of a policy
 * and a keys.yaml written in a fresh folder, a store (in memory unless one is given), listening on a
 * free port of 127.0.0.1. The keys are made here and handed back by name; only their hashes are
 * written, as in production.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openSqliteStore, type Store } from '@remit/core'
import { generateKey, type KeyEntry, keyLine } from './keys.ts'
import { createServer, type RemitServer, type ServerOptions } from './server.ts'

/** A key's role, as a keys.yaml entry has it (without its name and hash). */
export type TestKey = Omit<KeyEntry, 'name' | 'sha256'>

export interface TestServerOptions extends Partial<Omit<ServerOptions, 'policy' | 'keys' | 'store'>> {
  /** The policy file to serve (copied: a test may rewrite its copy to exercise a reload). */
  policy: string | URL
  /** Keys by name: `{ sales: { reviewer: 'sales' }, ops: { admin: true } }`. */
  keys?: Record<string, TestKey>
  /** Default: SQLite in memory. */
  store?: Store
  /** Start listening (default true); without it, call `server.app.inject`. */
  listen?: boolean
}

export interface TestServer {
  server: RemitServer
  /** The base URL, when listening. */
  url: string
  /** The key made for each name of `keys`. */
  keys: Record<string, string>
  /** The folder holding remit.yaml and keys.yaml (and whatever the test puts there). */
  dir: string
  policyPath: string
  keysPath: string
  /** Closes the server and removes the folder. */
  close(): Promise<void>
}

export async function startTestServer(o: TestServerOptions): Promise<TestServer> {
  const { policy, keys: roles = {}, store, listen = true, ...options } = o
  const dir = mkdtempSync(join(tmpdir(), 'remit-test-'))
  const policyPath = join(dir, 'remit.yaml')
  copyFileSync(policy instanceof URL ? fileURLToPath(policy) : policy, policyPath)
  const keys: Record<string, string> = {}
  const lines = Object.entries(roles).map(([name, role]) => {
    keys[name] = generateKey()
    return keyLine({ name, ...role }, keys[name])
  })
  const keysPath = join(dir, 'keys.yaml')
  writeFileSync(keysPath, lines.map((line) => `${line}\n`).join(''))
  const server = await createServer({
    logger: false,
    watch: false,
    ...options,
    policy: policyPath,
    keys: keysPath,
    store: store ?? openSqliteStore(':memory:'),
  })
  const url = listen ? await server.listen({ port: 0 }) : ''
  return {
    server,
    url,
    keys,
    dir,
    policyPath,
    keysPath,
    async close() {
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
