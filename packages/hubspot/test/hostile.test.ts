import { mkdtempSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@hubspot/api-client'
import { loadPolicyFile, openRemit, openSqliteStore, type Remit } from '@remit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { hubspotRequest } from '../src/http.ts'
import {
  type HubSpotContext,
  HubSpotNotInstalledError,
  hubspotAction,
  hubspotActivity,
  hubspotApp,
  hubspotContext,
  hubspotOAuth,
  installRoutes,
  readHubSpotConfig,
} from '../src/index.ts'
import { seal } from '../src/secrets.ts'
import { signV2, signV3, singleClient } from '../src/testing.ts'
import { type FakeHubSpot, type FakeHubSpotOptions, fakeHubSpot } from './fake-hubspot.ts'
import {
  CLIENT_ID,
  clock,
  install,
  PORTAL,
  PUBLIC,
  portalWorld,
  registerSeedAction,
  SECRET,
  serve,
  stopAll,
  until,
} from './portal.ts'

// A hostile review of the adapter: a caller of the public endpoints with no secret, a portal admin
// who controls record properties and input fields, and HubSpot misbehaving within its contract
// (429, 5xx, slow or no answers, revoked refresh tokens, callbacks already completed).
//
// Tests named "... (BUG)" reproduce a defect and FAIL until it is fixed; the name says what should
// hold. The others pass and guard behaviour that is right today.

const seed = new URL('../../../examples/seed-week/remit.yaml', import.meta.url).pathname
const seedHubSpot = new URL('../../../examples/seed-week/hubspot.yaml', import.meta.url).pathname
const ACTION_URL = 'https://remit.example.com/hubspot/action'
const T0 = Date.parse('2026-04-06T09:00:00Z')

afterEach(stopAll)

type Answer = { status: number; body: unknown }
type Outputs = { outputFields: Record<string, string> }

/** Remit (in memory) with the action as `hubspotApp` configures it, against the fake. */
async function harness(
  o: {
    fake?: FakeHubSpotOptions
    context?: (clients: ReturnType<typeof singleClient>) => HubSpotContext
  } = {},
) {
  const now = { t: T0 }
  const fake = await fakeHubSpot({ strictCallbacks: false, now: () => now.t, ...o.fake })
  const remit = await openRemit({
    policy: await loadPolicyFile(seed),
    store: openSqliteStore(':memory:'),
    clock: () => new Date(now.t),
  })
  const clients = singleClient(new Client({ accessToken: 't', basePath: fake.url }))
  const action = hubspotAction({
    remit,
    clientSecret: SECRET,
    publicBaseUrl: 'https://remit.example.com',
    clients,
    properties: { lifecycle: 'lifecyclestage', tier: 'tier' },
    // As app.ts wires hubspot.yaml's `account: account_id`.
    account: (object) => object.properties?.account_id ?? undefined,
    ...(o.context ? { context: o.context(clients) } : {}),
    now: () => now.t,
  })
  const send = (body: unknown, sign: 'v3' | 'v2' = 'v3'): Promise<Answer> => {
    const raw = typeof body === 'string' ? body : JSON.stringify(body)
    const target = { method: 'POST', url: ACTION_URL, rawBody: raw }
    const headers = sign === 'v3' ? signV3(target, SECRET, now.t) : signV2(target, SECRET)
    return action.handle(raw, headers, { method: 'POST', url: '/hubspot/action' })
  }
  return { now, fake, remit, action, send, clients }
}

function execution(o: {
  callbackId: string
  portalId?: number
  objectId?: number
  objectType?: string
  properties?: Record<string, unknown>
  inputFields?: Record<string, unknown>
}) {
  return {
    callbackId: o.callbackId,
    origin: { portalId: o.portalId ?? PORTAL, actionDefinitionId: 1, actionDefinitionVersion: 1 },
    context: { source: 'WORKFLOWS', workflowId: 1001 },
    object: {
      objectId: o.objectId ?? 51,
      objectType: o.objectType ?? 'CONTACT',
      properties: o.properties ?? { lifecyclestage: 'renewal', tier: 'smb' },
    },
    inputFields: o.inputFields ?? { remit_action: 'email.positioning' },
  }
}

const outputs = (a: Answer) => (a.body as Outputs).outputFields

function memoryStore() {
  const state = new Map<string, string>()
  return {
    readState: async (k: string) => state.get(k),
    writeState: async (k: string, v: string) => void state.set(k, v),
    state,
  }
}

/** A store holding portal `portalId`'s installation with `refreshToken`, sealed as oauth.ts seals it. */
function installed(key: Buffer, portalId: number, refreshToken: string) {
  const s = memoryStore()
  s.state.set(
    `hubspot:portal:${portalId}`,
    JSON.stringify({
      portalId,
      refreshToken: seal(key, refreshToken, `hubspot:portal:${portalId}`),
      scopes: ['automation', 'crm.objects.contacts.read', 'crm.objects.companies.read'],
      installedAt: new Date(T0).toISOString(),
    }),
  )
  s.state.set('hubspot:portals', JSON.stringify([portalId]))
  return s
}

/** A stand-in for HubSpot's API that answers as `route` says (undefined: never answers). */
async function stub(route: (req: IncomingMessage, res: ServerResponse) => boolean) {
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      if (!route(req, res)) return // hang: no answer, connection held open
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(r))
    },
  }
}
const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
  return true
}
const tokenAnswer = {
  access_token: 'at-1',
  refresh_token: 'rt-1',
  expires_in: 1800,
  token_type: 'bearer',
  token_use: 'access_token',
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)),
  ])
}

