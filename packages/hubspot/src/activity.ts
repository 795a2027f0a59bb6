import type { Client } from '@hubspot/api-client'
import type { Remit } from '@remit/core'
import { activityTime } from '@remit/core/adapter'
import { hubspotRequest } from './http.ts'
import type { HubSpotClients } from './oauth.ts'

// Reps' one-to-one activity in HubSpot — calls, meetings, e-mails logged on a record, and sequence
// enrollments — enters Remit's ledger as touches of the rep's team, so a rule such as "no win-back
// to a customer who spoke with sales yesterday" holds when sales spoke from HubSpot. HubSpot's
// webhooks do not cover these engagement objects for every app, so they are read with an
// incremental poll of the CRM search API ("CRM API | Search"): per portal and kind, a cursor on the
// last-modified time kept in Remit's store; each engagement is recorded once (its external id).

export type ActivityKind = 'calls' | 'meetings' | 'emails' | 'sequences'

/** Who a HubSpot record is in Remit (the same identity the action gives an enrolled record). */
export type Identify = (
  type: 'contact' | 'company',
  id: string,
  portalId: number,
) => Promise<{ accountId: string; contactId?: string }>

export interface HubSpotActivityOptions {
  remit: Remit
  hubspot: HubSpotClients
  /** The portals to read (those the app is installed in). */
  portals: () => Promise<number[]>
  /** HubSpot owner id → the Remit team the rep works in. Activity of owners not listed is not recorded. */
  owners: Record<string, string>
  /** Which activity to read (default all four). */
  kinds?: ActivityKind[]
  identify: Identify
  /** How far back the first poll of a portal reads (default 72 h). */
  firstLookbackMs?: number
  /** How often to poll (default 60 s). */
  everyMs?: number
  /** Pages of 100 read per portal and kind in one pass (default 10); the rest waits for the next pass. */
  maxPages?: number
  now?: () => number
  log?: { warn: (o: object, m: string) => void; info: (o: object, m: string) => void }
}

interface Found {
  id: string
  properties: Record<string, string | null | undefined>
}
interface SearchPage {
  results: Found[]
  paging?: { next?: { after?: string } }
}

/** What each kind is in HubSpot and in Remit's ledger. */
const KINDS: Record<
  ActivityKind,
  {
    objectType: string
    cursor: string
    at: string
    kind: string
    channel: string
    outbound: (p: Found['properties']) => boolean
    extra: string[]
  }
> = {
  calls: {
    objectType: 'calls',
    cursor: 'hs_lastmodifieddate',
    at: 'hs_timestamp',
    kind: 'call',
    channel: 'phone',
    outbound: (p) => p.hs_call_direction !== 'INBOUND',
    extra: ['hs_call_direction'],
  },
  meetings: {
    objectType: 'meetings',
    cursor: 'hs_lastmodifieddate',
    at: 'hs_timestamp',
    kind: 'meeting',
    channel: 'meeting',
    outbound: () => false,
    extra: [],
  },
  emails: {
    objectType: 'emails',
    cursor: 'hs_lastmodifieddate',
    at: 'hs_timestamp',
    kind: 'email.crm',
    channel: 'email',
    outbound: (p) => p.hs_email_direction !== 'INCOMING_EMAIL',
    extra: ['hs_email_direction'],
  },
  // An enrollment shows on the contact: the latest enrollment's time and the enrolling owner.
  sequences: {
    objectType: 'contacts',
    cursor: 'hs_latest_sequence_enrolled_date',
    at: 'hs_latest_sequence_enrolled_date',
    kind: 'sequence.enrolled',
    channel: 'email',
    outbound: () => true,
    extra: [],
  },
}

const toMs = (v: string | null | undefined): number | undefined => {
  if (!v) return undefined
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v)
  return Number.isFinite(ms) ? ms : undefined
}

/**
 * Who a record is when the action reads no CRM context: the enrolled record's own identity — a
 * contact keyed by the `account` property when hubspot.yaml names one (else by the contact), a
 * company by its id — as `hubspotAction` gives it.
 */
export function recordIdentity(hubspot: HubSpotClients, account?: string): Identify {
  return async (type, id, portalId) => {
    if (type === 'company') return { accountId: `hubspot-company:${portalId}:${id}` }
    const contactId = `hubspot-contact:${portalId}:${id}`
    if (!account) return { accountId: `contact:${contactId}`, contactId }
    const contact = (await hubspot.call(portalId, (client) =>
      hubspotRequest(client, {
        method: 'GET',
        path: `/crm/v3/objects/contacts/${encodeURIComponent(id)}`,
        qs: { properties: account },
      }),
    )) as { properties?: Record<string, string | null> }
    const shared = contact.properties?.[account]
    return { accountId: shared || `contact:${contactId}`, contactId }
  }
}

