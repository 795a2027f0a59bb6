import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import SwaggerParser from '@apidevtools/swagger-parser'
import { loadPolicy, openRemit, openSqliteStore } from '@remit/core'
import { createServer, generateKey, keyLine } from '@remit/server'
import { afterEach, describe, expect, it } from 'vitest'
import { soqlString } from '../src/context.ts'
import {
  API_VERSION,
  apiName,
  deployPackage,
  publishReviews,
  REVIEW_FIELDS,
  SalesforceError,
  salesforceContext,
  salesforceOpenApi,
  salesforceRoutes,
  toDecisionRequest,
  writePackage,
} from '../src/index.ts'
import { fakeSalesforce, readProject } from './fake-salesforce.ts'

const policyText = readFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), 'utf8')
const fakes: Awaited<ReturnType<typeof fakeSalesforce>>[] = []
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.close()
})
async function fake(o?: Parameters<typeof fakeSalesforce>[0]) {
  const f = await fakeSalesforce(o)
  fakes.push(f)
  return f
}
async function engine() {
  return openRemit({ policy: loadPolicy(policyText), store: openSqliteStore(':memory:') })
}
// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are walked as plain JSON
type Json = any

function* walk(node: unknown, path: string[] = []): Generator<[string[], unknown]> {
  yield [path, node]
  if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) yield* walk(v, [...path, k])
}

describe('the spec External Services imports', () => {
  it("meets External Services' constraints", async () => {
    const doc = salesforceOpenApi(await engine(), 'https://remit.example.com') as Json
    expect(doc.openapi).toMatch(/^3\.0\.\d$/)
    const ops = Object.values(doc.paths as Record<string, Record<string, Json>>).flatMap((item) =>
      Object.entries(item),
    )
    expect(ops.map(([m, op]) => [m, op.operationId])).toEqual([
      ['post', 'checkWithRemit'],
      ['post', 'recordTouch'],
    ])
    for (const [, op] of ops) {
      expect(op.operationId).toMatch(/^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$/)
      expect((op.description ?? '').length).toBeLessThan(1333)
      expect(Object.keys(op.requestBody.content)).toEqual(['application/json'])
      for (const r of Object.values(op.responses as Record<string, Json>)) {
        expect(r.headers).toBeUndefined()
        for (const type of Object.keys(r.content ?? {})) expect(type).toBe('application/json')
      }
    }
    for (const [path, value] of walk(doc)) {
      expect(path.at(-1)).not.toBe('not')
      if (path.at(-1) === 'description') expect(String(value).length).toBeLessThan(1333)
      // No free-form maps: External Services cannot type them.
      if (path.at(-1) === 'additionalProperties') expect(value).toBe(false)
    }
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc)
  })

  it('is a valid OpenAPI document', async () => {
    const doc = salesforceOpenApi(await engine(), 'https://remit.example.com')
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined()
  })
})

