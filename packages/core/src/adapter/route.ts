import type { z } from 'zod'
import type { Caller } from '../decision/request.ts'

// What an HTTP operation of Remit's is, for the server that serves it and for adapters that add
// their own (Salesforce's flow-shaped decision): one description both serve and document. It names
// no web framework: the request and reply are described by the little a handler uses.
//
// Handlers are typed from the route's own schemas by defineRoute, where the route is written: the
// server parses with those very schemas before it calls the handler, so the types cannot drift from
// what arrives. Fastify's type providers (withTypeProvider) do not fit: they type a route where it is
// registered on the app, from schemas Fastify validates itself, while these routes are written
// without Fastify (an adapter has no app), and the server registers a list of them whose types are
// by then erased; it parses with zod itself so every refusal has Remit's error shape.

/** Who presents a key: an agent (deciding as itself, or as one tool), a team's reviewers, or an admin. */
export type Principal =
  | { kind: 'agent'; name: string; agent: string; tool?: string }
  | { kind: 'reviewer'; name: string; team: string }
  | { kind: 'admin'; name: string }

export type Role = Principal['kind']

/**
 * The external id a caller's key may record under. An agent's ids are its own (`agent:<id>/…`): it
 * cannot claim one a vendor's feed will send, which would then be dropped as already recorded, nor
 * another agent's. An admin's are taken as given.
 */
export function scopedExternalId(principal: Principal, externalId: string): string {
  return principal.kind === 'agent' ? `agent:${principal.agent}/${externalId}` : externalId
}

/** The principal a handler sees: a key of one of its route's roles, or none where anyone may call. */
export type PrincipalOf<R extends Role> = [R] extends [never] ? null : Extract<Principal, { kind: R }>

/** Only an agent key decides as someone. */
export type CallerOf<P extends Principal | null> = P extends { kind: 'agent' } ? Caller : undefined

/** A query without a schema reaches the handler as the query string parsed it. */
export type QueryOf<Q extends z.ZodObject | undefined> = [Q] extends [z.ZodObject]
  ? z.output<Q>
  : Record<string, unknown>

/**
 * A body without a schema reaches the handler as sent. An unchecked body is typed as what the schema
 * asks a client to send, not what it did: the handler passes it to something that checks it.
 */
export type BodyOf<B extends z.ZodType | undefined, Unchecked extends boolean> = [B] extends [z.ZodType]
  ? [Unchecked] extends [true]
    ? z.input<B>
    : z.output<B>
  : unknown

/**
 * What the handler returns is the response body, so it must be what the document says it is. A
 * literal it returns needs `as const`: TypeScript widens it before it knows the response's type.
 */
export type ResponseOf<R extends z.ZodType | undefined> = [R] extends [z.ZodType] ? z.output<R> : unknown

interface RouteInfo {
  method: 'GET' | 'POST'
  url: string
  /** A valid Apex identifier (Salesforce External Services imports the document). */
  operationId: string
  summary: string
  description?: string
  tag: string
  status?: number
  /**
   * Largest body this route accepts, bytes, when it needs more than the server's `bodyLimit` (a
   * decision with a preview of an e-mail); a larger one is a 413.
   */
  bodyLimit?: number
}

/**
 * One API operation: how it is served and how it is documented. The server registers these and the
 * OpenAPI document is generated from the very same list, so the two cannot drift. Write one with
 * defineRoute, which types its handler; a list of routes holds them as this.
 */
export interface Route extends RouteInfo {
  /** Who may call it; empty means anyone (health, OpenAPI). */
  roles: Role[]
  params?: Record<string, string>
  query?: z.ZodObject
  body?: z.ZodType
  /**
   * The server passes the body on as sent, unparsed: the decision body, which the engine checks
   * against the policy as well as the schema, so parsing it twice would be waste.
   */
  uncheckedBody?: boolean
  response?: z.ZodType
  // A method, so a route whose handler takes a narrower context (defineRoute's) is one of these: the
  // server keeps its side of that bargain by parsing with the route's schemas before calling it.
  handler(ctx: Context): Promise<unknown>
}

/** A route as it is written: its handler's context and result follow from its schemas and roles. */
export interface RouteSpec<
  Params extends string,
  Query extends z.ZodObject | undefined,
  Body extends z.ZodType | undefined,
  Response extends z.ZodType | undefined,
  R extends Role,
  Unchecked extends boolean,
> extends RouteInfo {
  /** Who may call it; empty means anyone (health, OpenAPI). */
  roles: R[]
  /** Each path parameter, with its description. */
  params?: Record<Params, string>
  query?: Query
  body?: Body
  /** See Route['uncheckedBody']. */
  uncheckedBody?: Unchecked
  response?: Response
  handler: (
    ctx: Context<
      NoInfer<Params>,
      QueryOf<NoInfer<Query>>,
      BodyOf<NoInfer<Body>, NoInfer<Unchecked>>,
      PrincipalOf<NoInfer<R>>
    >,
  ) => Promise<ResponseOf<NoInfer<Response>>>
}

/** A route whose handler is typed by its schemas, params and roles. */
export function defineRoute<
  Params extends string = never,
  Query extends z.ZodObject | undefined = undefined,
  Body extends z.ZodType | undefined = undefined,
  Response extends z.ZodType | undefined = undefined,
  R extends Role = never,
  Unchecked extends boolean = false,
>(route: RouteSpec<Params, Query, Body, Response, R, Unchecked>): Route {
  return route
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

export interface Context<
  Params extends string = string,
  Query = Record<string, unknown>,
  Body = unknown,
  Who extends Principal | null = Principal | null,
> {
  request: RouteRequest
  reply: RouteReply
  /** Whose key it is (the server checks it is one of the route's roles), or null where anyone may call. */
  principal: Who
  /**
   * For an agent key: who it decides as — its tool when it is bound to one (the tool's agent in the
   * policy in service is checked to be the key's agent before the handler runs), else its agent.
   */
  caller: CallerOf<Who>
  params: Record<Params, string>
  query: Query
  body: Body
}
