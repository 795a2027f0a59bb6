import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { AuthInfo, Connection } from '@salesforce/core'
import { strFromU8, unzipSync } from 'fflate'
import { memoryPages, validateXML } from 'xmllint-wasm'
import { answerSoql } from './soql.ts'

// A local fake of the Salesforce REST endpoints Remit uses, from Salesforce's REST API docs:
// - Query: GET /services/data/vXX.X/query?q=SOQL
//   https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
// - Create a record (also publishes a platform event): POST /services/data/vXX.X/sobjects/{Name}
//   https://developer.salesforce.com/docs/atlas.en-us.platform_events.meta/platform_events/platform_events_publish_api.htm
// - Deploy (REST): POST /services/data/vXX.X/metadata/deployRequest, GET …/deployRequest/{id}
//   https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_rest_deploy.htm
//   The POST is multipart/form-data: a part `file` holding the zip of metadata-format files with its
//   package.xml, and a part `entity_content` holding {deployOptions} (what jsforce's deployRest,
//   which source-deploy-retrieve calls with apiOptions.rest, sends). The fake unzips it, validates
//   each file against the Metadata API WSDL's schema (spec/metadata.wsdl) and the package.xml
//   against the zip, and fails the deploy with componentFailures as Salesforce would.
//   Publishing is checked as Salesforce checks an insert: the event must be defined in the org
//   (deployed to the fake, or given as FakeOptions.metadata), every field must be one of its own,
//   a Text value within its length; a refusal is the REST API's error array, [{message, errorCode,
//   fields?}], and a high-volume event's success carries OPERATION_ENQUEUED (see publishEvent).
// - Every call needs the session's token (Authorization: Bearer): without it, with another, or after
//   expire(), the answer is 401 [{message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID'}].
// - Credentials: POST|PUT|PATCH /services/data/vXX.X/named-credentials/credential (Connect REST API
//   Developer Guide, "Credential" resource and "Credential Input"), validated like Salesforce does
//   and answered with Salesforce's error array, [{errorCode, message}], when it is not valid.

export interface FakeOptions {
  /** Answer every call 401 INVALID_SESSION_ID. */
  expired?: boolean
  /** Components the next deploy reports as failed. */
  failures?: { componentType: string; fullName: string; problem: string }[]
  /** The org's clock, for SOQL's date literals and windows (default the real one). */
  now?: () => number
  /**
   * Metadata the org already holds (source or metadata format, e.g. what writePackage wrote), as a
   * deploy would have left it: the platform events defined here can be published.
   */
  metadata?: { path: string; contents: string }[]
}

const NS = 'http://soap.sforce.com/2006/04/metadata'
/** The session's access token: what connection() authenticates with, and every call must carry. */
const TOKEN = '00D000000000001!token'
const XSD = 'http://www.w3.org/2001/XMLSchema'

// ── The Metadata API's schema ────────────────────────────────────────────────────────────────────
// spec/metadata.wsdl is the Metadata API WSDL (v66.0) unchanged. Its <xsd:schema> defines each
// metadata type as a complexType (ExternalCredential extends Metadata), not as an element, so a file
// whose root is <ExternalCredential> is validated against a wrapper schema that includes the WSDL's
// schema and declares one element per metadata type, named like the type.

interface SchemaModel {
  /** The WSDL's <xsd:schema>, standalone. */
  schema: string
  /** The wrapper: the schema included, an element per metadata type. */
  wrapper: string
  /** complexType → its elements in sequence order (base type's first), each with its type. */
  types: Map<string, { name: string; type: string }[]>
  /** The metadata types: complexTypes that extend Metadata, directly or not. */
  metadataTypes: Set<string>
}

