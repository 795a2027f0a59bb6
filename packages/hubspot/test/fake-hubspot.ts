import { createHash, createHmac, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Ajv2020 from 'ajv/dist/2020.js'

// A local fake of the HubSpot endpoints Remit uses. It is meant to FAIL WHERE HUBSPOT WOULD: bodies are
// validated against HubSpot's published shapes (../spec/automation-actions-v4.schema.json), tokens
// expire on a clock the test moves, scopes are checked, callbacks can be completed once.
//
// Sources (HubSpot's pages, developers.hubspot.com):
// - [CWA] "Custom Workflow Actions", /docs/api/automation/custom-workflow-actions (definitions, the
//   execution request, BLOCK and hs_expiration_duration, completing callbacks).
// - [REF] API reference "Automation Actions V4": /docs/api-reference/automation-actions-v4-v4/... —
//   "Completes a callback" (typedOutputs required; 204), definitions (201 on create, cursor paging).
// - [VAL] "Validating requests from HubSpot", /docs/apps/legacy-apps/authentication/validating-requests,
//   and "v2 request validation", /docs/faq/v2-request-validation (X-HubSpot-Signature v2 and v3).
// - [OAUTH] "OAuth tokens API", /docs/api-reference/legacy/authentication/oauth-tokens/v1/guide;
//   changelog "Upcoming: Expiration of OAuth access tokens is changing" (30 minutes).
// - [CRM] "Contacts" / "Companies" guides, /docs/api/crm/contacts (the `properties` and `associations`
//   query parameters), "CRM search", /docs/api/crm/search, and changelog "Breaking Change: Expanded
//   Filtering Capabilities and Error Messaging in HubSpot's Search API" (5 groups, 10 per group, 25 in all).
// - [ASSOC] "Associations v4", /docs/api/crm/associations (batch read; HUBSPOT_DEFINED type ids).
// - [PROPS] "CRM API | Properties", /docs/api/crm/properties ("Property type and fieldType values").
//
// Behaviour seen in public reports rather than reference pages (marked "seen" below):
// - 401 `EXPIRED_AUTHENTICATION` "The OAuth token used to make this call expired N minute(s) ago."
// - 401 `INVALID_AUTHENTICATION` "Authentication credentials not found. …" (HubSpot community post
//   "Improvements to authentication errors for V3 endpoints").
// - 403 `MISSING_SCOPES` with errors[].context.requiredGranularScopes.
// - 400 `{status: 'BAD_REFRESH_TOKEN', message: 'missing or invalid refresh token'}` and
//   `{status: 'BAD_AUTH_CODE', message: 'missing or unknown auth code'}` from POST /oauth/v1/token.
// Everything marked "chosen" is not documented anywhere we could find; the fake takes the strict,
// plausible behaviour.

export interface FakeRequest {
  method: string
  path: string
  query: URLSearchParams
  /** Parsed JSON, or the fields of a form body, or the raw text when it parses as neither. */
  body: unknown
  headers: IncomingMessage['headers']
  /** The status the fake answered, and its body (the SDK drops fields of error bodies it has no model for). */
  status?: number
  answer?: unknown
  /** Answered with an error because the test told the fake to (failCompletions). */
  failed?: boolean
}

export interface CrmObject {
  id: string
  properties: Record<string, string | null>
  /** Keyed by the plural object type (`companies`, `contacts`, …), as the v3 objects API answers. */
  associations?: Record<string, { results: { id: string; type: string }[] }>
}

export interface FakeHubSpotOptions {
  clientId?: string
  clientSecret?: string
  /** The app the fake knows. When set, definitions under another app id are 404. */
  appId?: number
  /** The legacy developer API key (`?hapikey=`) accepted on definition endpoints. */
  developerApiKey?: string
  /** The fake's clock (ms): token and callback expiry, v3 signature timestamps. */
  now?: () => number
  /** Access token lifetime, seconds (default 1800: HubSpot's 30 minutes). */
  tokenLifetimeS?: number
  /** Most results on one page of a list or search (default 100); also the list's default limit. */
  pageSize?: number
  /**
   * Strict auth (default false, for the older tests that use made-up tokens). When false, requests
   * without credentials or with a token the fake never issued pass; a token the fake DID issue is
   * still checked (expiry, scopes), and so is a wrong `hapikey` when `developerApiKey` is set.
   */
  requireAuth?: boolean
  /**
   * Completing a callback the fake never handed out through `execute()` is 404 (default: as
   * `requireAuth`). When false such a callback is taken as blocked by an execution the test posted
   * to the action endpoint itself, and is completed once like any other.
   */
  strictCallbacks?: boolean
  /**
   * The signature headers on what the fake sends to the app (executions, options fetches). Default
   * `['v2']`: "Requests made for your custom action will use the v2 version of the
   * X-HubSpot-Signature" [CWA; CONTRACT.md §5]. HubSpot does not document v3 for custom actions, so
   * an app that relied on v3 there would refuse every real execution; `['v2', 'v3']` adds v3 (with
   * X-HubSpot-Request-Timestamp) for tests of that path.
   */
  signatureVersions?: ('v2' | 'v3')[]
}

export interface IssuedToken {
  access_token: string
  refresh_token: string
  portalId: number
  scopes: string[]
  expiresAt: number
  grant: 'authorization_code' | 'refresh_token' | 'issued'
}

export interface CallbackState {
  callbackId: string
  /** null: adopted without an execution (strictCallbacks false), portal unknown. */
  portalId: number | null
  state: 'blocked' | 'completed' | 'expired'
  /** ms on the fake clock; null: never (adopted callbacks). */
  expiresAt: number | null
  /** The body of the completion request that completed it. */
  completedWith?: unknown
  /** Completions HubSpot accepted (0 or 1). */
  completions: number
  /** Completion requests refused for this callback (already completed, expired). */
  refused: number
}

export interface ExecuteOptions {
  definitionId: string
  portalId: number
  workflowId: number
  objectType: 'CONTACT' | 'COMPANY'
  objectId: string | number
  /** Values of the action's input fields; sent as strings, as HubSpot does. */
  inputFields: Record<string, string | number | boolean>
  callbackId?: string
  /** Base URL of the server under test; the fake POSTs to it + the path and query of the actionUrl. */
  deliverTo: string
}

/** A value of another input field, as HubSpot sends it to an optionsUrl [CWA "Using external data"]. */
export type OptionsInputValue =
  | { type: 'STATIC_VALUE'; value: string }
  | { type: 'OBJECT_PROPERTY'; propertyName: string }

export interface FetchOptionsOptions {
  definitionId: string
  portalId: number
  /** The input field whose dropdown the user opened; HubSpot POSTs to its `optionsUrl`. */
  inputFieldName: string
  /** The enrolled object type's id (default 0-1, contacts). */
  objectTypeId?: string
  inputFields?: Record<string, OptionsInputValue>
  /** A search (`q`, only when the app answered `searchable`) or the next page (`after`). */
  fetchOptions?: { q?: string; after?: string }
  /** Base URL of the server under test; the fake POSTs to it + the path and query of the optionsUrl. */
  deliverTo: string
}

export interface ExecuteResult {
  status: number
  body: unknown
  /** What the fake sent: the raw body and headers (signatures). */
  sent: { url: string; body: string; headers: Record<string, string> }
}

type Json = Record<string, unknown>

const SCHEMA_ID = 'remit:hubspot/automation-actions-v4'
const schema = JSON.parse(
  readFileSync(new URL('../spec/automation-actions-v4.schema.json', import.meta.url), 'utf8'),
) as { $id: string; $defs: Record<string, Json & { properties?: Record<string, Json> }> }
// What the schema (and [CWA]) state in prose, made checkable:
// - the input-field typeDefinition has no `externalOptions` (only output fields do): any property the
//   schema does not list is refused on input field types;
// - `labels` must have English (`en`) [CWA: "English (en) is required"].
const defs = schema.$defs
;(defs.PublicFieldTypeDefinition as Json).additionalProperties = false
for (const name of ['PublicActionDefinitionEgg', 'PublicActionDefinitionPatch']) {
  const labels = defs[name]?.properties?.labels as Json
  labels.required = ['en']
}
// - a PATCH (PublicActionDefinitionPatch) has every field of a definition "without `functions` and
//   `archivedAt`" [CONTRACT.md §2, SPEC PublicActionDefinitionPatch]: the schema leaves objects open,
//   so without this a PATCH carrying either would be taken and merged into the stored definition.
const patchProperties = defs.PublicActionDefinitionPatch?.properties as Record<string, unknown>
patchProperties.functions = false
patchProperties.archivedAt = false
const ajv = new Ajv2020.default({ allErrors: true, strict: false })
ajv.addSchema(schema)
function validator(def: string) {
  const v = ajv.getSchema(`${SCHEMA_ID}#/$defs/${def}`)
  if (!v) throw new Error(`no ${def} in the schema`)
  return (body: unknown): string | undefined =>
    v(body)
      ? undefined
      : (v.errors ?? [])
          .map(
            (e) =>
              `${e.instancePath || '/'} ${e.keyword === 'false schema' ? 'is not a property of this request' : e.message}${e.keyword === 'additionalProperties' ? `: '${(e.params as { additionalProperty: string }).additionalProperty}'` : ''}`,
          )
          .join('; ')
}
/** Why `body` is not a `$defs/<def>` of HubSpot's published schema, or undefined when it is. */
export function schemaErrors(def: string, body: unknown): string | undefined {
  return validator(def)(body)
}

const validate = {
  egg: validator('PublicActionDefinitionEgg'),
  patch: validator('PublicActionDefinitionPatch'),
  executionResponse: validator('ExecutionResponse'),
  executionRequest: validator('ExecutionRequest'),
  completion: validator('CallbackCompletionRequest'),
  batchCompletion: validator('BatchCallbackCompletion'),
  optionsResponse: validator('OptionsFetchResponse'),
}

// Object types by the names the v3/v4 paths accept (plural, singular, objectTypeId).
const TYPES: Record<string, string> = {
  contacts: 'contacts',
  contact: 'contacts',
  '0-1': 'contacts',
  companies: 'companies',
  company: 'companies',
  '0-2': 'companies',
  deals: 'deals',
  deal: 'deals',
  '0-3': 'deals',
  tickets: 'tickets',
  ticket: 'tickets',
  '0-5': 'tickets',
  calls: 'calls',
  call: 'calls',
  '0-48': 'calls',
  meetings: 'meetings',
  meeting: 'meetings',
  '0-47': 'meetings',
  emails: 'emails',
  email: 'emails',
  '0-49': 'emails',
}
const SINGULAR: Record<string, string> = {
  contacts: 'contact',
  companies: 'company',
  deals: 'deal',
  tickets: 'ticket',
  calls: 'call',
  meetings: 'meeting',
  emails: 'email',
}

// Scopes, one list per object type: any one of them is enough.
//   contacts   crm.objects.contacts.read      (contacts API reference, "Required scopes")
//   companies  crm.objects.companies.read     (companies API reference)
//   deals      crm.objects.deals.read         (deals API reference)
//   tickets    tickets | crm.objects.tickets.read (tickets API reference lists `tickets`)
//   calls, meetings, emails  crm.objects.contacts.read (chosen: engagements are read with the
//              contacts scope in the engagement API references as far as we could tell)
//   callbacks  automation                     ([REF] "Completes a callback")
//   definitions GET developers-read, POST/PATCH/DELETE developers-write ([REF]), or ?hapikey=
const READ_SCOPES: Record<string, string[]> = {
  contacts: ['crm.objects.contacts.read'],
  companies: ['crm.objects.companies.read'],
  deals: ['crm.objects.deals.read'],
  tickets: ['tickets', 'crm.objects.tickets.read'],
  calls: ['crm.objects.contacts.read'],
  meetings: ['crm.objects.contacts.read'],
  emails: ['crm.objects.contacts.read'],
}

// Properties a read returns when none are asked ([CRM]; the search guide's table for search).
const READ_DEFAULTS: Record<string, string[]> = {
  contacts: ['email', 'firstname', 'lastname', 'createdate', 'lastmodifieddate', 'hs_object_id'],
  companies: ['name', 'domain', 'createdate', 'hs_lastmodifieddate', 'hs_object_id'],
}
const SEARCH_DEFAULTS: Record<string, string[]> = {
  contacts: ['firstname', 'lastname', 'email'],
  companies: ['name', 'domain'],
  deals: ['dealname', 'amount', 'closedate', 'pipeline', 'dealstage'],
  tickets: [
    'content',
    'hs_pipeline',
    'hs_pipeline_stage',
    'hs_ticket_category',
    'hs_ticket_priority',
    'subject',
  ],
}
const lastModified = (type: string) => (type === 'contacts' ? 'lastmodifieddate' : 'hs_lastmodifieddate')

// HUBSPOT_DEFINED association type ids [ASSOC] (the unlabeled ones).
const ASSOCIATION_TYPE_IDS: Record<string, number> = {
  'contacts>companies': 279,
  'companies>contacts': 280,
  'deals>contacts': 3,
  'contacts>deals': 4,
  'contacts>tickets': 15,
  'tickets>contacts': 16,
  'tickets>companies': 339,
  'companies>tickets': 340,
  'deals>companies': 341,
  'companies>deals': 342,
  'calls>companies': 182,
  'companies>calls': 181,
  'calls>contacts': 194,
  'contacts>calls': 193,
  'emails>companies': 186,
  'companies>emails': 185,
  'emails>contacts': 198,
  'contacts>emails': 197,
  'meetings>companies': 188,
  'companies>meetings': 187,
  'meetings>contacts': 200,
  'contacts>meetings': 199,
}

/** ISO 8601 duration → ms (a year is 365 days, a month 30: HubSpot does not say). */
export function durationMs(d: string): number {
  const m =
    /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(d)
  if (!m || d === 'P' || d.endsWith('T')) throw new Error(`not an ISO 8601 duration: ${d}`)
  const n = (i: number) => Number(m[i] ?? 0)
  const day = 86_400_000
  return (
    n(1) * 365 * day +
    n(2) * 30 * day +
    n(3) * 7 * day +
    n(4) * day +
    n(5) * 3_600_000 +
    n(6) * 60_000 +
    n(7) * 1000
  )
}

/** The v3 signature's URI: these percent-escapes are decoded before signing [VAL]. */
function v3Uri(url: string): string {
  const decoded: Record<string, string> = {
    '%3A': ':',
    '%2F': '/',
    '%3F': '?',
    '%40': '@',
    '%21': '!',
    '%24': '$',
    '%27': "'",
    '%28': '(',
    '%29': ')',
    '%2A': '*',
    '%2C': ',',
    '%3B': ';',
  }
  return url.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (e) => decoded[e.toUpperCase()] ?? e)
}

