import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { Client } from '@hubspot/api-client'
import type { Store } from '@remit/core'
import { HubSpotApiError, statusOf } from './http.ts'
import { seal, unseal } from './secrets.ts'

// OAuth as HubSpot documents it for public apps ("OAuth tokens API"): a user installs the app in a
// portal (authorize URL, then the code is exchanged for tokens); each portal's refresh token is kept
// in Remit's store, sealed; access tokens live 30 minutes (`expires_in`), so they are refreshed before
// they run out and again whenever HubSpot answers 401. No long-lived token is configured anywhere.

/** Runs HubSpot calls as a portal's app installation. */
export interface HubSpotClients {
  /**
   * Runs `run` with a client holding a fresh access token of `portalId`; when HubSpot answers 401
   * (a token revoked or expired early) the token is refreshed and `run` runs once more.
   */
  call<T>(portalId: number, run: (client: Client) => Promise<T>): Promise<T>
  /** Whether Remit can act as `portalId` (it holds an installation that HubSpot has not refused). */
  installed?(portalId: number): Promise<boolean>
}

export interface HubSpotOAuthOptions {
  clientId: string
  clientSecret: string
  /** The app's redirect URL: the server's `/hubspot/oauth/callback`, exactly as the app lists it. */
  redirectUri: string
  /** The scopes installs must grant (the action needs `automation`); an install without them is refused. */
  scopes: string[]
  /** Scopes asked for but not required. */
  optionalScopes?: string[]
  /** Where each portal's sealed refresh token is kept (Remit's store: shared by every instance). */
  store: Pick<Store, 'readState' | 'writeState'>
  /** 32 bytes that seal refresh tokens at rest (REMIT_SECRET_KEY). */
  secretKey: Buffer
  /** HubSpot's API (default https://api.hubapi.com). */
  basePath?: string
  /** Where users approve the install (default https://app.hubspot.com/oauth/authorize). */
  authorizeBaseUrl?: string
  /** The only portals that may install (hubspot.yaml `portals`); default any. */
  portals?: number[]
  /** Longest wait for HubSpot's token endpoint (default 15 s); a call as a portal may take twice it. */
  timeoutMs?: number
  /** Refresh an access token this long before it expires (default 5 minutes). */
  refreshMarginMs?: number
  now?: () => number
}

/** An install refused: the code was bad, or the portal did not grant the scopes Remit needs. */
export class HubSpotInstallError extends Error {
  readonly code = 'HUBSPOT_INSTALL_REFUSED'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'HubSpotInstallError'
  }
}

/** A portal Remit holds no installation for (never installed, or its refresh token was revoked). */
export class HubSpotNotInstalledError extends Error {
  readonly code = 'HUBSPOT_NOT_INSTALLED'
  constructor(portalId: number, why = 'the app is not installed there') {
    super(`HubSpot portal ${portalId}: ${why} (install it at /hubspot/install)`)
    this.name = 'HubSpotNotInstalledError'
  }
}

export interface Installation {
  portalId: number
  /** Sealed with the secret key, bound to this portal's state key. */
  refreshToken: string
  scopes: string[]
  installedAt: string
  /** When HubSpot refused the refresh token (the app was uninstalled): nothing is tried for it again. */
  revokedAt?: string
  revokedBecause?: string
}

interface AccessToken {
  token: string
  expiresAt: number
}

const STATE_TTL_MS = 10 * 60 * 1000

