import type { Client } from '@hubspot/api-client'

// Requests the SDK's generated models cannot say as HubSpot documents them go through the SDK's own
// `apiRequest` (same base URL, auth and retries): the models drop fields they do not know, such as
// a callback completion's `typedOutputs`, and require fields HubSpot's input fields do not have.

/** HubSpot answered with an error: its status, and its `category` and `message` when it gave them. */
export class HubSpotApiError extends Error {
  readonly status: number
  readonly category: string | undefined
  constructor(status: number, body: unknown, what: string) {
    const b = (body && typeof body === 'object' ? body : {}) as {
      message?: unknown
      category?: unknown
      status?: unknown
    }
    const message = typeof b.message === 'string' ? b.message : JSON.stringify(body ?? '').slice(0, 300)
    super(`HubSpot refused ${what} (${status}): ${message}`)
    this.name = 'HubSpotApiError'
    this.status = status
    // API errors name a `category`; the token endpoint's name it in `status` (BAD_REFRESH_TOKEN…).
    this.category =
      typeof b.category === 'string'
        ? b.category
        : typeof b.status === 'string' && b.status !== 'error'
          ? b.status
          : undefined
  }
}

/** Sends one request with the SDK client; the parsed JSON answer (undefined for 204), or HubSpotApiError. */
export async function hubspotRequest(
  client: Client,
  o: {
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
    path: string
    body?: unknown
    qs?: Record<string, string>
  },
): Promise<unknown> {
  const res = await client.apiRequest({
    method: o.method,
    path: o.path,
    ...(o.body !== undefined ? { body: o.body } : {}),
    ...(o.qs ? { qs: o.qs } : {}),
  })
  const text = await res.text()
  let body: unknown
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    body = text
  }
  if (!res.ok) throw new HubSpotApiError(res.status, body, `${o.method} ${o.path}`)
  return body
}

/** The HTTP status of an error from the SDK's generated APIs or from `hubspotRequest`, if any. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof HubSpotApiError) return error.status
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'number' ? code : undefined
}
