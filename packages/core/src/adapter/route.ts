import type { z } from 'zod'
import type { Caller } from '../decision/request.ts'

// What an HTTP operation of Remit's is, for the server that serves it and for adapters that add
// their own (Salesforce's flow-shaped decision): one description both serve and document. It names
// no web framework: the request and reply are described by the little a handler uses.

/** Who presents a key: an agent (deciding as itself, or as one tool), a team's reviewers, or an admin. */
export type Principal =
  | { kind: 'agent'; name: string; agent: string; tool?: string }
  | { kind: 'reviewer'; name: string; team: string }
  | { kind: 'admin'; name: string }

export type Role = Principal['kind']

/**
 * One API operation: how it is served and how it is documented. The server registers these and the
 * OpenAPI document is generated from the very same list, so the two cannot drift.
 */
export interface Route {
  method: 'GET' | 'POST'
  url: string
  /** A valid Apex identifier (Salesforce External Services imports the document). */
  operationId: string
  summary: string
  description?: string
  tag: string
  /** Who may call it; empty means anyone (health, OpenAPI). */
  roles: Role[]
  params?: Record<string, string>
  query?: z.ZodObject
  body?: z.ZodType
  status?: number
  response?: z.ZodType
  handler: (ctx: Context) => Promise<unknown>
}

/** The request as a handler sees it. */
export interface RouteRequest {
  headers: Record<string, string | string[] | undefined>
  log: {
    info: (o: object, message: string) => void
    warn: (o: object, message: string) => void
    error: (o: object, message: string) => void
  }
}

/** The reply as a handler shapes it (the body is what the handler returns). */
export interface RouteReply {
  code: (status: number) => unknown
  header: (name: string, value: string) => unknown
  type: (contentType: string) => unknown
}

export interface Context {
  request: RouteRequest
  reply: RouteReply
  principal: Principal
  /**
   * For an agent key: who it decides as — its tool when it is bound to one (the tool's agent in the
   * policy in service is checked to be the key's agent before the handler runs), else its agent.
   */
  caller: Caller | undefined
  params: Record<string, string>
  query: Record<string, unknown>
  body: unknown
}