describe('remit salesforce package: the metadata', () => {
  it('writes a source-format project with the documented file names, root elements and API version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remit-sf-'))
    const files = await writePackage(dir, {
      serverUrl: 'https://remit.example.com/',
      agents: ['sales-agent', 'success.bot'],
      spec: salesforceOpenApi(await engine()),
    })
    expect(JSON.parse(await readFile(join(dir, 'sfdx-project.json'), 'utf8'))).toMatchObject({
      sourceApiVersion: API_VERSION,
      packageDirectories: [{ path: 'force-app', default: true }],
    })
    const expected: [RegExp, string][] = [
      [/externalCredentials\/Remit_\w+\.externalCredential-meta\.xml$/, 'ExternalCredential'],
      [/namedCredentials\/Remit_\w+\.namedCredential-meta\.xml$/, 'NamedCredential'],
      [
        /externalServiceRegistrations\/Remit_\w+\.externalServiceRegistration-meta\.xml$/,
        'ExternalServiceRegistration',
      ],
      [/permissionsets\/Remit_\w+\.permissionset-meta\.xml$/, 'PermissionSet'],
      [/objects\/Remit_Review__e\/Remit_Review__e\.object-meta\.xml$/, 'CustomObject'],
      [/objects\/Remit_Review__e\/fields\/\w+__c\.field-meta\.xml$/, 'CustomField'],
    ]
    for (const file of files.filter((f) => f.endsWith('.xml'))) {
      const text = await readFile(join(dir, file), 'utf8')
      const root = expected.find(([re]) => re.test(file))?.[1]
      expect(root, file).toBeDefined()
      expect(text).toMatch(
        new RegExp(
          `^<\\?xml version="1.0" encoding="UTF-8"\\?>\\n<${root} xmlns="http://soap.sforce.com/2006/04/metadata">`,
        ),
      )
      expect(text.trimEnd().endsWith(`</${root}>`)).toBe(true)
    }
    // One credential per agent, so a flow acts only as the agent it was given.
    expect(files.filter((f) => f.includes('namedCredentials/'))).toEqual([
      'force-app/main/default/namedCredentials/Remit_sales_agent.namedCredential-meta.xml',
      'force-app/main/default/namedCredentials/Remit_success_bot.namedCredential-meta.xml',
    ])
    expect(files.filter((f) => f.includes('/fields/'))).toHaveLength(REVIEW_FIELDS.length)
    const registration = await readFile(
      join(
        dir,
        'force-app/main/default/externalServiceRegistrations/Remit_sales_agent.externalServiceRegistration-meta.xml',
      ),
      'utf8',
    )
    const schema = /<schema>([\s\S]*)<\/schema>/.exec(registration)?.[1] as string
    const spec = JSON.parse(
      schema
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&'),
    )
    expect(spec.servers).toEqual([{ url: 'https://remit.example.com' }])
    expect(registration).toContain('<namedCredentialReference>Remit_sales_agent</namedCredentialReference>')
    const credential = await readFile(
      join(dir, 'force-app/main/default/externalCredentials/Remit_sales_agent.externalCredential-meta.xml'),
      'utf8',
    )
    expect(credential).toContain("{!'Bearer ' &amp; $Credential.Remit_sales_agent.Key}")
    expect(credential).not.toMatch(/rk_/)
  })

  it('makes API names Salesforce accepts', () => {
    expect(apiName('sales-agent')).toBe('Remit_sales_agent')
    expect(apiName('a--b__c')).toBe('Remit_a_b_c')
    expect(apiName('x'.repeat(60))).toHaveLength(40)
  })
})

describe('remit salesforce deploy, through @salesforce/core', () => {
  async function packaged() {
    const dir = mkdtempSync(join(tmpdir(), 'remit-sf-'))
    await writePackage(dir, {
      serverUrl: 'https://remit.example.com',
      agents: ['sales-agent'],
      spec: salesforceOpenApi(await engine()),
    })
    return dir
  }

  it("deploys, reports each component, and puts the agent's key in its External Credential", async () => {
    const sf = await fake()
    const out = await deployPackage({
      dir: await packaged(),
      connection: await sf.connection(),
      org: 'acme',
      keys: { 'sales-agent': 'rk_secret' },
      pollMs: 20,
    })
    expect(sf.deploys).toHaveLength(1)
    expect(out.components.map((c) => [c.type, c.state])).toContainEqual([
      'ExternalServiceRegistration',
      'Created',
    ])
    expect(out.credentials).toEqual(['Remit_sales_agent'])
    expect(sf.credentials[0]?.body).toEqual({
      // Required by the Connect REST API's Credential Input; the fake refuses a request without it.
      authenticationProtocol: 'Custom',
      externalCredential: 'Remit_sales_agent',
      principalName: 'Remit',
      principalType: 'NamedPrincipal',
      credentials: { Key: { value: 'rk_secret', encrypted: true } },
    })
  })

  it('names a failed component and what to do', async () => {
    const sf = await fake({
      failures: [
        { componentType: 'PermissionSet', fullName: 'Remit_sales_agent', problem: 'Unknown user permission' },
      ],
    })
    const error = await deployPackage({
      dir: await packaged(),
      connection: await sf.connection(),
      org: 'acme',
      pollMs: 20,
    }).catch((e) => e)
    expect(error).toBeInstanceOf(SalesforceError)
    expect(error.code).toBe('DEPLOY_FAILED')
    expect(error.message).toContain('PermissionSet Remit_sales_agent: Unknown user permission')
  })

  it('says when the org has no External Services', async () => {
    const sf = await fake({
      failures: [
        {
          componentType: 'ExternalServiceRegistration',
          fullName: 'Remit_sales_agent',
          problem: 'Not available for deploy for this organization',
        },
      ],
    })
    const error = await deployPackage({
      dir: await packaged(),
      connection: await sf.connection(),
      org: 'acme',
      pollMs: 20,
    }).catch((e) => e)
    expect(error).toMatchObject({
      code: 'NO_EXTERNAL_SERVICES',
      hint: expect.stringContaining('Developer Edition'),
    })
  })

  it('says how to log in again when the session has expired', async () => {
    const sf = await fake()
    const connection = await sf.connection()
    const expired = await fake({ expired: true })
    connection.instanceUrl = expired.instanceUrl
    const error = await deployPackage({ dir: await packaged(), connection, org: 'acme', pollMs: 20 }).catch(
      (e) => e,
    )
    expect(error).toMatchObject({ code: 'SESSION_EXPIRED', hint: 'run: sf org login web --alias acme' })
  })
})