let model: SchemaModel | undefined
export function metadataSchema(): SchemaModel {
  if (model) return model
  const wsdl = readFileSync(new URL('../spec/metadata.wsdl', import.meta.url), 'utf8')
  const body = wsdl.slice(wsdl.indexOf('<xsd:schema'), wsdl.indexOf('</xsd:schema>') + '</xsd:schema>'.length)
  // The namespaces the WSDL declares on <definitions>, declared where the schema now stands alone.
  const schema = `<?xml version="1.0" encoding="UTF-8"?>\n${body.replace('<xsd:schema ', `<xsd:schema xmlns:xsd="${XSD}" xmlns:tns="${NS}" `)}\n`
  const own = new Map<string, { base?: string; elements: { name: string; type: string }[] }>()
  for (const [, name, inner] of body.matchAll(
    /<xsd:complexType name="(\w+)">([\s\S]*?)<\/xsd:complexType>/g,
  )) {
    const base = /<xsd:extension base="tns:(\w+)"/.exec(inner as string)?.[1]
    const elements = [...(inner as string).matchAll(/<xsd:element name="(\w+)"[^>]*?type="(\w+:\w+)"/g)].map(
      ([, n, t]) => ({ name: n as string, type: t as string }),
    )
    own.set(name as string, { ...(base ? { base } : {}), elements })
  }
  const types = new Map<string, { name: string; type: string }[]>()
  const flatten = (name: string): { name: string; type: string }[] => {
    const known = types.get(name)
    if (known) return known
    const t = own.get(name)
    const all = t ? [...(t.base ? flatten(t.base) : []), ...t.elements] : []
    types.set(name, all)
    return all
  }
  const extendsMetadata = (name: string): boolean => {
    const base = own.get(name)?.base
    return base === 'Metadata' || (base !== undefined && extendsMetadata(base))
  }
  for (const name of own.keys()) flatten(name)
  const globals = new Set([...body.matchAll(/^ {3}<xsd:element name="(\w+)"/gm)].map(([, n]) => n as string))
  const metadataTypes = new Set([...own.keys()].filter((n) => extendsMetadata(n) && !globals.has(n)))
  const wrapper = `<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="${XSD}" xmlns:tns="${NS}" targetNamespace="${NS}" elementFormDefault="qualified">
  <xsd:include schemaLocation="metadata.xsd"/>
${[...metadataTypes].map((t) => `  <xsd:element name="${t}" type="tns:${t}"/>`).join('\n')}
</xsd:schema>
`
  model = { schema, wrapper, types, metadataTypes }
  return model
}

// ── The metadata type registry (spec/metadataRegistry.json, source-deploy-retrieve's) ──────────────

interface RegistryType {
  name: string
  suffix?: string
  directoryName?: string
  xmlElementName?: string
  children?: { types: Record<string, RegistryType> }
}
/**
 * Types by suffix. A suffix can belong to several types, each in its own directory (`.rule` is
 * FieldRestrictionRule in fieldRestrictionRules/, RestrictionRule in restrictionRules/, ModerationRule
 * in moderation/; `.site` is CustomSite or SiteDotCom): the directory decides, as the registry's
 * strictDirectoryName says.
 */
let registry: { bySuffix: Map<string, (RegistryType & { parent?: RegistryType })[]> } | undefined
function metadataRegistry() {
  if (registry) return registry
  const json = JSON.parse(
    readFileSync(new URL('../spec/metadataRegistry.json', import.meta.url), 'utf8'),
  ) as {
    types: Record<string, RegistryType>
  }
  const bySuffix = new Map<string, (RegistryType & { parent?: RegistryType })[]>()
  const add = (suffix: string, t: RegistryType & { parent?: RegistryType }) =>
    bySuffix.set(suffix, [...(bySuffix.get(suffix) ?? []), t])
  for (const t of Object.values(json.types)) {
    if (t.suffix) add(t.suffix, t)
    for (const c of Object.values(t.children?.types ?? {})) if (c.suffix) add(c.suffix, { ...c, parent: t })
  }
  registry = { bySuffix }
  return registry
}

/**
 * The metadata type of a file by the registry: `package.xml` is a Package; a source-format file
 * ends `.<suffix>-meta.xml`, a metadata-format one `.<suffix>` in the type's directory.
 */
export function metadataTypeOf(
  path: string,
): { type: string; fullName: string; parent?: string } | undefined {
  const file = path.split('/').at(-1) as string
  if (file === 'package.xml') return { type: 'Package', fullName: 'package.xml' }
  const m = /^(.+)\.([A-Za-z]+)$/.exec(file.replace(/-meta\.xml$/, ''))
  if (!m) return undefined
  // Its type's directory: the file's own in metadata format, an ancestor in source format
  // (objects/Remit_Review__e/Remit_Review__e.object-meta.xml, objects/Opportunity/fields/X.field-meta.xml).
  const dirs = path.split('/').slice(0, -1)
  const source = file.endsWith('-meta.xml')
  const t = (metadataRegistry().bySuffix.get(m[2] as string) ?? []).find(
    (c) => !c.directoryName || (source ? dirs.includes(c.directoryName) : dirs.at(-1) === c.directoryName),
  )
  if (!t) return undefined
  return { type: t.name, fullName: m[1] as string, ...(t.parent ? { parent: t.parent.name } : {}) }
}

// ── Just enough XML: elements with their positions, to read a file and reorder its children ─────────

interface XmlElement {
  name: string
  attributes: string
  start: number
  openEnd: number
  closeStart: number
  end: number
  children: XmlElement[]
}

