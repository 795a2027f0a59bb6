import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import SwaggerParser from '@apidevtools/swagger-parser'
import { loadPolicy, openRemit, openSqliteStore } from '@remit/core'
import { openApiDocument } from '@remit/core/adapter'
import { ComponentSet, MetadataConverter } from '@salesforce/source-deploy-retrieve'
import { strFromU8, unzipSync } from 'fflate'
import { afterEach, describe, expect, it } from 'vitest'
import { deployPackage, SalesforceError } from '../src/deploy.ts'
import { salesforceOpenApi, salesforceRoutes } from '../src/flow.ts'
import { flowFiles } from '../src/flows.ts'
import { API_VERSION, CREDENTIAL, operationNames, writePackage } from '../src/package.ts'
import { fakeSalesforce, metadataTypeOf, validateMetadata } from './fake-salesforce.ts'

// What Salesforce does with the project `remit salesforce package` writes, checked with what
// Salesforce publishes: the Metadata API WSDL (spec/metadata.wsdl, v66.0) for every file, and
// source-deploy-retrieve (the `sf` CLI's library, its registry in spec/metadataRegistry.json) for
// resolving and converting the project as `sf project deploy start` does.

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are walked as plain JSON
type Json = any

const policyText = readFileSync(new URL('../../../examples/seed-week/remit.yaml', import.meta.url), 'utf8')
const engine = () => openRemit({ policy: loadPolicy(policyText), store: openSqliteStore(':memory:') })
const fakes: Awaited<ReturnType<typeof fakeSalesforce>>[] = []
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.close()
})
async function fake(o?: Parameters<typeof fakeSalesforce>[0]) {
  const f = await fakeSalesforce(o)
  fakes.push(f)
  return f
}

/** The project for two agents, with the example flows beside it: every file Remit generates. */
async function project() {
  const dir = mkdtempSync(join(tmpdir(), 'remit-sf-md-'))
  const files = await writePackage(dir, {
    serverUrl: 'https://remit.example.com',
    agents: ['sales-agent', 'success.bot'],
    spec: salesforceOpenApi(await engine()),
  })
  const flows = flowFiles({
    registration: 'Remit_sales_agent',
    checks: [{ name: 'Renewal_Offer', kind: 'offer.discount' }],
    activity: true,
    apiVersion: API_VERSION,
  })
  for (const [path, text] of Object.entries(flows)) {
    const file = `force-app/main/default/${path}`
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    writeFileSync(join(dir, file), text)
    files.push(file)
  }
  return { dir, files: files.filter((f) => f.endsWith('.xml')).sort() }
}
const read = (dir: string, files: string[]) =>
  files.map((path) => ({ path, contents: readFileSync(join(dir, path), 'utf8') }))

// ── The OpenAPI document: typed outputs only ─────────────────────────────────────────────────────

const APEX = /^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*$/
/**
 * Every way a document strays from what External Services types (Salesforce Help, External Services
 * "Schema Definitions", "Naming and Description Conventions"): a schema of no or several types,
 * oneOf/anyOf/not, a free-form map (additionalProperties), an object without properties, a list of
 * lists, a name that is no Apex identifier (or one Apex, case-insensitive, cannot tell from another),
 * a description over 1,333 characters (External Services truncates it; Remit keeps its own whole);
 * and what it refuses outright: an OpenAPI version other than 2.0 or 3.0, a parameter without a
 * name, a GET with a request body, a response content type it does not read, a schema over its
 * size limit ("System Limits", "Operation Output Parameters").
 */