/** Numbers as numbers; dates (ISO or ms text) as ms; else NaN. */
function comparable(v: unknown): number {
  const s = String(v ?? '')
  if (s === '') return Number.NaN
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s)
  return Date.parse(s)
}

const error = (category: string, message: string, extra: Json = {}) => ({
  status: 'error',
  message,
  correlationId: randomUUID(),
  category,
  ...extra,
})

/** An answer other than success, thrown from deep in a route. */
class Refusal {
  readonly status: number
  readonly body: unknown
  constructor(status: number, body: unknown) {
    this.status = status
    this.body = body
  }
}

export async function fakeHubSpot(options: FakeHubSpotOptions = {}) {
  const o = {
    signatureVersions: options.signatureVersions ?? ['v2'],
    clientId: options.clientId ?? 'fake-client-id',
    clientSecret: options.clientSecret ?? 'fake-client-secret',
    appId: options.appId,
    developerApiKey: options.developerApiKey,
    now: options.now ?? Date.now,
    tokenLifetimeS: options.tokenLifetimeS ?? 1800,
    pageSize: options.pageSize ?? 100,
    requireAuth: options.requireAuth ?? false,
    strictCallbacks: options.strictCallbacks ?? options.requireAuth ?? false,
  }
  const requests: FakeRequest[] = []
  const definitions: Record<string, unknown>[] = []
  const definitionMeta = new Map<string, { appId: number; archived: boolean }>()
  let definitionsCreated = 0
  const objects = {
    contacts: [] as CrmObject[],
    companies: [] as CrmObject[],
    tickets: [] as CrmObject[],
    deals: [] as CrmObject[],
    calls: [] as CrmObject[],
    meetings: [] as CrmObject[],
    emails: [] as CrmObject[],
  }
  const byType = objects as Record<string, CrmObject[]>
  const firstSeen = new WeakMap<CrmObject, string>()
  const codes = new Map<
    string,
    { portalId: number; scopes: string[]; redirectUri: string; expiresAt: number; used: boolean }
  >()
  const tokens: IssuedToken[] = []
  const refreshTokens = new Map<string, { portalId: number; scopes: string[] }>()
  const callbacks = new Map<string, CallbackState>()
  const completed: { callbackId: string; outputFields: Record<string, string> }[] = []
  let executions = 0
  let throttle = 0
  let failCompletions = 0
  let failStatus = 503
  let url = ''

  /** The signature headers HubSpot puts on a POST of `raw` to the `registered` URL. */
  function signed(registered: string, raw: string, timestamp: number): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (o.signatureVersions.includes('v2')) {
      // v2: hex SHA-256 of secret + method + URI + body [VAL, CWA "v2 version of the X-HubSpot-Signature"].
      headers['x-hubspot-signature'] = createHash('sha256')
        .update(`${o.clientSecret}POST${registered}${raw}`, 'utf8')
        .digest('hex')
      headers['x-hubspot-signature-version'] = 'v2'
    }
    if (o.signatureVersions.includes('v3')) {
      // v3: base64 HMAC-SHA256 of method + URI (some escapes decoded) + body + timestamp [VAL].
      headers['x-hubspot-signature-v3'] = createHmac('sha256', o.clientSecret)
        .update(`POST${v3Uri(registered)}${raw}${timestamp}`, 'utf8')
        .digest('base64')
      headers['x-hubspot-request-timestamp'] = String(timestamp)
    }
    return headers
  }
  /** POSTs `raw`, signed for the `registered` URL, to the server under test at `deliverTo`. */
  async function deliver(registered: string, raw: string, deliverTo: string) {
    const headers = signed(registered, raw, o.now())
    const target = new URL(registered)
    const to = `${deliverTo.replace(/\/$/, '')}${target.pathname}${target.search}`
    const res = await fetch(to, { method: 'POST', headers, body: raw })
    const text = await res.text()
    let body: unknown = text
    try {
      body = text ? JSON.parse(text) : undefined
    } catch {}
    return { status: res.status, body, sent: { url: to, body: raw, headers } }
  }
  /** A definition HubSpot would run: known, not archived, published [CWA]. */
  function runnable(definitionId: string): Json {
    const d = definitions.find((x) => x.id === definitionId) as Json | undefined
    if (!d || definitionMeta.get(definitionId)?.archived)
      throw new Error(`no action definition ${definitionId}`)
    // "by default, custom actions are created in an unpublished state" and are not offered [CWA].
    if (d.published !== true) throw new Error(`action definition ${definitionId} is not published`)
    return d
  }

  function issue(portalId: number, scopes: string[], grant: IssuedToken['grant'], refresh?: string) {
    const t: IssuedToken = {
      access_token: `fake-at-${randomUUID()}`,
      refresh_token: refresh ?? `fake-rt-${randomUUID()}`,
      portalId,
      scopes: [...scopes],
      expiresAt: o.now() + o.tokenLifetimeS * 1000,
      grant,
    }
    tokens.push(t)
    refreshTokens.set(t.refresh_token, { portalId, scopes: t.scopes })
    return t
  }
  const tokenResponse = (t: IssuedToken) => ({
    token_type: 'bearer',
    refresh_token: t.refresh_token,
    access_token: t.access_token,
    expires_in: o.tokenLifetimeS,
    token_use: 'access_token',
    hub_id: t.portalId,
    scopes: t.scopes,
  })

  /**
   * The caller's credentials, for a route that needs `scopes` (each inner list: any one of them).
   * Returns the token when the caller used one the fake issued.
   */
  function authenticate(
    req: IncomingMessage,
    query: URLSearchParams,
    scopes: string[][],
    developer = false,
  ): IssuedToken | undefined {
    const hapikey = query.get('hapikey')
    if (hapikey !== null) {
      // The developer API key authenticates only developer (app) endpoints [CWA].
      if (developer && o.developerApiKey !== undefined && hapikey === o.developerApiKey) return undefined
      if (developer && o.developerApiKey === undefined && !o.requireAuth) return undefined
      if (o.developerApiKey !== undefined || o.requireAuth)
        throw new Refusal(
          401,
          error('INVALID_AUTHENTICATION', 'The API key provided is invalid.'), // chosen wording
        )
      return undefined
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const token = bearer ? tokens.find((t) => t.access_token === bearer) : undefined
    if (!token) {
      if (!o.requireAuth) return undefined
      throw new Refusal(
        401,
        error(
          'INVALID_AUTHENTICATION',
          bearer
            ? 'The OAuth token used to make this call is not valid.' // chosen wording
            : 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
        ),
      )
    }
    const late = o.now() - token.expiresAt
    if (late >= 0)
      throw new Refusal(
        401,
        error(
          'EXPIRED_AUTHENTICATION',
          `The OAuth token used to make this call expired ${Math.floor(late / 60_000)} minute(s) ago.`,
        ),
      )
    const missing = scopes.find((anyOf) => !anyOf.some((s) => token.scopes.includes(s)))
    if (missing)
      throw new Refusal(
        403,
        error(
          'MISSING_SCOPES',
          "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
          {
            errors: [
              {
                message: 'One or more of the following scopes are required.',
                context: { requiredGranularScopes: missing },
              },
            ],
            links: { scopes: 'https://developers.hubspot.com/scopes' },
          },
        ),
      )
    return token
  }

  // ---- CRM helpers ----

  function crmType(name: string): string {
    const t = TYPES[name.toLowerCase()]
    // HubSpot: 400 "Unable to infer object type from: …"
    if (!t) throw new Refusal(400, error('VALIDATION_ERROR', `Unable to infer object type from: ${name}`))
    return t
  }
  /** Ids of `toType` records associated with a record, whichever side declared the association. */
  function associated(fromType: string, id: string, toType: string): string[] {
    const from = byType[fromType]?.find((x) => x.id === id)
    const ids = new Set(from?.associations?.[toType]?.results.map((a) => a.id) ?? [])
    for (const other of byType[toType] ?? [])
      if (other.associations?.[fromType]?.results.some((a) => a.id === id)) ids.add(other.id)
    return [...ids]
  }
  /** Properties with a value on some record of the type, or HubSpot's defaults: "defined". */
  function defined(type: string): Set<string> {
    const names = new Set([...(READ_DEFAULTS[type] ?? []), 'hs_object_id', 'createdate', lastModified(type)])
    for (const x of byType[type] ?? []) for (const k of Object.keys(x.properties)) names.add(k)
    return names
  }
  /** "If a requested property isn't defined, it won't be included in the response" [CRM]. */
  function pick(type: string, x: CrmObject, names: string[]): Record<string, string | null> {
    const known = defined(type)
    const out: Record<string, string | null> = {}
    for (const n of names) {
      if (!known.has(n)) continue
      out[n] = n === 'hs_object_id' ? (x.properties[n] ?? x.id) : (x.properties[n] ?? null)
    }
    return out
  }
  function stamp(type: string, x: CrmObject) {
    if (!firstSeen.has(x)) firstSeen.set(x, new Date(o.now()).toISOString())
    const seen = firstSeen.get(x) as string
    const iso = (v: string | null | undefined) => {
      const ms = comparable(v)
      return Number.isFinite(ms) ? new Date(ms).toISOString() : seen
    }
    return {
      createdAt: iso(x.properties.createdate),
      updatedAt: iso(x.properties[lastModified(type)]),
      archived: false,
    }
  }
  const listParam = (q: URLSearchParams, name: string) =>
    q
      .getAll(name)
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean)

  function readObject(type: string, id: string, q: URLSearchParams) {
    const idProperty = q.get('idProperty')
    const x = byType[type]?.find((r) => (idProperty ? r.properties[idProperty] === id : r.id === id))
    if (!x)
      throw new Refusal(404, error('OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.'))
    const asked = listParam(q, 'properties')
    const body: Json = {
      id: x.id,
      properties: pick(
        type,
        x,
        asked.length ? asked : (READ_DEFAULTS[type] ?? ['createdate', 'hs_object_id']),
      ),
      ...stamp(type, x),
    }
    const assoc: Record<string, { results: { id: string; type: string }[] }> = {}
    for (const name of listParam(q, 'associations')) {
      const to = crmType(name)
      const ids = associated(type, x.id, to)
      // Empty associations are left out, as HubSpot does.
      if (ids.length)
        assoc[to] = {
          results: ids.map((i) => ({ id: i, type: `${SINGULAR[type]}_to_${SINGULAR[to]}` })),
        }
    }
    if (Object.keys(assoc).length) body.associations = assoc
    return body
  }

  interface Filter {
    propertyName: string
    operator: string
    value?: unknown
    values?: unknown[]
    highValue?: unknown
  }
  function matches(type: string, x: CrmObject, f: Filter): boolean {
    if (typeof f.propertyName !== 'string' || typeof f.operator !== 'string')
      throw new Refusal(400, error('VALIDATION_ERROR', 'a filter needs propertyName and operator'))
    const values = (f.values ?? []).map(String)
    if (f.propertyName.startsWith('associations.')) {
      const to = crmType(f.propertyName.slice('associations.'.length))
      const ids = associated(type, x.id, to)
      if (f.operator === 'EQ') return ids.includes(String(f.value))
      if (f.operator === 'IN') return ids.some((i) => values.includes(i))
      if (f.operator === 'HAS_PROPERTY') return ids.length > 0
      if (f.operator === 'NOT_HAS_PROPERTY') return ids.length === 0
      throw new Refusal(
        400,
        error('VALIDATION_ERROR', `operator ${f.operator} is not supported on ${f.propertyName}`),
      )
    }
    const raw =
      f.propertyName === 'hs_object_id' ? (x.properties.hs_object_id ?? x.id) : x.properties[f.propertyName]
    const has = raw !== null && raw !== undefined && raw !== ''
    const v = has ? String(raw) : ''
    const cmp = (want: unknown, test: (a: number, b: number) => boolean) => {
      const a = comparable(v)
      const b = comparable(want)
      return has && Number.isFinite(a) && Number.isFinite(b) && test(a, b)
    }
    switch (f.operator) {
      case 'EQ':
        return v === String(f.value)
      case 'NEQ':
        return v !== String(f.value)
      case 'IN':
        return values.includes(v)
      case 'NOT_IN':
        return !values.includes(v)
      case 'GT':
        return cmp(f.value, (a, b) => a > b)
      case 'GTE':
        return cmp(f.value, (a, b) => a >= b)
      case 'LT':
        return cmp(f.value, (a, b) => a < b)
      case 'LTE':
        return cmp(f.value, (a, b) => a <= b)
      case 'BETWEEN':
        return cmp(f.value, (a, b) => a >= b) && cmp(f.highValue, (a, b) => a <= b)
      case 'HAS_PROPERTY':
        return has
      case 'NOT_HAS_PROPERTY':
        return !has
      case 'CONTAINS_TOKEN':
        return v.toLowerCase().split(/\s+/).includes(String(f.value).toLowerCase().replaceAll('*', ''))
      default:
        throw new Refusal(400, error('VALIDATION_ERROR', `Unknown filter operator: ${f.operator}`))
    }
  }

  function search(type: string, body: Json) {
    const groups = (body.filterGroups ?? []) as { filters?: Filter[] }[]
    if (!Array.isArray(groups))
      throw new Refusal(400, error('VALIDATION_ERROR', 'filterGroups must be an array'))
    // [CRM] changelog: at most 5 filterGroups, 10 filters in a group, 25 filters in all.
    const all = groups.flatMap((g) => g.filters ?? [])
    if (groups.length > 5 || groups.some((g) => (g.filters ?? []).length > 10) || all.length > 25)
      throw new Refusal(
        400,
        error(
          'VALIDATION_ERROR',
          'Too many filters: at most 5 filterGroups, 10 filters in a group, 25 in all.',
        ),
      )
    const limit = body.limit === undefined ? 10 : Number(body.limit)
    if (!Number.isInteger(limit) || limit < 0 || limit > 200)
      throw new Refusal(400, error('VALIDATION_ERROR', 'limit must be an integer from 0 to 200'))
    const after =
      body.after === undefined || body.after === null || body.after === '' ? 0 : Number(body.after)
    if (!Number.isInteger(after) || after < 0)
      throw new Refusal(400, error('VALIDATION_ERROR', `after is not a paging cursor: ${String(body.after)}`))
    // Search pages stop at 10,000 results [CRM].
    if (after >= 10_000) throw new Refusal(400, error('VALIDATION_ERROR', 'after must be below 10000'))
    const sorts = (body.sorts ?? []) as (string | { propertyName: string; direction?: string })[]
    const query = typeof body.query === 'string' ? body.query.toLowerCase() : ''
    const found = (byType[type] ?? []).filter(
      (x) =>
        (groups.length === 0 || groups.some((g) => (g.filters ?? []).every((f) => matches(type, x, f)))) &&
        (!query ||
          Object.values(x.properties).some((v) =>
            String(v ?? '')
              .toLowerCase()
              .includes(query),
          )),
    )
    // No sort: the order records were made (chosen; HubSpot does not document a default order).
    for (const s of [...sorts].reverse()) {
      const name = typeof s === 'string' ? s.replace(/^-/, '') : s.propertyName
      const desc = typeof s === 'string' ? s.startsWith('-') : s.direction === 'DESCENDING'
      found.sort((a, b) => {
        const x = a.properties[name] ?? ''
        const y = b.properties[name] ?? ''
        const nx = comparable(x)
        const ny = comparable(y)
        const c = Number.isFinite(nx) && Number.isFinite(ny) ? nx - ny : String(x).localeCompare(String(y))
        return desc ? -c : c
      })
    }
    const asked = Array.isArray(body.properties) ? (body.properties as string[]) : []
    const names = asked.length
      ? asked
      : [...(SEARCH_DEFAULTS[type] ?? []), 'hs_object_id', 'createdate', lastModified(type)]
    const size = Math.min(limit, o.pageSize)
    const page = found.slice(after, after + size)
    const next = after + size < found.length && size > 0 ? String(after + size) : undefined
    return {
      total: found.length,
      results: page.map((x) => ({ id: x.id, properties: pick(type, x, names), ...stamp(type, x) })),
      ...(next ? { paging: { next: { after: next } } } : {}),
    }
  }

  function associationsBatchRead(from: string, to: string, body: Json) {
    const inputs = (body.inputs ?? []) as { id?: unknown }[]
    if (!Array.isArray(body.inputs))
      throw new Refusal(400, error('VALIDATION_ERROR', 'inputs: must be an array of {id}'))
    const startedAt = new Date(o.now()).toISOString()
    const results: Json[] = []
    const missing: string[] = []
    for (const input of inputs) {
      const id = String(input.id)
      const ids = byType[from]?.some((x) => x.id === id) ? associated(from, id, to) : []
      if (!ids.length) {
        missing.push(id)
        continue
      }
      results.push({
        from: { id },
        to: ids.map((i) => ({
          toObjectId: Number(i),
          associationTypes: [
            { category: 'HUBSPOT_DEFINED', typeId: ASSOCIATION_TYPE_IDS[`${from}>${to}`] ?? 0, label: null },
          ],
        })),
      })
    }
    const answer: Json = {
      status: 'COMPLETE',
      results,
      startedAt,
      completedAt: new Date(o.now()).toISOString(),
    }
    if (!missing.length) return { status: 200, body: answer }
    // Records without associations (or unknown) come back as errors with 207 Multi-Status (chosen
    // wording; the SDK's models for this endpoint carry a 207 "WithErrors" answer).
    return {
      status: 207,
      body: {
        ...answer,
        numErrors: 1,
        errors: [
          {
            status: 'error',
            category: 'OBJECT_NOT_FOUND',
            message: `No ${to} is associated with ${SINGULAR[from]} ${missing.join(', ')}`,
            context: { fromObjectId: missing },
          },
        ],
      },
    }
  }

  // ---- Definitions ----

  function definitionsOf(appId: number) {
    if (o.appId !== undefined && appId !== o.appId)
      throw new Refusal(404, error('OBJECT_NOT_FOUND', `No app ${appId}`))
  }
  function definitionIn(appId: number, id: string, archived = false) {
    definitionsOf(appId)
    const meta = definitionMeta.get(id)
    const d = definitions.find((x) => x.id === id)
    if (!d || !meta || meta.appId !== appId || meta.archived !== archived)
      throw new Refusal(404, error('OBJECT_NOT_FOUND', `No action definition ${id} in app ${appId}`))
    return d
  }
  const validationError = (message: string) => new Refusal(400, error('VALIDATION_ERROR', message))

  // ---- Callbacks ----

  function callbackState(c: CallbackState): CallbackState {
    if (c.state === 'blocked' && c.expiresAt !== null && o.now() >= c.expiresAt) c.state = 'expired'
    return c
  }
  /** Checks one completion; returns what to apply once the whole request is known to succeed. */
  function completion(callbackId: string, body: Json, token: IssuedToken | undefined): () => void {
    let c = callbacks.get(callbackId)
    if (!c && !o.strictCallbacks)
      c = {
        callbackId,
        portalId: token?.portalId ?? null,
        state: 'blocked',
        expiresAt: null,
        completions: 0,
        refused: 0,
      }
    // Unknown, or another portal's: 404 without telling which (chosen).
    if (!c || (token && c.portalId !== null && c.portalId !== token.portalId))
      throw new Refusal(
        404,
        error('OBJECT_NOT_FOUND', `No blocked action execution with callback id ${callbackId}`),
      )
    const state = callbackState(c)
    callbacks.set(callbackId, state)
    // Expired: the workflow already moved on [CWA], nothing is blocked any more: 404 (chosen).
    if (state.state === 'expired') {
      state.refused++
      throw new Refusal(
        404,
        error(
          'OBJECT_NOT_FOUND',
          `The callback ${callbackId} expired at ${new Date(state.expiresAt ?? 0).toISOString()}`,
        ),
      )
    }
    // Completed already: 409 CONFLICT (chosen).
    if (state.state === 'completed') {
      state.refused++
      throw new Refusal(409, error('CONFLICT', `The callback ${callbackId} was already completed`))
    }
    return () => {
      state.state = 'completed'
      state.completedWith = body
      state.completions++
      completed.push({ callbackId, outputFields: body.outputFields as Record<string, string> })
    }
  }

  // ---- The server ----

  async function route(
    req: IncomingMessage,
    r: FakeRequest,
    text: string,
  ): Promise<[number, unknown?, Record<string, string>?]> {
    const q = r.query
    const json = (): Json => {
      if (!text) return {}
      try {
        return JSON.parse(text) as Json
      } catch {
        throw validationError('Invalid input JSON on line 1: the body is not JSON')
      }
    }

    // OAuth tokens [OAUTH]: form-encoded only.
    if (/^\/oauth\/v[13]\/token$/.test(r.path) && r.method === 'POST') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim()
      if (type !== 'application/x-www-form-urlencoded')
        return [
          400,
          { status: 'BAD_REQUEST', message: 'Content-Type must be application/x-www-form-urlencoded' },
        ] // chosen
      const f = new URLSearchParams(text)
      const bad = (status: string, message: string): [number, unknown] => [
        400,
        { status, message, correlationId: randomUUID() },
      ]
      const grant = f.get('grant_type')
      if (grant !== 'authorization_code' && grant !== 'refresh_token')
        return bad('BAD_GRANT_TYPE', 'missing or unsupported grant_type')
      // Chosen wording for the client checks; BAD_AUTH_CODE and BAD_REFRESH_TOKEN are seen.
      if (f.get('client_id') !== o.clientId) return bad('BAD_CLIENT_ID', 'missing or invalid client_id')
      if (f.get('client_secret') !== o.clientSecret)
        return bad('BAD_CLIENT_SECRET', 'missing or invalid client_secret')
      if (grant === 'authorization_code') {
        const code = codes.get(f.get('code') ?? '')
        if (!code || code.used || o.now() >= code.expiresAt)
          return bad('BAD_AUTH_CODE', 'missing or unknown auth code')
        if (f.get('redirect_uri') !== code.redirectUri)
          return bad('BAD_REDIRECT_URI', 'redirect_uri does not match the one the code was issued for')
        code.used = true
        return [200, tokenResponse(issue(code.portalId, code.scopes, 'authorization_code'))]
      }
      const rt = f.get('refresh_token') ?? ''
      const known = refreshTokens.get(rt)
      if (!known) return bad('BAD_REFRESH_TOKEN', 'missing or invalid refresh token')
      // HubSpot answers a refresh with the same refresh token.
      return [200, tokenResponse(issue(known.portalId, known.scopes, 'refresh_token', rt))]
    }
    const info = /^\/oauth\/v1\/access-tokens\/([^/]+)$/.exec(r.path)
    if (info && r.method === 'GET') {
      const t = tokens.find((x) => x.access_token === decodeURIComponent(info[1] as string))
      if (!t || o.now() >= t.expiresAt)
        return [404, error('OBJECT_NOT_FOUND', 'The access token is unknown or has expired')] // chosen
      return [
        200,
        {
          token: t.access_token,
          hub_id: t.portalId,
          app_id: o.appId ?? 0,
          scopes: t.scopes,
          expires_in: Math.floor((t.expiresAt - o.now()) / 1000),
          token_type: 'access',
        },
      ]
    }

    // Callbacks [CWA, REF].
    const one = /^\/automation\/v4\/actions\/callbacks\/([^/]+)\/complete$/.exec(r.path)
    const batch = r.path === '/automation/v4/actions/callbacks/complete'
    if ((one || batch) && r.method === 'POST') {
      const token = authenticate(req, q, [['automation']])
      if (failCompletions > 0) {
        failCompletions--
        r.failed = true
        return failStatus === 503
          ? [503, error('SERVICE_UNAVAILABLE', 'Service unavailable')]
          : [failStatus, error('VALIDATION_ERROR', 'Bad request')]
      }
      const body = json()
      if (one) {
        const invalid = validate.completion(body)
        if (invalid) throw validationError(invalid)
        completion(decodeURIComponent(one[1] as string), body, token)()
        return [204]
      }
      const invalid = validate.batchCompletion(body)
      if (invalid) throw validationError(invalid)
      // The batch is all or nothing (chosen): any refused input refuses the request.
      const inputs = body.inputs as (Json & { callbackId: string })[]
      const seen = new Set<string>()
      for (const i of inputs) {
        if (seen.has(i.callbackId))
          throw new Refusal(409, error('CONFLICT', `The callback ${i.callbackId} is in the batch twice`))
        seen.add(i.callbackId)
      }
      const apply = inputs.map((i) => completion(i.callbackId, i, token))
      for (const a of apply) a()
      return [204]
    }

    // Definitions [REF]: hapikey (legacy developer key) or a developers-* token.
    const list = /^\/automation\/v4\/actions\/(\d+)$/.exec(r.path)
    const single = /^\/automation\/v4\/actions\/(\d+)\/([^/]+)$/.exec(r.path)
    if (list || single) {
      const write = r.method !== 'GET'
      authenticate(req, q, [[write ? 'developers-write' : 'developers-read']], true)
      const appId = Number((list ?? single)?.[1])
      const archived = q.get('archived') === 'true'
      if (list && r.method === 'GET') {
        definitionsOf(appId)
        const mine = definitions.filter((d) => {
          const m = definitionMeta.get(String(d.id))
          return m?.appId === appId && m.archived === archived
        })
        const limit = q.has('limit') ? Number(q.get('limit')) : o.pageSize
        if (!Number.isInteger(limit) || limit < 1) throw validationError(`limit must be a positive integer`)
        const after = q.has('after') ? Number(q.get('after')) : 0
        if (!Number.isInteger(after) || after < 0)
          throw validationError(`after is not a paging cursor: ${q.get('after')}`)
        const size = Math.min(limit, o.pageSize)
        const page = mine.slice(after, after + size)
        const next = after + size < mine.length ? String(after + size) : undefined
        return [
          200,
          {
            results: page,
            ...(next
              ? {
                  paging: {
                    next: {
                      after: next,
                      link: `${url}/automation/v4/actions/${appId}?after=${next}&limit=${size}${archived ? '&archived=true' : ''}`,
                    },
                  },
                }
              : {}),
          },
        ]
      }
      if (list && r.method === 'POST') {
        definitionsOf(appId)
        const body = json()
        const invalid = validate.egg(body)
        if (invalid) throw validationError(invalid)
        const created = { ...body, id: String(1000 + definitionsCreated++), revisionId: '1' }
        definitions.push(created)
        definitionMeta.set(created.id, { appId, archived: false })
        return [201, created]
      }
      if (single) {
        const id = single[2] as string
        if (r.method === 'GET') return [200, definitionIn(appId, id, archived)]
        if (r.method === 'PATCH') {
          const d = definitionIn(appId, id)
          const body = json()
          const invalid = validate.patch(body)
          if (invalid) throw validationError(invalid)
          const i = definitions.indexOf(d)
          const updated = { ...d, ...body, id, revisionId: String(Number(d.revisionId ?? 1) + 1) }
          definitions[i] = updated
          return [200, updated]
        }
        if (r.method === 'DELETE') {
          definitionIn(appId, id)
          ;(definitionMeta.get(id) as { archived: boolean }).archived = true
          return [204]
        }
      }
    }

    // CRM [CRM, ASSOC].
    const searchPath = /^\/crm\/v3\/objects\/([^/]+)\/search$/.exec(r.path)
    if (searchPath && r.method === 'POST') {
      const type = crmType(searchPath[1] as string)
      authenticate(req, q, [READ_SCOPES[type] ?? []])
      return [200, search(type, json())]
    }
    const assoc = /^\/crm\/v4\/associations\/([^/]+)\/([^/]+)\/batch\/read$/.exec(r.path)
    if (assoc && r.method === 'POST') {
      const from = crmType(assoc[1] as string)
      const to = crmType(assoc[2] as string)
      authenticate(req, q, [READ_SCOPES[from] ?? [], READ_SCOPES[to] ?? []])
      const a = associationsBatchRead(from, to, json())
      return [a.status, a.body]
    }
    const read = /^\/crm\/v3\/objects\/([^/]+)\/([^/]+)$/.exec(r.path)
    if (read && r.method === 'GET') {
      const type = crmType(read[1] as string)
      authenticate(req, q, [READ_SCOPES[type] ?? []])
      return [200, readObject(type, decodeURIComponent(read[2] as string), q)]
    }
    return [404, error('NOT_FOUND', `no fake for ${r.method} ${r.path}`)]
  }

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    const u = new URL(req.url ?? '/', 'http://fake')
    let body: unknown
    if (text) {
      try {
        body = JSON.parse(text)
      } catch {
        body = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
          ? Object.fromEntries(new URLSearchParams(text))
          : text
      }
    }
    const r: FakeRequest = {
      method: req.method ?? 'GET',
      path: u.pathname,
      query: u.searchParams,
      body,
      headers: req.headers,
    }
    requests.push(r)
    const send = (status: number, answer?: unknown, headers: Record<string, string> = {}) => {
      r.status = status
      r.answer = answer
      res.writeHead(status, {
        ...(answer === undefined ? {} : { 'content-type': 'application/json;charset=utf-8' }),
        ...headers,
      })
      res.end(answer === undefined ? '' : JSON.stringify(answer))
    }
    if (throttle > 0) {
      throttle--
      return send(
        429,
        {
          status: 'error',
          message: 'You have reached your secondly limit.',
          errorType: 'RATE_LIMIT',
          correlationId: randomUUID(),
          policyName: 'SECONDLY',
          category: 'RATE_LIMITS',
        },
        { 'retry-after': '1' },
      )
    }
    try {
      const [status, answer, headers] = await route(req, r, text)
      send(status, answer, headers)
    } catch (e) {
      if (e instanceof Refusal) return send(e.status, e.body)
      send(500, error('INTERNAL_ERROR', `the fake failed: ${(e as Error).stack ?? e}`))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url,
    requests,
    /** Every definition created, archived ones too (as HubSpot stores them, with id and revisionId). */
    definitions,
    objects,
    throttleNext: (n: number) => {
      throttle = n
    },
    /** The next n callback completions fail: 503 (HubSpot down) unless another status is given. */
    failCompletions: (n: number, status = 503) => {
      failCompletions = n
      failStatus = status
    },
    /** Completions HubSpot accepted, each input of a batch on its own. */
    completions: () => completed.map((c) => ({ ...c })),
    /** Every callback the fake knows, with its state on the fake clock. */
    callbacks: (): CallbackState[] => [...callbacks.values()].map((c) => ({ ...callbackState(c) })),
    /**
     * A user installs the app in `portalId` and approves `scopes` (what HubSpot's install page does):
     * a one-time authorization code for POST /oauth/v1/token, valid 10 minutes on the fake clock.
     */
    authorize: (a: { portalId: number; scopes: string[]; redirectUri: string }): string => {
      const code = `fake-code-${randomUUID()}`
      codes.set(code, { ...a, scopes: [...a.scopes], expiresAt: o.now() + 10 * 60_000, used: false })
      return code
    },
    /** A token as if obtained through OAuth, without the dance (for tests about something else). */
    issueToken: (a: { portalId: number; scopes: string[] }) =>
      tokenResponse(issue(a.portalId, a.scopes, 'issued')),
    tokensIssued: () =>
      tokens.map((t) => ({
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        portalId: t.portalId,
        scopes: [...t.scopes],
        expiresAt: t.expiresAt,
        grant: t.grant,
      })),
    /**
     * HubSpot runs the action for an enrolled record: builds the execution request as [CWA] documents
     * it, signs it (v2 by default: `signatureVersions` [CWA, VAL]) and POSTs it to `deliverTo` + the
     * actionUrl's path. Throws when HubSpot could not have sent it (unknown, archived or unpublished
     * definition, record missing, a required input missing) or when the answer is a 2xx HubSpot would
     * not accept.
     */
    execute: async (e: ExecuteOptions): Promise<ExecuteResult> => {
      const d = runnable(e.definitionId)
      if (!(d.objectTypes as string[]).includes(e.objectType))
        throw new Error(`action definition ${e.definitionId} does not take ${e.objectType} records`)
      const type = e.objectType === 'CONTACT' ? 'contacts' : 'companies'
      const record = byType[type]?.find((x) => x.id === String(e.objectId))
      if (!record) throw new Error(`no ${SINGULAR[type]} ${e.objectId} in the fake to enroll`)
      const fields = d.inputFields as { isRequired: boolean; typeDefinition: { name: string } }[]
      for (const f of fields)
        if (f.isRequired && e.inputFields[f.typeDefinition.name] === undefined)
          throw new Error(`the required input field ${f.typeDefinition.name} has no value`)
      for (const name of Object.keys(e.inputFields))
        if (!fields.some((f) => f.typeDefinition.name === name))
          throw new Error(`the action definition has no input field ${name}`)
      if (e.callbackId && callbacks.has(e.callbackId))
        throw new Error(`callback ${e.callbackId} was executed already`)
      const callbackId = e.callbackId ?? `ap-${e.portalId}-${++executions}-0`
      const requested = (d.objectRequestOptions as { properties: string[] } | undefined)?.properties
      const payload = {
        callbackId,
        origin: {
          portalId: e.portalId,
          actionDefinitionId: Number(d.id),
          actionDefinitionVersion: Number(d.revisionId),
        },
        context: { source: 'WORKFLOWS', workflowId: e.workflowId },
        object: {
          objectId: Number(e.objectId),
          // Only the properties named in objectRequestOptions; none without it [CWA].
          ...(requested
            ? { properties: Object.fromEntries(requested.map((p) => [p, record.properties[p] ?? null])) }
            : {}),
          objectType: e.objectType,
        },
        inputFields: Object.fromEntries(Object.entries(e.inputFields).map(([k, v]) => [k, String(v)])),
      }
      const invalidRequest = validate.executionRequest(payload)
      if (invalidRequest) throw new Error(`the fake built an invalid execution request: ${invalidRequest}`)
      const timestamp = o.now()
      const res = await deliver(String(d.actionUrl), JSON.stringify(payload), e.deliverTo)
      const { status, body, sent } = res
      if (status < 200 || status >= 300) return { status, body, sent }
      const invalid = validate.executionResponse(body)
      if (invalid) throw new Error(`HubSpot would not accept this execution response (${status}): ${invalid}`)
      const out = (body as { outputFields: Record<string, string> }).outputFields
      const waits = out.hs_execution_state === 'BLOCK' || out.hs_execution_state === 'ASYNC' // ASYNC: chosen
      callbacks.set(callbackId, {
        callbackId,
        portalId: e.portalId,
        state: waits ? 'blocked' : 'completed',
        // hs_expiration_duration: ISO 8601, default one week [CWA].
        expiresAt: waits ? timestamp + durationMs(out.hs_expiration_duration ?? 'P1W') : null,
        completions: 0,
        refused: 0,
      })
      return { status, body, sent }
    },
    /**
     * HubSpot fills an input field's dropdown from its `optionsUrl` [CWA "Using external data"]: POSTs
     * the documented request, signed as executions are, to `deliverTo` + the optionsUrl's path, and
     * holds a 2xx answer to OptionsFetchResponse (`options[]` of `{label, value}` strings). Throws when
     * HubSpot could not have asked (no such runnable definition, field, or optionsUrl) or could not
     * show the answer.
     */
    fetchOptions: async (f: FetchOptionsOptions): Promise<ExecuteResult> => {
      const d = runnable(f.definitionId)
      const field = (d.inputFields as { typeDefinition: { name: string; optionsUrl?: string } }[]).find(
        (x) => x.typeDefinition.name === f.inputFieldName,
      )
      if (!field) throw new Error(`the action definition has no input field ${f.inputFieldName}`)
      const optionsUrl = field.typeDefinition.optionsUrl
      if (!optionsUrl) throw new Error(`input field ${f.inputFieldName} has no optionsUrl`)
      const payload = {
        origin: {
          portalId: f.portalId,
          actionDefinitionId: Number(d.id),
          actionDefinitionVersion: Number(d.revisionId),
        },
        objectTypeId: f.objectTypeId ?? '0-1',
        inputFieldName: f.inputFieldName,
        inputFields: f.inputFields ?? {},
        ...(f.fetchOptions ? { fetchOptions: f.fetchOptions } : {}),
      }
      const res = await deliver(optionsUrl, JSON.stringify(payload), f.deliverTo)
      if (res.status < 200 || res.status >= 300) return res
      const invalid = validate.optionsResponse(res.body)
      if (invalid) throw new Error(`HubSpot could not show these options (${res.status}): ${invalid}`)
      return res
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

export type FakeHubSpot = Awaited<ReturnType<typeof fakeHubSpot>>