export function parseXml(text: string): XmlElement | undefined {
  const token =
    /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[[\s\S]*?\]\]>|<!DOCTYPE[^>]*>|<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g
  const stack: XmlElement[] = []
  let root: XmlElement | undefined
  for (const m of text.matchAll(token)) {
    const [all, close, name, attributes, selfClosing] = m
    if (!name) continue
    const at = m.index as number
    if (close) {
      const open = stack.pop()
      if (!open || open.name !== name) return undefined
      open.closeStart = at
      open.end = at + all.length
      continue
    }
    const el: XmlElement = {
      name,
      attributes: attributes ?? '',
      start: at,
      openEnd: at + all.length,
      closeStart: at + all.length,
      end: at + all.length,
      children: [],
    }
    const parent = stack.at(-1)
    if (parent) parent.children.push(el)
    else if (root) return undefined
    else root = el
    if (!selfClosing) stack.push(el)
  }
  return stack.length ? undefined : root
}

const localName = (name: string) => name.split(':').at(-1) as string
const unescapeXml = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
export const textOf = (text: string, el: XmlElement) => unescapeXml(text.slice(el.openEnd, el.closeStart))
export const childrenNamed = (el: XmlElement, name: string) =>
  el.children.filter((c) => localName(c.name) === name)

/**
 * The file with each element's children in its type's sequence order. Salesforce does not hold a
 * deployed file to the WSDL's element order: source-deploy-retrieve recomposes a CustomObject by
 * appending its <fields> after the object's own elements, and Salesforce deploys that. The schema
 * does hold it (xsd:sequence), so the fake sorts before it validates: what it still refuses is a
 * missing required element, an unknown one, or a value of the wrong type.
 */
export function inSchemaOrder(text: string, root: XmlElement, rootType: string): string {
  const { types } = metadataSchema()
  const rebuild = (el: XmlElement, type: string | undefined): string => {
    const raw = text.slice(el.start, el.end)
    const sequence = type ? types.get(type) : undefined
    if (!sequence?.length || !el.children.length) return raw
    const index = (c: XmlElement) => {
      const i = sequence.findIndex((s) => s.name === localName(c.name))
      return i < 0 ? Number.POSITIVE_INFINITY : i
    }
    const typeOf = (c: XmlElement) => {
      const t = sequence.find((s) => s.name === localName(c.name))?.type
      return t?.startsWith('tns:') ? t.slice(4) : undefined
    }
    const sorted = [...el.children].sort((a, b) => index(a) - index(b))
    const parts = sorted.map((c) => rebuild(c, typeOf(c)))
    const unchanged = sorted.every((c, i) => c === el.children[i] && parts[i] === text.slice(c.start, c.end))
    if (unchanged) return raw
    return `${text.slice(el.start, el.openEnd)}\n${parts.join('\n')}\n${text.slice(el.closeStart, el.end)}`
  }
  return text.slice(0, root.start) + rebuild(root, rootType) + text.slice(root.end)
}

export interface MetadataProblem {
  path: string
  type?: string
  line?: number
  problem: string
}

/**
 * Validates metadata files against the Metadata API's schema: each file's type comes from its name
 * (metadataTypeOf), its root element must be that type in the metadata namespace, and its content
 * must be valid for that type. `order: 'strict'` also holds children to the schema's sequence (what
 * Salesforce writes when it retrieves); `'any'` does not (what Salesforce accepts in a deploy).
 */
export async function validateMetadata(
  files: { path: string; contents: string }[],
  o: { order?: 'strict' | 'any' } = {},
): Promise<MetadataProblem[]> {
  const { schema, wrapper, metadataTypes } = metadataSchema()
  const problems: MetadataProblem[] = []
  const inputs: { fileName: string; contents: string; path: string; type: string; reordered: boolean }[] = []
  for (const [i, f] of files.entries()) {
    const t = metadataTypeOf(f.path)
    if (!t) {
      problems.push({ path: f.path, problem: 'no metadata type has this file name' })
      continue
    }
    const type = t.type
    if (type !== 'Package' && !metadataTypes.has(type)) {
      problems.push({ path: f.path, type, problem: `${type} is no metadata type of the WSDL` })
      continue
    }
    const root = parseXml(f.contents)
    if (root) {
      if (localName(root.name) !== type)
        problems.push({ path: f.path, type, problem: `the root element is <${root.name}>, not <${type}>` })
      if (!root.attributes.includes(`xmlns="${NS}"`))
        problems.push({ path: f.path, type, problem: `the root element is not in the namespace ${NS}` })
    }
    const contents = root && o.order === 'any' ? inSchemaOrder(f.contents, root, type) : f.contents
    inputs.push({
      fileName: `file${i}.xml`,
      contents,
      path: f.path,
      type,
      reordered: contents !== f.contents,
    })
  }
  if (inputs.length) {
    let output: string
    try {
      output = (
        await validateXML({
          xml: inputs.map(({ fileName, contents }) => ({ fileName, contents })),
          schema: [{ fileName: 'remit-metadata.xsd', contents: wrapper }],
          preload: [{ fileName: 'metadata.xsd', contents: schema }],
          maxMemoryPages: memoryPages.GiB,
        })
      ).rawOutput
    } catch (error) {
      output = (error as Error).message // a file that is not XML: xmllint's other exit codes
    }
    for (const line of output.split('\n')) {
      const m = /^(file\d+\.xml):(\d+): (.*)$/.exec(line)
      const input = m && inputs.find((x) => x.fileName === m[1])
      if (!input || !m) continue
      problems.push({
        path: input.path,
        type: input.type,
        ...(input.reordered ? {} : { line: Number(m[2]) }),
        problem: (m[3] as string).replace(/^Schemas validity error : /, '').replaceAll(`{${NS}}`, ''),
      })
    }
  }
  return problems
}

