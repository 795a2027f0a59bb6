import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { RemitClient, RemitError } from '@remit/client'
import { type GatewayOptions, openFront } from './gateway.ts'
import type { RemitTarget } from './remit.ts'

// The gateway for remote agents: Streamable HTTP, one MCP session per agent's client, each
// authenticated by its Remit agent key as a bearer token. The key decides who the calls are made as,
// and every request of a session must carry the key that opened it. A request is refused before any
// MCP traffic when its key is missing or not in service (401), and a bad request is a 4xx, never a
// 5xx: the body is read here, bounded, and parsed before the SDK's transport sees it.

export interface ListenOptions extends Omit<GatewayOptions, 'remit'> {
  /** The TCP port (0: any free one; `url` says which). */
  port: number
  /** The address to listen on (default `127.0.0.1`: this machine only). */
  host?: string
  /**
   * Who a bearer key is: the Remit its calls are decided through (`{ remit, agent }` or a server's
   * `{ url, key }`), or undefined when the key is not in service (401). Asked once per session, when
   * the client initializes. `remitServerKeys(url)` asks a Remit server; `remit mcp-gateway --keys`
   * reads a keys.yaml.
   */
  authenticate(key: string): Promise<RemitTarget | undefined> | RemitTarget | undefined
  /** The largest request body read (bytes; default 1 MiB); a larger one is answered 413. */
  maxBodyBytes?: number
}

export interface ListeningGateway {
  /** Where agents' MCP clients connect, e.g. `http://127.0.0.1:8788/mcp`. */
  url: string
  upstream: Client
  /** Stops listening, ends every session, then closes the upstream and the hold file. */
  close(): Promise<void>
}

const MCP_PATH = '/mcp'
const DEFAULT_MAX_BODY = 1024 * 1024

interface Session {
  transport: StreamableHTTPServerTransport
  /** SHA-256 of the key that opened it: every request of the session must present that key. */
  keyHash: Buffer
}

/** Starts the gateway in front of the upstream server and serves Streamable HTTP on `host:port`. */
export async function listenGateway(o: ListenOptions): Promise<ListeningGateway> {
  const front = await openFront(o)
  const sessions = new Map<string, Session>()
  const maxBody = o.maxBodyBytes ?? DEFAULT_MAX_BODY

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (new URL(req.url ?? '/', 'http://gateway').pathname !== MCP_PATH)
      return refuse(res, 404, `not found: the gateway serves MCP at ${MCP_PATH}`)
    if (!['GET', 'POST', 'DELETE'].includes(req.method ?? ''))
      return refuse(res, 405, 'method not allowed: MCP over Streamable HTTP is GET, POST or DELETE', {
        allow: 'GET, POST, DELETE',
      })
    const key = bearer(req.headers.authorization)
    if (!key) return unauthorized(res, 'send your Remit agent key: Authorization: Bearer rk_…')
    const keyHash = createHash('sha256').update(key).digest()

    const sessionId = req.headers['mcp-session-id']
    if (typeof sessionId === 'string') {
      const session = sessions.get(sessionId)
      // Another key's session is answered as one that does not exist: a key learns nothing of others.
      if (!session || !timingSafeEqual(session.keyHash, keyHash))
        return refuse(res, 404, 'no such session: initialize a new one')
      const body = req.method === 'POST' ? await readJson(req, res, maxBody) : undefined
      if (body === INVALID) return
      return session.transport.handleRequest(req, res, body)
    }

    // No session yet: the key is checked first, then the body must be an initialize request.
    const target = await o.authenticate(key)
    if (!target) return unauthorized(res, 'that key is not in service')
    if (req.method !== 'POST')
      return refuse(res, 400, 'no session: POST an initialize request first (Mcp-Session-Id names a session)')
    const body = await readJson(req, res, maxBody)
    if (body === INVALID) return
    if (!isInitializeRequest(body))
      return refuse(res, 400, 'no session: the first request must be initialize (then send Mcp-Session-Id)')
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, { transport, keyHash }),
    })
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId)
    }
    await front.serverFor(target).connect(transport)
    await transport.handleRequest(req, res, body)
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A key that could not be checked (Remit unreachable) is not the client's fault: 503, retry.
      const unavailable = error instanceof KeyCheckUnavailable
      if (!res.headersSent)
        refuse(
          res,
          unavailable ? 503 : 500,
          unavailable ? error.message : 'the gateway failed on this request',
        )
      else res.end()
    })
  })
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject)
      http.listen(o.port, o.host ?? '127.0.0.1', () => {
        http.off('error', reject)
        resolve()
      })
    })
  } catch (error) {
    await front.close()
    throw error
  }
  const address = http.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${host}:${address.port}${MCP_PATH}`,
    upstream: front.upstream,
    close: async () => {
      const closed = new Promise((resolve) => http.close(resolve))
      http.closeAllConnections()
      await closed
      await front.close()
    },
  }
}

/**
 * Keys checked against a Remit server (`--remit-url`): a key the server knows is the target its
 * calls are decided through, as itself; one it refuses (401) is undefined. The check reads a review
 * that does not exist (404 for any key in service), since the API has no "who am I".
 */
export function remitServerKeys(
  url: string,
  o: { timeoutMs?: number; retries?: number } = {},
): (key: string) => Promise<RemitTarget | undefined> {
  return async (key) => {
    const target = { url, key, ...o }
    try {
      await new RemitClient(target).getReview('rev_remit-mcp-key-check')
    } catch (error) {
      if (error instanceof RemitError && error.status === 401) return undefined
      if (!(error instanceof RemitError))
        throw new KeyCheckUnavailable(`Remit could not check the key: ${(error as Error).message}`)
      // 404 (or 403): the key is in service; what it may do, Remit says on each call.
    }
    return target
  }
}

/** Remit could not be asked whether a key is in service: the client may try again. */
class KeyCheckUnavailable extends Error {}

function bearer(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S{1,512})\s*$/i.exec(header ?? '')?.[1]
}

const INVALID = Symbol('invalid body')

/** The request's JSON body, read up to `max` bytes; INVALID once a 413 or 400 has been answered. */
async function readJson(req: IncomingMessage, res: ServerResponse, max: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'])
  if (declared > max) return tooLarge(req, res, max)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > max) return tooLarge(req, res, max)
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    refuse(res, 400, 'the body is not JSON', {}, -32700)
    return INVALID
  }
}

function tooLarge(req: IncomingMessage, res: ServerResponse, max: number): typeof INVALID {
  refuse(res, 413, `the body is larger than ${max} bytes`, { connection: 'close' })
  req.resume()
  return INVALID
}

function unauthorized(res: ServerResponse, message: string): void {
  refuse(res, 401, message, { 'www-authenticate': 'Bearer realm="remit-mcp-gateway"' })
}

/** A JSON-RPC error body, as the SDK's transport answers its own refusals. */
function refuse(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  code = -32000,
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }))
}
