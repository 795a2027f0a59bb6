import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { loadPolicyFile, openRemit, openSqliteStore, type Remit } from '@remit/core'
import {
  type GateMeta,
  type GatewayOptions,
  loadToolMapFile,
  openGateway,
  type RemitTarget,
} from '../src/index.ts'

export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** The fake CRM over stdio, counting its calls in `callsFile`. */
export function upstreamTransport(callsFile: string): StdioClientTransport {
  return new StdioClientTransport({
    command: process.execPath,
    args: [fixture('upstream.ts')],
    env: { ...getDefaultEnvironment(), CALLS_FILE: callsFile },
    stderr: 'inherit',
  })
}

export interface UnderTest {
  /** The agent's MCP client, talking to the gateway. */
  client: Client
  /** The embedded engine the gateway asks (the reviewers' side, too). */
  remit: Remit
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>
  /** What reached the upstream server, in order. */
  calls(): { tool: string; args: Record<string, unknown> }[]
  dir: string
  close(): Promise<void>
}

/** The gateway in front of the fake CRM, asking an embedded Remit (or `target`), and an agent's client on it. */
export async function gatewayUnderTest(
  o: { target?: (remit: Remit) => RemitTarget; mapFile?: string } & Pick<GatewayOptions, 'waitMs'> = {},
): Promise<UnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'remit-mcp-'))
  const callsFile = join(dir, 'calls.ndjson')
  const policy = await loadPolicyFile(fixture('remit.yaml'))
  const remit = await openRemit({ policy, store: openSqliteStore(join(dir, 'remit.db')) })
  const gateway = await openGateway({
    map: await loadToolMapFile(o.mapFile ?? fixture('mcp.yaml'), policy),
    remit: o.target ? o.target(remit) : { remit, agent: 'crm-agent' },
    upstream: upstreamTransport(callsFile),
    holdPath: join(dir, 'remit-mcp.db'),
    ...(o.waitMs ? { waitMs: o.waitMs } : {}),
  })
  const [agentSide, gatewaySide] = InMemoryTransport.createLinkedPair()
  await gateway.server.connect(gatewaySide)
  const client = new Client({ name: 'test-agent', version: '1.0.0' })
  await client.connect(agentSide)
  return {
    client,
    remit,
    dir,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    calls: () => {
      let text = ''
      try {
        text = readFileSync(callsFile, 'utf8')
      } catch {}
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    },
    close: async () => {
      await client.close()
      await gateway.close()
      await remit.close().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export const textOf = (result: CallToolResult) =>
  result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n')

export const metaOf = (result: CallToolResult) => (result._meta as { remit: GateMeta }).remit
