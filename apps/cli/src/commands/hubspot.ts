import { loadPolicyFile } from '@remit/core'
import { type Io, UsageError } from '../output.ts'

export interface HubSpotRegisterOptions {
  appId: string
  baseUrl: string
  policy: string
  hubspotApi?: string
}

/** `remit hubspot register`: creates or updates the "Check with Remit" action in a HubSpot app. */
export async function hubspotRegister(io: Io, o: HubSpotRegisterOptions): Promise<number> {
  const developerApiKey = process.env.REMIT_HUBSPOT_DEVELOPER_KEY
  if (!developerApiKey)
    throw new UsageError(
      'set REMIT_HUBSPOT_DEVELOPER_KEY to your HubSpot developer API key',
      'keys stay out of the command line (and shell history)',
    )
  const appId = Number(o.appId)
  if (!Number.isInteger(appId) || appId <= 0)
    throw new UsageError(`--app-id must be your HubSpot app's numeric id, got "${o.appId}"`)
  const base = o.baseUrl.replace(/\/+$/, '')
  if (!/^https:\/\//.test(base) && !o.hubspotApi)
    throw new UsageError('--base-url must be the https:// URL where HubSpot reaches this Remit server')
  const [{ Client }, { registerAction }] = await Promise.all([
    import('@hubspot/api-client'),
    import('@remit/hubspot'),
  ])
  const hubspot = new Client({ developerApiKey, ...(o.hubspotApi ? { basePath: o.hubspotApi } : {}) })
  const policy = await loadPolicyFile(o.policy)
  const result = await registerAction({
    hubspot,
    appId,
    actionUrl: `${base}/hubspot/action`,
    optionsUrl: `${base}/hubspot/options`,
    policy,
  })
  io.out(
    `${result.created ? 'created' : 'updated'} the "Check with Remit" action ${result.id} in app ${appId}`,
  )
  io.out(`  action URL  ${base}/hubspot/action`)
  io.out(`  options URL ${base}/hubspot/options (the action kinds of ${o.policy})`)
  io.out(
    'next: in a workflow, add "Check with Remit" before the send step, then an if/then branch on "Remit verdict" is go',
  )
  return 0
}
