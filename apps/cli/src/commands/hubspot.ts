import { loadPolicyFile } from '@remit/core'
import { optional } from '../optional.ts'
import { type Io, UsageError } from '../output.ts'

export interface HubSpotRegisterOptions {
  /** The app id; default hubspot.yaml's `appId`. */
  appId?: string
  /** Where HubSpot reaches this Remit server; default hubspot.yaml's `publicUrl`. */
  publicUrl?: string
  policy: string
  config: string
  /** Print the definition as JSON instead of registering it. */
  print?: boolean
  hubspotApi?: string
}

/**
 * `remit hubspot register`: creates or updates the "Check with Remit" action in a HubSpot app, from
 * remit.yaml (the action kinds and attributes) and hubspot.yaml (the app, the record properties it
 * asks HubSpot for). `--print` shows the definition and sends nothing.
 */
export async function hubspotRegister(io: Io, o: HubSpotRegisterOptions): Promise<number> {
  const hubspot = await optional('@remit/hubspot', 'remit hubspot register', () => import('@remit/hubspot'))
  const config = await readHubSpotYaml(
    hubspot,
    o.config,
    'run it where hubspot.yaml is, or pass --config <file>',
  )
  const base = (o.publicUrl ?? config.publicUrl)?.replace(/\/+$/, '')
  if (!base)
    throw new UsageError(
      'where does HubSpot reach this Remit server? --public-url, or publicUrl in hubspot.yaml',
    )
  if (!/^https:\/\//.test(base) && !o.hubspotApi)
    throw new UsageError(`HubSpot calls only https:// action URLs, got "${base}"`)
  const policy = await loadPolicyFile(o.policy)
  const definition = hubspot.actionDefinition({
    actionUrl: `${base}/hubspot/action`,
    optionsUrl: `${base}/hubspot/options`,
    policy,
    config,
  })
  if (o.print) {
    io.out(JSON.stringify(definition, null, 2))
    return 0
  }
  const appId = Number(o.appId ?? config.appId)
  if (!Number.isInteger(appId) || appId <= 0)
    throw new UsageError(
      `the HubSpot app id must be a positive number: --app-id, or appId in hubspot.yaml (got "${o.appId ?? config.appId ?? ''}")`,
    )
  const developerApiKey = process.env.REMIT_HUBSPOT_DEVELOPER_KEY
  if (!developerApiKey)
    throw new UsageError(
      'set REMIT_HUBSPOT_DEVELOPER_KEY to your HubSpot developer API key',
      'keys stay out of the command line (and shell history)',
    )
  const { Client } = await optional(
    '@hubspot/api-client',
    'remit hubspot register',
    () => import('@hubspot/api-client'),
  )
  const client = new Client({ developerApiKey, ...(o.hubspotApi ? { basePath: o.hubspotApi } : {}) })
  const result = await hubspot.registerAction({ hubspot: client, appId, definition })
  io.out(
    `${result.created ? 'created' : 'updated'} the "Check with Remit" action ${result.id} in app ${appId}`,
  )
  io.out(`  action URL  ${definition.actionUrl}`)
  io.out(`  options URL ${base}/hubspot/options (the action kinds of ${o.policy})`)
  io.out(`  properties  ${definition.objectRequestOptions.properties.join(', ')} (HubSpot sends only these)`)
  io.out(
    'next: install the app in each portal at /hubspot/install; in a workflow, add "Check with Remit" before the send step and branch on "Remit verdict" is go',
  )
  return 0
}

/**
 * hubspot.yaml, read and checked by @remit/hubspot: a missing file is "no such file" as for any
 * other input, and a file that does not fit lists its problems; both are usage errors.
 */
export async function readHubSpotYaml(
  hubspot: Pick<typeof import('@remit/hubspot'), 'readHubSpotConfig' | 'HubSpotConfigError'>,
  path: string,
  missingHint: string,
) {
  try {
    return await hubspot.readHubSpotConfig(path)
  } catch (error) {
    const e = error as Error & { code?: string; cause?: { code?: string } }
    // The file's own error: the cause, or (an older @remit/hubspot) in the message.
    if (e?.code === 'ENOENT' || e?.cause?.code === 'ENOENT' || /: ENOENT\b/.test(e?.message ?? ''))
      throw new UsageError(`no such file: ${path}`, missingHint)
    if (error instanceof hubspot.HubSpotConfigError)
      throw new UsageError(error.message, 'see the @remit/hubspot README for the hubspot.yaml shape')
    throw error
  }
}
