import { Client, Signature } from '@hubspot/api-client'
import type { RemitServer } from '@remit/server'
import { startTestServer, type TestServer } from '@remit/server/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { actionDefinition, hubspotAction, registerAction, verifyHubSpotSignature } from '../src/index.ts'
import { signV2, signV3, singleClient } from '../src/testing.ts'
import { fakeHubSpot } from './fake-hubspot.ts'

// Execution requests shaped as HubSpot documents them
// (https://developers.hubspot.com/docs/api/automation/custom-workflow-actions#execute-the-custom-action),
// signed as https://developers.hubspot.com/docs/guides/apps/authentication/validating-requests says.
const SECRET = 'client-secret-of-the-app'
const PUBLIC = 'https://remit.example.com/hubspot/action'

let fake: Awaited<ReturnType<typeof fakeHubSpot>>
let started: TestServer
let remit: RemitServer
let url: string
let reviewerKey: string
let now = Date.parse('2026-04-06T09:00:00Z')

beforeEach(async () => {
  now = Date.parse('2026-04-06T09:00:00Z')
  fake = await fakeHubSpot()
  const hubspot = new Client({ accessToken: 'app-token', basePath: fake.url })
  let action: ReturnType<typeof hubspotAction> | undefined
  started = await startTestServer({
    policy: new URL('../../../examples/seed-week/remit.yaml', import.meta.url),
    keys: { sales: { reviewer: 'sales' } },
    listen: false,
    clock: () => new Date(now),
    rawRoutes: [
      {
        method: 'POST',
        url: '/hubspot/action',
        handle: (raw, headers, req) => (action as NonNullable<typeof action>).handle(raw, headers, req),
      },
      {
        method: 'POST',
        url: '/hubspot/options',
        handle: (raw, headers, req) => (action as NonNullable<typeof action>).options(raw, headers, req),
      },
    ],
  })
  remit = started.server
  reviewerKey = started.keys.sales as string
  action = hubspotAction({
    remit: remit.remit,
    clientSecret: SECRET,
    publicBaseUrl: 'https://remit.example.com',
    clients: singleClient(hubspot),
    properties: { lifecycle: 'lifecyclestage', tier: 'tier', lastTicketOpenedAt: 'last_ticket_opened_at' },
    now: () => now,
  })
  action.listen({ everyMs: 50, baseDelayMs: 50 })
  url = await remit.listen({ port: 0 })
})
afterEach(async () => {
  await started.close()
  await fake.close()
})

let callbacks = 0
function execution(
  workflowId: number,
  kind: string,
  properties: Record<string, string>,
  extra: Record<string, string> = {},
) {
  return {
    callbackId: `ap-102670506-56776413549-7-${callbacks++}`,
    origin: { portalId: 102670506, actionDefinitionId: 10860211, actionDefinitionVersion: 1 },
    context: { source: 'WORKFLOWS', workflowId },
    object: {
      objectId: 904 + callbacks,
      objectType: 'CONTACT',
      properties: { email: `c${callbacks}@acme.example`, ...properties },
    },
    inputFields: { remit_action: kind, ...extra },
  }
}

async function post(body: unknown, sign: 'v3' | 'v2' | 'none' | 'bad' = 'v3', path = '/hubspot/action') {
  const raw = typeof body === 'string' ? body : JSON.stringify(body)
  const target = { method: 'POST', url: `https://remit.example.com${path}`, rawBody: raw }
  const headers =
    sign === 'v3'
      ? signV3(target, SECRET, now)
      : sign === 'v2'
        ? signV2(target, SECRET)
        : sign === 'bad'
          ? signV3(target, 'wrong-secret', now)
          : {}
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: raw,
  })
  return {
    status: res.status,
    body: (await res.json()) as { outputFields?: Record<string, string>; error?: { code: string } },
  }
}

describe('request signatures', () => {
  it("v3 matches HubSpot's own algorithm, and refuses a stale or forged one", () => {
    const req = { method: 'POST', url: PUBLIC, rawBody: '{"a":1}' }
    const headers = signV3(req, SECRET, now)
    const library = Signature.getSignature('POST', 'v3', {
      clientSecret: SECRET,
      requestBody: req.rawBody,
      url: PUBLIC,
      timestamp: now,
    } as never)
    expect(headers['x-hubspot-signature-v3']).toBe(library)
    expect(verifyHubSpotSignature({ ...req, headers }, SECRET, now)).toEqual({ ok: true, version: 'v3' })
    expect(verifyHubSpotSignature({ ...req, headers }, SECRET, now + 6 * 60_000)).toMatchObject({
      ok: false,
      reason: 'timestamp older than 5 minutes',
    })
    expect(verifyHubSpotSignature({ ...req, rawBody: '{"a":2}', headers }, SECRET, now).ok).toBe(false)
  })

  it('v3 signs the decoded URI; v2 is accepted as the fallback', () => {
    const req = { method: 'POST', url: `${PUBLIC}?q=a%3Ab`, rawBody: '{}' }
    const headers = signV3({ ...req, url: `${PUBLIC}?q=a:b` }, SECRET, now)
    expect(verifyHubSpotSignature({ ...req, headers }, SECRET, now).ok).toBe(true)
    expect(verifyHubSpotSignature({ ...req, headers: signV2(req, SECRET) }, SECRET, now)).toEqual({
      ok: true,
      version: 'v2',
    })
  })
})