// ── Deploy: what the Metadata API does with a zip ───────────────────────────────────────────────────

interface DeployMessage {
  componentType: string
  fullName: string
  fileName: string
  success: boolean
  created?: boolean
  changed?: boolean
  deleted?: boolean
  problem?: string
  problemType?: 'Error' | 'Warning'
  lineNumber?: number
}

/** The parts of a multipart/form-data body. */
function multipart(raw: Buffer, contentType: string): Map<string, { type?: string; data: Buffer }> {
  const parts = new Map<string, { type?: string; data: Buffer }>()
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType)
  if (!boundary) return parts
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`)
  let at = raw.indexOf(delimiter)
  while (at >= 0) {
    const start = at + delimiter.length
    if (raw.subarray(start, start + 2).toString() === '--') break
    const next = raw.indexOf(delimiter, start)
    if (next < 0) break
    const part = raw.subarray(start + 2, next - 2) // after CRLF, before CRLF
    const headerEnd = part.indexOf('\r\n\r\n')
    const headers = part.subarray(0, headerEnd).toString()
    const name = /name="([^"]+)"/.exec(headers)?.[1]
    const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]
    if (name) parts.set(name, { ...(type ? { type } : {}), data: part.subarray(headerEnd + 4) })
    at = next
  }
  return parts
}

/** A deployed External Credential, as the credential endpoint checks requests against it. */
interface DeployedCredential {
  authenticationProtocol: string
  principals: string[]
}

async function deployZip(
  zip: Uint8Array,
  injected: FakeOptions['failures'],
): Promise<{ result: Record<string, unknown>; files: Map<string, string> }> {
  const entries = unzipSync(zip)
  const files = new Map<string, string>()
  const names = Object.keys(entries).filter((n) => !n.endsWith('/'))
  const manifest = names.find((n) => n.split('/').at(-1) === 'package.xml' && n.split('/').length <= 2)
  const prefix = manifest ? manifest.slice(0, -'package.xml'.length) : ''
  for (const n of names)
    if (n.startsWith(prefix)) files.set(n.slice(prefix.length), strFromU8(entries[n] as Uint8Array))
  const failed = (errorMessage: string) => ({
    result: { done: true, status: 'Failed', success: false, errorMessage, numberComponentErrors: 0 },
    files,
  })
  const packageXml = files.get('package.xml')
  if (!packageXml) return failed('No package.xml found')
  const problems = await validateMetadata(
    [...files].filter(([path]) => metadataTypeOf(path)).map(([path, contents]) => ({ path, contents })),
    { order: 'any' },
  )
  const packageProblems = problems.filter((p) => p.path === 'package.xml')
  if (packageProblems.length)
    return failed(`package.xml: ${packageProblems.map((p) => p.problem).join('; ')}`)
  // What package.xml names, each found in the zip (a child in its parent's file) or failed.
  const manifestRoot = parseXml(packageXml) as XmlElement
  const listed = childrenNamed(manifestRoot, 'types').flatMap((t) => {
    const type = textOf(packageXml, childrenNamed(t, 'name')[0] as XmlElement)
    return childrenNamed(t, 'members').map((m) => ({ type, fullName: textOf(packageXml, m) }))
  })
  const byComponent = new Map<string, string>()
  for (const path of files.keys()) {
    const t = metadataTypeOf(path)
    if (t && t.type !== 'Package') byComponent.set(`${t.type}:${t.fullName}`, path)
  }
  const successes: DeployMessage[] = []
  const failures: DeployMessage[] = []
  for (const { type, fullName } of listed) {
    let fileName = byComponent.get(`${type}:${fullName}`)
    const child = [...metadataRegistry().bySuffix.values()].flat().find((t) => t.name === type && t.parent)
    if (!fileName && child?.parent && fullName.includes('.')) {
      // A child (CustomField Remit_Review__e.ReviewId__c) lives in its parent's file, as an element
      // (<fields>) whose fullName is the child's own name.
      const [parentName, childName] = fullName.split('.') as [string, string]
      const path = byComponent.get(`${child.parent.name}:${parentName}`)
      const text = path ? (files.get(path) as string) : ''
      const element = child.xmlElementName ?? child.directoryName ?? ''
      const found = childrenNamed(parseXml(text) ?? ({ children: [] } as never), element).some((c) =>
        childrenNamed(c, 'fullName').some((f) => textOf(text, f) === childName),
      )
      if (found) fileName = path
    }
    if (!fileName) {
      failures.push({
        componentType: type,
        fullName,
        fileName: 'package.xml',
        success: false,
        problemType: 'Error',
        problem: `An object '${fullName}' of type ${type} was named in package.xml, but was not found in zipped directory`,
      })
      continue
    }
    const own = problems.filter((p) => p.path === fileName)
    if (own.length) {
      failures.push({
        componentType: type,
        fullName,
        fileName,
        success: false,
        problemType: 'Error',
        problem: `Error parsing file: ${own.map((p) => p.problem).join('; ')}`,
        ...(own[0]?.line ? { lineNumber: own[0].line } : {}),
      })
    } else {
      successes.push({
        componentType: type,
        fullName,
        fileName,
        success: true,
        created: true,
        changed: true,
        deleted: false,
      })
    }
  }
  for (const f of injected ?? []) failures.push({ ...f, fileName: '', success: false, problemType: 'Error' })
  const ok = failures.length === 0
  return {
    files,
    result: {
      done: true,
      status: ok ? 'Succeeded' : 'Failed',
      success: ok,
      numberComponentErrors: failures.length,
      numberComponentsDeployed: ok ? successes.length : 0,
      numberComponentsTotal: listed.length,
      details: {
        // A failed deploy rolls back (rollbackOnError): nothing of it is reported as deployed.
        componentSuccesses: ok
          ? [
              ...successes,
              {
                componentType: '',
                fullName: 'package.xml',
                fileName: 'package.xml',
                success: true,
                created: false,
                changed: true,
                deleted: false,
              },
            ]
          : [],
        componentFailures: failures,
      },
    },
  }
}

// ── Credentials: the Connect REST API's Credential Input ────────────────────────────────────────────

const PROTOCOLS = ['AwsSv4', 'Basic', 'Custom', 'Jwt', 'OAuth']
const PRINCIPAL_TYPES = ['AwsStsPrincipal', 'NamedPrincipal', 'PerUserPrincipal']

/** What is wrong with a Credential Input, against the External Credentials deployed to the fake. */
function credentialProblems(body: unknown, deployed: Map<string, DeployedCredential>): string[] {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return ['the body must be a Credential Input object']
  const b = body as Record<string, unknown>
  const problems: string[] = []
  const ec = typeof b.externalCredential === 'string' ? deployed.get(b.externalCredential) : undefined
  if (typeof b.externalCredential !== 'string' || !b.externalCredential)
    problems.push('externalCredential is required')
  else if (!ec) problems.push(`no external credential named ${b.externalCredential}`)
  if (b.authenticationProtocol === undefined) problems.push('authenticationProtocol is required')
  else if (!PROTOCOLS.includes(b.authenticationProtocol as string))
    problems.push(`authenticationProtocol must be one of ${PROTOCOLS.join(', ')}`)
  else if (ec && ec.authenticationProtocol.toLowerCase() !== String(b.authenticationProtocol).toLowerCase())
    problems.push(
      `authenticationProtocol ${b.authenticationProtocol} is not the external credential's (${ec.authenticationProtocol})`,
    )
  if (!PRINCIPAL_TYPES.includes(b.principalType as string))
    problems.push(`principalType is required, one of ${PRINCIPAL_TYPES.join(', ')}`)
  if (b.principalType === 'NamedPrincipal') {
    if (typeof b.principalName !== 'string' || !b.principalName)
      problems.push('principalName is required for a NamedPrincipal')
    else if (ec && !ec.principals.includes(b.principalName))
      problems.push(`${b.externalCredential} has no named principal ${b.principalName}`)
  }
  const credentials = b.credentials
  if (!credentials || typeof credentials !== 'object' || Array.isArray(credentials))
    problems.push('credentials is required: a map of name to {value, encrypted}')
  else
    for (const [name, v] of Object.entries(credentials)) {
      const value = v as Record<string, unknown> | null
      if (
        !value ||
        typeof value !== 'object' ||
        typeof value.value !== 'string' ||
        typeof value.encrypted !== 'boolean' ||
        Object.keys(value).some((k) => k !== 'value' && k !== 'encrypted')
      )
        problems.push(`credentials.${name} must be {value: string, encrypted: boolean}`)
    }
  return problems
}

