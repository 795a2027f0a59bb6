import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { typedOpenApi } from '@remit/core/adapter'
import { flowFiles } from './flows.ts'

// A source-format Salesforce project (what `sf project deploy start` deploys): per agent an External
// Credential holding that agent's Remit key, a Named Credential to the Remit server, an External
// Service registration of the flow-shaped decision spec, and a permission set; plus the
// Remit_Review__e platform event that carries review outcomes to paused flows.
// Formats: https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/
// Each file's elements come in the order of its type's xsd:sequence in the Metadata API WSDL, as
// Salesforce writes retrieved files; test/metadata.test.ts validates every file against that WSDL
// (spec/metadata.wsdl) and resolves and converts the project with source-deploy-retrieve.

export const API_VERSION = '62.0'
const NS = 'http://soap.sforce.com/2006/04/metadata'

/**
 * Each agent's External Credential: the Custom protocol (Metadata API Developer Guide,
 * "ExternalCredential": "User-created authentication … Each authentication parameter requires a
 * name and value"), one named principal, and the key as the authentication parameter `Key` that the
 * Authorization header formula reads. deployPackage stores the key under these same names through
 * the Connect REST API ("Credential Input"), so both are written from here.
 */
export const CREDENTIAL = {
  authenticationProtocol: 'Custom',
  principal: 'Remit',
  keyParameter: 'Key',
} as const

