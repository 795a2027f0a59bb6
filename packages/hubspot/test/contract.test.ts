import { Client } from '@hubspot/api-client'
import { loadPolicyFile, openRemit, openSqliteStore } from '@remit/core'
import { describe, expect, it } from 'vitest'
import {
  actionDefinition,
  HubSpotInstallError,
  hubspotAction,
  hubspotOAuth,
  readHubSpotConfig,
  registerAction,
  verifyHubSpotSignature,
} from '../src/index.ts'
import { signV3, singleClient } from '../src/testing.ts'
import { fakeHubSpot, schemaErrors } from './fake-hubspot.ts'

// Remit's side of HubSpot's documented contract, piece by piece: the definition against HubSpot's
// published schema, signatures against HubSpot's published test values, token refresh, paging,
// batch completion and expired callbacks.

const seed = new URL('../../../examples/seed-week/remit.yaml', import.meta.url).pathname
const seedHubSpot = new URL('../../../examples/seed-week/hubspot.yaml', import.meta.url).pathname

describe('the action definition', () => {
  it("is a PublicActionDefinitionEgg of HubSpot's schema, asking for exactly the mapped properties", async () => {
    const config = await readHubSpotConfig(seedHubSpot)
    const definition = actionDefinition({
      actionUrl: 'https://remit.example.com/hubspot/action',
      optionsUrl: 'https://remit.example.com/hubspot/options',
      policy: await loadPolicyFile(seed),
      config,
    })
    expect(schemaErrors('PublicActionDefinitionEgg', definition)).toBeUndefined()
    expect(definition.objectRequestOptions.properties).toEqual([
      'account_id',
      'email',
      'last_ticket_opened_at',
      'lifecyclestage',
      'renewal_value',
      'tier',
    ])
    // A number attribute is a number field, paired as HubSpot pairs CRM properties.
    expect(
      definition.inputFields.find((f) => f.typeDefinition.name === 'discountPct')?.typeDefinition,
    ).toMatchObject({
      type: 'number',
      fieldType: 'number',
    })
  })

  it('pairs every policy type with a fieldType HubSpot accepts for it (booleans are checkboxes)', async () => {
    const { loadPolicy } = await import('@remit/core')
    const policy = loadPolicy(`version: 1
teams: { t: {} }
agents: { a: { team: t, tools: ["hubspot:workflow/1"] } }
actions:
  x:
    channel: email
    attributes:
      flag: boolean
      when: timestamp
      tags: list
      pick: { type: string, enum: [a, b] }
      picks: { type: list, enum: [a, b] }
      note: string
      n: number
review: { defaultTeam: t, expiresAfter: 72h, onExpiry: stop }
`)
    const definition = actionDefinition({
      actionUrl: 'https://r.example/a',
      optionsUrl: 'https://r.example/o',
      policy,
    })
    expect(schemaErrors('PublicActionDefinitionEgg', definition)).toBeUndefined()
    const types = Object.fromEntries(
      definition.inputFields.map((f) => [
        f.typeDefinition.name,
        `${f.typeDefinition.type}/${f.typeDefinition.fieldType}`,
      ]),
    )
    expect(types).toEqual({
      remit_action: 'enumeration/select',
      flag: 'bool/booleancheckbox',
      when: 'datetime/date',
      tags: 'string/text',
      pick: 'enumeration/select',
      picks: 'enumeration/checkbox',
      note: 'string/text',
      n: 'number/number',
    })
  })

  it('registers once however many pages of definitions the app has, then updates in place', async () => {
    const fake = await fakeHubSpot({ appId: 4242, developerApiKey: 'dev-key', pageSize: 2 })
    try {
      const hubspot = new Client({ developerApiKey: 'dev-key', basePath: fake.url })
      const policy = await loadPolicyFile(seed)
      const at = (n: number) =>
        actionDefinition({
          actionUrl: `https://other${n}.example/a`,
          optionsUrl: 'https://o.example/o',
          policy,
        })
      for (const n of [1, 2, 3]) await registerAction({ hubspot, appId: 4242, definition: at(n) })
      const ours = actionDefinition({
        actionUrl: 'https://remit.example.com/hubspot/action',
        optionsUrl: 'https://remit.example.com/hubspot/options',
        policy,
      })
      const first = await registerAction({ hubspot, appId: 4242, definition: ours })
      // Now the fourth of four, on the second page of two: found, not created again.
      expect(await registerAction({ hubspot, appId: 4242, definition: ours })).toEqual({
        id: first.id,
        created: false,
      })
      expect(fake.definitions).toHaveLength(4)
    } finally {
      await fake.close()
    }
  })
})