function untyped(doc: Json): string[] {
  const found: string[] = []
  const components = doc.components?.schemas ?? {}
  const seen = new Set<unknown>()
  // Apex is case-insensitive: names that differ only in case are one Apex class, property or method
  // ("Naming and Description Conventions": "Implement case consistently").
  const clash = (names: string[], at: string) => {
    const byLower = new Map<string, string>()
    for (const n of names) {
      const other = byLower.get(n.toLowerCase())
      if (other !== undefined) found.push(`${at}: ${other} and ${n} differ only in case`)
      else byLower.set(n.toLowerCase(), n)
    }
  }
  const schema = (s: Json, at: string): void => {
    if (!s || typeof s !== 'object') {
      found.push(`${at}: no schema`)
      return
    }
    if (seen.has(s)) return
    seen.add(s)
    if (typeof s.description === 'string' && s.description.length > 1333)
      found.push(`${at}: description over 1,333 characters`)
    for (const k of ['oneOf', 'anyOf', 'not', 'patternProperties']) if (k in s) found.push(`${at}: ${k}`)
    // A map (true or a schema); false only says "no other members".
    if ('additionalProperties' in s && s.additionalProperties !== false)
      found.push(`${at}: additionalProperties (a free-form map)`)
    if (s.$ref) {
      const name = /^#\/components\/schemas\/(.+)$/.exec(s.$ref)?.[1]
      if (!name || !components[name]) found.push(`${at}: $ref ${s.$ref} goes nowhere`)
      return
    }
    if (s.allOf) {
      for (const [i, m] of (s.allOf as Json[]).entries()) schema(m, `${at}.allOf[${i}]`)
      return
    }
    switch (s.type) {
      case 'string':
      case 'number':
      case 'integer':
      case 'boolean':
        return
      case 'array':
        if (!s.items || Array.isArray(s.items)) {
          found.push(`${at}: a list of no single type`)
          return
        }
        if (s.items.type === 'array') found.push(`${at}: a list of lists (List<List<T>>, not in Flow)`)
        schema(s.items, `${at}[]`)
        return
      case 'object': {
        const properties = Object.entries(s.properties ?? {})
        if (!properties.length) found.push(`${at}: an object without properties`)
        clash(
          properties.map(([name]) => name),
          at,
        )
        for (const [name, p] of properties) {
          if (!APEX.test(name)) found.push(`${at}.${name}: no Apex identifier`)
          schema(p, `${at}.${name}`)
        }
        return
      }
      default:
        found.push(`${at}: no concrete type (${JSON.stringify(s.type)})`)
    }
  }
  // OpenAPI 2.0, or the subset of 3.0 (Metadata API, "ExternalServiceRegistration": 3.0 from 54.0).
  if (doc.swagger !== '2.0' && !/^3\.0\.\d+$/.test(String(doc.openapi)))
    found.push(`openapi ${doc.openapi ?? doc.swagger}: External Services reads OpenAPI 2.0 and 3.0`)
  // "System Limits": a JSON schema of at most 10,000,000 characters.
  if (JSON.stringify(doc).length > 10_000_000) found.push('the schema is over 10,000,000 characters')
  if ((doc.info?.description ?? '').length > 1333) found.push('info: description over 1,333 characters')
  clash(Object.keys(components), '#/components/schemas')
  for (const [name, s] of Object.entries(components)) {
    if (!APEX.test(name) || name.endsWith('_')) found.push(`#/components/schemas/${name}: no Apex class name`)
    schema(s, `#/components/schemas/${name}`)
  }
  const operationIds: string[] = []
  for (const [path, item] of Object.entries(doc.paths ?? {}) as [string, Json][]) {
    for (const [method, op] of Object.entries(item) as [string, Json][]) {
      const at = `${method.toUpperCase()} ${path}`
      if (!APEX.test(op.operationId ?? '') || op.operationId.endsWith('_'))
        found.push(`${at}: operationId ${op.operationId} is no Apex identifier`)
      operationIds.push(op.operationId ?? '')
      if ((op.description ?? '').length > 1333) found.push(`${at}: description over 1,333 characters`)
      // "Schema Definitions": "Each parameter must have a name"; "A GET method with an empty request
      // body results in a validation error".
      for (const p of op.parameters ?? []) {
        if (typeof p.name !== 'string' || !p.name) found.push(`${at}: a parameter without a name`)
        schema(p.schema, `${at} parameter ${p.name}`)
      }
      if (method === 'get' && op.requestBody) found.push(`${at}: a GET with a request body`)
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {}) as [string, Json][])
        schema(media.schema, `${at} request ${type}`)
      for (const [code, r] of Object.entries(op.responses ?? {}) as [string, Json][]) {
        if (r.headers) found.push(`${at} ${code}: response headers`)
        for (const [type, media] of Object.entries(r.content ?? {}) as [string, Json][]) {
          // "Operation Output Parameters": the response content types External Services reads.
          if (!RESPONSE_TYPES.includes(type)) found.push(`${at} ${code}: response content type ${type}`)
          schema(media.schema, `${at} ${code} ${type}`)
        }
      }
    }
  }
  clash(operationIds, 'operationIds')
  return found
}
const RESPONSE_TYPES = [
  'application/json',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'text/plain',
]

