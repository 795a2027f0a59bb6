import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client, Signature } from '@hubspot/api-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type FakeHubSpot, type FakeHubSpotOptions, fakeHubSpot, schemaErrors } from './fake-hubspot.ts'

// The fake HubSpot refuses what HubSpot refuses. Every call here goes through the real
// @hubspot/api-client, so the test also shows what the SDK really sends.
//
// What we found in @hubspot/api-client 14.0.1 (lib/codegen/automation/actions):
// - `callbacksApi.complete(id, body)` serializes the body through the generated model
//   CallbackCompletionRequest, whose attribute map has only `outputFields`: any `typedOutputs` passed
//   in is dropped, so HubSpot's required `typedOutputs` can never be sent that way. Completions go
//   through `client.apiRequest` instead (test below).
// - `definitionsApi.create/update` serialize input fields through InputFieldDefinition →
//   FieldTypeDefinition (the OUTPUT field type, which has `externalOptions`), so an `externalOptions`
//   on an input field does reach HubSpot, where the input-field schema has no such property.
// - `definitionsApi` applies only the `developer_hapikey` auth method: a client built with an access
//   token sends no credentials at all to the definition endpoints, although HubSpot's current spec
//   asks for a `developers-read`/`developers-write` token there. A token goes through `apiRequest`.
// - Error bodies are deserialized into the generated `Error` model: `message` and `category` survive,
//   the OAuth endpoint's `status` (BAD_AUTH_CODE, …) does not; the fake's own log keeps it.

const APP = 4242
const PORTAL = 102670506
const CLIENT_ID = 'remit-client-id'
const CLIENT_SECRET = 'remit-client-secret'
const REDIRECT = 'https://remit.example.com/hubspot/oauth/callback'
const ACTION_URL = 'https://remit.example.com/hubspot/action?v=1'
const MINUTE = 60_000

let clock = 0
let fake: FakeHubSpot
const servers: { close: () => void }[] = []
/** The fake every test starts with (`over`: a test that needs another one restarts it). */
async function start(over: FakeHubSpotOptions = {}) {
  fake = await fakeHubSpot({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    appId: APP,
    developerApiKey: 'dev-key',
    now: () => clock,
    pageSize: 2,
    requireAuth: true,
    ...over,
  })
  fake.objects.contacts.push({
    id: '904',
    properties: {
      email: 'jane@acme.example',
      firstname: 'Jane',
      lifecyclestage: 'customer',
      createdate: '2026-01-05T10:00:00Z',
    },
    associations: { companies: { results: [{ id: '7', type: 'contact_to_company' }] } },
  })
  fake.objects.companies.push({
    id: '7',
    properties: { name: 'Acme', domain: 'acme.example', tier: 'Enterprise' },
  })
}
beforeEach(async () => {
  clock = Date.parse('2026-04-06T09:00:00Z')
  await start()
})
afterEach(async () => {
  for (const s of servers.splice(0)) s.close()
  await fake.close()
})

async function refused(
  p: Promise<unknown>,
): Promise<{ code: number; body: { message?: string; category?: string } }> {
  try {
    await p
  } catch (e) {
    return e as { code: number; body: { message?: string; category?: string } }
  }
  throw new Error('expected HubSpot to refuse')
}
/** The body the fake answered last (the SDK drops fields it has no model for). */
const lastAnswer = () => fake.requests.at(-1)?.answer as Record<string, unknown>

/** A user installs the app: the authorization code exchanged with the SDK, as a server would. */
async function install(scopes: string[], portalId = PORTAL) {
  const code = fake.authorize({ portalId, scopes, redirectUri: REDIRECT })
  const t = await new Client({ basePath: fake.url }).oauth.tokensApi.create(
    'authorization_code',
    code,
    REDIRECT,
    CLIENT_ID,
    CLIENT_SECRET,
  )
  return { ...t, client: new Client({ accessToken: t.accessToken, basePath: fake.url }) }
}

const developer = () => new Client({ developerApiKey: 'dev-key', basePath: fake.url })