describe('signatures', () => {
  it("v2 matches HubSpot's published examples", () => {
    const secret = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy'
    const check = (method: string, rawBody: string, signature: string) =>
      verifyHubSpotSignature(
        {
          method,
          url: 'https://www.example.com/webhook_uri',
          rawBody,
          headers: { 'x-hubspot-signature': signature, 'x-hubspot-signature-version': 'v2' },
        },
        secret,
      )
    expect(check('GET', '', 'eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e')).toEqual({
      ok: true,
      version: 'v2',
    })
    expect(
      check(
        'POST',
        '{"example_field":"example_value"}',
        '9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900',
      ),
    ).toEqual({ ok: true, version: 'v2' })
    expect(
      check(
        'POST',
        '{"example_field":"other"}',
        '9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900',
      ).ok,
    ).toBe(false)
  })

  it('v3 refuses a timestamp more than five minutes ahead, as it refuses one five minutes old', () => {
    const now = Date.parse('2026-04-06T09:00:00Z')
    const req = { method: 'POST', url: 'https://remit.example.com/hubspot/action', rawBody: '{}' }
    const ahead = signV3(req, 'shh', now + 6 * 60_000)
    expect(verifyHubSpotSignature({ ...req, headers: ahead }, 'shh', now)).toEqual({
      ok: false,
      reason: 'timestamp more than 5 minutes ahead',
    })
    expect(verifyHubSpotSignature({ ...req, headers: signV3(req, 'shh', now + 60_000) }, 'shh', now).ok).toBe(
      true,
    )
  })
})

describe('OAuth', () => {
  const store = () => {
    const state = new Map<string, string>()
    return {
      readState: async (k: string) => state.get(k),
      writeState: async (k: string, v: string) => void state.set(k, v),
      state,
    }
  }

  it('refuses an install that did not grant the scopes Remit needs, and a callback it did not start', async () => {
    let now = Date.parse('2026-04-06T09:00:00Z')
    const fake = await fakeHubSpot({
      clientId: 'id',
      clientSecret: 'secret',
      requireAuth: true,
      now: () => now,
    })
    try {
      const s = store()
      const oauth = hubspotOAuth({
        clientId: 'id',
        clientSecret: 'secret',
        redirectUri: 'https://remit.example.com/hubspot/oauth/callback',
        scopes: ['automation', 'crm.objects.contacts.read'],
        store: s,
        secretKey: Buffer.alloc(32, 1),
        basePath: fake.url,
        now: () => now,
      })
      const code = fake.authorize({
        portalId: 7,
        scopes: ['automation'],
        redirectUri: 'https://remit.example.com/hubspot/oauth/callback',
      })
      await expect(oauth.install(code, oauth.newState())).rejects.toThrow(
        /without crm\.objects\.contacts\.read/,
      )
      await expect(oauth.install('any', 'forged.state.mac')).rejects.toBeInstanceOf(HubSpotInstallError)
      const stale = oauth.newState()
      now += 11 * 60_000
      await expect(oauth.install('any', stale)).rejects.toThrow(/older than ten minutes/)
      expect(s.state.size).toBe(0)
    } finally {
      await fake.close()
    }
  })

  it('keeps the refresh token sealed, refreshes before expiry and again on a 401', async () => {
    let now = Date.parse('2026-04-06T09:00:00Z')
    const fake = await fakeHubSpot({
      clientId: 'id',
      clientSecret: 'secret',
      requireAuth: true,
      now: () => now,
    })
    try {
      const s = store()
      const o = {
        clientId: 'id',
        clientSecret: 'secret',
        redirectUri: 'https://remit.example.com/hubspot/oauth/callback',
        scopes: ['automation'],
        store: s,
        secretKey: Buffer.alloc(32, 1),
        basePath: fake.url,
        now: () => now,
      }
      const oauth = hubspotOAuth(o)
      const code = fake.authorize({ portalId: 7, scopes: ['automation'], redirectUri: o.redirectUri })
      expect(await oauth.install(code, oauth.newState())).toEqual({ portalId: 7, scopes: ['automation'] })
      const refreshToken = fake.tokensIssued()[0]?.refresh_token as string
      expect(s.state.get('hubspot:portal:7')).not.toContain(refreshToken)
      // Opened with another key, the sealed token does not open.
      const other = hubspotOAuth({ ...o, secretKey: Buffer.alloc(32, 2) })
      await expect(other.call(7, async () => 1)).rejects.toThrow(/does not open/)

      const seen: string[] = []
      const whoami = (c: Client) =>
        c.oauth.accessTokensApi
          .get((c.config as { accessToken: string }).accessToken)
          .then((i) => seen.push(`${i.hubId}`))
      await oauth.call(7, whoami)
      now += 26 * 60_000 // within five minutes of the 30-minute expiry: refreshed first
      await oauth.call(7, whoami)
      expect(fake.tokensIssued().map((t) => t.grant)).toEqual(['authorization_code', 'refresh_token'])
      // HubSpot answering 401 (a token revoked early): refreshed once more, and the call repeated.
      let calls = 0
      await oauth.call(7, async (client) => {
        calls++
        if (calls === 1) throw Object.assign(new Error('401'), { code: 401 })
        return client
      })
      expect(calls).toBe(2)
      expect(fake.tokensIssued()).toHaveLength(3)
    } finally {
      await fake.close()
    }
  })
})