/** `promise`, or a rejection once `ms` have passed (the timer never holds the process open). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HubSpot did not answer ${what} within ${ms / 1000} s`)), ms)
    timer.unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
const stateKey = (portalId: number) => `hubspot:portal:${portalId}`
const PORTALS = 'hubspot:portals'

export function hubspotOAuth(o: HubSpotOAuthOptions) {
  const now = o.now ?? Date.now
  const margin = o.refreshMarginMs ?? 5 * 60 * 1000
  // Nothing HubSpot leaves unanswered holds a portal: a refresh shared by its callers ends in time.
  const TOKEN_TIMEOUT_MS = o.timeoutMs ?? 15_000
  const CALL_TIMEOUT_MS = 2 * TOKEN_TIMEOUT_MS
  const tokens = new Map<number, AccessToken>()
  const refreshing = new Map<number, Promise<AccessToken>>()
  const anonymous = () => new Client({ ...(o.basePath ? { basePath: o.basePath } : {}) })
  const clientWith = (accessToken: string) =>
    new Client({ accessToken, ...(o.basePath ? { basePath: o.basePath } : {}) })

  /**
   * The `state` an install round trip carries: a timestamp and a nonce, signed with the secret key,
   * so the callback accepts only codes from installs this server started, within ten minutes.
   */
  function newState(): string {
    const body = `${now()}.${randomBytes(12).toString('base64url')}`
    return `${body}.${createHmac('sha256', o.secretKey).update(body).digest('base64url')}`
  }
  function stateOk(state: string | undefined): boolean {
    const [at, nonce, mac] = (state ?? '').split('.')
    if (!at || !nonce || !mac) return false
    const expected = createHmac('sha256', o.secretKey).update(`${at}.${nonce}`).digest()
    const given = Buffer.from(mac, 'base64url')
    const age = now() - Number(at)
    return (
      given.length === expected.length && timingSafeEqual(given, expected) && age >= 0 && age < STATE_TTL_MS
    )
  }

  /** Where to send a user who installs the app. */
  function authorizeUrl(state = newState()): string {
    const url = new URL(o.authorizeBaseUrl ?? 'https://app.hubspot.com/oauth/authorize')
    url.searchParams.set('client_id', o.clientId)
    url.searchParams.set('redirect_uri', o.redirectUri)
    url.searchParams.set('scope', o.scopes.join(' '))
    if (o.optionalScopes?.length) url.searchParams.set('optional_scope', o.optionalScopes.join(' '))
    url.searchParams.set('state', state)
    return url.toString()
  }

  async function readInstallation(portalId: number): Promise<Installation | undefined> {
    const text = await o.store.readState(stateKey(portalId))
    return text === undefined ? undefined : (JSON.parse(text) as Installation)
  }

  /**
   * One request to HubSpot's token endpoint, form-encoded, through the SDK's `apiRequest`: its
   * `tokensApi` model drops the error's `status` (BAD_REFRESH_TOKEN, BAD_CLIENT_SECRET…), which says
   * whether the app was uninstalled or misconfigured.
   */
  async function tokenRequest(form: Record<string, string>) {
    const res = await within(
      anonymous().apiRequest({
        method: 'POST',
        path: '/oauth/v1/token',
        body: new URLSearchParams(form).toString(),
        defaultJson: false,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      }),
      TOKEN_TIMEOUT_MS,
      'a token request',
    )
    const text = await res.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
    if (!res.ok) throw new HubSpotApiError(res.status, body, 'the token request')
    const t = body as { access_token?: unknown; refresh_token?: unknown; expires_in?: unknown }
    if (typeof t.access_token !== 'string' || typeof t.expires_in !== 'number')
      throw new Error('HubSpot answered the token request without access_token and expires_in')
    return {
      accessToken: t.access_token,
      refreshToken: typeof t.refresh_token === 'string' ? t.refresh_token : undefined,
      expiresIn: t.expires_in,
    }
  }

  /** Exchanges an install's code for tokens, checks the portal and scopes, and keeps its refresh token. */
  async function install(code: string, state: string): Promise<{ portalId: number; scopes: string[] }> {
    if (!stateOk(state))
      throw new HubSpotInstallError(
        'the install link is not this server’s or is older than ten minutes: start again',
      )
    let granted: Awaited<ReturnType<typeof tokenRequest>>
    let info: { hubId: number; scopes: string[] }
    try {
      granted = await tokenRequest({
        grant_type: 'authorization_code',
        client_id: o.clientId,
        client_secret: o.clientSecret,
        redirect_uri: o.redirectUri,
        code,
      })
      // The token response names neither the portal nor the scopes: the token's own metadata does.
      info = await within(
        anonymous().oauth.accessTokensApi.get(granted.accessToken),
        TOKEN_TIMEOUT_MS,
        'token info',
      )
    } catch (error) {
      throw new HubSpotInstallError(`HubSpot did not complete the install: ${(error as Error).message}`, {
        cause: error,
      })
    }
    if (o.portals && !o.portals.includes(info.hubId))
      throw new HubSpotInstallError(
        `portal ${info.hubId} is not one this Remit serves (hubspot.yaml portals)`,
      )
    const missing = o.scopes.filter((s) => !info.scopes.includes(s))
    if (missing.length)
      throw new HubSpotInstallError(
        `portal ${info.hubId} granted the app without ${missing.join(', ')}: Remit needs ${o.scopes.join(', ')}`,
      )
    if (!granted.refreshToken) throw new HubSpotInstallError('HubSpot granted no refresh token')
    const installation: Installation = {
      portalId: info.hubId,
      refreshToken: seal(o.secretKey, granted.refreshToken, stateKey(info.hubId)),
      scopes: info.scopes,
      installedAt: new Date(now()).toISOString(),
    }
    await o.store.writeState(stateKey(info.hubId), JSON.stringify(installation))
    await remember(info.hubId)
    tokens.set(info.hubId, { token: granted.accessToken, expiresAt: now() + granted.expiresIn * 1000 })
    return { portalId: info.hubId, scopes: info.scopes }
  }

  /** Adds a portal to the list the activity poll reads (again after a lost race between two installs). */
  async function remember(portalId: number) {
    const known = await readPortals()
    if (!known.includes(portalId)) await o.store.writeState(PORTALS, JSON.stringify([...known, portalId]))
  }
  async function readPortals(): Promise<number[]> {
    const text = await o.store.readState(PORTALS)
    return text === undefined ? [] : (JSON.parse(text) as number[])
  }

  /** The portals the app is installed in (those whose refresh token HubSpot refused are left out). */
  async function portals(): Promise<number[]> {
    const all = await readPortals()
    const live = await Promise.all(all.map(async (p) => ((await installed(p)) ? p : undefined)))
    return live.filter((p) => p !== undefined)
  }

  async function installed(portalId: number): Promise<boolean> {
    const i = await readInstallation(portalId)
    return i !== undefined && i.revokedAt === undefined
  }

  async function refresh(portalId: number): Promise<AccessToken> {
    const installation = await readInstallation(portalId)
    if (!installation) throw new HubSpotNotInstalledError(portalId)
    if (installation.revokedAt)
      throw new HubSpotNotInstalledError(
        portalId,
        `HubSpot refused its refresh token at ${installation.revokedAt}`,
      )
    const refreshToken = unseal(o.secretKey, installation.refreshToken, stateKey(portalId))
    let granted: Awaited<ReturnType<typeof tokenRequest>>
    try {
      granted = await tokenRequest({
        grant_type: 'refresh_token',
        client_id: o.clientId,
        client_secret: o.clientSecret,
        refresh_token: refreshToken,
      })
    } catch (error) {
      // Only BAD_REFRESH_TOKEN says the portal is gone (uninstalled, revoked): remembered, so it is not
      // asked again. Any other refusal (a rotated client secret, an outage) is retried later.
      if (error instanceof HubSpotApiError && error.category === 'BAD_REFRESH_TOKEN') {
        const revoked = {
          ...installation,
          revokedAt: new Date(now()).toISOString(),
          revokedBecause: error.message,
        }
        await o.store.writeState(stateKey(portalId), JSON.stringify(revoked))
        throw new HubSpotNotInstalledError(
          portalId,
          'HubSpot refused its refresh token (was the app uninstalled?)',
        )
      }
      throw error
    }
    const fresh = { token: granted.accessToken, expiresAt: now() + granted.expiresIn * 1000 }
    tokens.set(portalId, fresh)
    await remember(portalId)
    return fresh
  }

  /** A token valid for at least the margin: the cached one, or one refresh shared by concurrent callers. */
  async function accessToken(portalId: number, force = false): Promise<string> {
    const cached = tokens.get(portalId)
    if (!force && cached && cached.expiresAt - margin > now()) return cached.token
    let pending = refreshing.get(portalId)
    if (!pending) {
      pending = refresh(portalId).finally(() => refreshing.delete(portalId))
      refreshing.set(portalId, pending)
    }
    return (await pending).token
  }

  const clients: HubSpotClients = {
    async call(portalId, run) {
      const token = await accessToken(portalId)
      try {
        return await within(run(clientWith(token)), CALL_TIMEOUT_MS, 'a call')
      } catch (error) {
        if (statusOf(error) !== 401) throw error
        // Refreshed once for every caller that saw this token refused: a later one takes the new token.
        const current = tokens.get(portalId)?.token
        const fresh = current && current !== token ? current : await accessToken(portalId, true)
        return within(run(clientWith(fresh)), CALL_TIMEOUT_MS, 'a call')
      }
    },
    installed,
  }

  return { ...clients, authorizeUrl, install, installation: readInstallation, portals, newState }
}

export type HubSpotOAuth = ReturnType<typeof hubspotOAuth>