describe('facts from SOQL', () => {
  it('maps fields, the newest open Case and an open renewal Opportunity; records sales activity as touches', async () => {
    // The org's clock and Remit's: the Case and the Task lie inside the 48 h and 72 h windows.
    const now = Date.parse('2026-04-10T10:00:00Z')
    const sf = await fake({ now: () => now })
    sf.tables.Contact.push({
      Id: '003000000000001AAA',
      Email: 'jane@acme.example',
      AccountId: '001000000000001AAA',
    })
    sf.tables.Account.push({ Id: '001000000000001AAA', Tier__c: 'Enterprise', Lifecycle__c: 'Customer' })
    sf.tables.Case.push({
      Id: '500000000000001AAA',
      AccountId: '001000000000001AAA',
      CreatedDate: '2026-04-09T16:00:00.000+0000',
    })
    sf.tables.Opportunity.push({ Id: '006000000000001AAA', AccountId: '001000000000001AAA', Type: 'Renewal' })
    sf.tables.Task.push(
      {
        Id: '00T000000000001AAA',
        AccountId: '001000000000001AAA',
        CreatedDate: '2026-04-09T15:00:00.000+0000',
        OwnerId: '005000000000001AAA',
      },
      // Nine days old: outside the 72 h window, not a touch.
      {
        Id: '00T000000000002AAA',
        AccountId: '001000000000001AAA',
        CreatedDate: '2026-04-01T15:00:00.000+0000',
        OwnerId: '005000000000001AAA',
      },
    )
    // Closed, and older than 48 h: neither is the open Case that sets the fact.
    sf.tables.Case.push(
      {
        Id: '500000000000002AAA',
        AccountId: '001000000000001AAA',
        CreatedDate: '2026-04-10T09:00:00.000+0000',
        IsClosed: true,
      },
      {
        Id: '500000000000003AAA',
        AccountId: '001000000000001AAA',
        CreatedDate: '2026-04-07T09:00:00.000+0000',
      },
    )
    const remit = await engine()
    const context = salesforceContext({
      connection: await sf.connection(),
      fields: {
        tier: { field: 'Tier__c', values: { Enterprise: 'enterprise' } },
        lifecycle: { field: 'Lifecycle__c', values: { Customer: 'customer' } },
      },
      openCaseFact: 'lastTicketOpenedAt',
      renewal: { where: "Type = 'Renewal'", fact: 'lifecycle', value: 'renewal' },
      activities: { remit, team: 'sales', owners: ['005000000000001AAA'] },
      now: () => now,
    })
    const c = await context.customer('contact', '003000000000001AAA')
    expect(c).toEqual({
      accountId: '001000000000001AAA',
      contactId: '003000000000001AAA',
      email: 'jane@acme.example',
      facts: { tier: 'enterprise', lifecycle: 'renewal', lastTicketOpenedAt: '2026-04-09T16:00:00.000Z' },
    })
    expect((await remit.timeline('001000000000001AAA')).touches.map((t) => [t.kind, t.team])).toEqual([
      ['task', 'sales'],
    ])
    // Cached: a second ask costs no query.
    const before = sf.queries.length
    await context.customer('contact', '003000000000001AAA')
    expect(sf.queries.length).toBe(before)
  })

  it('validates ids before they reach a query, and escapes values', async () => {
    const sf = await fake()
    const context = salesforceContext({ connection: await sf.connection(), fields: { tier: 'Tier__c' } })
    await expect(context.customer('account', "001' OR Name != '")).rejects.toMatchObject({ code: 'BAD_ID' })
    expect(sf.queries.filter((q) => /FROM (Account|Contact)/.test(q))).toEqual([])
    expect(soqlString("O'Brien \\ x")).toBe("'O\\'Brien \\\\ x'")
  })
})