describe('completing callbacks', () => {
  async function setup(now: { t: number }) {
    const fake = await fakeHubSpot({ strictCallbacks: false, now: () => now.t })
    const remit = await openRemit({
      policy: await loadPolicyFile(seed),
      store: openSqliteStore(':memory:'),
      clock: () => new Date(now.t),
    })
    const action = hubspotAction({
      remit,
      clientSecret: 'shh',
      publicBaseUrl: 'https://remit.example.com',
      clients: singleClient(new Client({ accessToken: 't', basePath: fake.url })),
      properties: { lifecycle: 'lifecyclestage', tier: 'tier' },
      now: () => now.t,
    })
    let n = 0
    const flag = async (inputFields: Record<string, string> = { remit_action: 'email.positioning' }) => {
      const body = JSON.stringify({
        callbackId: `cb-${n}`,
        origin: { portalId: 9, actionDefinitionId: 1, actionDefinitionVersion: 1 },
        context: { source: 'WORKFLOWS', workflowId: 1001 },
        object: {
          objectId: 100 + n++,
          objectType: 'CONTACT',
          properties: { lifecyclestage: 'renewal', tier: 'smb' },
        },
        inputFields,
      })
      const url = 'https://remit.example.com/hubspot/action'
      await action.handle(body, signV3({ method: 'POST', url, rawBody: body }, 'shh', now.t), {
        method: 'POST',
        url: '/hubspot/action',
      })
    }
    return { fake, remit, action, flag }
  }

  it('completes the callbacks answered together in one batch request', async () => {
    const now = { t: Date.parse('2026-04-06T09:00:00Z') }
    const { fake, remit, action, flag } = await setup(now)
    try {
      for (let i = 0; i < 3; i++) await flag()
      // Answered while no deliverer runs (what each answer owes is routed): three wait in the outbox.
      const unroute = remit.outbox.route('hubspot', action.owed)
      for (const r of await remit.reviews.list({ status: 'pending' })) await remit.reviews.approve(r.id)
      unroute()
      const stop = action.listen({ everyMs: 20 })
      await until(async () => (await remit.outbox.list({ status: 'delivered' })).length === 3)
      stop()
      const completions = fake.requests.filter((r) => r.path.includes('/callbacks/'))
      expect(completions.map((r) => r.path)).toEqual(['/automation/v4/actions/callbacks/complete'])
      expect(
        ((completions[0] as { body: unknown }).body as { inputs: { callbackId: string }[] }).inputs.map(
          (i) => i.callbackId,
        ),
        // Answered in one instant: the outbox orders them by id, not by answer.
      ).toEqual(expect.arrayContaining(['cb-0', 'cb-1', 'cb-2']))
    } finally {
      await fake.close()
    }
  })

  it('refuses an approval with changes: the workflow resumes with what it enrolled, so it could not carry them', async () => {
    const now = { t: Date.parse('2026-04-06T09:00:00Z') }
    const { fake, remit, action, flag } = await setup(now)
    try {
      // A 20% offer: the policy lets a reviewer change discountPct, but not for a workflow.
      await flag({ remit_action: 'offer.discount', discountPct: '20' })
      const stop = action.listen({ everyMs: 20 })
      const [review] = await remit.reviews.list({ status: 'pending' })
      const error = await remit.reviews
        .approve(review?.id as string, { changes: { attributes: { discountPct: 15 } } })
        .catch((e) => e)
      stop()
      expect(error).toMatchObject({ code: 'CHANGES_NOT_CARRIED' })
      // HubSpot's adapter never says it can send a request changed (acceptsChanges): it resumes the
      // workflow with the values it enrolled.
      expect(error.message).toContain('hubspot:workflow/1001 did not say it can send')
      expect((await remit.reviews.get(review?.id as string))?.status).toBe('pending')
      expect(fake.completions()).toEqual([])
    } finally {
      await fake.close()
    }
  })

  it('records a callback that expired before it could be completed as dead, and does not send it', async () => {
    const now = { t: Date.parse('2026-04-06T09:00:00Z') }
    const { fake, remit, action, flag } = await setup(now)
    try {
      await flag()
      fake.failCompletions(1_000)
      const stop = action.listen({ everyMs: 20, baseDelayMs: 3600e3 })
      const [review] = await remit.reviews.list({ status: 'pending' })
      await remit.reviews.approve(review?.id as string)
      // HubSpot was away until after the callback's expiry (the review's 72 h and an hour's grace).
      fake.failCompletions(0)
      now.t += 74 * 3600e3
      await until(async () => (await remit.outbox.list({ status: 'dead' })).length === 1)
      stop()
      const [dead] = await remit.outbox.list({ status: 'dead' })
      expect(dead?.lastError).toMatch(/^callback cb-0 expired at .*: HubSpot has moved the workflow on$/)
      expect(fake.completions()).toEqual([])
    } finally {
      await fake.close()
    }
  })
})

