import { afterEach, describe, expect, it } from 'vitest'
import { type Harness, harness } from './helpers.ts'

let h: Harness
afterEach(async () => h?.server.close())

/** Every value anywhere in a JSON document, with its path. */
function* walk(node: unknown, path: string[] = []): Generator<[string[], unknown]> {
  yield [path, node]
  if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) yield* walk(v, [...path, k])
  }
}

describe('/openapi.json', () => {
  it('is OpenAPI 3.0.x that Salesforce External Services can import', async () => {
    h = await harness()
    const doc = (await h.call('GET', '/openapi.json')).body
    expect(doc.openapi).toMatch(/^3\.0\.\d$/)
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(
        item as Record<
          string,
          {
            operationId: string
            requestBody?: unknown
            description?: string
            summary?: string
            responses: Record<string, { content?: Record<string, unknown> }>
          }
        >,
      ).map(([method, op]) => ({ path, method, op })),
    )
    expect(operations.length).toBeGreaterThanOrEqual(15)
    const ids = operations.map((o) => o.op.operationId)
    expect(new Set(ids).size).toBe(ids.length)
    for (const { method, op } of operations) {
      // Apex identifiers: a letter first, letters/digits/underscores, no double or trailing underscore.
      expect(op.operationId).toMatch(/^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$/)
      if (method === 'get') expect(op.requestBody).toBeUndefined()
      for (const text of [op.description, op.summary]) expect((text ?? '').length).toBeLessThan(1333)
      for (const response of Object.values(op.responses)) {
        for (const type of Object.keys(response.content ?? {})) expect(type).toBe('application/json')
      }
    }
    for (const [path] of walk(doc)) expect(path.at(-1)).not.toBe('not')
  })

  it('documents the decision operation with the request and response schemas the server enforces', async () => {
    h = await harness()
    const doc = (await h.call('GET', '/openapi.json')).body
    const op = doc.paths['/v1/decisions'].post
    expect(op.operationId).toBe('createDecision')
    const request = doc.components.schemas.CreateDecisionRequest
    expect(request.required).toEqual(['action', 'customer'])
    expect(request.additionalProperties).toBe(false)
    expect(doc.components.schemas.CreateDecisionResponse.properties.verdict.enum).toEqual([
      'go',
      'flag',
      'stop',
    ])
    expect(op.security).toEqual([{ bearer: [] }])
  })
})