describe('end to end: a flow-shaped call, a flag, and the platform event that resumes the flow', () => {
  it('approve → Remit_Review__e published with Verdict__c go; reject → stop', async () => {
    // The org holds what `remit salesforce package` deploys: the fake refuses an event it lacks.
    const project = mkdtempSync(join(tmpdir(), 'remit-sf-org-'))
    await writePackage(project, {
      serverUrl: 'https://remit.example.com',
      agents: ['sales-agent'],
      spec: salesforceOpenApi(await engine()),
    })
    const sf = await fake({ metadata: readProject(project) })
    const dir = mkdtempSync(join(tmpdir(), 'remit-sf-e2e-'))
    copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), join(dir, 'remit.yaml'))
    const salesKey = generateKey()
    const reviewer = generateKey()
    writeFileSync(
      join(dir, 'keys.yaml'),
      `${keyLine({ name: 'sf-sales', agent: 'sales-agent', tool: 'salesforce:flow/Renewal_Offer' }, salesKey)}\n${keyLine({ name: 'sales', reviewer: 'sales' }, reviewer)}\n`,
    )
    const server = await createServer({
      policy: join(dir, 'remit.yaml'),
      store: openSqliteStore(':memory:'),
      keys: join(dir, 'keys.yaml'),
      logger: false,
      watch: false,
      routes: salesforceRoutes,
    })
    publishReviews(server.remit, await sf.connection())
    const url = await server.listen({ port: 0 })
    // What External Services sends for the flow's "Check with Remit" action, with the Named Credential's header.
    const call = async (accountId: string) => {
      const res = await fetch(`${url}/v1/salesforce/decisions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${salesKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          kind: 'offer.discount',
          accountId,
          attributes: [{ name: 'discountPct', value: '10' }],
          facts: [
            { name: 'lifecycle', value: 'renewal' },
            { name: 'tier', value: 'enterprise' },
          ],
          idempotencyKey: `interview-${accountId}`,
        }),
      })
      return (await res.json()) as { verdict: string; reviewId: string; rules: string[] }
    }
    const flagged = await call('001000000000001AAA')
    expect(flagged).toMatchObject({ verdict: 'flag', rules: ['renewal-flag', 'sales-discount'] })
    // The paused interview resumes with its own variables: an approval with changes is refused.
    const changed = await fetch(`${url}/v1/reviews/${flagged.reviewId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reviewer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ changes: { attributes: { discountPct: 5 } } }),
    })
    expect(changed.status).toBe(409)
    expect(((await changed.json()) as { error: { code: string } }).error.code).toBe('CHANGES_NOT_CARRIED')
    expect(sf.published).toEqual([])
    await fetch(`${url}/v1/reviews/${flagged.reviewId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reviewer}` },
    })
    expect(sf.published).toEqual([
      {
        object: 'Remit_Review__e',
        body: expect.objectContaining({
          ReviewId__c: flagged.reviewId,
          Verdict__c: 'go',
          Status__c: 'approved',
          IdempotencyKey__c: 'interview-001000000000001AAA',
        }),
      },
    ])
    const second = await call('001000000000002AAA')
    await fetch(`${url}/v1/reviews/${second.reviewId}/reject`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reviewer}` },
    })
    expect(sf.published[1]?.body).toMatchObject({ Verdict__c: 'stop', Status__c: 'rejected' })
    // A bad value in the flow's list is a 400 naming it.
    const bad = await fetch(`${url}/v1/salesforce/decisions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${salesKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'offer.discount',
        accountId: 'a',
        attributes: [{ name: 'discountPct', value: 'lots' }],
      }),
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { path: string[] } }).error.path).toEqual([
      'action',
      'discountPct',
    ])
    await server.close()
  })
})

describe("a flag's preview", () => {
  it('the decision recorded for a flag carries the record and the action fields as text', async () => {
    const remit = await engine()
    const d = await remit.decide(
      { tool: 'salesforce:flow/Renewal_Offer' },
      toDecisionRequest(remit.policy, {
        kind: 'offer.discount',
        accountId: '001000000000001AAA',
        attributes: [{ name: 'discountPct', value: '10' }],
        facts: [
          { name: 'lifecycle', value: 'renewal' },
          { name: 'tier', value: 'enterprise' },
        ],
      }),
    )
    expect(d.verdict).toBe('flag')
    const recorded = await remit.decisions.get(d.id)
    expect(recorded?.preview).toEqual({
      subject: 'Salesforce flow: offer.discount',
      text: 'Salesforce flow action offer.discount\nAccount: 001000000000001AAA\n\nAction fields:\ndiscountPct: 10',
    })
  })
})