export interface PackageOptions {
  /** Where Salesforce reaches Remit, e.g. https://remit.example.com */
  serverUrl: string
  /** The agents a flow may act as: one credential each, so a flow acts only as the agent it was given. */
  agents: string[]
  /**
   * The OpenAPI document External Services imports (`salesforceOpenApi`). The registration embeds
   * its typed subset (typedOpenApi), and lists each of its operations as active.
   */
  spec: Record<string, unknown>
  /**
   * The example flows (drafts): a check flow per `salesforce:flow/<name>` tool, with the action kind
   * it asks about, and the Task/Event activity flows for one agent (`activityAgent`). Default none.
   */
  flows?: { checks: { agent: string; name: string; kind: string }[]; activityAgent?: string }
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace']

/**
 * The operationId of every operation in the spec, in document order. External Services turns only
 * active operations into Flow actions (Salesforce Help, External Services "System Limits": "An
 * active operation is an operation that you select to include when you register or edit your
 * schema"), and a registration deployed through the Metadata API lists them
 * (ExternalServiceOperation: active, name).
 */
export function operationNames(spec: Record<string, unknown>): string[] {
  const names: string[] = []
  for (const [path, item] of Object.entries((spec.paths ?? {}) as Record<string, Record<string, unknown>>)) {
    for (const [method, op] of Object.entries(item ?? {})) {
      if (!METHODS.includes(method)) continue
      const id = (op as { operationId?: unknown }).operationId
      if (typeof id !== 'string' || !id) throw new Error(`${method.toUpperCase()} ${path} has no operationId`)
      if (names.includes(id)) throw new Error(`operationId ${id} is used twice`)
      names.push(id)
    }
  }
  if (!names.length) throw new Error('the spec has no operations')
  return names
}

/** `sales-agent` → `Remit_sales_agent`: a valid API name (letters, digits, single underscores). */
export function apiName(agent: string): string {
  const name = `Remit_${agent.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '')}`
    .slice(0, 40)
    .replace(/_+$/, '')
  if (!/^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*$/.test(name))
    throw new Error(`cannot make an API name from agent "${agent}"`)
  return name
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const xml = (root: string, body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${NS}">\n${body}</${root}>\n`
const el = (name: string, value: string | boolean | number, indent = '    ') =>
  `${indent}<${name}>${esc(String(value))}</${name}>\n`

export const REVIEW_FIELDS: { name: string; label: string; length: number }[] = [
  { name: 'ReviewId__c', label: 'Review Id', length: 64 },
  { name: 'DecisionId__c', label: 'Decision Id', length: 64 },
  { name: 'Verdict__c', label: 'Verdict', length: 8 },
  { name: 'Status__c', label: 'Status', length: 16 },
  { name: 'Reason__c', label: 'Reason', length: 255 },
  { name: 'IdempotencyKey__c', label: 'Idempotency Key', length: 255 },
]

/** Writes the project; returns the files written, relative to `dir`. */
export async function writePackage(dir: string, o: PackageOptions): Promise<string[]> {
  const files: Record<string, string> = {
    'sfdx-project.json': `${JSON.stringify({ packageDirectories: [{ path: 'force-app', default: true }], name: 'remit', namespace: '', sourceApiVersion: API_VERSION }, null, 2)}\n`,
  }
  const base = 'force-app/main/default'
  const url = o.serverUrl.replace(/\/+$/, '')
  const spec = typedOpenApi(o.spec)
  const schema = JSON.stringify({ ...spec, servers: [{ url }] })
  const operations = operationNames(spec)
    .map(
      (name) =>
        `    <operations>\n${el('active', true, '        ')}${el('name', name, '        ')}    </operations>\n`,
    )
    .join('')
  for (const agent of o.agents) {
    const name = apiName(agent)
    const label = `Remit ${agent}`.slice(0, 80)
    files[`${base}/externalCredentials/${name}.externalCredential-meta.xml`] = xml(
      'ExternalCredential',
      el('authenticationProtocol', CREDENTIAL.authenticationProtocol) +
        '    <externalCredentialParameters>\n' +
        el('parameterGroup', CREDENTIAL.principal, '        ') +
        el('parameterName', CREDENTIAL.principal, '        ') +
        el('parameterType', 'NamedPrincipal', '        ') +
        el('sequenceNumber', 1, '        ') +
        '    </externalCredentialParameters>\n' +
        '    <externalCredentialParameters>\n' +
        el('parameterGroup', 'DefaultGroup', '        ') +
        el('parameterName', 'Authorization', '        ') +
        el('parameterType', 'AuthHeader', '        ') +
        el('parameterValue', `{!'Bearer ' & $Credential.${name}.${CREDENTIAL.keyParameter}}`, '        ') +
        el('sequenceNumber', 1, '        ') +
        '    </externalCredentialParameters>\n' +
        el('label', label),
    )
    files[`${base}/namedCredentials/${name}.namedCredential-meta.xml`] = xml(
      'NamedCredential',
      el('allowMergeFieldsInBody', false) +
        el('allowMergeFieldsInHeader', true) +
        el('calloutStatus', 'Enabled') +
        el('generateAuthorizationHeader', false) +
        el('label', label) +
        '    <namedCredentialParameters>\n' +
        el('parameterName', 'Url', '        ') +
        el('parameterType', 'Url', '        ') +
        el('parameterValue', url, '        ') +
        '    </namedCredentialParameters>\n' +
        '    <namedCredentialParameters>\n' +
        el('externalCredential', name, '        ') +
        el('parameterName', 'ExternalCredential', '        ') +
        el('parameterType', 'Authentication', '        ') +
        '    </namedCredentialParameters>\n' +
        el('namedCredentialType', 'SecuredEndpoint'),
    )
    files[`${base}/externalServiceRegistrations/${name}.externalServiceRegistration-meta.xml`] = xml(
      'ExternalServiceRegistration',
      el('label', label) +
        el('namedCredentialReference', name) +
        operations +
        el('registrationProviderType', 'Custom') +
        el('schema', schema) +
        el('schemaType', 'OpenApi3') +
        el('schemaUploadFileExtension', 'json') +
        el('schemaUploadFileName', 'remit_openapi') +
        el('status', 'Complete') +
        el('systemVersion', 5),
    )
    files[`${base}/permissionsets/${name}.permissionset-meta.xml`] = xml(
      'PermissionSet',
      '    <externalCredentialPrincipalAccesses>\n' +
        el('enabled', true, '        ') +
        el('externalCredentialPrincipal', `${name}-${CREDENTIAL.principal}`, '        ') +
        '    </externalCredentialPrincipalAccesses>\n' +
        el('hasActivationRequired', false) +
        el('label', label),
    )
  }
  files[`${base}/objects/Remit_Review__e/Remit_Review__e.object-meta.xml`] = xml(
    'CustomObject',
    el('deploymentStatus', 'Deployed') +
      el('eventType', 'HighVolume') +
      el('label', 'Remit Review') +
      el('pluralLabel', 'Remit Reviews') +
      el('publishBehavior', 'PublishImmediately'),
  )
  for (const f of REVIEW_FIELDS) {
    files[`${base}/objects/Remit_Review__e/fields/${f.name}.field-meta.xml`] = xml(
      'CustomField',
      el('fullName', f.name) +
        el('externalId', false) +
        el('isFilteringDisabled', false) +
        el('isNameField', false) +
        el('isSortingDisabled', false) +
        el('label', f.label) +
        el('length', f.length) +
        el('required', false) +
        el('type', 'Text') +
        el('unique', false),
    )
  }
  for (const agent of o.agents) {
    const flows = flowFiles({
      registration: apiName(agent),
      checks: (o.flows?.checks ?? []).filter((c) => c.agent === agent),
      activity: o.flows?.activityAgent === agent,
      apiVersion: API_VERSION,
    })
    for (const [path, text] of Object.entries(flows)) files[`${base}/${path}`] = text
  }
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true })
    await writeFile(join(dir, path), text)
  }
  return Object.keys(files).sort()
}
