import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

// A source-format Salesforce project (what `sf project deploy start` deploys): per agent an External
// Credential holding that agent's Remit key, a Named Credential to the Remit server, an External
// Service registration of the flow-shaped decision spec, and a permission set; plus the
// Remit_Review__e platform event that carries review outcomes to paused flows.
// Formats: https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/

export const API_VERSION = '62.0'
const NS = 'http://soap.sforce.com/2006/04/metadata'

export interface PackageOptions {
  /** Where Salesforce reaches Remit, e.g. https://remit.example.com */
  serverUrl: string
  /** The agents a flow may act as: one credential each, so a flow acts only as the agent it was given. */
  agents: string[]
  /** The OpenAPI document External Services imports (`salesforceOpenApi`). */
  spec: Record<string, unknown>
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
  const schema = JSON.stringify({ ...o.spec, servers: [{ url }] })
  for (const agent of o.agents) {
    const name = apiName(agent)
    const label = `Remit ${agent}`.slice(0, 80)
    files[`${base}/externalCredentials/${name}.externalCredential-meta.xml`] = xml(
      'ExternalCredential',
      el('authenticationProtocol', 'Custom') +
        '    <externalCredentialParameters>\n' +
        el('parameterGroup', 'Remit', '        ') +
        el('parameterName', 'Remit', '        ') +
        el('parameterType', 'NamedPrincipal', '        ') +
        el('sequenceNumber', 1, '        ') +
        '    </externalCredentialParameters>\n' +
        '    <externalCredentialParameters>\n' +
        el('parameterGroup', 'DefaultGroup', '        ') +
        el('parameterName', 'Authorization', '        ') +
        el('parameterType', 'AuthHeader', '        ') +
        el('parameterValue', `{!'Bearer ' & $Credential.${name}.Key}`, '        ') +
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
        el('externalCredentialPrincipal', `${name}-Remit`, '        ') +
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
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true })
    await writeFile(join(dir, path), text)
  }
  return Object.keys(files).sort()
}