function definition(over: Record<string, unknown> = {}) {
  return {
    actionUrl: ACTION_URL,
    published: true,
    objectTypes: ['CONTACT', 'COMPANY'],
    functions: [],
    objectRequestOptions: { properties: ['email', 'phone'] },
    inputFields: [
      {
        typeDefinition: {
          name: 'remit_action',
          type: 'enumeration',
          fieldType: 'select',
          options: [{ label: 'Positioning e-mail', value: 'email.positioning' }],
        },
        supportedValueTypes: ['STATIC_VALUE'],
        isRequired: true,
      },
      {
        typeDefinition: { name: 'discountPct', type: 'number', fieldType: 'number', options: [] },
        supportedValueTypes: ['STATIC_VALUE', 'OBJECT_PROPERTY'],
        isRequired: false,
      },
    ],
    outputFields: [{ typeDefinition: { name: 'remit_verdict', type: 'string', fieldType: 'text' } }],
    labels: { en: { actionName: 'Check with Remit' } },
    ...over,
  }
}
async function createDefinition(over: Record<string, unknown> = {}) {
  return developer().automation.actions.definitionsApi.create(APP, definition(over) as never)
}

/** The server under test: answers each execution with `answer`, and keeps what it received. */
async function actionEndpoint(answer: (body: Record<string, unknown>) => { status: number; body: unknown }) {
  const received: { url: string; headers: IncomingHttpHeaders; raw: string }[] = []
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    received.push({ url: req.url ?? '', headers: req.headers, raw })
    const a = answer(JSON.parse(raw))
    res.writeHead(a.status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(a.body))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  servers.push(server)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received }
}

async function blocked(duration?: string) {
  const def = await createDefinition()
  const endpoint = await actionEndpoint(() => ({
    status: 200,
    body: {
      outputFields: {
        hs_execution_state: 'BLOCK',
        ...(duration ? { hs_expiration_duration: duration } : {}),
        remit_verdict: 'flag',
      },
    },
  }))
  const r = await fake.execute({
    definitionId: def.id,
    portalId: PORTAL,
    workflowId: 1001,
    objectType: 'CONTACT',
    objectId: 904,
    inputFields: { remit_action: 'email.positioning' },
    deliverTo: endpoint.url,
  })
  return (JSON.parse(r.sent.body) as { callbackId: string }).callbackId
}

function complete(client: Client, callbackId: string, body: Record<string, unknown>) {
  return client.apiRequest({
    method: 'POST',
    path: `/automation/v4/actions/callbacks/${callbackId}/complete`,
    body,
  })
}
const go = { outputFields: { hs_execution_state: 'SUCCESS', remit_verdict: 'go' }, typedOutputs: {} }

