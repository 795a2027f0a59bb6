import { afterEach, expect, it } from 'vitest'
import { clock, install, PORTAL, portalWorld, registerSeedAction, serve, stopAll, until } from './portal.ts'

// Reps' one-to-one activity logged in HubSpot is in Remit's ledger: the seed's "support does not
// fire a win-back on a customer who spoke with sales in the last 24 hours" holds when sales spoke
// from HubSpot — a call logged there, read by the activity poll (CRM search, associations v4).

afterEach(stopAll)

it("the seed week's no-winback-after-sales stop triggers from a call a sales rep logged in HubSpot", async () => {
  const { config, fake, storePath } = await portalWorld('2026-04-08T10:00:00Z')
  try {
    const customer = (id: string, account: string) => ({
      id,
      properties: {
        email: `${account}@example.com`,
        lifecyclestage: 'customer',
        tier: 'smb',
        account_id: account,
      },
    })
    fake.objects.contacts.push(customer('51', 'acme'), customer('52', 'globex'))
    const yesterday = new Date(clock.now - 20 * 3600e3).toISOString()
    const onJane = { contacts: { results: [{ id: '51', type: 'call_to_contact' }] } }
    fake.objects.calls.push(
      // Sales (owner 900) called Jane at acme yesterday.
      {
        id: 'c1',
        properties: { hs_timestamp: yesterday, hs_lastmodifieddate: yesterday, hubspot_owner_id: '900' },
        associations: onJane,
      },
      // A call by an owner hubspot.yaml does not map to a team: not Remit's to count.
      {
        id: 'c2',
        properties: { hs_timestamp: yesterday, hs_lastmodifieddate: yesterday, hubspot_owner_id: '777' },
        associations: { contacts: { results: [{ id: '52', type: 'call_to_contact' }] } },
      },
    )

    let remit = await serve(config, storePath, fake.url)
    expect((await install(remit, fake)).status).toBe(200)
    const { definitionId } = await registerSeedAction(remit, fake, config)

    // The poll runs as the app starts serving; the installation came after, so the restart's does it.
    await stopAll()
    remit = await serve(config, storePath, fake.url)
    const timeline = () => remit.server.remit.timeline('acme')
    await until(async () => (await timeline()).touches.length > 0, "the poll to record the rep's call")
    expect((await timeline()).touches).toEqual([
      expect.objectContaining({
        kind: 'call',
        team: 'sales',
        contactId: `hubspot-contact:${PORTAL}:51`,
        at: new Date(yesterday),
        externalId: `hubspot:${PORTAL}:calls:c1`,
      }),
    ])
    expect((await remit.server.remit.timeline('globex')).touches).toEqual([])

    // Support's win-back workflow (2002) enrolls both contacts.
    const winback = (objectId: number) =>
      fake.execute({
        definitionId,
        portalId: PORTAL,
        workflowId: 2002,
        objectType: 'CONTACT',
        objectId,
        inputFields: { remit_action: 'sequence.winback' },
        deliverTo: remit.url,
      })
    const jane = (await winback(51)).body as { outputFields: Record<string, string> }
    expect(jane.outputFields).toMatchObject({ hs_execution_state: 'SUCCESS', remit_verdict: 'stop' })
    expect(jane.outputFields.remit_reason).toContain('no-winback-after-sales')
    const omar = (await winback(52)).body as { outputFields: Record<string, string> }
    expect(omar.outputFields).toMatchObject({ remit_verdict: 'go' })

    // Polled again (a restart re-reads from its stored cursor): the call is still one touch.
    await stopAll()
    remit = await serve(config, storePath, fake.url)
    await new Promise((r) => setTimeout(r, 300))
    expect((await timeline()).touches.filter((t) => t.kind === 'call')).toHaveLength(1)
    expect(
      JSON.parse((await remit.server.remit.store.readState(`hubspot:activity:${PORTAL}:calls`)) ?? ''),
    ).toEqual({
      from: Date.parse(yesterday),
    })
  } finally {
    await fake.close()
  }
})