describe('keys', () => {
  it("checks the key's agent and tool binding as /v1/decisions does: a tool of another agent decides nowhere", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remit-sf-keys-'))
    copyFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), join(dir, 'remit.yaml'))
    const stolen = generateKey()
    // The key names sales-agent, but the policy gives this tool to marketing-agent.
    writeFileSync(
      join(dir, 'keys.yaml'),
      `${keyLine({ name: 'stolen', agent: 'sales-agent', tool: 'hubspot:workflow/1001' }, stolen)}\n`,
    )
    const server = await createServer({
      policy: join(dir, 'remit.yaml'),
      store: openSqliteStore(':memory:'),
      keys: join(dir, 'keys.yaml'),
      logger: false,
      watch: false,
      routes: salesforceRoutes,
    })
    try {
      const r = await server.app.inject({
        method: 'POST',
        url: '/v1/salesforce/decisions',
        headers: { authorization: `Bearer ${stolen}`, 'content-type': 'application/json' },
        payload: { kind: 'email.positioning', accountId: '001000000000009AAA' },
      })
      expect(r.statusCode).toBe(403)
      expect(await server.remit.decisions.list()).toEqual([])
    } finally {
      await server.close()
    }
  })
})

// ── The fake against Salesforce's documented answers (CONTRACT.md §7, REST API error responses) ──

