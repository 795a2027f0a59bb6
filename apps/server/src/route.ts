import type { Caller } from '@remit/core'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { z } from 'zod'
import type { Principal } from './keys.ts'

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

export interface Context {
  request: FastifyRequest
  reply: FastifyReply
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
