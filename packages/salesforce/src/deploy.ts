import { join } from 'node:path'
import { type Connection, Org } from '@salesforce/core'
import { API_VERSION, apiName, CREDENTIAL } from './package.ts'

/** A Salesforce problem a person can act on: `hint` says what to do. */
export class SalesforceError extends Error {
  readonly code: 'SESSION_EXPIRED' | 'NO_EXTERNAL_SERVICES' | 'DEPLOY_FAILED' | 'NO_ORG' | 'SDK_MISSING'
  readonly hint: string
  constructor(code: SalesforceError['code'], message: string, hint: string) {
    super(message)
    this.name = 'SalesforceError'
    this.code = code
    this.hint = hint
  }
}

export interface ComponentStatus {
  type: string
  fullName: string
  state: string
  problem?: string
}

/** The user's existing `sf` login: an alias or username from `sf org login …`. */
export async function connectionFor(targetOrg: string): Promise<Connection> {
  try {
    const org = await Org.create({ aliasOrUsername: targetOrg })
    return org.getConnection(API_VERSION)
  } catch (error) {
    throw new SalesforceError(
      'NO_ORG',
      `no usable Salesforce login for "${targetOrg}": ${(error as Error).message}`,
      `run: sf org login web --alias ${targetOrg}`,
    )
  }
}

/**
 * Throws SDK_MISSING (with what to install) unless Salesforce's deploy libraries load: a deploy
 * checks this before asking for the org's login, so a missing library is not reported as NO_ORG.
 */
export async function requireDeployLibraries(): Promise<void> {
  await deployLibraries()
}

/**
 * Salesforce's deploy libraries, which only deploying needs: optional peer dependencies, so serving
 * flows and reading facts install without them.
 */
async function deployLibraries() {
  try {
    const [{ ComponentSet }, { Duration }] = await Promise.all([
      import('@salesforce/source-deploy-retrieve'),
      import('@salesforce/kit'),
    ])
    return { ComponentSet, Duration }
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error
    throw new SalesforceError(
      'SDK_MISSING',
      `deploying needs Salesforce's deploy libraries, which are not installed (${(error as Error).message})`,
      'npm install @salesforce/source-deploy-retrieve @salesforce/kit',
    )
  }
}

function explain(error: unknown, org: string): never {
  const e = error as { name?: string; errorCode?: string; message?: string }
  if (
    e?.errorCode === 'INVALID_SESSION_ID' ||
    e?.name === 'INVALID_SESSION_ID' ||
    /INVALID_SESSION_ID|Session expired/i.test(e?.message ?? '')
  ) {
    throw new SalesforceError(
      'SESSION_EXPIRED',
      `the Salesforce session for ${org} has expired`,
      `run: sf org login web --alias ${org}`,
    )
  }
  throw error
}

/**
 * Deploys the project `remit salesforce package` wrote, reports each component's status, and puts
 * each agent's Remit key into its External Credential (Connect REST API), so no key is ever in
 * metadata or version control.
 */
export async function deployPackage(o: {
  dir: string
  connection: Connection
  org: string
  keys?: Record<string, string>
  pollMs?: number
}): Promise<{ components: ComponentStatus[]; credentials: string[] }> {
  const { ComponentSet, Duration } = await deployLibraries()
  let components: ComponentStatus[]
  try {
    const set = ComponentSet.fromSource(join(o.dir, 'force-app'))
    const deploy = await set.deploy({ usernameOrConnection: o.connection, apiOptions: { rest: true } })
    const result = await deploy.pollStatus({
      frequency: Duration.milliseconds(o.pollMs ?? 1000),
      timeout: Duration.minutes(15),
    })
    components = result.getFileResponses().map((f) => ({
      type: f.type,
      fullName: f.fullName,
      state: String(f.state),
      ...('error' in f && f.error ? { problem: String(f.error) } : {}),
    }))
  } catch (error) {
    explain(error, o.org)
  }
  const unique = new Map(components.map((c) => [`${c.type}:${c.fullName}`, c]))
  components = [...unique.values()]
  const failed = components.filter((c) => c.state === 'Failed')
  if (
    failed.some(
      (c) =>
        c.type === 'ExternalServiceRegistration' &&
        /not available|Invalid type|not supported/i.test(c.problem ?? ''),
    )
  ) {
    throw new SalesforceError(
      'NO_EXTERNAL_SERVICES',
      `${o.org} cannot hold External Services registrations`,
      'External Services needs Enterprise, Unlimited, Performance or Developer Edition; deploy to such an org',
    )
  }
  if (failed.length) {
    const list = failed.map((c) => `${c.type} ${c.fullName}: ${c.problem ?? 'failed'}`).join('; ')
    const error = new SalesforceError(
      'DEPLOY_FAILED',
      `${failed.length} component(s) failed: ${list}`,
      'fix what each says, then deploy again (nothing was half-deployed: a failed deploy rolls back)',
    )
    Object.assign(error, { components })
    throw error
  }
  const credentials: string[] = []
  for (const [agent, key] of Object.entries(o.keys ?? {})) {
    // Connect REST API Developer Guide, "Credential Input": authenticationProtocol is required and
    // is the external credential's own (Custom here); a Custom credential's values are any names the
    // external credential's formulas read, each {value, encrypted}.
    const body = {
      authenticationProtocol: CREDENTIAL.authenticationProtocol,
      externalCredential: apiName(agent),
      principalName: CREDENTIAL.principal,
      principalType: 'NamedPrincipal',
      credentials: { [CREDENTIAL.keyParameter]: { value: key, encrypted: true } },
    }
    const url = `/services/data/v${API_VERSION}/named-credentials/credential`
    try {
      await o.connection.request({
        method: 'POST',
        url,
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      })
    } catch (error) {
      // Already set once: replace it.
      if (!/already exists|DUPLICATE/i.test((error as Error).message)) explain(error, o.org)
      await o.connection.request({
        method: 'PUT',
        url,
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      })
    }
    credentials.push(apiName(agent))
  }
  return { components, credentials }
}