describe('the fake publishes a platform event as Salesforce does', () => {
  async function org() {
    const project = mkdtempSync(join(tmpdir(), 'remit-sf-org-'))
    await writePackage(project, {
      serverUrl: 'https://remit.example.com',
      agents: ['sales-agent'],
      spec: salesforceOpenApi(await engine()),
    })
    return fake({ metadata: readProject(project) })
  }
  const event = {
    ReviewId__c: 'rev_1',
    DecisionId__c: 'dec_1',
    Verdict__c: 'go',
    Status__c: 'approved',
    Reason__c: '',
    IdempotencyKey__c: '',
  }
  const post = (
    sf: { instanceUrl: string },
    object: string,
    body: unknown,
    token = '00D000000000001!token',
  ) =>
    fetch(`${sf.instanceUrl}/services/data/v${API_VERSION}/sobjects/${object}/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }))

  it('answers 201 {id, success, errors} with OPERATION_ENQUEUED for a high-volume event', async () => {
    // Platform Events Developer Guide, "Publish Event Messages with Salesforce APIs"
    // (platform_events_publish_api.htm, v60): "the OPERATION_ENQUEUED status code is returned for a
    // successful call in the response's error field, in addition to the event UUID".
    const sf = await org()
    const r = await post(sf, 'Remit_Review__e', event)
    expect(r.status).toBe(201)
    expect(r.body).toEqual({
      id: expect.stringMatching(/^e00\w{15}$/),
      success: true,
      errors: [
        { statusCode: 'OPERATION_ENQUEUED', message: expect.stringMatching(/^[0-9a-f-]{36}$/), fields: [] },
      ],
    })
    expect(sf.published).toEqual([{ object: 'Remit_Review__e', body: event }])
  })

  it('refuses an event the org lacks, an unknown field, the Id, a value too long or not a value', async () => {
    // REST API Developer Guide, "Create a Record" (dome_sobject_create.htm): the error array
    // [{message, errorCode}], e.g. INVALID_FIELD for an Id in the body.
    const sf = await org()
    const bare = await fake()
    expect(await post(bare, 'Remit_Review__e', event)).toEqual({
      status: 404,
      body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }],
    })
    const refused: [unknown, string, RegExp][] = [
      [
        { ...event, Colour__c: 'red' },
        'INVALID_FIELD',
        /No such column 'Colour__c' on sobject of type Remit_Review__e/,
      ],
      [{ ...event, Id: 'e00000000000001AAA' }, 'INVALID_FIELD', /Id field should not be specified/],
      [{ ...event, ReplayId: '1' }, 'INVALID_FIELD_FOR_INSERT_UPDATE', /ReplayId/],
      [{ ...event, Verdict__c: 'approve-later' }, 'STRING_TOO_LONG', /max length=8/],
      [{ ...event, IdempotencyKey__c: 'k'.repeat(256) }, 'STRING_TOO_LONG', /max length=255/],
      [{ ...event, Reason__c: { text: 'x' } }, 'JSON_PARSER_ERROR', /START_OBJECT/],
      [[event], 'JSON_PARSER_ERROR', /START_ARRAY/],
      ['{"ReviewId__c": ', 'JSON_PARSER_ERROR', /JSON/],
    ]
    for (const [body, errorCode, message] of refused) {
      const r = await post(sf, 'Remit_Review__e', body)
      expect(r, JSON.stringify(body)).toEqual({
        status: 400,
        body: [expect.objectContaining({ errorCode, message: expect.stringMatching(message) })],
      })
    }
    // Field names are case-insensitive, as in the API.
    expect((await post(sf, 'Remit_Review__e', { reviewid__c: 'rev_2' })).status).toBe(201)
    expect(sf.published).toHaveLength(1)
    expect(sf.publishAttempts.map((a) => a.status)).toEqual([...refused.map(() => 400), 201])
  })

  it('answers 401 INVALID_SESSION_ID without the session token, with another, or once it expired', async () => {
    // REST API "Status Codes and Error Responses": 401, "The session ID or OAuth token used has
    // expired or is invalid. The response body contains the message and errorCode."
    const sf = await org()
    const invalid = {
      status: 401,
      body: [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }],
    }
    expect(await post(sf, 'Remit_Review__e', event, 'someone-else')).toEqual(invalid)
    const none = await fetch(`${sf.instanceUrl}/services/data/v${API_VERSION}/query?q=SELECT+Id+FROM+Account`)
    expect([none.status, await none.json()]).toEqual([invalid.status, invalid.body])
    // REST API "Versions" (resources_versions.htm): the list of versions needs no session.
    expect((await fetch(`${sf.instanceUrl}/services/data/`)).status).toBe(200)
    expect((await post(sf, 'Remit_Review__e', event)).status).toBe(201)
    sf.expire()
    expect(await post(sf, 'Remit_Review__e', event)).toEqual(invalid)
    expect(sf.published).toHaveLength(1)
  })
})

describe('publishReviews against what Salesforce refuses', () => {
  async function flagged(idempotencyKey: string) {
    const project = mkdtempSync(join(tmpdir(), 'remit-sf-org-'))
    const remit = await engine()
    await writePackage(project, {
      serverUrl: 'https://remit.example.com',
      agents: ['sales-agent'],
      spec: salesforceOpenApi(remit),
    })
    const sf = await fake({ metadata: readProject(project) })
    const d = await remit.decide(
      { tool: 'salesforce:flow/Renewal_Offer' },
      {
        ...toDecisionRequest(remit.policy, {
          kind: 'offer.discount',
          accountId: '001000000000001AAA',
          attributes: [{ name: 'discountPct', value: '10' }],
          facts: [
            { name: 'lifecycle', value: 'renewal' },
            { name: 'tier', value: 'enterprise' },
          ],
        }),
        idempotencyKey,
      },
    )
    expect(d).toMatchObject({ verdict: 'flag', tool: 'salesforce:flow/Renewal_Offer' })
    return { remit, sf, reviewId: d.reviewId as string }
  }
  const settle = async (check: () => boolean) => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20))
  }

  it('publishes within the event fields’ lengths: a 256-character idempotency key fits IdempotencyKey__c (255)', async () => {
    // The flow's idempotencyKey may be 256 characters (label(256)); Remit_Review__e's Text field
    // holds 255, and Salesforce refuses a longer value (STRING_TOO_LONG), so the event would never go.
    const key = 'k'.repeat(256)
    const { remit, sf, reviewId } = await flagged(key)
    const stop = publishReviews(remit, await sf.connection(), undefined, { everyMs: 20 })
    try {
      await remit.reviews.approve(reviewId, { by: 'sales' })
      await settle(() => sf.published.length > 0)
      expect(sf.publishAttempts.map((a) => a.status)).toEqual([201])
      expect(sf.published[0]?.body).toMatchObject({
        ReviewId__c: reviewId,
        IdempotencyKey__c: key.slice(0, 255),
      })
    } finally {
      stop()
    }
  })

  it('an expired session leaves Remit_Review__e pending in the outbox, not delivered', async () => {
    const { remit, sf, reviewId } = await flagged('interview-1')
    const errors: unknown[] = []
    const connection = await sf.connection()
    sf.expire()
    const stop = publishReviews(
      remit,
      connection,
      { info() {}, error: (o) => errors.push(o) },
      { everyMs: 20 },
    )
    try {
      await remit.reviews.approve(reviewId, { by: 'sales' })
      await settle(() => sf.publishAttempts.length > 0 && errors.length > 0)
      expect(sf.publishAttempts[0]?.status).toBe(401)
      expect(sf.published).toEqual([])
      expect((await remit.outbox.list({ channel: 'salesforce' }))[0]).toMatchObject({ status: 'pending' })
    } finally {
      stop()
    }
  })
})