async function waitFor(ok: () => boolean | Promise<boolean>, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await ok()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`still waiting for ${what}`)
}

// ---------------------------------------------------------------------------------------------------
// Forging and replaying executions
// ---------------------------------------------------------------------------------------------------

describe('forging or replaying a completion', () => {
  it('a decision of another agent that reuses a HubSpot idempotency key does not complete its callback', async () => {
    // Reviewers and admins read idempotency keys in GET /v1/decisions. Idempotency keys are per
    // agent, so any agent key may send the same key again and get a NEW decision carrying it; the
    // key's MAC is valid, and `owed` completes the workflow's callback with that decision's review.
    const { fake, remit, action, send } = await harness()
    try {
      expect(outputs(await send(execution({ callbackId: 'cb-victim' })))).toMatchObject({
        hs_execution_state: 'BLOCK',
      })
      const [victim] = await remit.decisions.list()
      const forged = await remit.decide(
        { agent: 'support-agent' },
        {
          action: { kind: 'sequence.winback' },
          customer: { accountId: 'unrelated', facts: { lifecycle: 'renewal', tier: 'smb' } },
          idempotencyKey: victim?.idempotencyKey as string,
        },
      )
      expect(forged.verdict).toBe('flag')
      remit.outbox.route('hubspot', action.owed)
      await remit.reviews.approve(forged.reviewId as string)
      // The marketing workflow's callback is owed nothing by support's review.
      expect(await remit.outbox.list({ channel: 'hubspot' })).toEqual([])
    } finally {
      await fake.close()
    }
  })

  it('a replayed execution (v2 carries no timestamp) answers the first decision and reserves nothing more', async () => {
    const { fake, remit, now, send } = await harness()
    try {
      const body = execution({
        callbackId: 'cb-replay',
        properties: { lifecyclestage: 'customer', tier: 'smb' },
      })
      expect(outputs(await send(body, 'v2'))).toMatchObject({ remit_verdict: 'go' })
      now.t += 24 * 3600e3
      expect(outputs(await send(body, 'v2'))).toMatchObject({ remit_verdict: 'go' })
      expect(await remit.decisions.list()).toHaveLength(1)
      expect((await remit.timeline(`contact:hubspot-contact:${PORTAL}:51`)).touches).toHaveLength(1)
    } finally {
      await fake.close()
    }
  })

  it('HubSpot retrying an execution whose review was already answered gets the answer, not a second BLOCK', async () => {
    // HubSpot retries an execution it got no answer to (a timeout, a 5xx) with the same callbackId.
    // If the review was answered meanwhile, its completion went (or was refused: the callback was not
    // blocked yet) — a second BLOCK then parks the record until HubSpot's expiry with no verdict.
    const { fake, remit, now, send } = await harness()
    try {
      const body = execution({ callbackId: 'cb-retried' })
      expect(outputs(await send(body))).toMatchObject({ hs_execution_state: 'BLOCK' })
      const [review] = await remit.reviews.list({ status: 'pending' })
      await remit.reviews.approve(review?.id as string)
      now.t += 60_000
      expect(outputs(await send(body))).toMatchObject({ hs_execution_state: 'SUCCESS', remit_verdict: 'go' })
    } finally {
      await fake.close()
    }
  })

  it('HubSpot retrying an execution after the CRM record changed gets the first decision, not a 5xx/409', async () => {
    // With `context`, facts are read from the CRM at each attempt; the idempotency key is bound to a
    // hash of the facts, so a retry after any change is a ConflictError that escapes `handle`: a 409
    // (HubSpot: the action failed) through the server, and the workflow goes on without a verdict.
    const { fake, now, send } = await harness({
      context: (clients) =>
        hubspotContext({
          hubspot: clients,
          properties: { lifecycle: 'lifecyclestage', tier: 'tier' },
          now: () => now.t,
        }),
    })
    try {
      fake.objects.contacts.push({
        id: '51',
        properties: { email: 'jane@acme.example', lifecyclestage: 'customer', tier: 'smb' },
      })
      const body = execution({ callbackId: 'cb-changed', properties: {} })
      expect(outputs(await send(body))).toMatchObject({ remit_verdict: 'go' })
      ;(fake.objects.contacts[0] as { properties: Record<string, string> }).properties.tier = 'enterprise'
      now.t += 60_000 // past the 30 s customer cache
      const again = await send(body).catch((e: Error) => ({ status: 500, body: { error: e.message } }))
      expect(again).toMatchObject({ status: 200, body: { outputFields: { remit_verdict: 'go' } } })
    } finally {
      await fake.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------------
// Accounts and portals
// ---------------------------------------------------------------------------------------------------

describe('portals', () => {
  it('the same record id in two portals is two accounts', async () => {
    // accountId is `hubspot-company:<id>` with no portal: portal B's company 904 shares portal A's
    // ledger, so A's go stops B's send (and B's workflows can spend A's limits).
    const { fake, send } = await harness()
    try {
      const company = (callbackId: string, portalId: number) =>
        execution({
          callbackId,
          portalId,
          objectType: 'COMPANY',
          objectId: 904,
          properties: { lifecyclestage: 'customer', tier: 'smb' },
        })
      expect(outputs(await send(company('cb-a', 111)))).toMatchObject({ remit_verdict: 'go' })
      const b = outputs(await send(company('cb-b', 222)))
      expect(b.remit_reason).not.toMatch(/one-touch-per-72h/)
      expect(b).toMatchObject({ remit_verdict: 'go' })
    } finally {
      await fake.close()
    }
  })

  it('a company whose account property is blank is its own account, as a blank contact is', async () => {
    const { fake, send } = await harness()
    try {
      const blank = await send(
        execution({
          callbackId: 'cb-blank',
          objectType: 'COMPANY',
          objectId: 905,
          properties: { lifecyclestage: 'customer', tier: 'smb', account_id: '' },
        }),
      )
      expect(outputs(blank).remit_reason).not.toMatch(/accountId/)
      expect(outputs(blank)).toMatchObject({ remit_verdict: 'go' })
    } finally {
      await fake.close()
    }
  })

  it('a record property holding U+0000 is refused as every other route refuses it, not stored', async () => {
    // The server refuses \u0000 in JSON bodies because PostgreSQL text and jsonb cannot hold it
    // (apps/server/src/server.ts); raw routes skip that parser. With the Postgres store this decision's
    // insert fails: a 500, which HubSpot retries with backoff for three days, failing each time.
    const { fake, remit, send } = await harness()
    try {
      const answer = await send(
        execution({
          callbackId: 'cb-nul',
          properties: { lifecyclestage: 'customer', tier: 'smb', account_id: 'acme\u0000' },
        }),
      )
      expect(outputs(answer)).toMatchObject({ remit_verdict: 'stop' })
      expect(await remit.decisions.list()).toHaveLength(0)
    } finally {
      await fake.close()
    }
  })

  it('an execution from a portal Remit holds no installation for is answered stop, never parked; installed, it is decided and completed', async () => {
    // HubSpot runs the action for every portal that has the app, whether or not Remit's install
    // callback succeeded (e.g. the user came from HubSpot's own install link, with no state). A
    // BLOCK there could never be completed (no token): the workflow would wait 73 h for nothing.
    const { config, fake, storePath } = await portalWorld(new Date(T0).toISOString())
    try {
      const remit = await serve(config, storePath, fake.url, { sales: { reviewer: 'sales' } })
      const { definitionId } = await registerSeedAction(remit, fake, config)
      fake.objects.contacts.push({
        id: '51',
        properties: {
          email: 'jane@acme.example',
          lifecyclestage: 'renewal',
          tier: 'smb',
          account_id: 'acme',
        },
      })
      const run = () =>
        fake.execute({
          definitionId,
          portalId: PORTAL,
          workflowId: 1001,
          objectType: 'CONTACT',
          objectId: 51,
          inputFields: { remit_action: 'email.positioning' },
          deliverTo: remit.url,
        })
      const before = (await run()).body as Outputs
      expect(before.outputFields).toMatchObject({ hs_execution_state: 'SUCCESS', remit_verdict: 'stop' })
      expect(before.outputFields.remit_reason).toContain(`not installed in portal ${PORTAL}`)
      expect((await install(remit, fake)).status).toBe(200)
      expect(((await run()).body as Outputs).outputFields.hs_execution_state).toBe('BLOCK')
      const [review] = await remit.server.remit.reviews.list({ status: 'pending' })
      await remit.server.remit.reviews.approve(review?.id as string)
      await until(() => fake.callbacks().some((c) => c.state === 'completed'), 'the completion')
    } finally {
      await fake.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------------
// HubSpot misbehaving within its contract
// ---------------------------------------------------------------------------------------------------

describe('HubSpot away, slow or refusing', () => {
  it('a completion is retried for as long as its callback lives, not dropped after 20 failures', async () => {
    // HubSpot's callback lives 73 h (the review's 72 h and an hour); the outbox's default 20 attempts
    // with its backoff (1 s doubling to 10 min) are spent in about two hours of 503s. Timings here are
    // shortened; the attempt count is the default that app.ts uses.
    const { fake, remit, action, send, now } = await harness()
    try {
      expect(outputs(await send(execution({ callbackId: 'cb-outage' })))).toMatchObject({
        hs_execution_state: 'BLOCK',
      })
      fake.failCompletions(25)
      const stop = action.listen({ everyMs: 5, baseDelayMs: 1, maxDelayMs: 2 })
      try {
        const [review] = await remit.reviews.list({ status: 'pending' })
        await remit.reviews.approve(review?.id as string)
        // Retries back off on Remit's clock, which the test moves.
        await waitFor(() => {
          now.t += 1000
          return fake.completions().length === 1
        }, 'the completion after HubSpot came back')
      } finally {
        stop()
      }
    } finally {
      await fake.close()
    }
  })

  it('a token request HubSpot never answers does not wedge every later call of the portal', async () => {
    // No HubSpot call has a timeout, and a pending refresh is shared by every caller of the portal
    // until it settles: one black-holed token request holds all completions, context lookups and
    // activity polls of that portal until the process restarts.
    let tokenRequests = 0
    const hub = await stub((req, res) => {
      if (req.url?.startsWith('/oauth/v1/token')) {
        tokenRequests++
        return tokenRequests === 1 ? false : json(res, 200, tokenAnswer)
      }
      return json(res, 200, { ok: true })
    })
    try {
      const key = Buffer.alloc(32, 3)
      const oauth = hubspotOAuth({
        clientId: 'id',
        clientSecret: 'secret',
        redirectUri: 'https://remit.example.com/hubspot/oauth/callback',
        scopes: ['automation'],
        store: installed(key, 7, 'rt-1'),
        secretKey: key,
        basePath: hub.url,
        timeoutMs: 1000,
      })
      const ping = () => oauth.call(7, (c) => hubspotRequest(c, { method: 'GET', path: '/ping' }))
      await expect(within(ping(), 300)).rejects.toThrow(/no answer/) // the first refresh hangs
      // …until its timeout (1 s here): the portal's next call asks again, and is answered.
      await new Promise((r) => setTimeout(r, 1100))
      await expect(within(ping(), 3000)).resolves.toEqual({ ok: true })
    } finally {
      await hub.close()
    }
  })

  it('a portal whose refresh token HubSpot refused is not refreshed again on every poll', async () => {
    // Uninstalled portal: each pass of the activity poll asks for a token once per kind (4 a minute
    // per portal, for ever) and logs each refusal; the portal stays in hubspot:portals.
    const now = { t: T0 }
    const fake = await fakeHubSpot({
      clientId: 'id',
      clientSecret: 'secret',
      requireAuth: true,
      now: () => now.t,
    })
    try {
      const key = Buffer.alloc(32, 4)
      const store = installed(key, 7, 'revoked-refresh-token')
      const oauth = hubspotOAuth({
        clientId: 'id',
        clientSecret: 'secret',
        redirectUri: 'https://remit.example.com/hubspot/oauth/callback',
        scopes: ['automation'],
        store,
        secretKey: key,
        basePath: fake.url,
        now: () => now.t,
      })
      const remit = await openRemit({
        policy: await loadPolicyFile(seed),
        store: openSqliteStore(':memory:'),
      })
      const activity = hubspotActivity({
        remit,
        hubspot: oauth,
        portals: oauth.portals,
        owners: { '900': 'sales' },
        identify: async (_t, id) => ({ accountId: id }),
        now: () => now.t,
      })
      // The first pass learns HubSpot refused the token; later passes no longer read the portal.
      const failed: number[] = []
      for (let pass = 0; pass < 3; pass++) {
        failed.push((await activity.poll()).failed)
        now.t += 60_000
      }
      expect(failed).toEqual([4, 0, 0])
      expect(fake.requests.filter((r) => r.path === '/oauth/v1/token')).toHaveLength(1)
    } finally {
      await fake.close()
    }
  })

  it('HubSpot refusing the app (400 BAD_CLIENT_SECRET) is not taken as the portal uninstalled', async () => {
    // Every 400 from the token endpoint becomes HubSpotNotInstalledError, which `complete` makes a
    // PermanentDeliveryError: a secret rotated in HubSpot before REMIT_HUBSPOT_CLIENT_SECRET kills
    // every pending completion at once instead of retrying them until it is fixed.
    const fake = await fakeHubSpot({ clientId: 'id', clientSecret: 'rotated', requireAuth: true })
    try {
      const key = Buffer.alloc(32, 5)
      const oauth = hubspotOAuth({
        clientId: 'id',
        clientSecret: 'old',
        redirectUri: 'https://remit.example.com/hubspot/oauth/callback',
        scopes: ['automation'],
        store: installed(key, 7, 'rt'),
        secretKey: key,
        basePath: fake.url,
      })
      const error = await oauth.call(7, async () => 1).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(Error)
      expect(error).not.toBeInstanceOf(HubSpotNotInstalledError)
    } finally {
      await fake.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------------
// The activity poll
// ---------------------------------------------------------------------------------------------------

describe('the activity poll', () => {
  it('more engagements modified in one millisecond than a pass reads do not stall the poll for ever', async () => {
    // The cursor is `hs_lastmodifieddate GTE <max seen>`: when a pass's pages (10 × 100) are all at one
    // timestamp (a bulk import), the next pass reads the same records again and never gets further.
    // Scaled down: pages of 2, one page per pass.
    const now = T0
    const fake = await fakeHubSpot({ pageSize: 2, now: () => now })
    try {
      const at = new Date(now - 3600e3).toISOString()
      for (const id of ['c1', 'c2', 'c3'])
        fake.objects.calls.push({
          id,
          properties: { hs_timestamp: at, hs_lastmodifieddate: at, hubspot_owner_id: '900' },
          associations: { contacts: { results: [{ id: '51', type: 'call_to_contact' }] } },
        })
      const remit: Remit = await openRemit({
        policy: await loadPolicyFile(seed),
        store: openSqliteStore(':memory:'),
      })
      const activity = hubspotActivity({
        remit,
        hubspot: singleClient(new Client({ accessToken: 't', basePath: fake.url })),
        portals: async () => [PORTAL],
        owners: { '900': 'sales' },
        kinds: ['calls'],
        identify: async () => ({ accountId: 'acme' }),
        maxPages: 1,
        now: () => now,
      })
      for (let pass = 0; pass < 4; pass++) await activity.poll()
      const touches = (await remit.timeline('acme')).touches
      expect(touches.map((t) => t.externalId).sort()).toEqual([
        `hubspot:${PORTAL}:calls:c1`,
        `hubspot:${PORTAL}:calls:c2`,
        `hubspot:${PORTAL}:calls:c3`,
      ])
    } finally {
      await fake.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------------
// The public endpoints, as a caller without the secret (regression tests: these hold today)
// ---------------------------------------------------------------------------------------------------

describe('a caller without the secret', () => {
  async function server(fake: FakeHubSpot) {
    clock.now = T0
    const config = await readHubSpotConfig(seedHubSpot)
    const storePath = join(mkdtempSync(join(tmpdir(), 'remit-hostile-')), 'remit.db')
    return serve(config, storePath, fake.url)
  }

  it('gets 401 for an unsigned, wrongly signed or stale execution, and 413 for a body over 64 KiB, deciding nothing', async () => {
    const fake = await fakeHubSpot({ clientId: CLIENT_ID, clientSecret: SECRET, now: () => clock.now })
    try {
      const remit = await server(fake)
      const raw = JSON.stringify(execution({ callbackId: 'cb-x' }))
      const post = (body: string, headers: Record<string, string>) =>
        fetch(`${remit.url}/hubspot/action`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        })
      const target = { method: 'POST', url: `${PUBLIC}/hubspot/action`, rawBody: raw }
      expect((await post(raw, {})).status).toBe(401)
      expect((await post(raw, signV3(target, 'not-the-secret', clock.now))).status).toBe(401)
      expect((await post(raw, signV3(target, SECRET, clock.now - 6 * 60_000))).status).toBe(401)
      // The signature covers the URL: a request signed for another path does not verify here.
      expect(
        (await post(raw, signV3({ ...target, url: `${PUBLIC}/hubspot/options` }, SECRET, clock.now))).status,
      ).toBe(401)
      const huge = JSON.stringify(
        execution({ callbackId: 'cb-big', properties: { lifecyclestage: 'x'.repeat(70 * 1024) } }),
      )
      const big = await post(huge, signV3({ ...target, rawBody: huge }, SECRET, clock.now))
      expect(big.status).toBe(413)
      expect(await remit.server.remit.decisions.list()).toHaveLength(0)
      const options = await fetch(`${remit.url}/hubspot/options`, { method: 'POST', body: '{}' })
      expect(options.status).toBe(401)
    } finally {
      await fake.close()
    }
  })

  it('cannot inject markup into the install pages, redirect elsewhere, or reach HubSpot with a forged state', async () => {
    const fake = await fakeHubSpot({ clientId: CLIENT_ID, clientSecret: SECRET, now: () => clock.now })
    try {
      const remit = await server(fake)
      const evil = encodeURIComponent('<script>alert(1)</script><img src=x onerror=alert(2)>"\'')
      const page = await fetch(`${remit.url}/hubspot/oauth/callback?error=x&error_description=${evil}`)
      expect(page.status).toBe(400)
      const html = await page.text()
      expect(html).not.toMatch(/<script|<img/)
      expect(page.headers.get('content-type')).toMatch(/^text\/html/)

      const start = await fetch(
        `${remit.url}/hubspot/install?redirect_uri=https://evil.example/&next=//evil.example`,
        {
          redirect: 'manual',
          headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
        },
      )
      expect(start.status).toBe(302)
      const to = new URL(start.headers.get('location') as string)
      expect(to.origin).toBe('https://app.hubspot.com')
      expect(to.searchParams.get('redirect_uri')).toBe(`${PUBLIC}/hubspot/oauth/callback`)

      for (const state of ['', 'forged', `${clock.now}.nonce.bWFj`, `${clock.now + 1}..`]) {
        const res = await fetch(
          `${remit.url}/hubspot/oauth/callback?code=any&state=${encodeURIComponent(state)}`,
        )
        expect(res.status).toBe(400)
      }
      const missing = await fetch(`${remit.url}/hubspot/oauth/callback?code=any`)
      expect(missing.status).toBe(400)
      expect(fake.requests.filter((r) => r.path.startsWith('/oauth/'))).toHaveLength(0)
    } finally {
      await fake.close()
    }
  })

  it('HubSpot failing the token-info call during an install shows the install page, not a raw 500', async () => {
    // `install` wraps the code exchange but not accessTokensApi.get: a 429/5xx there escapes as an
    // SDK ApiException → a JSON 500 to the user's browser, and the one-time code is spent.
    const hub = await stub((req, res) => {
      if (req.url?.startsWith('/oauth/v1/token')) return json(res, 200, tokenAnswer)
      return json(res, 503, {
        status: 'error',
        message: 'Service unavailable',
        category: 'SERVICE_UNAVAILABLE',
      })
    })
    try {
      const oauth = hubspotOAuth({
        clientId: 'id',
        clientSecret: 'secret',
        redirectUri: 'https://remit.example.com/hubspot/oauth/callback',
        scopes: ['automation'],
        store: memoryStore(),
        secretKey: Buffer.alloc(32, 6),
        basePath: hub.url,
      })
      const callback = installRoutes(oauth)[1]
      const url = `/hubspot/oauth/callback?code=c&state=${encodeURIComponent(oauth.newState())}`
      const answer = await callback?.handle('', {}, { url }).catch((e: Error) => ({ thrown: e.message }))
      expect(answer).toMatchObject({ headers: { 'content-type': 'text/html; charset=utf-8' } })
    } finally {
      await hub.close()
    }
  })

  it('hostile but signed execution bodies (a portal admin controls properties and inputs) never crash the handler', async () => {
    const { fake, remit, send } = await harness()
    try {
      let n = 0
      const hostile: unknown[] = [
        'null',
        '[]',
        '"text"',
        '{"callbackId":"a","origin":{"portalId":"1"},"context":{"workflowId":1001},"object":{"objectId":1,"objectType":"CONTACT"}}',
        '{"callbackId":"a","origin":{"portalId":1e300},"context":{"workflowId":1001},"object":{"objectId":1,"objectType":"CONTACT"}}',
        { ...execution({ callbackId: 'x' }), object: { objectId: {}, objectType: 'CONTACT' } },
        { ...execution({ callbackId: 'x' }), inputFields: 'not an object' },
        { ...execution({ callbackId: 'x' }), inputFields: null },
        execution({ callbackId: 'x'.repeat(5000) }),
        execution({ callbackId: 'a\u0000b' }),
        execution({
          callbackId: 'x',
          inputFields: { remit_action: 'offer.discount', discountPct: { $gt: 1 } },
        }),
        execution({ callbackId: 'x', inputFields: { remit_action: 'offer.discount', discountPct: ['1'] } }),
        execution({ callbackId: 'x', inputFields: { remit_action: 'offer.discount', discountPct: '1e400' } }),
        execution({ callbackId: 'x', inputFields: { remit_action: 'constructor' } }),
        execution({ callbackId: 'x', inputFields: { remit_action: 42 } }),
        execution({
          callbackId: 'x',
          inputFields: Object.fromEntries(
            Array.from({ length: 3000 }, (_, i) => [`f${i}`, 'v']).concat([
              ['remit_action', 'email.positioning'],
            ]),
          ),
        }),
        execution({ callbackId: 'x', properties: { lifecyclestage: { a: 1 }, tier: 'smb' } }),
        execution({ callbackId: 'x', properties: { lifecyclestage: 'customer', tier: 'smb', email: 5 } }),
        execution({
          callbackId: 'x',
          properties: { lifecyclestage: 'customer', tier: 'smb', email: 'x'.repeat(20000) },
        }),
        execution({
          callbackId: 'x',
          properties: { lifecyclestage: 'customer', tier: 'smb', account_id: 12345 },
        }),
        execution({
          callbackId: 'x',
          properties: { lifecyclestage: 'customer', tier: 'smb', account_id: { id: 1 } },
        }),
        execution({
          callbackId: 'x',
          properties: { lifecyclestage: 'customer', tier: 'smb', account_id: 'x'.repeat(20000) },
        }),
        execution({ callbackId: 'x', properties: { lifecyclestage: 'customer\u0000', tier: 'smb' } }),
        execution({ callbackId: 'x', objectType: 'DEAL' }),
        { ...execution({ callbackId: 'x' }), object: { objectId: 1, objectType: 'CONTACT', properties: [] } },
        { ...execution({ callbackId: 'x' }), context: { workflowId: '1001' } },
        `{"__proto__":{"polluted":true},${JSON.stringify(execution({ callbackId: 'cb-proto' })).slice(1)}`,
      ]
      for (const body of hostile) {
        const b =
          typeof body === 'object' &&
          body &&
          'callbackId' in body &&
          (body as { callbackId: string }).callbackId === 'x'
            ? { ...body, callbackId: `cb-hostile-${n++}` }
            : body
        const answer = await send(typeof b === 'string' ? b : JSON.stringify(b)).catch((e: Error) => ({
          status: 500,
          body: { thrown: e.message },
        }))
        expect(
          answer.status,
          `${JSON.stringify(b).slice(0, 160)} → ${JSON.stringify(answer.body)}`,
        ).toBeLessThan(500)
        if (answer.status === 200)
          expect(['go', 'stop', 'flag']).toContain((answer.body as Outputs).outputFields.remit_verdict)
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      // Whatever the bodies held, no decision went for an account named by anything but a string.
      for (const d of await remit.decisions.list()) expect(typeof d.accountId).toBe('string')
    } finally {
      await fake.close()
    }
  })
})

describe('secrets', () => {
  it('no client secret, code, refresh or access token reaches the logs or an install page', async () => {
    clock.now = T0
    const lines: string[] = []
    const log = {
      info: (o: object, m: string) => lines.push(m, serialise(o)),
      warn: (o: object, m: string) => lines.push(m, serialise(o)),
      error: (o: object, m: string) => lines.push(m, serialise(o)),
    }
    const fake = await fakeHubSpot({
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      requireAuth: true,
      now: () => clock.now,
    })
    const codes = ['secret-code-123']
    try {
      const app = hubspotApp({
        config: await readHubSpotConfig(seedHubSpot),
        clientId: CLIENT_ID,
        clientSecret: SECRET,
        secretKey: Buffer.alloc(32, 7),
        publicUrl: PUBLIC,
        basePath: fake.url,
        log,
        now: () => clock.now,
      })
      const remit = await openRemit({
        policy: await loadPolicyFile(seed),
        store: openSqliteStore(':memory:'),
        clock: () => new Date(clock.now),
      })
      const stop = app.attach(remit)
      try {
        const [, , , callback] = app.routes
        const oauth = app.oauth()
        // A code HubSpot refuses.
        const refused = await callback?.handle(
          '',
          {},
          {
            method: 'GET',
            url: `/hubspot/oauth/callback?code=secret-code-123&state=${encodeURIComponent(oauth.newState())}`,
          },
        )
        expect(String(refused?.body)).not.toContain('secret-code-123')
        // A good install.
        const code = fake.authorize({
          portalId: PORTAL,
          scopes: ['automation', 'crm.objects.companies.read', 'crm.objects.contacts.read'],
          redirectUri: `${PUBLIC}/hubspot/oauth/callback`,
        })
        codes.push(code)
        const ok = await callback?.handle(
          '',
          {},
          {
            method: 'GET',
            url: `/hubspot/oauth/callback?code=${code}&state=${encodeURIComponent(oauth.newState())}`,
          },
        )
        expect(ok?.status).toBe(200)
        // The portal uninstalls the app: HubSpot no longer knows the refresh token Remit keeps.
        const installation = JSON.parse((await remit.store.readState(`hubspot:portal:${PORTAL}`)) as string)
        installation.refreshToken = seal(Buffer.alloc(32, 7), 'rt-revoked', `hubspot:portal:${PORTAL}`)
        await remit.store.writeState(`hubspot:portal:${PORTAL}`, JSON.stringify(installation))
        clock.now += 31 * 60_000
        await app
          .action()
          .complete([
            {
              id: 'obx_1',
              channel: 'hubspot',
              status: 'pending',
              attempts: 1,
              payload: {
                callbackId: 'cb-1',
                portalId: PORTAL,
                expiresAt: new Date(clock.now + 3600e3).toISOString(),
                outputFields: {
                  hs_execution_state: 'SUCCESS',
                  remit_verdict: 'go',
                  remit_reason: '',
                  remit_retry_after: '',
                },
              },
            } as never,
          ])
          .catch((e: Error) => log.warn({ err: e }, 'complete failed'))
      } finally {
        stop()
      }
      const text = lines.join('\n')
      const issued = fake.tokensIssued()
      expect(text).toContain('HubSpot refused its refresh token') // the logs did see the failures
      for (const secret of [SECRET, ...codes, ...issued.flatMap((t) => [t.access_token, t.refresh_token])])
        expect(text).not.toContain(secret)
    } finally {
      await fake.close()
    }
  })
})

function serialise(o: object): string {
  return JSON.stringify(o, (_k, v) =>
    v instanceof Error ? { ...v, name: v.name, message: v.message, stack: v.stack, cause: v.cause } : v,
  )
}
