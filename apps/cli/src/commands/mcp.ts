import {
  formatIssue,
  InputError,
  loadPolicyFile,
  openRemit,
  type Policy,
  PolicyError,
  type PolicyIssue,
  parseDuration,
  type Remit,
} from '@remit/core'
import { hashKey, KeyRing } from '@remit/server'
import { optional } from '../optional.ts'
import { EXIT, type Io, UsageError } from '../output.ts'
import { openStore } from './serve.ts'

// `remit mcp-gateway` and `remit mcp`: stdout is the MCP channel, so everything this prints goes to
// stderr.

export interface McpGatewayOptions {
  policy: string
  map: string
  agent?: string
  store: string
  remitUrl?: string
  upstreamUrl?: string
  hold: string
  wait?: string
  describeGates: boolean
  /** Serve Streamable HTTP on this port to remote agents, each by its key, instead of stdio. */
  listen?: string
  host: string
  /** keys.yaml, for --listen with an embedded Remit: a client's key names its agent. */
  keys: string
}

const loadMcp = () => optional('@remit/mcp', 'remit mcp-gateway and remit mcp', () => import('@remit/mcp'))

/** Serves the gateway on stdio in front of the upstream server, until the client goes. */
export async function mcpGateway(io: Io, upstream: string[], o: McpGatewayOptions): Promise<number> {
  const mcp = await loadMcp()
  const policy = await policyOrIssues(io, o.policy)
  if (!policy) return EXIT.usage
  let map: Awaited<ReturnType<typeof mcp.loadToolMapFile>>
  try {
    map = await mcp.loadToolMapFile(o.map, policy)
  } catch (error) {
    if (!(error instanceof mcp.ToolMapError)) throw error
    printIssues(io, error.issues, `${o.map} has errors; the gateway did not start`)
    return EXIT.usage
  }
  const waitMs = o.wait === undefined ? 0 : parseDuration(o.wait)
  if (waitMs === undefined) throw new UsageError(`--wait wants a duration, e.g. 30s or 2m; got "${o.wait}"`)
  if (!o.upstreamUrl && !upstream.length)
    throw new UsageError(
      'name the upstream MCP server: its command after --, or --upstream-url',
      'remit mcp-gateway --map mcp.yaml --agent crm-agent -- node crm-server.js',
    )
  const upstreamTransport = () =>
    o.upstreamUrl
      ? mcp.httpUpstream(o.upstreamUrl)
      : mcp.stdioUpstream(upstream[0] as string, upstream.slice(1))
  const shared = {
    map,
    holdPath: o.hold,
    waitMs,
    describeGates: o.describeGates,
    onError: (error: unknown) =>
      io.err(`remit mcp-gateway: an outcome was not recorded: ${(error as Error).message}`),
  }
  if (o.listen !== undefined) return listen(io, mcp, policy, o, { ...shared, upstream: upstreamTransport() })

  let remit: Remit | undefined
  let target: Parameters<typeof mcp.openGateway>[0]['remit']
  if (o.remitUrl) {
    const key = process.env.REMIT_KEY
    if (!key)
      throw new UsageError(
        '--remit-url needs the agent key in REMIT_KEY',
        'export REMIT_KEY=$(remit keys new --agent <id>)',
      )
    target = { url: o.remitUrl, key }
  } else {
    const agent = agentOf(policy, o.agent)
    remit = await openRemit({ policy, store: await openStore(o.store) })
    target = { remit, agent }
  }
  try {
    const gateway = await mcp.openGateway({ ...shared, remit: target, upstream: upstreamTransport() })
    io.err(`remit mcp-gateway: ${map.tools.size} tools mapped from ${o.map}; serving MCP on stdio`)
    await mcp.serveStdio(gateway.server)
    await gateway.close()
    return EXIT.ok
  } finally {
    await remit?.close()
  }
}

type Mcp = Awaited<ReturnType<typeof loadMcp>>

