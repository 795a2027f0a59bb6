import { z } from 'zod'
import { errorSchema } from '../api/wire.ts'
import type { Route } from './route.ts'

type Json = Record<string, unknown>

const ERRORS: Record<string, string> = {
  '400': 'Bad input: the error names the offending field',
  '401': 'Missing or unknown key',
  '403': 'The key may not do this',
  '404': 'Not found',
  '409':
    'Conflicts with what is recorded: a review no longer pending (or, to re-check, not approved), an idempotency key sent with another request, an outcome after a final one',
  '503': 'The store is away for a moment: retry after Retry-After, with the same idempotency key',
}

export interface OpenApiOptions {
  version: string
  serverUrl?: string
  /**
   * The subset Salesforce External Services types (see typedOpenApi): for the document it imports.
   * The server's own /openapi.json describes everything and leaves this off.
   */
  typedOnly?: boolean
}

/** OpenAPI 3.0.3 for the routes, from their zod schemas (Salesforce External Services imports 3.0). */
export function openApiDocument(routes: Route[], info: OpenApiOptions): Json {
  const schemas: Json = { Error: jsonSchema(errorSchema, 'output') }
  const ref = (name: string, schema: z.ZodType, io: 'input' | 'output') => {
    schemas[name] ??= jsonSchema(schema, io)
    return { $ref: `#/components/schemas/${name}` }
  }
  const paths: Record<string, Json> = {}
  for (const r of routes) {
    const path = r.url.replace(/:(\w+)/g, '{$1}')
    const name = r.operationId[0]?.toUpperCase() + r.operationId.slice(1)
    const parameters = [
      ...Object.entries(r.params ?? {}).map(([p, description]) => ({
        name: p,
        in: 'path',
        required: true,
        description,
        schema: { type: 'string' },
      })),
      ...Object.entries(r.query?.shape ?? {}).map(([p, schema]) => ({
        name: p,
        in: 'query',
        required: false,
        schema: jsonSchema(schema as z.ZodType, 'output'),
      })),
    ]
    const responses: Json = {
      [String(r.status ?? 200)]: {
        description: 'OK',
        ...(r.response
          ? { content: { 'application/json': { schema: ref(`${name}Response`, r.response, 'output') } } }
          : {}),
      },
    }
    const codes = r.roles.length ? ['400', '401', '403'] : []
    if (r.params) codes.push('404')
    if (
      ['approveReview', 'rejectReview', 'recheckReview', 'createDecision', 'reportOutcome'].includes(
        r.operationId,
      )
    )
      codes.push('409')
    if (r.roles.length) codes.push('503')
    for (const code of codes) {
      responses[code] = {
        description: ERRORS[code],
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      }
    }
    paths[path] = {
      ...paths[path],
      [r.method.toLowerCase()]: {
        operationId: r.operationId,
        summary: r.summary,
        ...(r.description ? { description: r.description } : {}),
        tags: [r.tag],
        ...(r.roles.length ? { security: [{ bearer: [] }] } : { security: [] }),
        ...(parameters.length ? { parameters } : {}),
        ...(r.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: ref(`${name}Request`, r.body, 'input') } },
              },
            }
          : {}),
        responses,
      },
    }
  }
  const document = {
    openapi: '3.0.3',
    info: {
      title: 'Remit decision API',
      version: info.version,
      description:
        'Every agent asks before it touches a customer, and gets go, flag (a human approves) or stop, with the reasons. Authenticate with the bearer key Remit gave your tool.',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A key from keys.yaml' } },
    },
  }
  return info.typedOnly ? typedOpenApi(document) : document
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Json
  delete out.$schema
  return out
}

// The subset Salesforce External Services types. It imports more: a property of no type ("any
// type", as Apex Object), unions (oneOf/anyOf), free-form maps (additionalProperties) and nested
// anonymous lists (List<List<T>>, which Flow cannot hold) — Salesforce Help, External Services
// "Schema Definitions". Flow Builder cannot branch on an untyped Apex Object, so the document a flow
// uses declares only what it can type.
const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'])
const SCALARS = new Set(['string', 'number', 'integer', 'boolean'])
/** Salesforce Help, External Services "Naming and Description Conventions": longer ones are truncated. */
export const SALESFORCE_DESCRIPTION_MAX = 1333
/** An Apex identifier: a letter, then letters, digits and single underscores, not ending in one. */
export const APEX_IDENTIFIER = /^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*$/
const apexName = (s: string) => APEX_IDENTIFIER.test(s) && !s.endsWith('_')

/**
 * The document with every schema property of one concrete type: string, number, integer, boolean, an
 * object with typed properties, or a list of typed items (not of lists). A property that is not (an
 * `unknown`, a union of scalars, a map) is left out: a request member the flow then cannot send, a
 * response member the flow does not read (the server still sends it, e.g. an error's `path`, whose
 * items are names and indexes). `additionalProperties` goes (External Services reads it as a map).
 * A union of one type (e.g. with null) becomes that type. Leaving out a required property would
 * change what the operation means, so that is an error, as are an operationId or property name that
 * is no Apex identifier and a description Salesforce would truncate (over 1,333 characters).
 */