async function until(ok: () => Promise<boolean>) {
  for (let i = 0; i < 200; i++) {
    if (await ok()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('gave up waiting')
}

describe('portals', () => {
  it('answers stop to a portal that hubspot.yaml `portals` does not list, deciding nothing', async () => {
    const remit = await openRemit({ policy: await loadPolicyFile(seed), store: openSqliteStore(':memory:') })
    const action = hubspotAction({
      remit,
      clientSecret: 'shh',
      publicBaseUrl: 'https://r.example',
      portals: [1],
    })
    const body = (portalId: number) =>
      JSON.stringify({
        callbackId: `cb-${portalId}`,
        origin: { portalId, actionDefinitionId: 1, actionDefinitionVersion: 1 },
        context: { source: 'WORKFLOWS', workflowId: 1001 },
        object: {
          objectId: 5,
          objectType: 'CONTACT',
          properties: { lifecyclestage: 'customer', tier: 'smb' },
        },
        inputFields: { remit_action: 'email.positioning' },
      })
    const send = (raw: string) =>
      action.handle(
        raw,
        signV3({ method: 'POST', url: 'https://r.example/hubspot/action', rawBody: raw }, 'shh'),
        {
          method: 'POST',
          url: '/hubspot/action',
        },
      )
    const other = (await send(body(2))).body as { outputFields: Record<string, string> }
    expect(other.outputFields).toMatchObject({ remit_verdict: 'stop' })
    expect(other.outputFields.remit_reason).toContain('portal 2 is not one this Remit serves')
    expect(await remit.decisions.list()).toEqual([])
    expect(
      ((await send(body(1))).body as { outputFields: Record<string, string> }).outputFields.remit_verdict,
    ).not.toBe('stop')
  })
})
