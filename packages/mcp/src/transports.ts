import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'

// The transports the command line needs, so `remit` itself depends on nothing of the MCP SDK.

/** An upstream server this process starts, speaking MCP on its stdin/stdout (its stderr is ours). */
export function stdioUpstream(command: string, args: string[]): Transport {
  return new StdioClientTransport({
    command,
    args,
    env: Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
    ),
    stderr: 'inherit',
  })
}

/** An upstream server reached over Streamable HTTP. */
export function httpUpstream(url: string): Transport {
  return new StreamableHTTPClientTransport(new URL(url))
}

/**
 * Serves `server` on this process's stdin/stdout until the client goes (stdin ends) or a signal
 * comes; resolves then, with the server closed.
 */
export async function serveStdio(server: Server | McpServer): Promise<void> {
  const transport = new StdioServerTransport()
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve
    process.stdin.once('end', resolve)
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await server.connect(transport)
  await closed
  await server.close()
}