function deployedCredential(text: string): DeployedCredential | undefined {
  const root = parseXml(text)
  if (!root) return undefined
  return {
    authenticationProtocol:
      childrenNamed(root, 'authenticationProtocol').map((e) => textOf(text, e))[0] ?? '',
    principals: childrenNamed(root, 'externalCredentialParameters')
      .filter((p) => childrenNamed(p, 'parameterType').some((t) => textOf(text, t) === 'NamedPrincipal'))
      .flatMap((p) => childrenNamed(p, 'parameterName').map((n) => textOf(text, n))),
  }
}

// ── Platform events: what the org has defined, and what an insert of one must be ─────────────────────

/** A platform event as the org holds it: its volume and its custom fields. */
export interface EventDefinition {
  eventType: string
  fields: Map<string, { name: string; label: string; type: string; length?: number }>
}

/**
 * The platform events (`__e` CustomObjects) that metadata files define: a metadata-format object
 * carries its fields as <fields> children, a source-format one has a file per field beside it
 * (objects/<Event>/fields/<Field>.field-meta.xml).
 */
export function eventDefinitions(files: { path: string; contents: string }[]): Map<string, EventDefinition> {
  const events = new Map<string, EventDefinition>()
  const event = (name: string) => {
    let e = events.get(name)
    if (!e) {
      e = { eventType: 'StandardVolume', fields: new Map() }
      events.set(name, e)
    }
    return e
  }
  const one = (text: string, el: XmlElement, name: string) =>
    childrenNamed(el, name).map((c) => textOf(text, c))[0]
  const field = (text: string, el: XmlElement, name: string) => {
    const length = one(text, el, 'length')
    return {
      name,
      label: one(text, el, 'label') ?? name,
      type: one(text, el, 'type') ?? '',
      ...(length ? { length: Number(length) } : {}),
    }
  }
  for (const f of files) {
    const t = metadataTypeOf(f.path)
    const root = t && parseXml(f.contents)
    if (!t || !root) continue
    if (t.type === 'CustomObject' && t.fullName.endsWith('__e')) {
      const e = event(t.fullName)
      e.eventType = one(f.contents, root, 'eventType') ?? e.eventType
      for (const c of childrenNamed(root, 'fields')) {
        const name = one(f.contents, c, 'fullName')
        if (name) e.fields.set(name.toLowerCase(), field(f.contents, c, name))
      }
    }
    const parent = f.path.split('/').at(-3) ?? ''
    if (t.type === 'CustomField' && parent.endsWith('__e'))
      event(parent).fields.set(t.fullName.toLowerCase(), field(f.contents, root, t.fullName))
  }
  return events
}