describe('the OpenAPI document External Services imports', () => {
  it('the checker finds what External Services cannot type (the server’s full error shape)', async () => {
    const full = openApiDocument(salesforceRoutes(await engine()), { version: '0.1.0' })
    expect(untyped(full)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/Error\.error\.path\[\]: anyOf/),
        expect.stringMatching(/Error\.error\.issues\[\]: no concrete type/),
      ]),
    )
  })

  it('the checker finds each rule External Services holds a schema to (version, names, GET body, content types)', async () => {
    const good = salesforceOpenApi(await engine(), 'https://remit.example.com') as Json
    const variants: [(d: Json) => void, RegExp][] = [
      [
        (d) => {
          d.openapi = '3.1.0'
        },
        /openapi 3\.1\.0/,
      ],
      [
        (d) => {
          d.paths['/v1/salesforce/decisions'].post.parameters = [{ in: 'query', schema: { type: 'string' } }]
        },
        /a parameter without a name/,
      ],
      [
        (d) => {
          d.paths['/v1/x'] = { get: { operationId: 'getX', requestBody: { content: {} }, responses: {} } }
        },
        /a GET with a request body/,
      ],
      [
        (d) => {
          d.paths['/v1/x'] = { post: { operationId: 'CheckWithRemit', responses: {} } }
        },
        /checkWithRemit and CheckWithRemit differ only in case/,
      ],
      [
        (d) => {
          d.components.schemas.error = { type: 'object', properties: { code: { type: 'string' } } }
        },
        /Error and error differ only in case/,
      ],
      [
        (d) => {
          const p = d.components.schemas.Error.properties
          p.Error = p.error
        },
        /error and Error differ only in case/,
      ],
      [
        (d) => {
          d.components.schemas['Flow-Result'] = { type: 'object', properties: { a: { type: 'string' } } }
        },
        /Flow-Result: no Apex class name/,
      ],
      [
        (d) => {
          const r = Object.values(d.paths['/v1/salesforce/decisions'].post.responses)[0] as Json
          r.content['application/xml'] = r.content['application/json']
        },
        /response content type application\/xml/,
      ],
      [
        (d) => {
          d.info.description = 'x'.repeat(10_000_001)
        },
        /over 10,000,000 characters/,
      ],
    ]
    expect(untyped(good)).toEqual([])
    for (const [change, problem] of variants) {
      const doc = structuredClone(good)
      change(doc)
      expect(untyped(doc).join('\n'), String(change)).toMatch(problem)
    }
  })

  it('salesforceOpenApi: every property of one concrete type, Apex names, short descriptions', async () => {
    expect(untyped(salesforceOpenApi(await engine(), 'https://remit.example.com'))).toEqual([])
  })

  it('the typed subset of the flow routes, and the schema the registration embeds, are typed', async () => {
    const remit = await engine()
    const typed = openApiDocument(salesforceRoutes(remit), { version: '0.1.0', typedOnly: true })
    expect(untyped(typed)).toEqual([])
    await expect(SwaggerParser.validate(structuredClone(typed) as never)).resolves.toBeDefined()
    // The error keeps what a flow can read: code, message, hint.
    expect(Object.keys((typed as Json).components.schemas.Error.properties.error.properties)).toEqual([
      'code',
      'message',
      'hint',
    ])
    const { dir } = await project()
    const registration = readFileSync(
      join(
        dir,
        'force-app/main/default/externalServiceRegistrations/Remit_sales_agent.externalServiceRegistration-meta.xml',
      ),
      'utf8',
    )
    const embedded = JSON.parse(
      ((/<schema>([\s\S]*)<\/schema>/.exec(registration)?.[1] ?? '') as string)
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&'),
    )
    expect(untyped(embedded)).toEqual([])
  })
})