describe('the "Check with Remit" action endpoint', () => {
  it('answers go at once with SUCCESS and the verdict in output fields', async () => {
    const r = await post(execution(1001, 'email.positioning', { lifecyclestage: 'customer', tier: 'smb' }))
    expect(r.status).toBe(200)
    expect(r.body.outputFields).toMatchObject({ hs_execution_state: 'SUCCESS', remit_verdict: 'go' })
  })

  it('answers stop at once, with the reason and when to retry a pause', async () => {
    const r = await post(
      execution(1001, 'email.positioning', {
        lifecyclestage: 'customer',
        tier: 'smb',
        last_ticket_opened_at: '2026-04-06T07:00:00Z',
      }),
    )
    expect(r.body.outputFields).toMatchObject({
      hs_execution_state: 'SUCCESS',
      remit_verdict: 'stop',
      remit_retry_after: '2026-04-08T07:00:00.000Z',
    })
    expect(r.body.outputFields?.remit_reason).toContain('ticket-pause')
  })

  it("a flag BLOCKs until the review's expiry; approval completes the callback with go", async () => {
    const body = execution(1001, 'email.positioning', { lifecyclestage: 'renewal', tier: 'enterprise' })
    const r = await post(body, 'v2')
    expect(r.body.outputFields).toMatchObject({
      hs_execution_state: 'BLOCK',
      // The review's 72 h, and an hour's grace: the review's own expiry completes the callback first.
      hs_expiration_duration: `PT${73 * 3600}S`,
      remit_verdict: 'flag',
    })
    const [review] = await remit.remit.reviews.list({ status: 'pending' })
    const approved = await fetch(`${url}/v1/reviews/${review?.id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reviewerKey}` },
    })
    expect(approved.status).toBe(200)
    expect(fake.completions()).toEqual([
      {
        callbackId: body.callbackId,
        outputFields: expect.objectContaining({ hs_execution_state: 'SUCCESS', remit_verdict: 'go' }),
      },
    ])
  })

  it('a HubSpot outage at approval time is caught up: the callback is completed once, later', async () => {
    const body = execution(1001, 'email.positioning', { lifecyclestage: 'renewal', tier: 'enterprise' })
    await post(body)
    const [review] = await remit.remit.reviews.list({ status: 'pending' })
    fake.failCompletions(2)
    await fetch(`${url}/v1/reviews/${review?.id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reviewerKey}` },
    })
    expect(fake.completions()).toEqual([])
    // Retries back off on Remit's clock, which this test moves.
    for (let i = 0; i < 100 && fake.completions().length === 0; i++) {
      now += 1000
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(fake.completions()).toEqual([
      { callbackId: body.callbackId, outputFields: expect.objectContaining({ remit_verdict: 'go' }) },
    ])
    await new Promise((r) => setTimeout(r, 300))
    expect(fake.completions()).toHaveLength(1)
    const [m] = await remit.remit.outbox.list({ channel: 'hubspot' })
    expect(m).toMatchObject({ status: 'delivered', attempts: 3 })
  })

  it('a completion HubSpot refuses outright (400) is set aside as dead at once, not retried', async () => {
    const body = execution(1001, 'email.positioning', { lifecyclestage: 'renewal', tier: 'enterprise' })
    await post(body)
    const [review] = await remit.remit.reviews.list({ status: 'pending' })
    fake.failCompletions(100, 400)
    await fetch(`${url}/v1/reviews/${review?.id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reviewerKey}` },
    })
    const [m] = await remit.remit.outbox.list({ channel: 'hubspot' })
    expect(m).toMatchObject({
      status: 'dead',
      attempts: 1,
      lastError: 'HubSpot refused the completion (400)',
    })
  })

  it('rejection completes the callback with stop', async () => {
    const body = execution(1001, 'email.positioning', { lifecyclestage: 'renewal', tier: 'enterprise' })
    await post(body)
    const [review] = await remit.remit.reviews.list({ status: 'pending' })
    await fetch(`${url}/v1/reviews/${review?.id}/reject`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reviewerKey}` },
    })
    expect(fake.completions()[0]?.outputFields).toMatchObject({ remit_verdict: 'stop' })
  })

  it('expiry completes with stop, so the workflow branch that sends on go never sends', async () => {
    const body = execution(1001, 'email.positioning', { lifecyclestage: 'renewal', tier: 'enterprise' })
    await post(body)
    await remit.remit.reviews.expire(new Date(now + 73 * 3600e3))
    expect(fake.completions()[0]?.outputFields).toMatchObject({ remit_verdict: 'stop' })
  })

  it('the same callback retried by HubSpot is one decision', async () => {
    const body = execution(1001, 'email.positioning', { lifecyclestage: 'customer', tier: 'smb' })
    await post(body)
    await post(body)
    expect(await remit.remit.decisions.list()).toHaveLength(1)
  })

  it("takes the action's attributes from its input fields, typed by the policy", async () => {
    const r = await post(
      execution(1001, 'offer.discount', { lifecyclestage: 'prospect', tier: 'smb' }, { discountPct: '20' }),
    )
    // marketing-agent may not offer discounts on its own: flagged, with the attribute as a number.
    expect(r.body.outputFields?.remit_verdict).toBe('flag')
    const [d] = await remit.remit.decisions.list()
    expect(d?.action).toEqual({ kind: 'offer.discount', attributes: { discountPct: 20 } })
  })

  it("a flag's decision carries a preview: the record's link in HubSpot and the input fields", async () => {
    const body = execution(
      1001,
      'offer.discount',
      { lifecyclestage: 'prospect', tier: 'smb' },
      { discountPct: '20' },
    )
    const r = await post(body)
    expect(r.body.outputFields?.remit_verdict).toBe('flag')
    const [d] = await remit.remit.decisions.list()
    expect(d?.verdict).toBe('flag')
    expect(d?.preview).toEqual({
      subject: 'HubSpot workflow 1001: offer.discount',
      link: `https://app.hubspot.com/contacts/102670506/record/0-1/${body.object.objectId}`,
      text: expect.stringContaining('discountPct: 20'),
    })
    expect(d?.preview?.text).toContain('remit_action: offer.discount')
  })

  it('an unknown workflow is answered stop, never a silent go', async () => {
    const r = await post(execution(4242, 'email.positioning', { lifecyclestage: 'customer', tier: 'smb' }))
    expect(r.body.outputFields).toMatchObject({ remit_verdict: 'stop' })
    expect(r.body.outputFields?.remit_reason).toContain('hubspot:workflow/4242')
  })

  it('a bad signature is 401, an unsigned one too, a malformed body 400', async () => {
    const body = execution(1001, 'email.positioning', { lifecyclestage: 'customer', tier: 'smb' })
    expect((await post(body, 'bad')).status).toBe(401)
    expect((await post(body, 'none')).status).toBe(401)
    expect((await post('{"callbackId": 1}')).status).toBe(400)
    expect((await post('not json')).body.error?.code).toBe('BAD_JSON')
    expect(await remit.remit.decisions.list()).toEqual([])
  })

  it('serves the action-kind dropdown from the policy in service', async () => {
    const r = await post(
      { origin: { portalId: 1 }, inputFieldName: 'remit_action' },
      'v3',
      '/hubspot/options',
    )
    expect((r.body as unknown as { options: { value: string }[] }).options.map((o) => o.value)).toEqual([
      'email.positioning',
      'email.cold_prospect',
      'offer.discount',
      'sequence.winback',
    ])
  })
})

