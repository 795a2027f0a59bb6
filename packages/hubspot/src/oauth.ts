import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { Client } from '@hubspot/api-client'
import type { Store } from '@remit/core'
import { statusOf } from './http.ts'
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
}

interface AccessToken {
  token: string
  expiresAt: number
}

const STATE_TTL_MS = 10 * 60 * 1000
const stateKey = (portalId: number) => `hubspot:portal:${portalId}`
const PORTALS = 'hubspot:portals'

export function hubspotOAuth(o: HubSpotOAuthOptions) {
  const now = o.now ?? Date.now
  const margin = o.refreshMarginMs ?? 5 * 60 * 1000
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

  /** Exchanges an install's code for tokens, checks the scopes, and keeps the portal's refresh token. */
  async function install(code: string, state?: string): Promise<{ portalId: number; scopes: string[] }> {
    if (state !== undefined && !stateOk(state))
      throw new HubSpotInstallError(
        'the install link is not this server’s or is older than ten minutes: start again',
      )
    let granted: { accessToken: string; refreshToken: string; expiresIn: number }
    try {
      granted = await anonymous().oauth.tokensApi.create(
        'authorization_code',
        code,
        o.redirectUri,
        o.clientId,
        o.clientSecret,
      )
    } catch (error) {
      throw new HubSpotInstallError(`HubSpot refused the install code (${statusOf(error) ?? 'no answer'})`, {
        cause: error,
      })
    }
    // The token response names neither the portal nor the scopes: the token's own metadata does.
    const info = await anonymous().oauth.accessTokensApi.get(granted.accessToken)
    const missing = o.scopes.filter((s) => !info.scopes.includes(s))
    if (missing.length)
      throw new HubSpotInstallError(
        `portal ${info.hubId} granted the app without ${missing.join(', ')}: Remit needs ${o.scopes.join(', ')}`,
      )
    const installation: Installation = {
      portalId: info.hubId,
      refreshToken: seal(o.secretKey, granted.refreshToken, stateKey(info.hubId)),
      scopes: info.scopes,
      installedAt: new Date(now()).toISOString(),
    }
    await o.store.writeState(stateKey(info.hubId), JSON.stringify(installation))
    const known = await portals()
    if (!known.includes(info.hubId)) await o.store.writeState(PORTALS, JSON.stringify([...known, info.hubId]))
    tokens.set(info.hubId, { token: granted.accessToken, expiresAt: now() + granted.expiresIn * 1000 })
    return { portalId: info.hubId, scopes: info.scopes }
  }

  /** The portals the app was installed in. */
  async function portals(): Promise<number[]> {
    const text = await o.store.readState(PORTALS)
    return text === undefined ? [] : (JSON.parse(text) as number[])
  }

  async function refresh(portalId: number): Promise<AccessToken> {
    const installation = await readInstallation(portalId)
    if (!installation) throw new HubSpotNotInstalledError(portalId)
    const refreshToken = unseal(o.secretKey, installation.refreshToken, stateKey(portalId))
    let granted: { accessToken: string; expiresIn: number }
    try {
      granted = await anonymous().oauth.tokensApi.create(
        'refresh_token',
        undefined,
        undefined,
        o.clientId,
        o.clientSecret,
        refreshToken,
      )
    } catch (error) {
      // 400: HubSpot no longer knows the refresh token (the app was uninstalled or the token revoked).
      if (statusOf(error) === 400)
        throw new HubSpotNotInstalledError(
          portalId,
          'HubSpot refused its refresh token (was the app uninstalled?)',
        )
      throw error
    }
    const fresh = { token: granted.accessToken, expiresAt: now() + granted.expiresIn * 1000 }
    tokens.set(portalId, fresh)
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
      try {
        return await run(clientWith(await accessToken(portalId)))
      } catch (error) {
        if (statusOf(error) !== 401) throw error
        return run(clientWith(await accessToken(portalId, true)))
      }
    },
  }

  return { ...clients, authorizeUrl, install, installation: readInstallation, portals, newState }
}

export type HubSpotOAuth = ReturnType<typeof hubspotOAuth>
