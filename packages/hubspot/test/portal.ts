import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@hubspot/api-client'
import { openSqliteStore } from '@remit/core'
import { startTestServer, type TestServer } from '@remit/server/testing'
import {
  actionDefinition,
  type HubSpotConfig,
  hubspotApp,
  readHubSpotConfig,
  registerAction,
} from '../src/index.ts'
import { type FakeHubSpot, fakeHubSpot } from './fake-hubspot.ts'

// Remit serving a HubSpot app as `remit serve` wires it (hubspotApp), for tests that play a portal
// against the fake: one clock for Remit and the fake, and the install round trip.

export const PORTAL = 102670506
export const SECRET = 'app-client-secret'
export const CLIENT_ID = 'app-client-id'
export const PUBLIC = 'https://remit.example.com'
const policy = new URL('../../../examples/seed-week/remit.yaml', import.meta.url)

/** The one clock of a test: Remit's and the fake's. */
export const clock = { now: Date.parse('2026-04-06T09:00:00Z') }

const running: TestServer[] = []
const stops: (() => void)[] = []

/** Stops every app and server started by `serve` (the store files stay). */
export async function stopAll(): Promise<void> {
  for (const stop of stops.splice(0)) stop()
  for (const s of running.splice(0)) await s.close()
}

export async function until(ok: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await ok()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`still waiting for ${what}`)
}

/** Remit with the app's secrets, on a store that outlives it (a restart opens the same file). */
export async function serve(
  config: HubSpotConfig,
  storePath: string,
  hubspotUrl: string,
  keys: Record<string, { reviewer: string }> = {},
): Promise<TestServer> {
  const app = hubspotApp({
    config,
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    secretKey: Buffer.alloc(32, 7),
    publicUrl: PUBLIC,
    basePath: hubspotUrl,
    now: () => clock.now,
  })
  const server = await startTestServer({
    policy,
    store: openSqliteStore(storePath),
    keys,
    clock: () => new Date(clock.now),
    rawRoutes: app.routes,
  })
  running.push(server)
  stops.push(app.attach(server.server.remit))
  return server
}

/**
 * A user installs the app in `portalId`: Remit's install page, HubSpot's consent, the callback —
 * against a test server or any running Remit (`remit serve`) by its URL.
 */
export async function install(
  remit: TestServer | string,
  fake: FakeHubSpot,
  portalId = PORTAL,
): Promise<Response> {
  const url = typeof remit === 'string' ? remit : remit.url
  const start = await fetch(`${url}/hubspot/install`, { redirect: 'manual' })
  const authorize = new URL(start.headers.get('location') as string)
  const code = fake.authorize({
    portalId,
    scopes: (authorize.searchParams.get('scope') as string).split(' '),
    redirectUri: authorize.searchParams.get('redirect_uri') as string,
  })
  const state = encodeURIComponent(authorize.searchParams.get('state') as string)
  return fetch(`${url}/hubspot/oauth/callback?code=${code}&state=${state}`)
}

/**
 * A portal's world at `at`: the seed's hubspot.yaml, a strict fake of HubSpot on the test's clock
 * (the app 4242, its developer key), and a store path that outlives restarts.
 */
export async function portalWorld(at: string) {
  clock.now = Date.parse(at)
  const config = await readHubSpotConfig(
    new URL('../../../examples/seed-week/hubspot.yaml', import.meta.url).pathname,
  )
  const fake = await fakeHubSpot({
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    appId: 4242,
    developerApiKey: 'dev-key',
    requireAuth: true,
    now: () => clock.now,
  })
  const storePath = join(mkdtempSync(join(tmpdir(), 'remit-portal-')), 'remit.db')
  return { config, fake, storePath }
}

/** Registers the action in app 4242 with the developer key, as `remit hubspot register` does. */
export async function registerSeedAction(remit: TestServer, fake: FakeHubSpot, config: HubSpotConfig) {
  const definition = actionDefinition({
    actionUrl: `${PUBLIC}/hubspot/action`,
    optionsUrl: `${PUBLIC}/hubspot/options`,
    policy: remit.server.remit.policy,
    config,
  })
  const developer = new Client({ developerApiKey: 'dev-key', basePath: fake.url })
  const { id } = await registerAction({ hubspot: developer, appId: 4242, definition })
  return { definition, definitionId: id }
}
