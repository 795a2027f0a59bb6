import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { RemitClient } from '@remit/client'
import { loadPolicyFile } from '@remit/core'
import { startTestServer, type TestServer } from '@remit/server/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { type Gateway, loadToolMapFile, openGateway, type RemitTarget } from '../src/index.ts'
import { fixture, metaOf, textOf, upstreamTransport } from './harness.ts'

const offer = { customer: { account: 'initech', lifecycle: 'customer' }, discount: { pct: 20 } }
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function gatewayAsking(target: RemitTarget) {
  const dir = mkdtempSync(join(tmpdir(), 'remit-mcp-remote-'))
  const callsFile = join(dir, 'calls.ndjson')
  const policy = await loadPolicyFile(fixture('remit.yaml'))
  const gateway: Gateway = await openGateway({
    map: await loadToolMapFile(fixture('mcp.yaml'), policy),
    remit: target,
    upstream: upstreamTransport(callsFile),
    holdPath: join(dir, 'remit-mcp.db'),
  })
  const [agentSide, gatewaySide] = InMemoryTransport.createLinkedPair()
  await gateway.server.connect(gatewaySide)
  const client = new Client({ name: 'test-agent', version: '1.0.0' })
  await client.connect(agentSide)
  cleanups.push(async () => {
    await client.close()
    await gateway.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    call: async (name: string, args: Record<string, unknown>) =>
      (await client.callTool({ name, arguments: args })) as CallToolResult,
    calls: () => {
      try {
        return readFileSync(callsFile, 'utf8').split('\n').filter(Boolean)
      } catch {
        return []
      }
    },
  }
}

describe('the gateway asking a Remit server over HTTP (--remit-url)', () => {
  it('holds a flag until a reviewer approves it through the API, then forwards the call once', async () => {
    const server: TestServer = await startTestServer({
      policy: fixture('remit.yaml'),
      keys: { agent: { agent: 'crm-agent' }, sales: { reviewer: 'sales' } },
    })
    cleanups.push(() => server.close())
    const t = await gatewayAsking({ url: server.url, key: server.keys.agent as string })
    const { reviewId } = metaOf(await t.call('create_offer', offer))
    expect(reviewId).toMatch(/^rev_/)
    expect(metaOf(await t.call('create_offer', offer)).verdict).toBe('flag')
    await new RemitClient({ url: server.url, key: server.keys.sales as string }).approve(reviewId as string)
    const released = await t.call('create_offer', offer)
    expect(released.isError).toBeFalsy()
    expect(metaOf(released)).toMatchObject({ verdict: 'go', reviewId })
    expect(metaOf(await t.call('create_offer', offer)).verdict).toBe('flag')
    expect(t.calls()).toHaveLength(1)
  })

  it('re-checks the approval over HTTP when the call is repeated: a suppression since stops it', async () => {
    const server: TestServer = await startTestServer({
      policy: fixture('remit.yaml'),
      keys: { agent: { agent: 'crm-agent' }, sales: { reviewer: 'sales' } },
    })
    cleanups.push(() => server.close())
    const t = await gatewayAsking({ url: server.url, key: server.keys.agent as string })
    const { reviewId, decisionId } = metaOf(await t.call('create_offer', offer))
    await new RemitClient({ url: server.url, key: server.keys.sales as string }).approve(reviewId as string)
    await server.server.remit.recordSuppression({
      accountId: 'initech',
      reason: 'unsubscribe',
      source: 'esp',
    })
    const released = await t.call('create_offer', offer)
    expect(metaOf(released)).toMatchObject({ verdict: 'stop', reviewId })
    expect(textOf(released)).toContain('was approved, but a stop holds now')
    expect(t.calls()).toEqual([])
    const { touches } = await server.server.remit.timeline('initech')
    expect(touches.find((x) => x.decisionId === decisionId)?.status).toBe('cancelled')
  })

  it('denies every gated call when the Remit server cannot be reached', async () => {
    const t = await gatewayAsking({
      url: 'http://127.0.0.1:9',
      key: 'rk_nothing',
      retries: 0,
      timeoutMs: 500,
    })
    const result = await t.call('send_email', { account: 'acme', to: 'jane@acme.example', subject: 'Hi' })
    expect(result.isError).toBe(true)
    expect(textOf(result)).toContain('Remit could not be reached')
    expect(t.calls()).toEqual([])
  })
})