// ── The metadata: the WSDL's schema, the registry, the conversion ───────────────────────────────────

describe('the generated metadata against the Metadata API WSDL (v66.0)', () => {
  it('lists every operation of the spec as active, so each becomes a Flow action', async () => {
    const spec = salesforceOpenApi(await engine())
    const { dir } = await project()
    const registration = await readFile(
      join(
        dir,
        'force-app/main/default/externalServiceRegistrations/Remit_sales_agent.externalServiceRegistration-meta.xml',
      ),
      'utf8',
    )
    const listed = [
      ...registration.matchAll(
        /<operations>\s*<active>(\w+)<\/active>\s*<name>(\w+)<\/name>\s*<\/operations>/g,
      ),
    ]
    expect(listed.map(([, active, name]) => [name, active])).toEqual(
      operationNames(spec).map((n) => [n, 'true']),
    )
    expect(operationNames(spec)).toContain('checkWithRemit')
    // Derived from the spec given, not a fixed list.
    const more = structuredClone(spec) as Json
    more.paths['/v1/salesforce/other'] = { get: { operationId: 'somethingElse', responses: {} } }
    expect(operationNames(more)).toEqual([...operationNames(spec), 'somethingElse'])
  })

  it('every generated file is valid for its type, in the schema’s element order (as Salesforce retrieves it)', async () => {
    const { dir, files } = await project()
    expect(files.map((f) => metadataTypeOf(f)?.type)).not.toContain(undefined)
    expect(new Set(files.map((f) => metadataTypeOf(f)?.type))).toEqual(
      new Set([
        'ExternalCredential',
        'NamedCredential',
        'ExternalServiceRegistration',
        'PermissionSet',
        'CustomObject',
        'CustomField',
        'Flow',
      ]),
    )
    expect(await validateMetadata(read(dir, files), { order: 'strict' })).toEqual([])
  })

  it('the validator refuses what Salesforce refuses: a missing required element, an unknown value, a wrong root', async () => {
    const { dir } = await project()
    const path = 'force-app/main/default/externalCredentials/Remit_sales_agent.externalCredential-meta.xml'
    const good = readFileSync(join(dir, path), 'utf8')
    const cases: [string, RegExp][] = [
      [
        good.replace(/ *<authenticationProtocol>Custom<\/authenticationProtocol>\n/, ''),
        /authenticationProtocol/,
      ],
      [
        good.replace('<authenticationProtocol>Custom<', '<authenticationProtocol>Secret<'),
        /'Secret'.*not an element of the set/,
      ],
      [good.replace('<label>', '<color>red</color>\n    <label>'), /color.*not expected/],
      [
        good
          .replace(/ExternalCredential /, 'NamedCredential ')
          .replace(/<\/ExternalCredential>/, '</NamedCredential>'),
        /root element is <NamedCredential>/,
      ],
    ]
    const named = cases.map(([contents], i) => ({
      path: path.replace('Remit_sales_agent', `Case${i}`),
      contents,
    }))
    const problems = await validateMetadata(named, { order: 'strict' })
    for (const [i, [contents, problem]] of cases.entries()) {
      const own = problems.filter((p) => p.path === named[i]?.path).map((p) => p.problem)
      expect(own.join('\n'), contents).toMatch(problem)
    }
  })

  it('a suffix several types share resolves by the directory, as the registry says', () => {
    // metadataRegistry.json: `.rule` is FieldRestrictionRule, RestrictionRule and ModerationRule,
    // `.site` CustomSite and SiteDotCom, each with its own directoryName.
    expect(metadataTypeOf('restrictionRules/Only_Mine.rule')?.type).toBe('RestrictionRule')
    expect(metadataTypeOf('force-app/main/default/moderation/No_Spam.rule-meta.xml')?.type).toBe(
      'ModerationRule',
    )
    expect(metadataTypeOf('siteDotComSites/Portal.site')?.type).toBe('SiteDotCom')
    expect(metadataTypeOf('sites/Portal.site')?.type).toBe('CustomSite')
    expect(metadataTypeOf('flows/Portal.site')).toBeUndefined()
  })

  it('source-deploy-retrieve resolves every file to the type the registry names, and converts the project', async () => {
    const { dir, files } = await project()
    const set = ComponentSet.fromSource(join(dir, 'force-app'))
    const resolved = new Map<string, string>()
    for (const c of set.getSourceComponents().toArray()) {
      for (const x of [c, ...c.getChildren()])
        if (x.xml) resolved.set(relative(dir, x.xml), `${x.type.name}:${x.fullName}`)
    }
    for (const file of files) {
      const t = metadataTypeOf(file)
      const parent = t?.parent ? `${file.split('/').at(-3)}.` : ''
      expect(resolved.get(file), file).toBe(`${t?.type}:${parent}${t?.fullName}`)
    }
    // To metadata format, as `sf project deploy start` sends it: a directory, and a zip.
    const out = join(dir, 'mdapi')
    await new MetadataConverter().convert(set, 'metadata', {
      type: 'directory',
      outputDirectory: out,
      genUniqueDir: false,
    })
    const converted = (readdirSync(out, { recursive: true }) as string[])
      .filter((f) => /\.\w+$/.test(f))
      .sort()
    expect(converted).toContain('package.xml')
    expect(converted).toContain('objects/Remit_Review__e.object')
    expect(converted).toContain('flows/Renewal_Offer.flow')
    // SDR adds no fullName to a whole file; a recomposed child (<fields>) carries its own.
    const object = readFileSync(join(out, 'objects/Remit_Review__e.object'), 'utf8')
    expect(object).toContain('<fullName>ReviewId__c</fullName>')
    const mdapi = read(out, converted)
    // Recomposed children come after the parent's own elements, which Salesforce deploys: the
    // schema's order is held only where SDR copies a file as it is.
    expect(await validateMetadata(mdapi, { order: 'any' })).toEqual([])
    const recomposed = ['objects/Remit_Review__e.object', 'objects/Opportunity.object']
    expect(
      await validateMetadata(
        mdapi.filter((f) => !recomposed.includes(f.path)),
        { order: 'strict' },
      ),
    ).toEqual([])
    const zip = await new MetadataConverter().convert(set, 'metadata', { type: 'zip' })
    const entries = unzipSync(new Uint8Array(zip.zipBuffer as Buffer))
    const zipped = Object.keys(entries)
      .filter((n) => !n.endsWith('/'))
      .sort()
    expect(zipped).toEqual(converted)
    expect(strFromU8(entries['package.xml'] as Uint8Array)).toBe(
      readFileSync(join(out, 'package.xml'), 'utf8'),
    )
  })
})