/** The metadata files (.xml) under a project directory, for FakeOptions.metadata. */
export function readProject(dir: string): { path: string; contents: string }[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.xml'))
    .map((path) => ({ path, contents: readFileSync(join(dir, path), 'utf8') }))
}

/** The system fields of a platform event (Platform Events Developer Guide, "Platform Event Fields"). */
const EVENT_SYSTEM_FIELDS = ['createdbyid', 'createddate', 'eventuuid', 'replayid']

/**
 * Salesforce's answer to POST /sobjects/<Event__e>/ with this body ("Publish Event Messages with
 * Salesforce APIs", platform_events_publish_api.htm; REST API "Create a Record",
 * dome_sobject_create.htm): a refusal is the error array (400; 404 for an event the org does not
 * have), a success 201 {id, success: true, errors}. High-volume events are published
 * asynchronously: "the OPERATION_ENQUEUED status code is returned for a successful call in the
 * response's error field, in addition to the event UUID".
 */
export function publishEvent(
  name: string,
  raw: string,
  events: Map<string, EventDefinition>,
  count: number,
): { status: number; body: unknown; event?: Record<string, unknown> } {
  const definition = events.get(name)
  if (!definition)
    return {
      status: 404,
      body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }],
    }
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch (error) {
    return { status: 400, body: [{ errorCode: 'JSON_PARSER_ERROR', message: (error as Error).message }] }
  }
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return {
      status: 400,
      body: [
        {
          errorCode: 'JSON_PARSER_ERROR',
          message: `Cannot deserialize instance of ${name} from ${Array.isArray(body) ? 'START_ARRAY' : 'VALUE'} value`,
        },
      ],
    }
  const errors: { message: string; errorCode: string; fields?: string[] }[] = []
  for (const [key, value] of Object.entries(body)) {
    if (key.toLowerCase() === 'id') {
      errors.push({
        message: 'The Id field should not be specified in the sobject data.',
        errorCode: 'INVALID_FIELD',
      })
      continue
    }
    if (key === 'attributes') continue
    if (EVENT_SYSTEM_FIELDS.includes(key.toLowerCase())) {
      errors.push({
        message: `Unable to create/update fields: ${key}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
        errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
        fields: [key],
      })
      continue
    }
    const f = definition.fields.get(key.toLowerCase())
    if (!f) {
      errors.push({
        message: `No such column '${key}' on sobject of type ${name}`,
        errorCode: 'INVALID_FIELD',
      })
      continue
    }
    if (value !== null && typeof value === 'object') {
      errors.push({
        message: `Cannot deserialize instance of ${f.type === 'Text' ? 'string' : f.type} from ${Array.isArray(value) ? 'START_ARRAY' : 'START_OBJECT'} value`,
        errorCode: 'JSON_PARSER_ERROR',
      })
      continue
    }
    if (f.type === 'Text' && f.length !== undefined && String(value ?? '').length > f.length)
      errors.push({
        message: `${f.label}: data value too large: ${String(value)} (max length=${f.length})`,
        errorCode: 'STRING_TOO_LONG',
        fields: [f.name],
      })
  }
  if (errors.length) return { status: 400, body: errors }
  return {
    status: 201,
    body: {
      id: `e00xx${String(count).padStart(10, '0')}AAA`,
      success: true,
      errors:
        definition.eventType === 'HighVolume'
          ? [{ statusCode: 'OPERATION_ENQUEUED', message: randomUUID(), fields: [] }]
          : [],
    },
    event: body as Record<string, unknown>,
  }
}

export async function fakeSalesforce(o: FakeOptions = {}) {
  const queries: string[] = []
  const published: { object: string; body: Record<string, unknown> }[] = []
  /** Every publish request and Salesforce's answer, refused ones too. */
  const publishAttempts: { object: string; status: number; body: unknown }[] = []
  let expired = o.expired === true
  const credentials: { method: string; body: Record<string, unknown>; status: number }[] = []
  const deploys: number[] = []
  /** Each deploy request as the fake read it: its options, files, and the result it answered. */
  const deployRequests: {
    id: string
    options: Record<string, unknown>
    files: Map<string, string>
    result: Record<string, unknown>
  }[] = []
  /** What deployed successfully, by `Type:fullName`: the metadata-format file. */
  const deployed = new Map<string, string>()
  const unknown: string[] = []
  type Row = Record<string, unknown>
  const tables = {
    Account: [] as Row[],
    Contact: [] as Row[],
    Case: [] as Row[],
    Opportunity: [] as Row[],
    Task: [] as Row[],
    Event: [] as Row[],
  }
  const byName = tables as Record<string, Row[]>
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks)
    const url = new URL(req.url ?? '/', 'http://fake')
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    // REST API "Status Codes and Error Responses": 401, "The session ID or OAuth token used has
    // expired or is invalid. The response body contains the message and errorCode."
    // The Versions resource (GET /services/data) is the one answered without a session.
    const versions = /^\/services\/data\/?$/.test(url.pathname)
    const authorization = req.headers.authorization ?? ''
    if (
      !versions &&
      (expired || !/^(?:Bearer|OAuth) /.test(authorization) || authorization.replace(/^\w+ /, '') !== TOKEN)
    ) {
      const body = [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]
      const event = /\/sobjects\/(\w+__e)\/?$/.exec(url.pathname)?.[1]
      if (event && req.method === 'POST') publishAttempts.push({ object: event, status: 401, body })
      return send(401, body)
    }
    if (versions) return send(200, [{ version: '62.0', label: "Winter '25", url: '/services/data/v62.0' }])
    // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm
    if (url.pathname === '/services/oauth2/userinfo') {
      return send(200, {
        preferred_username: 'integration@acme.example',
        user_id: '005000000000009AAA',
        organization_id: '00D000000000001AAA',
      })
    }
    const path = url.pathname.replace(/^\/services\/data\/v\d+\.\d+/, '')
    if (path === '/query') {
      const soql = url.searchParams.get('q') ?? ''
      queries.push(soql)
      if (/FROM Organization/.test(soql))
        return send(200, {
          totalSize: 1,
          done: true,
          records: [{ Name: 'Acme Corp', IsSandbox: false, OrganizationType: 'Developer Edition' }],
        })
      // Everything else is parsed and evaluated as SOQL (test/soql.ts); what it cannot do is a 400.
      const answer = answerSoql(soql, byName, new Date(o.now?.() ?? Date.now()))
      return send(answer.status, answer.body)
    }
    if (/^\/sobjects\/User\/\w+$/.test(path))
      return send(200, { Id: '005000000000009AAA', Username: 'integration@acme.example' })
    const sobject = /^\/sobjects\/(\w+)\/?$/.exec(path)
    if (sobject && req.method === 'POST' && (sobject[1] as string).endsWith('__e')) {
      const object = sobject[1] as string
      const events = eventDefinitions([
        ...(o.metadata ?? []),
        ...[...deployed]
          .filter(([key]) => key.startsWith('CustomObject:'))
          .map(([key, contents]) => ({
            path: `objects/${key.slice('CustomObject:'.length)}.object`,
            contents,
          })),
      ])
      const answer = publishEvent(object, raw.toString(), events, published.length + 1)
      publishAttempts.push({ object, status: answer.status, body: answer.body })
      if (answer.event) published.push({ object, body: answer.event })
      return send(answer.status, answer.body)
    }
    if (path === '/metadata/deployRequest' && req.method === 'POST') {
      deploys.push(raw.length)
      const parts = multipart(raw, req.headers['content-type'] ?? '')
      const file = parts.get('file')
      if (!file)
        return send(400, [
          { errorCode: 'INVALID_MULTIPART_REQUEST', message: 'no part named file (the zip)' },
        ])
      let options: Record<string, unknown> = {}
      try {
        const entity = parts.get('entity_content')
        options = entity ? (JSON.parse(entity.data.toString()).deployOptions ?? {}) : {}
      } catch {
        return send(400, [{ errorCode: 'JSON_PARSER_ERROR', message: 'entity_content is not JSON' }])
      }
      const id = `0Af${String(deployRequests.length + 1).padStart(12, '0')}AAA`
      let outcome: Awaited<ReturnType<typeof deployZip>>
      try {
        outcome = await deployZip(new Uint8Array(file.data), o.failures)
      } catch (error) {
        outcome = {
          files: new Map(),
          result: {
            done: true,
            status: 'Failed',
            success: false,
            errorMessage: `not a zip: ${(error as Error).message}`,
          },
        }
      }
      const result: Record<string, unknown> = { id, checkOnly: options.checkOnly === true, ...outcome.result }
      deployRequests.push({ id, options, files: outcome.files, result })
      if (result.success && !result.checkOnly)
        for (const [p, text] of outcome.files) {
          const t = metadataTypeOf(p)
          if (t && t.type !== 'Package') deployed.set(`${t.type}:${t.fullName}`, text)
        }
      return send(201, {
        id,
        deployOptions: options,
        deployResult: { id, done: false, status: 'Pending', success: false },
      })
    }
    const deployId = /^\/metadata\/deployRequest\/(\w+)$/.exec(path)?.[1]
    if (deployId) {
      const request = deployRequests.find((d) => d.id === deployId)
      if (!request) return send(404, [{ errorCode: 'NOT_FOUND', message: `no deploy ${deployId}` }])
      return send(200, { id: deployId, deployOptions: request.options, deployResult: request.result })
    }
    if (path === '/named-credentials/credential' && ['POST', 'PUT', 'PATCH'].includes(req.method ?? '')) {
      let body: Record<string, unknown>
      try {
        body = JSON.parse(raw.toString())
      } catch {
        credentials.push({ method: req.method ?? '', body: {}, status: 400 })
        return send(400, [{ errorCode: 'JSON_PARSER_ERROR', message: 'the body is not JSON' }])
      }
      const ecs = new Map<string, DeployedCredential>()
      for (const [key, text] of deployed) {
        const ec = key.startsWith('ExternalCredential:') ? deployedCredential(text) : undefined
        if (ec) ecs.set(key.slice('ExternalCredential:'.length), ec)
      }
      const problems = credentialProblems(body, ecs)
      const status = problems.length ? 400 : req.method === 'POST' ? 201 : 200
      credentials.push({ method: req.method ?? '', body, status })
      // The error code is the fake's; the shape is the REST API's error array.
      if (problems.length)
        return send(
          400,
          problems.map((message) => ({ errorCode: 'INVALID_INPUT', message })),
        )
      const values = body.credentials as Record<string, { value: string; encrypted: boolean }>
      return send(status, {
        authenticationProtocol: body.authenticationProtocol,
        authenticationStatus: 'Configured',
        credentials: Object.fromEntries(
          Object.entries(values).map(([k, v]) => [
            k,
            { encrypted: v.encrypted, value: v.encrypted ? null : v.value },
          ]),
        ),
        externalCredential: body.externalCredential,
        principalName: body.principalName,
        principalType: body.principalType,
      })
    }
    unknown.push(`${req.method} ${url.pathname}`)
    send(404, [{ message: `no fake for ${req.method} ${url.pathname}`, errorCode: 'NOT_FOUND' }])
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const instanceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    instanceUrl,
    queries,
    published,
    publishAttempts,
    /** The session expires now: every later call is 401 INVALID_SESSION_ID, as for a revoked token. */
    expire() {
      expired = true
    },
    credentials,
    deploys,
    deployRequests,
    deployed,
    tables,
    unknown,
    /** @salesforce/core's real Connection, built from an access token and an instance URL. */
    async connection(): Promise<Connection> {
      const authInfo = await AuthInfo.create({
        accessTokenOptions: { accessToken: TOKEN, instanceUrl, loginUrl: instanceUrl },
      })
      const connection = await Connection.create({ authInfo })
      connection.setApiVersion('62.0')
      return connection
    },
    close: () => new Promise((r) => server.close(r)),
  }
}
