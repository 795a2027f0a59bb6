import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { loadPolicyFile, openRemit, openSqliteStore, type Remit } from '@remit/core'
import { startTestServer } from '@remit/server/testing'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type ListeningGateway,
  type ListenOptions,
  listenGateway,
  loadToolMapFile,
  remitServerKeys,
} from '../src/index.ts'
import { fixture, metaOf, upstreamTransport } from './harness.ts'

// Remote agents reach the gateway over Streamable HTTP with the SDK's own client, each with its Remit
// agent key as a bearer token. crm-agent may send positioning e-mails (go); support-agent may not
// (flag): the same call from each gets its own verdict.

const email = { account: 'acme', to: 'jane@acme.example', subject: 'Hi' }
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function listening(
  authenticate: (remit: Remit) => ListenOptions['authenticate'],
  maxBodyBytes?: number,
) {
  const dir = mkdtempSync(join(tmpdir(), 'remit-mcp-listen-'))
  const callsFile = join(dir, 'calls.ndjson')
  const policy = await loadPolicyFile(fixture('remit.yaml'))
  const remit = await openRemit({ policy, store: openSqliteStore(join(dir, 'remit.db')) })
  const gateway: ListeningGateway = await listenGateway({
    map: await loadToolMapFile(fixture('mcp.yaml'), policy),
    upstream: upstreamTransport(callsFile),
    holdPath: join(dir, 'remit-mcp.db'),
    port: 0,
    authenticate: authenticate(remit),
    ...(maxBodyBytes ? { maxBodyBytes } : {}),
  })
  cleanups.push(async () => {
    await gateway.close()
    await remit.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    url: gateway.url,
    remit,
    calls: (): string[] => {
      try {
        return readFileSync(callsFile, 'utf8').split('\n').filter(Boolean)
      } catch {
        return []
      }
    },
  }
}

async function agentClient(url: string, key?: string) {
  const client = new Client({ name: 'remote-agent', version: '1.0.0' })
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: key ? { headers: { authorization: `Bearer ${key}` } } : {},
    }),
  )
  cleanups.push(() => client.close())
  return {
    call: async (name: string, args: Record<string, unknown>) =>
      (await client.callTool({ name, arguments: args })) as CallToolResult,
  }
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
}

function post(url: string, body: string, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  })
}

describe('the gateway serving remote agents (--listen), each by its Remit agent key', () => {
  it('embedded: each client is decided as the agent its key names', async () => {
    const keys: Record<string, string> = { rk_crm: 'crm-agent', rk_support: 'support-agent' }
    const t = await listening((remit) => (key) => (keys[key] ? { remit, agent: keys[key] } : undefined))
    const crm = await agentClient(t.url, 'rk_crm')
    const support = await agentClient(t.url, 'rk_support')

    expect(metaOf(await crm.call('send_email', email)).verdict).toBe('go')
    const flagged = await support.call('send_email', email)
    expect(metaOf(flagged).verdict).toBe('flag')
    expect(t.calls()).toHaveLength(1)
    const review = await t.remit.reviews.get(metaOf(flagged).reviewId as string)
    expect(review?.agent).toBe('support-agent')

    // One agent's approval is its own: crm-agent's identical call is not support-agent's held one.
    await t.remit.reviews.approve(review?.id as string)
    expect(metaOf(await support.call('send_email', email))).toMatchObject({
      verdict: 'go',
      reviewId: review?.id,
    })
    expect(metaOf(await crm.call('send_email', email)).reviewId).toBeUndefined()
    expect(t.calls()).toHaveLength(3)
  })

  it('with a Remit server: each client key is the key the calls are asked with', async () => {
    const server = await startTestServer({
      policy: fixture('remit.yaml'),
      keys: { crm: { agent: 'crm-agent' }, support: { agent: 'support-agent' } },
    })
    cleanups.push(() => server.close())
    const t = await listening(() => remitServerKeys(server.url, { retries: 0 }))
    const crm = await agentClient(t.url, server.keys.crm)
    const support = await agentClient(t.url, server.keys.support)
    expect(metaOf(await crm.call('send_email', email)).verdict).toBe('go')
    expect(metaOf(await support.call('send_email', email)).verdict).toBe('flag')
    const decisions = await server.server.remit.decisions.list({})
    expect(decisions.map((d) => [d.agent, d.verdict]).sort()).toEqual([
      ['crm-agent', 'go'],
      ['support-agent', 'flag'],
    ])
    expect(t.calls()).toHaveLength(1)
  })

  it('answers no key, or a key not in service, with 401 before any MCP traffic, and forwards nothing', async () => {
    const server = await startTestServer({
      policy: fixture('remit.yaml'),
      keys: { crm: { agent: 'crm-agent' } },
    })
    cleanups.push(() => server.close())
    const t = await listening(() => remitServerKeys(server.url, { retries: 0 }))

    await expect(agentClient(t.url)).rejects.toMatchObject({ code: 401 })
    await expect(agentClient(t.url, 'rk_not-a-key')).rejects.toMatchObject({ code: 401 })
    const raw = await post(t.url, JSON.stringify(initialize), { authorization: 'Bearer rk_not-a-key' })
    expect(raw.status).toBe(401)
    expect(raw.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect((await post(t.url, JSON.stringify(initialize))).status).toBe(401)
    expect(await server.server.remit.decisions.list({})).toEqual([])
    expect(t.calls()).toEqual([])
  })

  it("does not let a key use another key's session", async () => {
    const keys: Record<string, string> = { rk_crm: 'crm-agent', rk_support: 'support-agent' }
    const t = await listening((remit) => (key) => (keys[key] ? { remit, agent: keys[key] } : undefined))
    const opened = await post(t.url, JSON.stringify(initialize), { authorization: 'Bearer rk_support' })
    const session = opened.headers.get('mcp-session-id') as string
    expect(session).toBeTruthy()
    const call = {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'send_email', arguments: email },
    }
    const hijack = await post(t.url, JSON.stringify(call), {
      authorization: 'Bearer rk_crm',
      'mcp-session-id': session,
      'mcp-protocol-version': '2025-06-18',
    })
    expect(hijack.status).toBe(404)
    expect(t.calls()).toEqual([])
  })

  it('answers a bad request with a 4xx, never a 5xx: too large, not JSON, no session, wrong path', async () => {
    const t = await listening(
      (remit) => (key) => (key === 'rk_crm' ? { remit, agent: 'crm-agent' } : undefined),
      4096,
    )
    const auth = { authorization: 'Bearer rk_crm' }
    expect((await post(t.url, 'x'.repeat(10_000), auth)).status).toBe(413)
    expect((await post(t.url, '{"jsonrpc":', auth)).status).toBe(400)
    const notInitialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
    expect((await post(t.url, notInitialize, auth)).status).toBe(400)
    expect((await post(t.url.replace('/mcp', '/other'), '{}', auth)).status).toBe(404)
    expect((await fetch(t.url, { method: 'PUT', headers: auth })).status).toBe(405)
    expect((await fetch(t.url, { method: 'GET', headers: auth })).status).toBe(400)
    // Still serving.
    const crm = await agentClient(t.url, 'rk_crm')
    expect(metaOf(await crm.call('send_email', email)).verdict).toBe('go')
  })
})