/**
 * `--listen`: Streamable HTTP for remote agents, each by its Remit agent key as a bearer token.
 * With --remit-url the key is the one the gateway asks Remit with; embedded, keys.yaml says which
 * agent it is. Serves until SIGINT or SIGTERM.
 */
async function listen(
  io: Io,
  mcp: Mcp,
  policy: Policy,
  o: McpGatewayOptions,
  gateway: Omit<Parameters<Mcp['listenGateway']>[0], 'port' | 'host' | 'authenticate'>,
): Promise<number> {
  const port = Number(o.listen)
  if (!/^\d+$/.test(o.listen ?? '') || port > 65535)
    throw new UsageError(`--listen wants a TCP port, 0 to 65535; got "${o.listen}"`)
  if (o.agent)
    throw new UsageError(
      "--agent does not go with --listen: each client's key says which agent it is",
      o.remitUrl
        ? 'remit keys new --agent <id> gives each agent its key'
        : `give each agent a key in ${o.keys}`,
    )
  let remit: Remit | undefined
  let authenticate: Parameters<Mcp['listenGateway']>[0]['authenticate']
  if (o.remitUrl) authenticate = mcp.remitServerKeys(o.remitUrl)
  else {
    const keys = await KeyRing.fromFile(o.keys)
    const engine = await openRemit({ policy, store: await openStore(o.store) })
    remit = engine
    // Only an agent key the policy knows decides; a reviewer's or an admin's key is not an agent.
    authenticate = (key) => {
      const principal = keys.byHash(hashKey(key))
      return principal?.kind === 'agent' && policy.agents.has(principal.agent)
        ? { remit: engine, agent: principal.agent }
        : undefined
    }
  }
  try {
    const listening = await mcp.listenGateway({ ...gateway, port, host: o.host, authenticate })
    const by = o.remitUrl ? `keys checked by ${o.remitUrl}` : `keys from ${o.keys}`
    io.err(
      `remit mcp-gateway: ${gateway.map.tools.size} tools mapped; serving MCP on ${listening.url} (${by})`,
    )
    await new Promise((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    await listening.close()
    return EXIT.ok
  } finally {
    await remit?.close()
  }
}

export interface McpServeOptions {
  policy: string
  store: string
  agent?: string
}

/** `remit mcp`: Remit's own tools (decide, explain, a customer's timeline) as an MCP server on stdio. */
export async function mcpServe(io: Io, o: McpServeOptions): Promise<number> {
  const mcp = await loadMcp()
  const policy = await policyOrIssues(io, o.policy)
  if (!policy) return EXIT.usage
  const agent = agentOf(policy, o.agent)
  const remit = await openRemit({ policy, store: await openStore(o.store) })
  try {
    io.err(`remit mcp: answering as ${agent}, on stdio`)
    await mcp.serveStdio(mcp.remitToolsServer({ remit, agent }))
    return EXIT.ok
  } finally {
    await remit.close()
  }
}

function agentOf(policy: Policy, agent: string | undefined): string {
  const agents = [...policy.agents.keys()]
  if (!agent)
    throw new UsageError(
      'say which agent the calls are made as: --agent <id>',
      `agents: ${agents.join(', ')}`,
    )
  if (!policy.agents.has(agent))
    throw new InputError(
      'UNKNOWN_AGENT',
      `the policy has no agent "${agent}"`,
      ['agent'],
      `agents: ${agents.join(', ')}`,
    )
  return agent
}

async function policyOrIssues(io: Io, path: string): Promise<Policy | undefined> {
  try {
    return await loadPolicyFile(path)
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error
    printIssues(io, error.issues, `the policy has errors; nothing was started`)
    return undefined
  }
}

/** Each issue, file:line:col first, on stderr (stdout is the MCP channel). */
function printIssues(io: Io, issues: readonly PolicyIssue[], summary: string): void {
  for (const issue of issues) io.err(formatIssue(issue))
  io.err(`error: ${summary}`)
}