// ── The deploy fake: Salesforce's checks on what arrives ────────────────────────────────────────────

describe('deploying to the fake, which checks what it receives as Salesforce does', () => {
  async function packaged() {
    const dir = mkdtempSync(join(tmpdir(), 'remit-sf-md-'))
    await writePackage(dir, {
      serverUrl: 'https://remit.example.com',
      agents: ['sales-agent'],
      spec: salesforceOpenApi(await engine()),
    })
    return dir
  }

  it('reads the REST deploy’s zip, validates each file, and deploys what package.xml names', async () => {
    const sf = await fake()
    const out = await deployPackage({
      dir: await packaged(),
      connection: await sf.connection(),
      org: 'acme',
      keys: { 'sales-agent': 'rk_secret' },
      pollMs: 20,
    })
    const [request] = sf.deployRequests
    expect([...(request?.files.keys() ?? [])].sort()).toEqual([
      'externalCredentials/Remit_sales_agent.externalCredential',
      'externalServiceRegistrations/Remit_sales_agent.externalServiceRegistration',
      'namedCredentials/Remit_sales_agent.namedCredential',
      'objects/Remit_Review__e.object',
      'package.xml',
      'permissionsets/Remit_sales_agent.permissionset',
    ])
    expect(request?.result).toMatchObject({ status: 'Succeeded', success: true, numberComponentErrors: 0 })
    expect(out.components.filter((c) => c.state === 'Failed')).toEqual([])
    expect(out.components.map((c) => `${c.type}:${c.fullName}`)).toEqual(
      expect.arrayContaining([
        'ExternalCredential:Remit_sales_agent',
        'ExternalServiceRegistration:Remit_sales_agent',
        'CustomField:Remit_Review__e.ReviewId__c',
      ]),
    )
    // The key went in with the credential's protocol, principal and parameter name.
    expect(sf.credentials).toEqual([
      {
        method: 'POST',
        status: 201,
        body: {
          authenticationProtocol: 'Custom',
          externalCredential: 'Remit_sales_agent',
          principalName: CREDENTIAL.principal,
          principalType: 'NamedPrincipal',
          credentials: { [CREDENTIAL.keyParameter]: { value: 'rk_secret', encrypted: true } },
        },
      },
    ])
  })

  it('fails the deploy, naming the component, when a file is invalid (an External Credential without its protocol)', async () => {
    const sf = await fake()
    const dir = await packaged()
    const path = join(
      dir,
      'force-app/main/default/externalCredentials/Remit_sales_agent.externalCredential-meta.xml',
    )
    writeFileSync(
      path,
      readFileSync(path, 'utf8').replace(/ *<authenticationProtocol>Custom<\/authenticationProtocol>\n/, ''),
    )
    const error = await deployPackage({
      dir,
      connection: await sf.connection(),
      org: 'acme',
      keys: { 'sales-agent': 'rk_secret' },
      pollMs: 20,
    }).catch((e) => e)
    expect(error).toBeInstanceOf(SalesforceError)
    expect(error.code).toBe('DEPLOY_FAILED')
    expect(error.message).toMatch(
      /ExternalCredential Remit_sales_agent: Error parsing file: .*authenticationProtocol/,
    )
    expect(sf.deployRequests[0]?.result).toMatchObject({
      status: 'Failed',
      success: false,
      numberComponentErrors: 1,
      details: {
        componentSuccesses: [],
        componentFailures: [
          expect.objectContaining({
            componentType: 'ExternalCredential',
            fullName: 'Remit_sales_agent',
            fileName: 'externalCredentials/Remit_sales_agent.externalCredential',
            problemType: 'Error',
          }),
        ],
      },
    })
    // A failed deploy rolls back: nothing deployed, no key stored.
    expect(sf.deployed.size).toBe(0)
    expect(sf.credentials).toEqual([])
  })

  it('refuses a Credential Input without authenticationProtocol, or not matching the deployed credential', async () => {
    const sf = await fake()
    const connection = await sf.connection()
    await deployPackage({ dir: await packaged(), connection, org: 'acme', pollMs: 20 })
    const url = `/services/data/v${API_VERSION}/named-credentials/credential`
    const good = {
      authenticationProtocol: 'Custom',
      externalCredential: 'Remit_sales_agent',
      principalName: 'Remit',
      principalType: 'NamedPrincipal',
      credentials: { Key: { value: 'rk_x', encrypted: true } },
    }
    const post = (body: unknown) =>
      connection.request({
        method: 'POST',
        url,
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      })
    const { authenticationProtocol: _, ...withoutProtocol } = good
    const refused: [unknown, RegExp][] = [
      [withoutProtocol, /authenticationProtocol is required/],
      [{ ...good, authenticationProtocol: 'OAuth' }, /not the external credential's \(Custom\)/],
      [{ ...good, principalName: 'Someone' }, /no named principal Someone/],
      [{ ...good, principalType: 'Nobody' }, /principalType/],
      [{ ...good, externalCredential: 'Remit_other' }, /no external credential named Remit_other/],
      [
        { ...good, credentials: { Key: 'rk_x' } },
        /credentials\.Key must be \{value: string, encrypted: boolean\}/,
      ],
      [{ ...good, credentials: undefined }, /credentials is required/],
    ]
    for (const [body, message] of refused) {
      const error = await post(body).catch((e) => e)
      expect(error, JSON.stringify(body)).toMatchObject({
        errorCode: 'INVALID_INPUT',
        message: expect.stringMatching(message),
      })
    }
    expect(sf.credentials.map((c) => c.status)).toEqual(refused.map(() => 400))
    await expect(post(good)).resolves.toMatchObject({
      authenticationProtocol: 'Custom',
      credentials: { Key: { encrypted: true, value: null } },
    })
  })
})
