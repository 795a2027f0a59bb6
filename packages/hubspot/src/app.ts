import type { Remit } from '@remit/core'
import { hubspotAction } from './action.ts'
import { hubspotActivity, recordIdentity } from './activity.ts'
import { type HubSpotConfig, HubSpotConfigError, requiredScopes } from './config.ts'
import { hubspotContext } from './context.ts'
import { installRoutes } from './install.ts'
import { hubspotOAuth } from './oauth.ts'

// Everything a Remit server needs to serve a HubSpot app, wired as `remit serve` wires it: the
// action and options endpoints, the install pages, callbacks completed through the outbox, facts
// from the CRM and reps' activity — all as the portal that sent the work, with its own tokens.

export interface HubSpotAppOptions {
  /** hubspot.yaml, read with `readHubSpotConfig`. */
  config: HubSpotConfig
  clientId: string
  /** The app's client secret: it signs HubSpot's requests and authenticates token requests. */
  clientSecret: string
  /** 32 bytes that seal refresh tokens in the store (`secretKey(process.env.REMIT_SECRET_KEY)`). */
  secretKey: Buffer
  /** The https:// origin HubSpot reaches this server at (signatures and the redirect URL use it). */
  publicUrl: string
  /** HubSpot's API and authorize page, when not HubSpot's own (a proxy, a test double). */
  basePath?: string
  authorizeBaseUrl?: string
  log?: Log
  now?: () => number
}

type Log = {
  info: (o: object, m: string) => void
  warn: (o: object, m: string) => void
  error: (o: object, m: string) => void
}

type Handle = (
  raw: string,
  headers: Record<string, string | string[] | undefined>,
  req: { method: string; url: string },
) => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>

export function hubspotApp(o: HubSpotAppOptions) {
  const publicUrl = o.publicUrl.replace(/\/+$/, '')
  let attached:
    | { action: ReturnType<typeof hubspotAction>; oauth: ReturnType<typeof hubspotOAuth> }
    | undefined
  const need = () => {
    if (!attached) throw new Error('the HubSpot app is not attached to a Remit yet')
    return attached
  }
  const byAction =
    (which: 'handle' | 'options'): Handle =>
    (raw, headers, req) =>
      need().action[which](raw, headers, req)
  let log = o.log
  const byInstall =
    (index: 0 | 1): Handle =>
    (raw, headers, req) =>
      (installRoutes(need().oauth, log)[index] as { handle: Handle }).handle(raw, headers, req)

  /** The raw routes to mount (`createServer({ rawRoutes })`): they answer once `attach` has run. */
  const routes = [
    { method: 'POST' as const, url: '/hubspot/action', handle: byAction('handle') },
    { method: 'POST' as const, url: '/hubspot/options', handle: byAction('options') },
    { method: 'GET' as const, url: '/hubspot/install', handle: byInstall(0) },
    { method: 'GET' as const, url: '/hubspot/oauth/callback', handle: byInstall(1) },
  ]

  /**
   * Starts serving with this Remit: completions and the activity poll run until the returned stop.
   * `logger` (e.g. the server's) hears refused signatures, stops and failed completions.
   */
  function attach(remit: Remit, logger?: Log): () => void {
    log = logger ?? o.log
    for (const [owner, team] of Object.entries(o.config.activity?.owners ?? {}))
      if (!remit.policy.teams.has(team))
        throw new HubSpotConfigError(
          `hubspot.yaml activity.owners: owner ${owner}'s team "${team}" is not a team of the policy (${[...remit.policy.teams.keys()].join(', ')})`,
        )
    const oauth = hubspotOAuth({
      clientId: o.clientId,
      clientSecret: o.clientSecret,
      redirectUri: `${publicUrl}/hubspot/oauth/callback`,
      scopes: requiredScopes(o.config),
      store: remit.store,
      secretKey: o.secretKey,
      ...(o.config.portals ? { portals: o.config.portals } : {}),
      ...(o.basePath ? { basePath: o.basePath } : {}),
      ...(o.authorizeBaseUrl ? { authorizeBaseUrl: o.authorizeBaseUrl } : {}),
      ...(o.now ? { now: o.now } : {}),
    })
    const { engagements, ...lookups } = o.config.context ?? {}
    const context = o.config.context
      ? hubspotContext({
          hubspot: oauth,
          ...lookups,
          ...(engagements ? { engagements: { ...engagements, remit } } : {}),
          ...(o.now ? { now: o.now } : {}),
        })
      : undefined
    const account = o.config.account
    const action = hubspotAction({
      remit,
      clientSecret: o.clientSecret,
      publicBaseUrl: publicUrl,
      clients: oauth,
      ...(o.config.properties ? { properties: o.config.properties } : {}),
      ...(account ? { account: (object) => object.properties?.[account] ?? undefined } : {}),
      ...(context ? { context } : {}),
      ...(o.config.portals ? { portals: o.config.portals } : {}),
      ...(log ? { log } : {}),
      ...(o.now ? { now: o.now } : {}),
    })
    attached = { action, oauth }
    const stops = [action.listen()]
    const activity = o.config.activity
    if (activity) {
      stops.push(
        hubspotActivity({
          remit,
          hubspot: oauth,
          portals: oauth.portals,
          owners: activity.owners,
          ...(activity.kinds ? { kinds: activity.kinds } : {}),
          identify: context
            ? async (type, id, portalId) => {
                const c = await context.customer(type, id, portalId)
                return { accountId: c.accountId, ...(c.contactId ? { contactId: c.contactId } : {}) }
              }
            : recordIdentity(oauth, account),
          ...(activity.everySeconds ? { everyMs: activity.everySeconds * 1000 } : {}),
          ...(activity.firstLookbackHours ? { firstLookbackMs: activity.firstLookbackHours * 3600e3 } : {}),
          ...(log ? { log } : {}),
          ...(o.now ? { now: o.now } : {}),
        }).start(),
      )
    }
    return () => {
      for (const stop of stops) stop()
    }
  }

  return { routes, attach, oauth: () => need().oauth, action: () => need().action }
}
