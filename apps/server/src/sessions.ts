import { randomBytes, timingSafeEqual } from 'node:crypto'

export const SESSION_COOKIE = 'remit_session'

interface Session {
  /** The SHA-256 of the key that signed in: who the session is, read from the keys in service. */
  keyHash: string
  csrf: string
  expiresAt: number
}

/** Most live sessions kept; past it the oldest is ended (a flood of sign-ins cannot grow memory). */
const MAX_SESSIONS = 10_000

/**
 * Console sign-in: a reviewer or admin key is exchanged for a session id in an HttpOnly,
 * SameSite=Strict cookie. State-changing requests must also carry the session's CSRF token in
 * `X-CSRF-Token` (the page reads it from the session endpoint; another site cannot).
 */
export class Sessions {
  private readonly sessions = new Map<string, Session>()
  private readonly ttlMs: number
  private sweptAt = 0

  constructor(ttlMs = 12 * 3600e3) {
    this.ttlMs = ttlMs
  }

  create(keyHash: string): { id: string; csrf: string; maxAgeSeconds: number } {
    const now = Date.now()
    // Expired sessions are swept at most once a minute, not on every sign-in.
    if (now - this.sweptAt > 60_000) {
      this.sweptAt = now
      for (const [id, s] of this.sessions) if (s.expiresAt < now) this.sessions.delete(id)
    }
    // A Map iterates in insertion order: the first is the oldest.
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string)
    const id = randomBytes(32).toString('base64url')
    const csrf = randomBytes(24).toString('base64url')
    this.sessions.set(id, { keyHash, csrf, expiresAt: now + this.ttlMs })
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

  /** Ends every session whose key is no longer in service. */
  prune(inService: (keyHash: string) => boolean): void {
    for (const [id, s] of this.sessions) if (!inService(s.keyHash)) this.sessions.delete(id)
  }
}

export function sessionCookie(id: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`
}
