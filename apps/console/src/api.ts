// The console talks to the server it is served by, with its session cookie; state-changing calls
// carry the session's CSRF token.

let csrf = ''

export class ApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(method !== 'GET' && csrf ? { 'x-csrf-token': csrf } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  const json = text ? JSON.parse(text) : {}
  if (!res.ok) throw new ApiError(res.status, json?.error?.message ?? `HTTP ${res.status}`)
  return json as T
}

export interface Principal {
  kind: 'reviewer' | 'admin'
  name: string
  team?: string
}

export async function session(): Promise<Principal | undefined> {
  try {
    const s = await api<{ principal: Principal; csrf?: string }>('GET', '/v1/console/session')
    csrf = s.csrf ?? ''
    return s.principal
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined
    throw error
  }
}

export async function signIn(key: string): Promise<Principal> {
  const s = await api<{ principal: Principal; csrf: string }>('POST', '/v1/console/session', { key })
  csrf = s.csrf
  return s.principal
}

export async function signOut(): Promise<void> {
  await api('POST', '/v1/console/logout', {})
  csrf = ''
}