export function typedOpenApi(document: Json): Json {
  const doc = structuredClone(document) as Json
  const components = (doc.components ?? {}) as Json
  const schemas = (components.schemas ?? {}) as Record<string, Json>
  const named = new Map<string, Json | undefined>()
  const resolving = new Set<string>()
  const refTarget = (ref: string) => /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1]
  // A request (input) may not lose a required property; a response may: the flow does not read it.
  const resolve = (name: string, input: boolean): Json | undefined => {
    const key = `${input}:${name}`
    if (named.has(key)) return named.get(key)
    if (resolving.has(key)) return { type: 'object' } // recursive: typed where it is defined
    resolving.add(key)
    const source = schemas[name]
    const out = source ? typed(source, `components.schemas.${name}`, input) : undefined
    resolving.delete(key)
    named.set(key, out)
    return out
  }
  function typed(schema: Json, where: string, input: boolean): Json | undefined {
    if (typeof schema.$ref === 'string') {
      const name = refTarget(schema.$ref)
      if (name === undefined) throw new Error(`${where}: ${schema.$ref} is not a component schema`)
      return resolve(name, input) ? { $ref: schema.$ref } : undefined
    }
    checkDescription(schema.description, where)
    const { anyOf, oneOf, allOf, additionalProperties: _, ...rest } = schema
    const union = (anyOf ?? oneOf) as Json[] | undefined
    if (union) {
      // Nullable unions are one type; anything else is several, which Flow cannot hold.
      const members = union.filter((m) => m.type !== 'null')
      const nullable = members.length < union.length || rest.nullable === true
      if (members.length !== 1) return undefined
      const one = typed({ ...(members[0] as Json), ...omit(rest, ['type']) }, where, input)
      return one && nullable && !one.$ref ? { ...one, nullable: true } : one
    }
    if (allOf) {
      const parts = (allOf as Json[]).map((m, i) => typed(m, `${where}.allOf[${i}]`, input))
      return parts.every((p) => p !== undefined) ? { ...rest, allOf: parts } : undefined
    }
    const type = rest.type
    if (typeof type === 'string' && SCALARS.has(type)) return rest
    if (type === 'array') {
      const items = rest.items as Json | undefined
      if (!items || Array.isArray(items) || (items.type === 'array' && !items.$ref)) return undefined
      const t = typed(items, `${where}.items`, input)
      return t ? { ...rest, items: t } : undefined
    }
    if (type === 'object' || rest.properties) {
      const properties: Json = {}
      const required = new Set((rest.required as string[] | undefined) ?? [])
      for (const [name, sub] of Object.entries((rest.properties ?? {}) as Record<string, Json>)) {
        if (!apexName(name)) throw new Error(`${where}: property "${name}" is no Apex identifier`)
        const t = typed(sub, `${where}.${name}`, input)
        if (t) properties[name] = t
        else if (input && required.has(name))
          throw new Error(`${where}.${name} is required but has no single type External Services can type`)
      }
      if (!Object.keys(properties).length) return undefined
      const kept = [...required].filter((n) => n in properties)
      return {
        ...omit(rest, ['required']),
        type: 'object',
        properties,
        ...(kept.length ? { required: kept } : {}),
      }
    }
    return undefined
  }
  checkDescription((doc.info as Json | undefined)?.description, 'info')
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Json>)) {
    for (const [method, op] of Object.entries(item) as [string, Json][]) {
      if (!METHODS.has(method)) continue
      const where = `${method.toUpperCase()} ${path}`
      if (typeof op.operationId !== 'string' || !apexName(op.operationId))
        throw new Error(`${where}: operationId ${JSON.stringify(op.operationId)} is no Apex identifier`)
      checkDescription(op.description, where)
      checkDescription(op.summary, where)
      for (const p of (op.parameters ?? []) as Json[]) {
        const t = p.schema ? typed(p.schema as Json, `${where} parameter ${p.name}`, true) : undefined
        if (!t) throw new Error(`${where}: parameter ${p.name} has no single type`)
        p.schema = t
      }
      for (const [content, input] of [
        [((op.requestBody ?? {}) as Json).content, true],
        ...Object.values((op.responses ?? {}) as Record<string, Json>).map((r) => [r.content, false]),
      ] as [Record<string, Json> | undefined, boolean][]) {
        for (const [mediaType, media] of Object.entries(content ?? {})) {
          if (!media.schema) continue
          const t = typed(media.schema as Json, `${where} ${mediaType}`, input)
          if (!t) throw new Error(`${where}: the ${mediaType} body has no type External Services can type`)
          media.schema = t
        }
      }
    }
  }
  for (const name of Object.keys(schemas)) {
    const t = resolve(name, false)
    if (t) schemas[name] = t
    else delete schemas[name]
  }
  return doc
}

function checkDescription(text: unknown, where: string) {
  if (typeof text === 'string' && text.length > SALESFORCE_DESCRIPTION_MAX)
    throw new Error(`${where}: a description of ${text.length} characters; Salesforce truncates past 1,333`)
}

function omit(o: Json, keys: string[]): Json {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)))
}
