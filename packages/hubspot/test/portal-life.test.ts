import { afterEach, expect, it } from 'vitest'
import { clock, PORTAL, PUBLIC, portalWorld, registerSeedAction, serve, stopAll, until } from './portal.ts'

// A real portal's life, against a fake that holds HubSpot to its documented contract (OAuth tokens
// that expire after 30 minutes, only the requested properties in an execution, completions checked
// against the schema, each callback completed once): install, register, an execution, a flag, the
// approval 45 minutes later with a restart in between, and the callback completed once with a
// refreshed token. The seed's hubspot.yaml is the configuration, as `remit serve` reads it.

afterEach(stopAll)

it('install, register, a flagged execution, approval 45 minutes later across a restart: completed once, with a refreshed token', async () => {
  const { config, fake, storePath } = await portalWorld('2026-04-06T09:00:00Z')
  try {
    let remit = await serve(config, storePath, fake.url, { sales: { reviewer: 'sales' } })

    // Install: Remit sends the user to HubSpot; HubSpot sends them back with a code.
    const start = await fetch(`${remit.url}/hubspot/install`, { redirect: 'manual' })
    expect(start.status).toBe(302)
    const authorize = new URL(start.headers.get('location') as string)
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${PUBLIC}/hubspot/oauth/callback`)
    const scopes = (authorize.searchParams.get('scope') as string).split(' ')
    expect(scopes).toEqual(['automation', 'crm.objects.companies.read', 'crm.objects.contacts.read'])
    const code = fake.authorize({ portalId: PORTAL, scopes, redirectUri: `${PUBLIC}/hubspot/oauth/callback` })
    const state = encodeURIComponent(authorize.searchParams.get('state') as string)
    const installed = await fetch(`${remit.url}/hubspot/oauth/callback?code=${code}&state=${state}`)
    expect(installed.status).toBe(200)
    expect(await installed.text()).toContain(`portal ${PORTAL}`)

    // Register the action in the app (the developer key; paged, idempotent).
    const { definition, definitionId } = await registerSeedAction(remit, fake, config)

    // A workflow enrolls Jane: HubSpot sends only the properties the definition asked for.
    fake.objects.contacts.push({
      id: '51',
      properties: {
        email: 'jane@acme.example',
        lifecyclestage: 'renewal',
        tier: 'enterprise',
        account_id: 'acme',
        phone: '+1 555 0100',
      },
    })
    const execution = await fake.execute({
      definitionId,
      portalId: PORTAL,
      workflowId: 1001,
      objectType: 'CONTACT',
      objectId: 51,
      inputFields: { remit_action: 'email.positioning' },
      deliverTo: remit.url,
    })
    const sent = JSON.parse(execution.sent.body) as { object: { properties: Record<string, unknown> } }
    expect(Object.keys(sent.object.properties).sort()).toEqual(definition.objectRequestOptions.properties)
    expect(sent.object.properties).not.toHaveProperty('phone')
    expect(execution.body).toMatchObject({
      outputFields: { hs_execution_state: 'BLOCK', remit_verdict: 'flag' },
    })
    const [decision] = await remit.server.remit.decisions.list()
    expect(decision).toMatchObject({ accountId: 'acme', verdict: 'flag' })
    expect(decision?.facts).toMatchObject({ lifecycle: 'renewal', tier: 'enterprise' })

    // Remit restarts on the same store; 45 minutes pass: the install's access token has expired.
    await stopAll()
    clock.now += 45 * 60 * 1000
    remit = await serve(config, storePath, fake.url, { sales: { reviewer: 'sales' } })
    const [review] = await remit.server.remit.reviews.list({ status: 'pending' })
    const approved = await fetch(`${remit.url}/v1/reviews/${review?.id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${remit.keys.sales}` },
    })
    expect(approved.status).toBe(200)

    await until(() => fake.callbacks().some((c) => c.state === 'completed'), 'the completion')
    await new Promise((r) => setTimeout(r, 300))
    const [callback] = fake.callbacks()
    expect(callback).toMatchObject({ portalId: PORTAL, state: 'completed', completions: 1 })
    expect(callback?.completedWith).toMatchObject({
      outputFields: { hs_execution_state: 'SUCCESS', remit_verdict: 'go' },
      typedOutputs: { remit_verdict: 'go' },
    })
    // Completed with a token refreshed after the restart, not the install's (expired) one.
    const issued = fake.tokensIssued()
    expect(issued.map((t) => t.grant)).toEqual(['authorization_code', 'refresh_token'])
    const completion = fake.requests.find((r) => r.path.endsWith('/complete') && r.status === 204)
    expect(completion?.headers.authorization).toBe(`Bearer ${issued[1]?.access_token}`)
    expect((await remit.server.remit.outbox.list({ channel: 'hubspot' }))[0]).toMatchObject({
      status: 'delivered',
    })
  } finally {
    await fake.close()
  }
})

it('HubSpot fills the action-kind dropdown from the optionsUrl: Remit checks the v2 signature and answers an OptionsFetchResponse', async () => {
  // The fake POSTs the documented options request, signed only v2 as HubSpot documents for custom
  // actions ("Custom Workflow Actions", /docs/api/automation/custom-workflow-actions, "Using external
  // data"), and throws unless the answer is {options: [{label, value}]} of strings.
  const { config, fake, storePath } = await portalWorld('2026-04-06T09:00:00Z')
  try {
    const remit = await serve(config, storePath, fake.url)
    const { definitionId } = await registerSeedAction(remit, fake, config)
    const r = await fake.fetchOptions({
      definitionId,
      portalId: PORTAL,
      inputFieldName: 'remit_action',
      deliverTo: remit.url,
    })
    expect(r.status).toBe(200)
    expect(r.sent.headers).not.toHaveProperty('x-hubspot-signature-v3')
    expect((r.body as { options: { value: string }[] }).options.map((o) => o.value)).toEqual([
      ...remit.server.remit.policy.actions.keys(),
    ])
  } finally {
    await fake.close()
  }
})
