import type { Client } from '@hubspot/api-client'
import type { Remit } from '@remit/core'
import { activityTime, customerCache, type VendorCustomer } from '@remit/core/adapter'
import type { HubSpotClients } from './oauth.ts'

// Facts from HubSpot's CRM for the record a workflow enrolled (the "context provider"):
// - CRM objects: https://developers.hubspot.com/docs/api/crm/understanding-the-crm
// - CRM search: https://developers.hubspot.com/docs/api/crm/search
// - Associations are read on the object (`associations=companies`).

export interface HubSpotContextOptions {
  /** The app's installations (`hubspotOAuth`): each record is read as the portal it belongs to. */
  hubspot: HubSpotClients
  /** Fact name → HubSpot property, read from the company if the contact has one, else the contact. */
  properties?: Record<
    string,
    string | { property: string; from?: 'contact' | 'company'; values?: Record<string, string> }
  >
  /** Sets this fact to the creation time of the most recent open ticket (e.g. `lastTicketOpenedAt`). */
  ticketFact?: string
  /** Ticket pipeline stages that mean closed (default HubSpot's support pipeline "Closed": `4`). */
  closedTicketStages?: string[]
  /** An open deal in these stages (of this pipeline) sets `fact` to `value`, e.g. lifecycle = renewal. */
  renewal?: { pipeline?: string; stages: string[]; fact: string; value: string | boolean }
  /** Records recent calls, meetings and e-mails by these owners as touches of this team. */
  engagements?: { remit: Remit; team: string; owners?: string[]; sinceHours?: number }
  /** How long one account's facts are reused (default 30 s): a burst of enrollments costs one lookup. */
  cacheMs?: number
  now?: () => number
}

/** The customer a HubSpot record stands for (one shape for every adapter). */
export type CustomerContext = VendorCustomer

export interface HubSpotContext {
  customer(type: 'contact' | 'company', id: string, portalId: number): Promise<CustomerContext>
}

type Props = Record<string, string | null | undefined>

