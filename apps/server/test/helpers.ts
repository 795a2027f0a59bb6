import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { type DecisionLogSink, openSqliteStore, type Store } from '@remit/core'
import { createServer, generateKey, keyLine, type RemitServer } from '../src/index.ts'

export const seedPolicy = new URL('../../../examples/seed-week/remit.yaml', import.meta.url)

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON the tests inspect freely
type Body = any

export interface Harness {
  server: RemitServer
  dir: string
  policyPath: string
  keysPath: string
  key: Record<'marketing' | 'sales' | 'support' | 'salesReviewer' | 'supportReviewer' | 'admin', string>
  logs: string[]
  call: (
    method: 'GET' | 'POST',
    url: string,
    key?: string,
    body?: unknown,
  ) => Promise<{ status: number; body: Body; headers: Record<string, unknown> }>
}

/** A server on the seed policy, a fresh store and a keys.yaml with a key for every role. */
export async function harness(
  options: {
    store?: Store
    watch?: boolean
    keysPollMs?: number
    clockSkewMs?: number
    decisionLog?: DecisionLogSink
  } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'remit-server-'))
  const policyPath = join(dir, 'remit.yaml')
  copyFileSync(seedPolicy, policyPath)
  const key = {
    marketing: generateKey(),
    sales: generateKey(),
    support: generateKey(),
    salesReviewer: generateKey(),
    supportReviewer: generateKey(),
    admin: generateKey(),
  }
  const keysPath = join(dir, 'keys.yaml')
  writeFileSync(
    keysPath,
    [
      keyLine(
        { name: 'hubspot-marketing', agent: 'marketing-agent', tool: 'hubspot:workflow/1001' },
        key.marketing,
      ),
      keyLine({ name: 'salesforce-sales', agent: 'sales-agent' }, key.sales),
      keyLine({ name: 'hubspot-support', agent: 'support-agent' }, key.support),
      keyLine({ name: 'sales-reviewers', reviewer: 'sales' }, key.salesReviewer),
      keyLine({ name: 'support-reviewers', reviewer: 'support' }, key.supportReviewer),
      keyLine({ name: 'ops', admin: true }, key.admin),
    ].join('\n'),
  )
  const logs: string[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk))
      done()
    },
  })
  const server = await createServer({
    policy: policyPath,
    store: options.store ?? openSqliteStore(':memory:'),
    keys: keysPath,
    logger: { level: 'info', stream },
    watch: options.watch ?? false,
    ...(options.keysPollMs ? { keysPollMs: options.keysPollMs } : {}),
    ...(options.clockSkewMs ? { clockSkewMs: options.clockSkewMs } : {}),
    ...(options.decisionLog ? { decisionLog: options.decisionLog } : {}),
  })
  const call: Harness['call'] = async (method, url, k, body) => {
    const res = await server.app.inject({
      method,
      url,
      headers: {
        ...(k ? { authorization: `Bearer ${k}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    })
    let parsed: unknown = res.body
    try {
      parsed = JSON.parse(res.body)
    } catch {}
    return { status: res.statusCode, body: parsed, headers: res.headers }
  }
  return { server, dir, policyPath, keysPath, key, logs, call }
}

export const acme = {
  accountId: 'acme',
  contactId: 'acme-jane',
  email: 'jane@acme.example',
  facts: { lifecycle: 'renewal', tier: 'enterprise' },
}
export const globex = {
  accountId: 'globex',
  email: 'omar@globex.example',
  facts: { lifecycle: 'customer', tier: 'smb' },
}
