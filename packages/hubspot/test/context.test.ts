import { readFileSync } from 'node:fs'
import { Client } from '@hubspot/api-client'
import { loadPolicy, openRemit, openSqliteStore } from '@remit/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { hubspotContext } from '../src/index.ts'
import { singleClient } from '../src/testing.ts'
import { fakeHubSpot } from './fake-hubspot.ts'

// Facts from HubSpot's CRM, read with the real @hubspot/api-client from a fake that answers as
// https://developers.hubspot.com/docs/api/crm/search and the CRM objects API document.
let fake: Awaited<ReturnType<typeof fakeHubSpot>>
const now = Date.parse('2026-04-10T10:00:00Z')
beforeEach(async () => {
  fake = await fakeHubSpot()
  fake.objects.contacts.push({
    id: '51',
    properties: { email: 'jane@acme.example', lifecyclestage: 'customer' },
    associations: { companies: { results: [{ id: '7', type: 'contact_to_company' }] } },
  })
  fake.objects.companies.push({ id: '7', properties: { tier__c: 'Enterprise', name: 'Acme' } })
  const company = { companies: { results: [{ id: '7', type: 'ticket_to_company' }] } }
  fake.objects.tickets.push(
    {
      id: 't1',
      properties: { createdate: '2026-04-09T16:00:00Z', hs_pipeline_stage: '1' },
      associations: company,
    },
    {
      id: 't0',
      properties: { createdate: '2026-03-01T10:00:00Z', hs_pipeline_stage: '4' },
      associations: company,
    },
  )
  fake.objects.deals.push({
    id: 'd1',
    properties: { dealstage: 'renewal-negotiation', pipeline: 'renewals' },
    associations: company,
  })
  fake.objects.calls.push({
    id: 'c1',
    properties: { hs_timestamp: '2026-04-09T15:00:00Z', hubspot_owner_id: '900' },
    associations: company,
  })
  fake.objects.meetings.push({
    id: 'm1',
    properties: { hs_timestamp: '2026-04-01T15:00:00Z', hubspot_owner_id: '900' },
    associations: company,
  })
})
afterEach(async () => fake.close())

async function setup() {
  const remit = await openRemit({
    policy: loadPolicy(
      readFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), 'utf8'),
    ),
    store: openSqliteStore(':memory:'),
    clock: () => new Date(now),
  })
  const context = hubspotContext({
    hubspot: singleClient(new Client({ accessToken: 'token', basePath: fake.url })),
    properties: {
      lifecycle: { property: 'lifecyclestage', from: 'contact' },
      tier: { property: 'tier__c', from: 'company', values: { Enterprise: 'enterprise', SMB: 'smb' } },
    },
    ticketFact: 'lastTicketOpenedAt',
    renewal: { pipeline: 'renewals', stages: ['renewal-negotiation'], fact: 'lifecycle', value: 'renewal' },
    engagements: { remit, team: 'sales', owners: ['900'], sinceHours: 72 },
    now: () => now,
  })
  return { remit, context }
}

describe('facts from the CRM', () => {
  it("maps properties, the newest open ticket and an open renewal deal onto the policy's facts", async () => {
    const { context } = await setup()
    expect(await context.customer('contact', '51', 1)).toEqual({
      accountId: 'hubspot-company:1:7',
      contactId: 'hubspot-contact:1:51',
      email: 'jane@acme.example',
      facts: { lifecycle: 'renewal', tier: 'enterprise', lastTicketOpenedAt: '2026-04-09T16:00:00.000Z' },
    })
  })

  it('records recent sales calls and meetings as touches in the ledger, once', async () => {
    const { remit, context } = await setup()
    await context.customer('contact', '51', 1)
    const t = await remit.timeline('hubspot-company:1:7')
    expect(t.touches.map((x) => [x.kind, x.team, x.at.toISOString()])).toEqual([
      ['call', 'sales', '2026-04-09T15:00:00.000Z'],
    ])
    // …which support's win-back rule now sees.
    const d = await remit.decide('support-agent', {
      action: { kind: 'sequence.winback' },
      customer: await context.customer('contact', '51', 1),
    })
    expect(d.reasons.map((r) => r.rule)).toContain('no-winback-after-sales')
  })

  it('a burst of enrollments for one record costs one lookup', async () => {
    const { context } = await setup()
    await Promise.all(Array.from({ length: 5 }, () => context.customer('contact', '51', 1)))
    expect(fake.requests.filter((r) => r.path === '/crm/v3/objects/contacts/51')).toHaveLength(1)
  })

  it('waits out a 429 as Retry-After says, then reads on', async () => {
    const { context } = await setup()
    fake.throttleNext(1)
    const started = Date.now()
    const c = await context.customer('contact', '51', 1)
    expect(c.facts.tier).toBe('enterprise')
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
  })
})