describe('OAuth', () => {
  it('exchanges a one-time authorization code for a 30-minute token, and refuses the code a second time', async () => {
    const code = fake.authorize({ portalId: PORTAL, scopes: ['automation'], redirectUri: REDIRECT })
    const oauth = new Client({ basePath: fake.url }).oauth
    const t = await oauth.tokensApi.create('authorization_code', code, REDIRECT, CLIENT_ID, CLIENT_SECRET)
    expect(t).toMatchObject({ tokenType: 'bearer', expiresIn: 1800 })
    expect(lastAnswer()).toMatchObject({ token_use: 'access_token', hub_id: PORTAL, scopes: ['automation'] })
    expect(schemaErrors('OAuthTokenResponse', lastAnswer())).toBeUndefined()
    expect(fake.requests.at(-1)?.headers['content-type']).toContain('application/x-www-form-urlencoded')
    expect(await oauth.accessTokensApi.get(t.accessToken)).toMatchObject({
      hubId: PORTAL,
      appId: APP,
      scopes: ['automation'],
      expiresIn: 1800,
    })

    const again = await refused(
      oauth.tokensApi.create('authorization_code', code, REDIRECT, CLIENT_ID, CLIENT_SECRET),
    )
    expect(again.code).toBe(400)
    expect(lastAnswer()).toMatchObject({ status: 'BAD_AUTH_CODE', message: 'missing or unknown auth code' })
  })

  it('refuses a wrong client secret, another redirect URI, a code older than 10 minutes, and a JSON body', async () => {
    const oauth = new Client({ basePath: fake.url }).oauth
    const code = fake.authorize({ portalId: PORTAL, scopes: ['automation'], redirectUri: REDIRECT })
    expect(
      (await refused(oauth.tokensApi.create('authorization_code', code, REDIRECT, CLIENT_ID, 'nope'))).code,
    ).toBe(400)
    expect(lastAnswer()).toMatchObject({ status: 'BAD_CLIENT_SECRET' })
    await refused(
      oauth.tokensApi.create('authorization_code', code, 'https://evil.example/cb', CLIENT_ID, CLIENT_SECRET),
    )
    expect(lastAnswer()).toMatchObject({ status: 'BAD_REDIRECT_URI' })
    await refused(oauth.tokensApi.create('authorization_code', code, REDIRECT, 'another-app', CLIENT_SECRET))
    expect(lastAnswer()).toMatchObject({ status: 'BAD_CLIENT_ID' })

    const json = await fetch(`${fake.url}/oauth/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
      }),
    })
    expect(json.status).toBe(400)

    clock += 11 * MINUTE
    await refused(oauth.tokensApi.create('authorization_code', code, REDIRECT, CLIENT_ID, CLIENT_SECRET))
    expect(lastAnswer()).toMatchObject({ status: 'BAD_AUTH_CODE' })
    expect(fake.tokensIssued()).toEqual([])
  })

  it('an access token expires after 30 minutes on the fake clock (401 EXPIRED_AUTHENTICATION), then works after a refresh', async () => {
    const t = await install(['crm.objects.contacts.read'])
    const read = () => t.client.crm.contacts.basicApi.getById('904', ['email'])
    expect((await read()).properties).toEqual({ email: 'jane@acme.example' })

    clock += 31 * MINUTE
    const expired = await refused(read())
    expect(expired.code).toBe(401)
    expect(expired.body).toMatchObject({
      category: 'EXPIRED_AUTHENTICATION',
      message: 'The OAuth token used to make this call expired 1 minute(s) ago.',
    })
    expect((await refused(t.client.oauth.accessTokensApi.get(t.accessToken))).code).toBe(404)

    const oauth = new Client({ basePath: fake.url }).oauth
    await refused(
      oauth.tokensApi.create('refresh_token', undefined, undefined, CLIENT_ID, CLIENT_SECRET, 'made-up'),
    )
    expect(lastAnswer()).toMatchObject({
      status: 'BAD_REFRESH_TOKEN',
      message: 'missing or invalid refresh token',
    })
    const fresh = await oauth.tokensApi.create(
      'refresh_token',
      undefined,
      undefined,
      CLIENT_ID,
      CLIENT_SECRET,
      t.refreshToken,
    )
    expect(fresh.refreshToken).toBe(t.refreshToken)
    t.client.setAccessToken(fresh.accessToken)
    expect((await read()).properties).toEqual({ email: 'jane@acme.example' })
    expect(fake.tokensIssued().map((x) => [x.grant, x.portalId, x.expiresAt - clock])).toEqual([
      ['authorization_code', PORTAL, -1 * MINUTE],
      ['refresh_token', PORTAL, 30 * MINUTE],
    ])
  })

  it('refuses a call without a token (401), with a made-up token (401), or without the scope it needs (403)', async () => {
    const none = await refused(new Client({ basePath: fake.url }).crm.contacts.basicApi.getById('904'))
    expect(none).toMatchObject({ code: 401, body: { category: 'INVALID_AUTHENTICATION' } })
    const madeUp = new Client({ accessToken: 'made-up', basePath: fake.url })
    expect((await refused(madeUp.crm.contacts.basicApi.getById('904'))).code).toBe(401)

    const t = await install(['automation'])
    const scopes = await refused(t.client.crm.contacts.basicApi.getById('904'))
    expect(scopes).toMatchObject({ code: 403, body: { category: 'MISSING_SCOPES' } })
    expect(lastAnswer()).toMatchObject({
      errors: [{ context: { requiredGranularScopes: ['crm.objects.contacts.read'] } }],
    })
    // The developer API key is for app endpoints only.
    const key = await refused(developer().crm.contacts.basicApi.getById('904'))
    expect(key.code).toBe(401)
  })
})

describe('action definitions', () => {
  it('refuses a bool input shown as a text field, externalOptions on an input, and labels without en', async () => {
    const boolAsText = await refused(
      createDefinition({
        inputFields: [
          {
            typeDefinition: { name: 'optIn', type: 'bool', fieldType: 'text', options: [] },
            supportedValueTypes: ['STATIC_VALUE'],
            isRequired: false,
          },
        ],
      }),
    )
    expect(boolAsText).toMatchObject({ code: 400, body: { category: 'VALIDATION_ERROR' } })
    expect(boolAsText.body.message).toContain('/inputFields/0/typeDefinition/fieldType')

    const external = await refused(
      createDefinition({
        inputFields: [
          {
            typeDefinition: {
              name: 'remit_action',
              type: 'enumeration',
              fieldType: 'select',
              optionsUrl: 'https://remit.example.com/hubspot/options',
              options: [],
              externalOptions: true,
            },
            supportedValueTypes: ['STATIC_VALUE'],
            isRequired: true,
          },
        ],
      }),
    )
    expect(external.code).toBe(400)
    expect(external.body.message).toContain(
      "/inputFields/0/typeDefinition must NOT have additional properties: 'externalOptions'",
    )
    // …which the SDK did send: its input-field model is the output one.
    expect(fake.requests.at(-1)?.body).toMatchObject({
      inputFields: [{ typeDefinition: { externalOptions: true } }],
    })

    const noEnglish = await refused(
      createDefinition({ labels: { fr: { actionName: 'Vérifier avec Remit' } } }),
    )
    expect(noEnglish.code).toBe(400)
    expect(noEnglish.body.message).toContain("/labels must have required property 'en'")
    expect(fake.definitions).toEqual([])

    // An update is held to the same shapes.
    const created = await createDefinition()
    const update = await refused(
      developer().automation.actions.definitionsApi.update(created.id, APP, {
        inputFields: [
          {
            typeDefinition: { name: 'n', type: 'number', fieldType: 'textarea', options: [] },
            isRequired: false,
          },
        ],
      } as never),
    )
    expect(update.code).toBe(400)
  })

  it('refuses a PATCH carrying functions or archivedAt, which PublicActionDefinitionPatch does not have', async () => {
    // CONTRACT.md §2: "PATCH (PublicActionDefinitionPatch) has the same fields, all optional, without
    // `functions` and `archivedAt`" (HubSpot's v4 OpenAPI, components.schemas.PublicActionDefinitionPatch,
    // as restated in automation-actions-v4.schema.json $defs/PublicActionDefinitionPatch).
    const created = await createDefinition()
    const patch = (body: Record<string, unknown>) =>
      developer().apiRequest({
        method: 'PATCH',
        path: `/automation/v4/actions/${APP}/${created.id}`,
        body,
      })
    const withFunctions = await patch({
      actionUrl: `${ACTION_URL}&patched=1`,
      functions: [{ functionType: 'PRE_ACTION_EXECUTION', functionSource: 'exports.main = () => {}' }],
    })
    expect(withFunctions.status).toBe(400)
    expect(((await withFunctions.json()) as { message: string }).message).toContain(
      '/functions is not a property of this request',
    )
    const archiving = await patch({ archivedAt: Date.parse('2026-04-06T09:00:00Z') })
    expect(archiving.status).toBe(400)
    expect(((await archiving.json()) as { message: string }).message).toContain(
      '/archivedAt is not a property of this request',
    )
    // Nothing of either reached the stored definition; a PATCH without them is taken.
    expect(fake.definitions[0]).toMatchObject({ actionUrl: ACTION_URL, functions: [], revisionId: '1' })
    expect(fake.definitions[0]).not.toHaveProperty('archivedAt')
    const ok = await patch({ actionUrl: `${ACTION_URL}&patched=1` })
    expect(ok.status).toBe(200)
    expect(fake.definitions[0]).toMatchObject({ actionUrl: `${ACTION_URL}&patched=1`, revisionId: '2' })
  })

  it('creates with 201 and pages the list by cursor: 3 definitions, pages of 2; DELETE archives', async () => {
    // With a developers-write token (the SDK's definitionsApi only ever sends the developer key, so
    // the token goes through apiRequest)…
    const t = await install(['developers-write'])
    const ids: string[] = []
    for (const n of [1, 2, 3]) {
      const res = await t.client.apiRequest({
        method: 'POST',
        path: `/automation/v4/actions/${APP}`,
        body: definition({ actionUrl: `${ACTION_URL}&n=${n}` }),
      })
      expect(res.status).toBe(201)
      ids.push(((await res.json()) as { id: string }).id)
    }
    // …and read back with the developer key through the SDK.
    const api = developer().automation.actions.definitionsApi

    const first = await api.getPage(APP, 10)
    expect(first.results.map((d) => d.id)).toEqual(ids.slice(0, 2))
    const after = first.paging?.next?.after as string
    expect(after).toBeTruthy()
    const second = await api.getPage(APP, 10, after)
    expect(second.results.map((d) => d.id)).toEqual([ids[2]])
    expect(second.paging).toBeUndefined()

    await api.archive(ids[0] as string, APP)
    expect((await api.getPage(APP)).results.map((d) => d.id)).toEqual(ids.slice(1))
    expect((await api.getPage(APP, undefined, undefined, true)).results.map((d) => d.id)).toEqual([ids[0]])
    expect((await refused(api.getById(ids[0] as string, APP))).code).toBe(404)

    expect((await refused(api.getPage(9999))).code).toBe(404)
    const readOnly = await install(['developers-read'])
    const write = await readOnly.client.apiRequest({
      method: 'POST',
      path: `/automation/v4/actions/${APP}`,
      body: definition(),
    })
    expect(write.status).toBe(403)
    expect(await write.json()).toMatchObject({ category: 'MISSING_SCOPES' })
    const wrongKey = new Client({ developerApiKey: 'not-the-key', basePath: fake.url })
    expect((await refused(wrongKey.automation.actions.definitionsApi.getPage(APP))).code).toBe(401)
  })
})

describe('executions', () => {
  it('execute() sends only the requested properties, numbers as numbers, inputs as strings, signed v2 only', async () => {
    const def = await createDefinition()
    const endpoint = await actionEndpoint(() => ({
      status: 200,
      body: { outputFields: { hs_execution_state: 'SUCCESS', remit_verdict: 'go' } },
    }))
    const r = await fake.execute({
      definitionId: def.id,
      portalId: PORTAL,
      workflowId: 1001,
      objectType: 'CONTACT',
      objectId: '904',
      inputFields: { remit_action: 'email.positioning', discountPct: 20 },
      deliverTo: endpoint.url,
    })
    expect(r.status).toBe(200)
    const [got] = endpoint.received
    expect(got?.url).toBe('/hubspot/action?v=1')
    expect(JSON.parse(got?.raw ?? '')).toEqual({
      callbackId: expect.stringMatching(new RegExp(`^ap-${PORTAL}-\\d+-0$`)),
      origin: { portalId: PORTAL, actionDefinitionId: Number(def.id), actionDefinitionVersion: 1 },
      context: { source: 'WORKFLOWS', workflowId: 1001 },
      // email and phone were requested; firstname and lifecyclestage were not; phone has no value.
      object: {
        objectId: 904,
        objectType: 'CONTACT',
        properties: { email: 'jane@acme.example', phone: null },
      },
      inputFields: { remit_action: 'email.positioning', discountPct: '20' },
    })
    // Signatures over the registered actionUrl, checked with the SDK's own algorithm.
    const signed = { clientSecret: CLIENT_SECRET, url: ACTION_URL, requestBody: got?.raw ?? '' }
    expect(got?.headers['x-hubspot-signature-version']).toBe('v2')
    expect(got?.headers['x-hubspot-signature']).toBe(Signature.getSignature('POST', 'v2', signed as never))
    // "Requests made for your custom action will use the v2 version of the X-HubSpot-Signature"
    // (Custom Workflow Actions, /docs/api/automation/custom-workflow-actions): v3 is not documented
    // for actions, so by default the fake does not send it (an app needing it would fail in production).
    expect(got?.headers['x-hubspot-signature-v3']).toBeUndefined()
    expect(got?.headers['x-hubspot-request-timestamp']).toBeUndefined()

    // Without objectRequestOptions the object carries no properties at all.
    const bare = await createDefinition({ objectRequestOptions: undefined })
    await fake.execute({
      definitionId: bare.id,
      portalId: PORTAL,
      workflowId: 1001,
      objectType: 'CONTACT',
      objectId: 904,
      inputFields: { remit_action: 'email.positioning' },
      deliverTo: endpoint.url,
    })
    expect(JSON.parse(endpoint.received[1]?.raw ?? '').object).toEqual({
      objectId: 904,
      objectType: 'CONTACT',
    })
    expect(fake.callbacks().map((c) => c.state)).toEqual(['completed', 'completed'])
  })

  it('signs v3 too, over the registered URL and the fake clock, only when told to', async () => {
    await fake.close()
    await start({ signatureVersions: ['v2', 'v3'] })
    const def = await createDefinition()
    const endpoint = await actionEndpoint(() => ({
      status: 200,
      body: { outputFields: { hs_execution_state: 'SUCCESS', remit_verdict: 'go' } },
    }))
    await fake.execute({
      definitionId: def.id,
      portalId: PORTAL,
      workflowId: 1001,
      objectType: 'CONTACT',
      objectId: 904,
      inputFields: { remit_action: 'email.positioning' },
      deliverTo: endpoint.url,
    })
    const [got] = endpoint.received
    const signed = { clientSecret: CLIENT_SECRET, url: ACTION_URL, requestBody: got?.raw ?? '' }
    expect(got?.headers['x-hubspot-signature']).toBe(Signature.getSignature('POST', 'v2', signed as never))
    expect(got?.headers['x-hubspot-request-timestamp']).toBe(String(clock))
    expect(got?.headers['x-hubspot-signature-v3']).toBe(
      Signature.getSignature('POST', 'v3', { ...signed, timestamp: clock } as never),
    )
  })

  it('an answer HubSpot would not take makes execute() throw; an unpublished action is never executed', async () => {
    const def = await createDefinition()
    const endpoint = await actionEndpoint(() => ({
      status: 200,
      body: { outputFields: { hs_execution_state: 'RETRY', remit_verdict: 'go' } },
    }))
    const run = (definitionId: string) =>
      fake.execute({
        definitionId,
        portalId: PORTAL,
        workflowId: 1001,
        objectType: 'CONTACT',
        objectId: 904,
        inputFields: { remit_action: 'email.positioning' },
        deliverTo: endpoint.url,
      })
    await expect(run(def.id)).rejects.toThrow(
      '/outputFields/hs_execution_state must be equal to one of the allowed values',
    )
    const draft = await createDefinition({ published: false })
    await expect(run(draft.id)).rejects.toThrow('is not published')
  })
})

describe('options fetches', () => {
  // "Using external data" (Custom Workflow Actions, /docs/api/automation/custom-workflow-actions):
  // HubSpot POSTs {origin, objectTypeId, inputFieldName, inputFields, fetchOptions?} to the field's
  // optionsUrl and shows `options: [{label, description, value}]` (CONTRACT.md §2, External options;
  // schema $defs/OptionsFetchResponse).
  const OPTIONS_URL = 'https://remit.example.com/hubspot/options?v=1'
  const external = () =>
    definition({
      inputFields: [
        {
          typeDefinition: {
            name: 'remit_action',
            type: 'enumeration',
            fieldType: 'select',
            optionsUrl: OPTIONS_URL,
            options: [],
          },
          supportedValueTypes: ['STATIC_VALUE'],
          isRequired: true,
        },
        {
          typeDefinition: { name: 'discountPct', type: 'number', fieldType: 'number', options: [] },
          isRequired: false,
        },
      ],
    })

  it('POSTs the documented request, signed v2, to the optionsUrl and takes {options: [{label, value}]}', async () => {
    const def = await developer().automation.actions.definitionsApi.create(APP, external() as never)
    const endpoint = await actionEndpoint(() => ({
      status: 200,
      body: { options: [{ label: 'Positioning e-mail', value: 'email.positioning', description: 'email' }] },
    }))
    const r = await fake.fetchOptions({
      definitionId: def.id,
      portalId: PORTAL,
      inputFieldName: 'remit_action',
      inputFields: { discountPct: { type: 'STATIC_VALUE', value: '20' } },
      deliverTo: endpoint.url,
    })
    expect(r.status).toBe(200)
    const [got] = endpoint.received
    expect(got?.url).toBe('/hubspot/options?v=1')
    expect(JSON.parse(got?.raw ?? '')).toEqual({
      origin: { portalId: PORTAL, actionDefinitionId: Number(def.id), actionDefinitionVersion: 1 },
      objectTypeId: '0-1',
      inputFieldName: 'remit_action',
      inputFields: { discountPct: { type: 'STATIC_VALUE', value: '20' } },
    })
    const signed = { clientSecret: CLIENT_SECRET, url: OPTIONS_URL, requestBody: got?.raw ?? '' }
    expect(got?.headers['x-hubspot-signature']).toBe(Signature.getSignature('POST', 'v2', signed as never))
  })

  it('an answer HubSpot could not show makes fetchOptions() throw; a field without optionsUrl is never fetched', async () => {
    const def = await developer().automation.actions.definitionsApi.create(APP, external() as never)
    let answer: unknown = {}
    const endpoint = await actionEndpoint(() => ({ status: 200, body: answer }))
    const fetchOptions = (inputFieldName = 'remit_action') =>
      fake.fetchOptions({ definitionId: def.id, portalId: PORTAL, inputFieldName, deliverTo: endpoint.url })
    await expect(fetchOptions()).rejects.toThrow("/ must have required property 'options'")
    answer = { options: [{ label: 'No value' }] }
    await expect(fetchOptions()).rejects.toThrow("/options/0 must have required property 'value'")
    answer = { options: [{ label: 'Twenty', value: 20 }] }
    await expect(fetchOptions()).rejects.toThrow('/options/0/value must be string')
    answer = { options: [], searchable: 'yes' }
    await expect(fetchOptions()).rejects.toThrow('/searchable must be boolean')
    await expect(fetchOptions('discountPct')).rejects.toThrow('input field discountPct has no optionsUrl')
    await expect(fetchOptions('nope')).rejects.toThrow('the action definition has no input field nope')
    expect(endpoint.received).toHaveLength(4)
  })
})

describe('callbacks', () => {
  it('a BLOCKed execution is completed once, with typedOutputs (204); a second completion is 409', async () => {
    const callbackId = await blocked('P1D')
    expect(fake.callbacks()).toEqual([
      {
        callbackId,
        portalId: PORTAL,
        state: 'blocked',
        expiresAt: clock + 24 * 60 * MINUTE,
        completions: 0,
        refused: 0,
      },
    ])
    const t = await install(['automation'])
    expect((await complete(t.client, callbackId, go)).status).toBe(204)
    const twice = await complete(t.client, callbackId, go)
    expect(twice.status).toBe(409)
    expect(fake.completions()).toEqual([{ callbackId, outputFields: go.outputFields }])
    expect(fake.callbacks()[0]).toMatchObject({
      state: 'completed',
      completedWith: go,
      completions: 1,
      refused: 1,
    })
  })

  it("a completion without typedOutputs is 400, and that is what the SDK's callbacksApi.complete sends", async () => {
    const callbackId = await blocked()
    const t = await install(['automation'])
    const without = await complete(t.client, callbackId, { outputFields: go.outputFields })
    expect(without.status).toBe(400)
    expect(((await without.json()) as { message: string }).message).toContain(
      "must have required property 'typedOutputs'",
    )

    const sdk = await refused(t.client.automation.actions.callbacksApi.complete(callbackId, go as never))
    expect(sdk.code).toBe(400)
    expect(fake.requests.at(-1)?.body).toEqual({ outputFields: go.outputFields })
    expect(fake.callbacks()[0]?.state).toBe('blocked')
  })

  it('a callback past its hs_expiration_duration (default one week) can no longer be completed', async () => {
    const short = await blocked('PT1H')
    const week = await blocked()
    expect(fake.callbacks().map((c) => (c.expiresAt ?? 0) - clock)).toEqual([
      60 * MINUTE,
      7 * 24 * 60 * MINUTE,
    ])
    clock += 61 * MINUTE
    expect(fake.callbacks().map((c) => c.state)).toEqual(['expired', 'blocked'])
    const t = await install(['automation'])
    expect((await complete(t.client, short, go)).status).toBe(404)
    expect((await complete(t.client, week, go)).status).toBe(204)
  })

  it("an unknown callback, or another portal's, is 404; a batch is all or nothing", async () => {
    const a = await blocked()
    const b = await blocked()
    const t = await install(['automation'])
    expect((await complete(t.client, 'ap-1-2-3-0', go)).status).toBe(404)
    const other = await install(['automation'], 555)
    expect((await complete(other.client, a, go)).status).toBe(404)
    const noScope = await install(['crm.objects.contacts.read'])
    expect((await complete(noScope.client, a, go)).status).toBe(403)

    const batch = (inputs: unknown[]) =>
      t.client.apiRequest({
        method: 'POST',
        path: '/automation/v4/actions/callbacks/complete',
        body: { inputs },
      })
    expect(
      (
        await batch([
          { callbackId: a, ...go },
          { callbackId: 'unknown', ...go },
        ])
      ).status,
    ).toBe(404)
    expect((await batch([{ callbackId: a, outputFields: go.outputFields }])).status).toBe(400)
    expect(fake.callbacks().map((c) => c.state)).toEqual(['blocked', 'blocked'])
    expect(
      (
        await batch([
          { callbackId: a, ...go },
          { callbackId: b, ...go },
        ])
      ).status,
    ).toBe(204)
    expect(fake.completions().map((c) => c.callbackId)).toEqual([a, b])
  })
})

describe('CRM', () => {
  it("reads only the properties asked, HubSpot's defaults when none are, and associations when asked", async () => {
    const t = await install(['crm.objects.contacts.read', 'crm.objects.companies.read'])
    const asked = await t.client.crm.contacts.basicApi.getById('904', ['lifecyclestage', 'not_a_property'])
    expect(asked.properties).toEqual({ lifecyclestage: 'customer' })
    expect(asked.associations).toBeUndefined()
    const defaults = await t.client.crm.contacts.basicApi.getById('904', undefined, undefined, ['companies'])
    expect(defaults.properties).toEqual({
      email: 'jane@acme.example',
      firstname: 'Jane',
      lastname: null,
      createdate: '2026-01-05T10:00:00Z',
      lastmodifieddate: null,
      hs_object_id: '904',
    })
    expect(defaults.associations?.companies?.results).toEqual([{ id: '7', type: 'contact_to_company' }])
    const company = await t.client.crm.companies.basicApi.getById('7')
    expect(Object.keys(company.properties)).toEqual([
      'name',
      'domain',
      'createdate',
      'hs_lastmodifieddate',
      'hs_object_id',
    ])
    expect((await refused(t.client.crm.contacts.basicApi.getById('999'))).code).toBe(404)
  })

  it('searches: OR of groups, AND within, dates as ms or ISO, sorts, only the asked properties, paging by after', async () => {
    const at = (iso: string) => String(Date.parse(iso))
    fake.objects.calls.push(
      { id: 'c1', properties: { hs_timestamp: '2026-04-01T10:00:00Z', hubspot_owner_id: '900' } },
      { id: 'c2', properties: { hs_timestamp: at('2026-04-03T10:00:00Z'), hubspot_owner_id: '901' } },
      { id: 'c3', properties: { hs_timestamp: '2026-04-05T10:00:00Z', hubspot_owner_id: '902' } },
      { id: 'c4', properties: { hubspot_owner_id: '900' } },
    )
    const t = await install(['crm.objects.contacts.read'])
    const run = (body: Record<string, unknown>) =>
      t.client.crm.objects.searchApi.doSearch('calls', body as never)
    const query = {
      filterGroups: [
        // c2 is stored as ms, c3 as ISO: both are after the 2nd.
        { filters: [{ propertyName: 'hs_timestamp', operator: 'GTE', value: '2026-04-02T00:00:00Z' }] },
        // c1 by its owner; c4 has the owner but no timestamp.
        {
          filters: [
            { propertyName: 'hubspot_owner_id', operator: 'EQ', value: '900' },
            { propertyName: 'hs_timestamp', operator: 'HAS_PROPERTY' },
          ],
        },
      ],
      sorts: [{ propertyName: 'hs_timestamp', direction: 'DESCENDING' }],
      properties: ['hubspot_owner_id'],
      limit: 10,
    }
    const page = await run(query)
    expect(page.total).toBe(3)
    // pageSize 2 caps the page; the rest is one `after` away.
    expect(page.results.map((r) => [r.id, r.properties])).toEqual([
      ['c3', { hubspot_owner_id: '902' }],
      ['c2', { hubspot_owner_id: '901' }],
    ])
    const rest = await run({ ...query, after: page.paging?.next?.after })
    expect(rest.results.map((r) => r.id)).toEqual(['c1'])
    expect(rest.paging).toBeUndefined()
    // An ms value against an ISO-stored date; sorts as a string; HubSpot's default properties.
    const before = await run({
      filterGroups: [
        { filters: [{ propertyName: 'hs_timestamp', operator: 'LT', value: at('2026-04-02T00:00:00Z') }] },
      ],
      sorts: ['-hs_timestamp'],
    })
    expect(before.results.map((r) => [r.id, Object.keys(r.properties)])).toEqual([
      ['c1', ['hs_object_id', 'createdate', 'hs_lastmodifieddate']],
    ])
    const tooMany = {
      filters: Array.from({ length: 11 }, () => ({ propertyName: 'x', operator: 'HAS_PROPERTY' })),
    }
    expect((await refused(run({ filterGroups: [tooMany] }))).code).toBe(400)
    expect((await refused(run({ limit: 201 }))).code).toBe(400)
  })

  it('v4 batch read says which contact and company a call belongs to', async () => {
    fake.objects.calls.push({
      id: '31',
      properties: { hs_timestamp: '2026-04-05T10:00:00Z' },
      associations: { contacts: { results: [{ id: '904', type: 'call_to_contact' }] } },
    })
    const t = await install(['crm.objects.contacts.read'])
    const r = await t.client.crm.associations.v4.batchApi.getPage('calls', 'contacts', {
      inputs: [{ id: '31' }],
    })
    expect(r.status).toBe('COMPLETE')
    expect(r.results).toEqual([
      {
        _from: { id: '31' },
        to: [
          { toObjectId: 904, associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 194, label: null }] },
        ],
      },
    ])
    // The other way round, from the contact's own association to its company.
    const scoped = await install(['crm.objects.contacts.read', 'crm.objects.companies.read'])
    const companies = await scoped.client.crm.associations.v4.batchApi.getPage('companies', 'contacts', {
      inputs: [{ id: '7' }, { id: '8' }],
    })
    expect(fake.requests.at(-1)?.status).toBe(207)
    expect(companies.results.map((x) => x.to.map((y) => y.toObjectId))).toEqual([[904]])
    expect(
      (await refused(t.client.crm.associations.v4.batchApi.getPage('calls', 'companies', { inputs: [] })))
        .code,
    ).toBe(403)
  })
})