describe('registration with @hubspot/api-client', () => {
  it('creates the action definition, then updates the same one', async () => {
    const hubspot = new Client({ developerApiKey: 'dev-key', basePath: fake.url })
    const optionsUrl = 'https://remit.example.com/hubspot/options'
    const definition = actionDefinition({ actionUrl: PUBLIC, optionsUrl, policy: remit.remit.policy })
    const o = { hubspot, appId: 12345, definition }
    expect(await registerAction(o)).toEqual({ id: '1000', created: true })
    expect(await registerAction(o)).toEqual({ id: '1000', created: false })
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /automation/v4/actions/12345',
      'POST /automation/v4/actions/12345',
      'GET /automation/v4/actions/12345',
      'PATCH /automation/v4/actions/12345/1000',
    ])
    expect(fake.requests[1]?.query.get('hapikey')).toBe('dev-key')
    const def = fake.definitions[0] as unknown as ReturnType<typeof actionDefinition>
    expect(def.inputFields[0]?.typeDefinition).toMatchObject({
      name: 'remit_action',
      type: 'enumeration',
      optionsUrl,
    })
    expect(def.outputFields.map((f) => f.typeDefinition.name)).toEqual([
      'remit_verdict',
      'remit_reason',
      'remit_retry_after',
    ])
    expect(def.objectTypes).toEqual(['CONTACT', 'COMPANY'])
  })
})