export function hubspotContext(o: HubSpotContextOptions): HubSpotContext {
  const now = o.now ?? Date.now
  // One cache for every portal: the key carries the portal.
  const cached = customerCache(
    (type: 'contact' | 'company', key: string) => {
      const [portal, id] = key.split('/') as [string, string]
      return load(Number(portal), type, id)
    },
    {
      ttlMs: o.cacheMs ?? 30_000,
      now,
    },
  )
  const mapping = Object.entries(o.properties ?? {}).map(([fact, m]) => ({
    fact,
    ...(typeof m === 'string' ? { property: m } : m),
  }))

  async function load(portalId: number, type: 'contact' | 'company', id: string): Promise<CustomerContext> {
    const call = <T>(run: (client: Client) => Promise<T>) =>
      o.hubspot.call(portalId, (client) => retried(() => run(client)))
    let contact: Props = {}
    let companyId = type === 'company' ? id : undefined
    if (type === 'contact') {
      const c = await call((client) =>
        client.crm.contacts.basicApi.getById(
          id,
          ['email', ...mapping.filter((m) => m.from !== 'company').map((m) => m.property)],
          undefined,
          ['companies'],
        ),
      )
      contact = c.properties as Props
      companyId = (c.associations as Record<string, { results: { id: string }[] }> | undefined)?.companies
        ?.results?.[0]?.id
    }
    let company: Props = {}
    if (companyId) {
      const props = mapping.filter((m) => m.from !== 'contact').map((m) => m.property)
      company = (
        await call((client) =>
          client.crm.companies.basicApi.getById(companyId as string, props.length ? props : ['name']),
        )
      ).properties as Props
    }
    const facts: Record<string, unknown> = {}
    for (const m of mapping) {
      const raw =
        m.from === 'contact'
          ? contact[m.property]
          : m.from === 'company'
            ? company[m.property]
            : (company[m.property] ?? contact[m.property])
      if (raw === null || raw === undefined || raw === '') continue
      facts[m.fact] = m.values?.[raw] ?? raw
    }
    const association = companyId
      ? { propertyName: 'associations.company', operator: 'EQ', value: companyId }
      : { propertyName: 'associations.contact', operator: 'EQ', value: id }
    if (o.ticketFact) {
      const closed = o.closedTicketStages ?? ['4']
      const tickets = await call((client) =>
        client.crm.tickets.searchApi.doSearch({
          filterGroups: [
            {
              filters: [
                association,
                { propertyName: 'hs_pipeline_stage', operator: 'NOT_IN', values: closed },
              ],
            },
          ],
          sorts: ['-createdate'],
          properties: ['createdate', 'hs_pipeline_stage'],
          limit: 1,
          after: undefined as unknown as string,
        } as never),
      )
      const created = tickets.results[0]?.properties?.createdate
      if (created) facts[o.ticketFact] = new Date(created).toISOString()
    }
    if (o.renewal) {
      const filters = [association, { propertyName: 'dealstage', operator: 'IN', values: o.renewal.stages }]
      if (o.renewal.pipeline)
        filters.push({ propertyName: 'pipeline', operator: 'EQ', value: o.renewal.pipeline })
      const deals = await call((client) =>
        client.crm.deals.searchApi.doSearch({
          filterGroups: [{ filters }],
          properties: ['dealstage', 'pipeline', 'amount'],
          limit: 1,
        } as never),
      )
      if (deals.total > 0) facts[o.renewal.fact] = o.renewal.value
    }
    // Record ids are per portal: so are the ids Remit keys them by.
    const accountId = companyId
      ? `hubspot-company:${portalId}:${companyId}`
      : `hubspot-contact:${portalId}:${id}`
    if (o.engagements)
      await recordEngagements(
        portalId,
        call,
        o.engagements,
        association,
        accountId,
        type === 'contact' ? `hubspot-contact:${portalId}:${id}` : undefined,
      )
    return {
      accountId,
      ...(type === 'contact' ? { contactId: `hubspot-contact:${portalId}:${id}` } : {}),
      ...(contact.email ? { email: contact.email } : {}),
      facts,
    }
  }

  async function recordEngagements(
    portalId: number,
    call: <T>(run: (client: Client) => Promise<T>) => Promise<T>,
    e: NonNullable<HubSpotContextOptions['engagements']>,
    association: object,
    accountId: string,
    contactId?: string,
  ) {
    const since = now() - (e.sinceHours ?? 72) * 3600e3
    for (const [objectType, kind, channel] of [
      ['calls', 'call', 'phone'],
      ['meetings', 'meeting', 'meeting'],
      ['emails', 'email.crm', 'email'],
    ] as const) {
      const filters: object[] = [
        association,
        { propertyName: 'hs_timestamp', operator: 'GTE', value: String(since) },
      ]
      if (e.owners?.length)
        filters.push({ propertyName: 'hubspot_owner_id', operator: 'IN', values: e.owners })
      const found = await call((client) =>
        client.crm.objects.searchApi.doSearch(objectType, {
          filterGroups: [{ filters }],
          properties: ['hs_timestamp', 'hubspot_owner_id'],
          limit: 100,
        } as never),
      )
      for (const r of found.results) {
        const key = `${objectType}:${r.id}`
        const at = activityTime(r.properties?.hs_timestamp, now())
        await e.remit.recordTouch({
          accountId,
          ...(contactId ? { contactId } : {}),
          kind,
          channel,
          team: e.team,
          outbound: false,
          ...(at ? { at } : {}),
          note: `hubspot ${key}`,
          // Seen again at the next lookup, or by the activity poll: recorded once.
          externalId: `hubspot:${portalId}:${key}`,
        })
      }
    }
  }

  return {
    customer: (type, id, portalId) => cached(type, `${portalId}/${id}`),
  }
}

/** HubSpot's rate limits: a 429 is retried after its Retry-After (or one second), three times. */
export async function retried<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run()
    } catch (error) {
      const e = error as { code?: number; headers?: Record<string, string> }
      if (e.code !== 429 || attempt >= 3) throw error
      const wait = Number(e.headers?.['retry-after'] ?? 1)
      await new Promise((r) => setTimeout(r, Math.min(Number.isFinite(wait) ? wait : 1, 10) * 1000))
    }
  }
}
