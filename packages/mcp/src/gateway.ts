import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ListToolsRequestSchema,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js'
import { Gate } from './gate.ts'
import { CallHold } from './hold.ts'
import type { ToolMap } from './map/load.ts'
import { type RemitTarget, remitSeam } from './remit.ts'
import { VERSION } from './version.ts'

export interface GatewayOptions {
  /** The loaded mcp.yaml (`loadToolMapFile(path, policy)`). */
  map: ToolMap
  /** Where Remit is: `{ remit, agent }` for an embedded engine, or a server's `{ url, key }` / RemitClient. */
  remit: RemitTarget
  /** The upstream MCP server's transport (stdio, Streamable HTTP); the gateway connects and closes it. */
  upstream: Transport
  /** The SQLite file of flagged calls and spent approvals (default `remit-mcp.db`). */
  holdPath?: string
  /** Hold a flagged call open this long for a quick approval (ms; default 0). */
  waitMs?: number
  /** Note each tool's gate at the end of its description in tools/list (default true). */
  describeGates?: boolean
  /** Told of outcomes Remit did not take after the upstream answered. */
  onError?: (error: unknown) => void
}

export interface Gateway {
  /** The MCP server agents talk to: connect it to a transport (`new StdioServerTransport()`). */
  server: Server
  /** The client of the upstream server. */
  upstream: Client
  close(): Promise<void>
}

/**
 * Starts the gateway: connects to the upstream server and returns the MCP server to put in front
 * of it. tools/list is the upstream's; tools/call goes through the gate.
 */
export async function openGateway(o: GatewayOptions): Promise<Gateway> {
  const front = await openFront(o)
  return { server: front.serverFor(o.remit), upstream: front.upstream, close: front.close }
}

/** One upstream and one hold file, and an MCP server in front of them for each agent. */
export interface GatewayFront {
  upstream: Client
  /** A new MCP server whose calls are decided through `remit` (one per agent's session). */
  serverFor(remit: RemitTarget): Server
  /** Closes every server made, then the upstream and the hold file. */
  close(): Promise<void>
}

export async function openFront(o: Omit<GatewayOptions, 'remit'>): Promise<GatewayFront> {
  const hold = new CallHold(o.holdPath ?? 'remit-mcp.db')
  const upstream = new Client({ name: 'remit-mcp-gateway', version: VERSION })
  try {
    await upstream.connect(o.upstream)
  } catch (error) {
    hold.close()
    throw error
  }
  const servers = new Set<Server>()
  upstream.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    for (const server of servers) await server.sendToolListChanged().catch(() => {})
  })
  const serverFor = (remit: RemitTarget): Server => {
    const gate = new Gate({
      map: o.map,
      remit: remitSeam(remit),
      hold,
      ...(o.waitMs ? { waitMs: o.waitMs } : {}),
      ...(o.onError ? { onError: o.onError } : {}),
    })
    const server = new Server(
      { name: 'remit-mcp-gateway', version: VERSION },
      {
        capabilities: { tools: { listChanged: true } },
        instructions:
          'Every tool call goes through Remit first: a call may be stopped, or flagged for human approval (then call it again, with the same arguments, once approved).',
      },
    )
    server.setRequestHandler(ListToolsRequestSchema, async (request) => {
      const listed = await upstream.listTools(request.params)
      return o.describeGates === false
        ? listed
        : { ...listed, tools: listed.tools.map((t) => noted(o.map, t)) }
    })
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const { name, arguments: args = {} } = request.params
      // The upstream's result goes back as it is: the gateway forwards, it does not validate.
      // As approved: a reviewer's changes, if any, are in the arguments the gate hands back.
      return gate.call(name, args, (approved) =>
        upstream.request(
          { method: 'tools/call', params: { name, arguments: approved } },
          CallToolResultSchema,
        ),
      )
    })
    servers.add(server)
    server.onclose = () => servers.delete(server)
    return server
  }
  return {
    upstream,
    serverFor,
    close: async () => {
      for (const server of [...servers]) await server.close()
      await upstream.close()
      hold.close()
    },
  }
}

/** The tool, with how the gateway treats it said at the end of its description. */
function noted(map: ToolMap, tool: Tool): Tool {
  const route = map.tools.get(tool.name)
  const gate = !route
    ? 'denied: not in mcp.yaml, so every call is refused'
    : route.passthrough
      ? 'passthrough: not gated'
      : `gated as "${route.action}": each call gets go, flag (a human approves; call again once approved) or stop`
  return {
    ...tool,
    description: `${tool.description ?? ''}${tool.description ? '\n\n' : ''}[Remit: ${gate}]`,
  }
}