export function hubspotActivity(o: HubSpotActivityOptions) {
  const now = o.now ?? Date.now
  const kinds = o.kinds ?? (['calls', 'meetings', 'emails', 'sequences'] as const)
  const owners = Object.keys(o.owners)
  const cursorKey = (portalId: number, kind: ActivityKind) => `hubspot:activity:${portalId}:${kind}`

  /** The records an engagement is logged on, contacts first (as the action enrolls contacts). */
  async function associated(client: Client, objectType: string, ids: string[]) {
    const on = new Map<string, { type: 'contact' | 'company'; id: string }>()
    for (const [to, type] of [
      ['companies', 'company'],
      ['contacts', 'contact'],
    ] as const) {
      const answer = (await hubspotRequest(client, {
        method: 'POST',
        path: `/crm/v4/associations/${objectType}/${to}/batch/read`,
        body: { inputs: ids.map((id) => ({ id })) },
      })) as { results?: { from: { id: string }; to: { toObjectId: number | string }[] }[] }
      for (const r of answer.results ?? []) {
        const first = r.to[0]
        if (first) on.set(String(r.from.id), { type, id: String(first.toObjectId) })
      }
    }
    return on
  }

  async function pollKind(portalId: number, kind: ActivityKind): Promise<number> {
    const k = KINDS[kind]
    // The cursor: the last-modified time a search starts from and, while its pages are being read
    // (within a pass or across passes), the page to go on from — so records sharing one timestamp,
    // more than a pass reads, cannot hold the poll on the same pages for ever.
    const stored = await o.remit.store.readState(cursorKey(portalId, kind))
    const saved = stored === undefined ? undefined : (JSON.parse(stored) as { from: number; after?: string })
    const from = saved?.from ?? now() - (o.firstLookbackMs ?? 72 * 3600e3)
    let after = saved?.after
    let cursor = from
    let recorded = 0
    for (let page = 0; page < (o.maxPages ?? 10); page++) {
      const filters: object[] = [{ propertyName: k.cursor, operator: 'GTE', value: String(from) }]
      if (owners.length) filters.push({ propertyName: 'hubspot_owner_id', operator: 'IN', values: owners })
      const found = await o.hubspot.call(portalId, async (client) => {
        const res = (await hubspotRequest(client, {
          method: 'POST',
          path: `/crm/v3/objects/${k.objectType}/search`,
          body: {
            filterGroups: [{ filters }],
            sorts: [{ propertyName: k.cursor, direction: 'ASCENDING' }],
            properties: [k.cursor, k.at, 'hubspot_owner_id', ...k.extra],
            limit: 100,
            ...(after ? { after } : {}),
          },
        })) as SearchPage
        const on =
          kind === 'sequences'
            ? undefined
            : await associated(
                client,
                k.objectType,
                res.results.map((r) => r.id),
              )
        return { ...res, on }
      })
      for (const r of found.results) {
        const team = o.owners[r.properties.hubspot_owner_id ?? '']
        const record = kind === 'sequences' ? { type: 'contact' as const, id: r.id } : found.on?.get(r.id)
        const at = toMs(r.properties[k.at])
        if (team && record && at !== undefined) {
          const who = await o.identify(record.type, record.id, portalId)
          const externalId =
            kind === 'sequences'
              ? `hubspot:${portalId}:sequence:${r.id}:${at}`
              : `hubspot:${portalId}:${k.objectType}:${r.id}`
          await o.remit.recordTouch({
            ...who,
            kind: k.kind,
            channel: k.channel,
            team,
            outbound: k.outbound(r.properties),
            at: activityTime(at, now()) as Date,
            note: `hubspot ${kind} ${r.id}`,
            externalId,
          })
          recorded++
        }
        cursor = Math.max(cursor, toMs(r.properties[k.cursor]) ?? cursor)
      }
      after = found.paging?.next?.after
      // The cursor moves only past what was read: a crash re-reads (and re-records nothing).
      await o.remit.store.writeState(
        cursorKey(portalId, kind),
        JSON.stringify(after ? { from, after } : { from: cursor }),
      )
      if (!after) break
    }
    return recorded
  }

  /** One pass over every portal and kind; a failing portal or kind does not stop the others. */
  async function poll(): Promise<{ recorded: number; failed: number }> {
    let recorded = 0
    let failed = 0
    for (const portalId of await o.portals()) {
      for (const kind of kinds) {
        try {
          recorded += await pollKind(portalId, kind)
        } catch (error) {
          failed++
          o.log?.warn({ portalId, kind, err: error }, 'hubspot activity not read; the next pass retries')
        }
      }
    }
    return { recorded, failed }
  }

  /** Polls every `everyMs` (one pass at a time) until the returned function is called. */
  function start(): () => void {
    let busy = false
    const tick = () => {
      if (busy) return
      busy = true
      poll()
        .catch((error) => o.log?.warn({ err: error }, 'hubspot activity poll failed'))
        .finally(() => {
          busy = false
        })
    }
    const timer = setInterval(tick, o.everyMs ?? 60_000)
    timer.unref()
    tick()
    return () => clearInterval(timer)
  }

  return { poll, start }
}
