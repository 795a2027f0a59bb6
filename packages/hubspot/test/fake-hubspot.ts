import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

// A local fake of the few HubSpot endpoints Remit uses, written from HubSpot's public docs:
// - Custom workflow actions (definitions, callbacks complete):
//   https://developers.hubspot.com/docs/api/automation/custom-workflow-actions
// - CRM objects read and search: https://developers.hubspot.com/docs/api/crm/search
//   (POST /crm/v3/objects/{objectType}/search; filters incl. associations.{type}; 200 { total, results })
// It records every request, and can answer 429 with Retry-After to the next N requests.

export interface FakeRequest {
  method: string
  path: string
  query: URLSearchParams
  body: unknown
  /** Answered with an error (the fake was told to fail it). */
  failed?: boolean
}

export interface CrmObject {
  id: string
  properties: Record<string, string | null>
  associations?: Record<string, { results: { id: string; type: string }[] }>
}

export async function fakeHubSpot() {
  const requests: FakeRequest[] = []
  const definitions: Record<string, unknown>[] = []
  const objects = {
    contacts: [] as CrmObject[],
    companies: [] as CrmObject[],
    tickets: [] as CrmObject[],
    deals: [] as CrmObject[],
    calls: [] as CrmObject[],
    meetings: [] as CrmObject[],
    emails: [] as CrmObject[],
  }
  const byType = objects as Record<string, CrmObject[]>
  let throttle = 0
  let failCompletions = 0
  let failStatus = 503
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString()
    const url = new URL(req.url ?? '/', 'http://fake')
    const r: FakeRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      body: text ? JSON.parse(text) : undefined,
    }
    requests.push(r)
    if (r.path.endsWith('/complete') && failCompletions > 0) r.failed = true
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(body === undefined ? '' : JSON.stringify(body))
    }
    if (throttle > 0) {
      throttle--
      return send(
        429,
        { status: 'error', message: 'You have reached your secondly limit.', category: 'RATE_LIMITS' },
        { 'retry-after': '1' },
      )
    }
    if (/^\/automation\/v4\/actions\/callbacks\/([^/]+)\/complete$/.test(r.path) && r.method === 'POST') {
      if (r.failed) {
        failCompletions--
        return failStatus === 503
          ? send(503, { status: 'error', message: 'Service unavailable', category: 'SERVICE_UNAVAILABLE' })
          : send(failStatus, { status: 'error', message: 'Bad request', category: 'VALIDATION_ERROR' })
      }
      return send(204)
    }
    if (/^\/automation\/v4\/actions\/(\d+)$/.test(r.path)) {
      if (r.method === 'GET') return send(200, { results: definitions })
      const created = { ...(r.body as object), id: String(1000 + definitions.length), revisionId: '1' }
      definitions.push(created)
      return send(201, created)
    }
    const definition = /^\/automation\/v4\/actions\/(\d+)\/(\d+)$/.exec(r.path)
    if (definition && r.method === 'PATCH') {
      const i = definitions.findIndex((d) => d.id === definition[2])
      definitions[i] = { ...definitions[i], ...(r.body as object) }
      return send(200, definitions[i])
    }
    const search = /^\/crm\/v3\/objects\/(\w+)\/search$/.exec(r.path)
    if (search && r.method === 'POST') {
      const type = search[1] as string
      const filters =
        (
          r.body as {
            filterGroups: {
              filters: { propertyName: string; operator: string; value?: string; values?: string[] }[]
            }[]
          }
        ).filterGroups[0]?.filters ?? []
      const results = (byType[type] ?? []).filter((o) =>
        filters.every((f) => {
          if (f.propertyName.startsWith('associations.')) {
            const kind = `${f.propertyName.slice('associations.'.length)}s`.replace('companys', 'companies')
            return o.associations?.[kind]?.results.some((a) => a.id === f.value) ?? false
          }
          const v = o.properties[f.propertyName] ?? ''
          if (f.operator === 'EQ') return v === f.value
          if (f.operator === 'IN') return f.values?.includes(v) ?? false
          if (f.operator === 'NOT_IN') return !(f.values?.includes(v) ?? false)
          if (f.operator === 'GTE') return Number(new Date(v)) >= Number(f.value)
          return true
        }),
      )
      results.sort((a, b) =>
        String(b.properties.createdate ?? '').localeCompare(String(a.properties.createdate ?? '')),
      )
      return send(200, {
        total: results.length,
        results: results.map((o) => ({
          ...o,
          createdAt: new Date().toISOString(),
          updatedAt: new Date().toISOString(),
          archived: false,
        })),
      })
    }
    const read = /^\/crm\/v3\/objects\/(\w+)\/([^/]+)$/.exec(r.path)
    if (read && r.method === 'GET') {
      const o = byType[read[1] as string]?.find((x) => x.id === read[2])
      if (!o) return send(404, { status: 'error', message: 'Object not found', category: 'OBJECT_NOT_FOUND' })
      return send(200, {
        ...o,
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
        archived: false,
      })
    }
    send(404, { status: 'error', message: `no fake for ${r.method} ${r.path}` })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    definitions,
    objects,
    throttleNext: (n: number) => {
      throttle = n
    },
    /** The next n callback completions fail: 503 (HubSpot down) unless another status is given. */
    failCompletions: (n: number, status = 503) => {
      failCompletions = n
      failStatus = status
    },
    completions: () =>
      requests
        .filter((r) => r.path.endsWith('/complete') && !r.failed)
        .map((r) => ({
          callbackId: r.path.split('/').at(-2),
          outputFields: (r.body as { outputFields: Record<string, string> }).outputFields,
        })),
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}
