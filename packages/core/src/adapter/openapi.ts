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
    'Conflicts with what is recorded: a review no longer pending, an idempotency key sent with another request, an outcome after a final one',
  '503': 'The store is away for a moment: retry after Retry-After, with the same idempotency key',
}

/** OpenAPI 3.0.3 for the routes, from their zod schemas (Salesforce External Services imports 3.0). */
export function openApiDocument(routes: Route[], info: { version: string; serverUrl?: string }): Json {
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
    if (['approveReview', 'rejectReview', 'createDecision', 'reportOutcome'].includes(r.operationId))
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
  return {
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
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Json
  delete out.$schema
  return out
}
