import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { Principal } from './keys.ts'

export const SESSION_COOKIE = 'remit_session'

interface Session {
  principal: Principal
  csrf: string
  expiresAt: number
}

/**
 * Console sign-in: a reviewer or admin key is exchanged for a session id in an HttpOnly,
 * SameSite=Strict cookie. State-changing requests must also carry the session's CSRF token in
 * `X-CSRF-Token` (the page reads it from the session endpoint; another site cannot).
 */
export class Sessions {
  private readonly sessions = new Map<string, Session>()
  private readonly ttlMs: number

  constructor(ttlMs = 12 * 3600e3) {
    this.ttlMs = ttlMs
  }

  create(principal: Principal): { id: string; csrf: string; maxAgeSeconds: number } {
    for (const [id, s] of this.sessions) if (s.expiresAt < Date.now()) this.sessions.delete(id)
    const id = randomBytes(32).toString('base64url')
    const csrf = randomBytes(24).toString('base64url')
    this.sessions.set(id, { principal, csrf, expiresAt: Date.now() + this.ttlMs })
    return { id, csrf, maxAgeSeconds: Math.floor(this.ttlMs / 1000) }
  }

  /** The session a Cookie header names, if it is live. */
  fromCookie(cookie: string | undefined): (Session & { id: string }) | undefined {
    const id = cookie
      ?.split(';')
      .map((c) => c.trim())
      .find((c) => c.startsWith(`${SESSION_COOKIE}=`))
      ?.slice(SESSION_COOKIE.length + 1)
    if (!id) return undefined
    const s = this.sessions.get(id)
    if (!s || s.expiresAt < Date.now()) return undefined
    return { ...s, id }
  }

  csrfOk(session: Session, token: string | string[] | undefined): boolean {
    if (typeof token !== 'string') return false
    const a = Buffer.from(session.csrf)
    const b = Buffer.from(token)
    return a.length === b.length && timingSafeEqual(a, b)
  }

  end(id: string): void {
    this.sessions.delete(id)
  }
}

export function sessionCookie(id: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`
}
