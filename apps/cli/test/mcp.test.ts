import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { openRemit, openSqliteStore } from '@remit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { remit } from './remit.ts'

// `remit mcp-gateway` and `remit mcp` as an agent's MCP client starts them: a process speaking MCP
// on stdio, in front of @remit/mcp's fake CRM (its test fixture, which counts the calls it gets).

const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../packages/mcp/test/fixtures/${name}`, import.meta.url))
const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n')

let dir: string
let client: Client | undefined
afterEach(async () => {
  await client?.close()
  client = undefined
  rmSync(dir, { recursive: true, force: true })
})

async function connect(args: string[], env: Record<string, string> = {}): Promise<Client> {
  client = new Client({ name: 'test-agent', version: '1.0.0' })
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [bin, ...args],
      env: { ...getDefaultEnvironment(), ...env },
      stderr: 'ignore',
    }),
  )
  return client
}

describe('remit mcp-gateway', () => {
  it('gates a real upstream over stdio: a go is sent, a flag is sent once after approval', async () => {
    dir = mkdtempSync(join(tmpdir(), 'remit-cli-mcp-'))
    const calls = join(dir, 'calls.ndjson')
    const store = join(dir, 'remit.db')
    const agent = await connect(
      [
        'mcp-gateway',
        '--policy',
        fixture('remit.yaml'),
        '--map',
        fixture('mcp.yaml'),
        '--agent',
        'crm-agent',
        '--store',
        store,
        '--hold',
        join(dir, 'remit-mcp.db'),
        '--',
        process.execPath,
        fixture('upstream.ts'),
      ],
      { CALLS_FILE: calls },
    )
    const call = async (name: string, args: Record<string, unknown>) =>
      (await agent.callTool({ name, arguments: args })) as CallToolResult
    expect(text(await call('send_email', { account: 'acme', to: 'jane@acme.example', subject: 'Hi' }))).toBe(
      'send_email done',
    )
    const offer = { customer: { account: 'acme', lifecycle: 'customer' }, discount: { pct: 20 } }
    const flagged = await call('create_offer', offer)
    const reviewId = /review (rev_\S+?);/.exec(text(flagged))?.[1] as string
    expect(reviewId).toBeTruthy()

    // A reviewer answers on the same store, from another process's engine.
    const reviewer = await openRemit({ policy: fixture('remit.yaml'), store: openSqliteStore(store) })
    await reviewer.reviews.approve(reviewId, { by: 'sam' })
    await reviewer.close()
    expect((await call('create_offer', offer)).isError).toBeFalsy()
    expect((await call('create_offer', offer)).isError).toBe(true)
    const received = readFileSync(calls, 'utf8').split('\n').filter(Boolean)
    expect(received.map((line) => JSON.parse(line).tool)).toEqual(['send_email', 'create_offer'])
  })

  it('refuses to start on an mcp.yaml with errors, naming file:line:col on stderr', async () => {
    dir = mkdtempSync(join(tmpdir(), 'remit-cli-mcp-'))
    const map = join(dir, 'mcp.yaml')
    writeFileSync(
      map,
      'version: 1\ntools:\n  send_email: { action: email.positoning, customer: { email: to } }\n',
    )
    const r = await remit(
      'mcp-gateway',
      '--policy',
      fixture('remit.yaml'),
      '--map',
      map,
      '--agent',
      'crm-agent',
      '--',
      'true',
    )
    expect(r.code).toBe(2)
    expect(r.out).toBe('')
    expect(r.err).toContain(
      `${map}:3:25: error: the policy declares no action kind "email.positoning" (UNKNOWN_ACTION)`,
    )
    expect(r.err).toContain('hint: did you mean "email.positioning"?')
  })
})

describe('remit mcp', () => {
  it("serves Remit's own tools: decide, explain and a customer's timeline", async () => {
    dir = mkdtempSync(join(tmpdir(), 'remit-cli-mcp-'))
    const agent = await connect([
      'mcp',
      '--policy',
      fixture('remit.yaml'),
      '--store',
      join(dir, 'remit.db'),
      '--agent',
      'crm-agent',
    ])
    const { tools } = await agent.listTools()
    expect(tools.map((t) => t.name).sort()).toEqual([
      'remit_customer_timeline',
      'remit_decide',
      'remit_explain',
    ])
    const request = {
      action: { kind: 'offer.discount', discountPct: 40 },
      customer: { accountId: 'acme', facts: { lifecycle: 'customer' } },
    }
    const explained = (await agent.callTool({ name: 'remit_explain', arguments: request })) as CallToolResult
    expect(text(explained)).toMatch(/^STOP: /)
    const decided = (await agent.callTool({
      name: 'remit_decide',
      arguments: { ...request, action: { kind: 'email.positioning' } },
    })) as CallToolResult
    expect(text(decided)).toMatch(/^GO\n/)
    const timeline = (await agent.callTool({
      name: 'remit_customer_timeline',
      arguments: { accountId: 'acme' },
    })) as CallToolResult
    expect(text(timeline)).toContain('acme: 1 touches, 1 decisions, 0 reviews')
  })
})
