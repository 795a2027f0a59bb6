import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineRoute, openApiDocument, typedOpenApi } from '../src/adapter/index.ts'

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are walked as plain JSON
type Json = any

const route = (over: Partial<Parameters<typeof defineRoute>[0]> = {}) =>
  defineRoute({
    method: 'POST',
    url: '/v1/things',
    operationId: 'makeThing',
    summary: 'Make a thing',
    tag: 'things',
    roles: ['agent'],
    body: z.object({
      name: z.string(),
      tags: z.array(z.string()).optional(),
      meta: z.record(z.string(), z.string()).optional(),
    }),
    response: z.object({
      id: z.string(),
      count: z.number().int(),
      note: z.string().nullable(),
      anything: z.unknown(),
      either: z.union([z.string(), z.number()]).optional(),
      grid: z.array(z.array(z.string())).optional(),
      nested: z.object({ ok: z.boolean(), extra: z.unknown() }),
    }),
    handler: async () => ({}) as never,
    ...over,
  })

describe('the OpenAPI document', () => {
  it('describes everything by default (the server’s /openapi.json)', () => {
    const doc: Json = openApiDocument([route()], { version: '1' })
    const error = doc.components.schemas.Error.properties.error.properties
    expect(Object.keys(error)).toEqual(['code', 'message', 'path', 'hint', 'issues'])
    expect(doc.components.schemas.MakeThingResponse.properties.anything).toEqual({})
  })

  it('typedOnly: every property has one concrete type; the untypeable are left out, never required', () => {
    const doc: Json = openApiDocument([route()], { version: '1', typedOnly: true })
    const s = doc.components.schemas
    expect(s.Error.properties.error.properties).toEqual({
      code: { type: 'string' },
      message: { type: 'string' },
      hint: { type: 'string' },
    })
    expect(Object.keys(s.MakeThingResponse.properties)).toEqual(['id', 'count', 'note', 'nested'])
    // A response member left out is one the flow does not read: it is no longer required.
    expect(s.MakeThingResponse.required).toEqual(['id', 'count', 'note', 'nested'])
    expect(s.MakeThingResponse.properties.note).toEqual({ type: 'string', nullable: true })
    expect(s.MakeThingResponse.properties.nested).toMatchObject({
      type: 'object',
      properties: { ok: { type: 'boolean' } },
      required: ['ok'],
    })
    expect(Object.keys(s.MakeThingRequest.properties)).toEqual(['name', 'tags'])
    expect(JSON.stringify(doc)).not.toMatch(/additionalProperties|anyOf|oneOf/)
    // Idempotent, and it leaves its input alone.
    expect(typedOpenApi(doc)).toEqual(doc)
    const full = openApiDocument([route()], { version: '1' })
    const before = structuredClone(full)
    typedOpenApi(full)
    expect(full).toEqual(before)
  })

  it('typedOnly refuses what it cannot leave out or Salesforce would change', () => {
    const required = route({ body: z.object({ value: z.unknown() }) })
    expect(() => openApiDocument([required], { version: '1', typedOnly: true })).toThrow(
      /value is required but has no single type/,
    )
    expect(() =>
      openApiDocument([route({ operationId: 'make-thing' })], { version: '1', typedOnly: true }),
    ).toThrow(/no Apex identifier/)
    expect(() =>
      openApiDocument([route({ description: 'x'.repeat(1334) })], { version: '1', typedOnly: true }),
    ).toThrow(/1,333/)
    const badName = route({ body: z.object({ 'first-name': z.string() }) })
    expect(() => openApiDocument([badName], { version: '1', typedOnly: true })).toThrow(/first-name/)
  })
})
