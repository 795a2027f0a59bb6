import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { loadPolicyFile, openRemit, openSqliteStore } from '@remit/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpUpstream, loadToolMapFile, openGateway } from '../src/index.ts'
import { fixture, metaOf } from './harness.ts'

// The upstream over Streamable HTTP on 127.0.0.1 (stateless: a server per request, as the SDK's
// stateless example does), and the agent reaching the gateway over Streamable HTTP too.

const received: string[] = []
let upstream: Server
let front: Server
let agent: Client
let dir: string
let close: () => Promise<void>

function crm(): McpServer {
  const server = new McpServer({ name: 'fake-crm-http', version: '1.0.0' })
  server.registerTool('send_email', { description: 'Send an e-mail', inputSchema: {} }, async () => {
    received.push('send_email')
    return { content: [{ type: 'text', text: 'sent' }] }
  })
  server.registerTool('create_offer', { description: 'Offer a discount', inputSchema: {} }, async () => {
    received.push('create_offer')
    return { content: [{ type: 'text', text: 'offered' }] }
  })
  return server
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
}

beforeAll(async () => {
  upstream = createServer(async (req, res) => {
    const server = crm()
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    res.on('close', () => void transport.close().then(() => server.close()))
    await server.connect(transport)
    await transport.handleRequest(req, res)
  })
  const upstreamUrl = await listen(upstream)

  dir = mkdtempSync(join(tmpdir(), 'remit-mcp-http-'))
  const policy = await loadPolicyFile(fixture('remit.yaml'))
  const remit = await openRemit({ policy, store: openSqliteStore(join(dir, 'remit.db')) })
  const gateway = await openGateway({
    map: await loadToolMapFile(fixture('mcp.yaml'), policy),
    remit: { remit, agent: 'crm-agent' },
    upstream: httpUpstream(upstreamUrl),
    holdPath: join(dir, 'remit-mcp.db'),
  })
  // One agent, one session: the gateway's server on a stateful Streamable HTTP transport.
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => crypto.randomUUID() })
  await gateway.server.connect(transport)
  front = createServer((req, res) => void transport.handleRequest(req, res))
  agent = new Client({ name: 'test-agent', version: '1.0.0' })
  await agent.connect(new StreamableHTTPClientTransport(new URL(await listen(front))))
  close = async () => {
    await agent.close()
    await gateway.close()
    await remit.close()
    rmSync(dir, { recursive: true, force: true })
  }
  approve = (id) => remit.reviews.approve(id).then(() => undefined)
})
let approve: (id: string) => Promise<void>

afterAll(async () => {
  await close()
  front.closeAllConnections()
  upstream.closeAllConnections()
  await new Promise((r) => front.close(r))
  await new Promise((r) => upstream.close(r))
})

const call = async (name: string, args: Record<string, unknown>) =>
  (await agent.callTool({ name, arguments: args })) as CallToolResult

describe('the gateway over Streamable HTTP, both sides', () => {
  it('forwards a go once, never a stop, and an approved flag once', async () => {
    expect((await call('send_email', { account: 'acme', to: 'jane@acme.example' })).isError).toBeFalsy()
    expect(received).toEqual(['send_email'])

    const stop = await call('create_offer', { customer: { account: 'acme' }, discount: { pct: 45 } })
    expect(metaOf(stop).verdict).toBe('stop')
    expect(received).toEqual(['send_email'])

    const offer = { customer: { account: 'acme' }, discount: { pct: 20 } }
    const { reviewId } = metaOf(await call('create_offer', offer))
    await approve(reviewId as string)
    expect(metaOf(await call('create_offer', offer)).verdict).toBe('go')
    expect(metaOf(await call('create_offer', offer)).verdict).toBe('flag')
    expect(received).toEqual(['send_email', 'create_offer'])
  })
})
